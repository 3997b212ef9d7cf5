"""Tests of the HTTP API through Litestar's in-process test client."""
