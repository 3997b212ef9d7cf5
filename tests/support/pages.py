"""Walking a paginated list (`{<items>: [...], next_cursor}`) to its end, for any client."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

PAGES_MAX = 1_000


def walk_pages(
    fetch: Callable[[dict[str, Any]], Mapping[str, Any]],
    items: str,
    params: Mapping[str, Any],
    pages_max: int = PAGES_MAX,
) -> list[Any]:
    """Every item of every page: `fetch(query)` returns one page, given `params` plus the
    previous page's `next_cursor` as `cursor`."""
    found: list[Any] = []
    query = dict(params)
    for _ in range(pages_max):
        page = fetch(query)
        found.extend(page[items])
        if page["next_cursor"] is None:
            return found
        query["cursor"] = page["next_cursor"]
    raise AssertionError(f"more than {pages_max} pages of {items}")
