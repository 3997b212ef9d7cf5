"""The operators' dashboard at `/dashboard`: server-rendered pages, live over SSE."""
