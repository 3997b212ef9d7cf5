"""Auditors' tools: replaying the stored log, point-in-time reads, verification."""
