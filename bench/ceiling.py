"""The framework's own ceiling: a trivial Litestar app, async handlers and msgspec structs.

bench/harness.py serves it with uvicorn in one process and loads it with wrk, in the same
run as the figures it is the limit of. No work of ours happens here on purpose.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar, get, post


class Item(msgspec.Struct):
    id: str
    amount: int
    currency: str
    recipient: str


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/item")
async def read_item() -> Item:
    return Item("p-1", 100, "USD", "school-1")


@post("/item")
async def create_item(data: Item) -> Item:
    return data


app = Litestar([health, read_item, create_item])
