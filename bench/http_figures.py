"""The figures bench/all.py measures over HTTP against a running `serve` (bench/harness.py):
reads of one resource, wallet payments and how fast they settle, one hot wallet, transfers.

Every request carries the admin's bearer token, so the token is checked on every one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from harness import Server, WrkResult, lua_headers, wrk, wrk_result, wrk_start

PAYERS = 200
PAYER_BALANCE = 10**12
HOT_WALLET = "hot-wallet"
TRANSFER_WALLETS = 400  # as bench/ledger.py's WALLETS


def seed_wallets(server: Server, names: list[str], balance: int) -> None:
    for name in names:
        server.post("/wallets", {"customer_id": name, "currency": "USD"})
        server.post(f"/wallets/{name}/credit", {"amount": balance, "currency": "USD"})


def payers() -> list[str]:
    return [f"payer-{i}" for i in range(PAYERS)]


def create_payments(server: Server, count: int) -> list[str]:
    """Wallet payments made one by one (ids for the reads)."""
    names = payers()
    ids = []
    for i in range(count):
        body = {
            "amount": 100,
            "currency": "USD",
            "recipient": "school-1",
            "method": "wallet",
            "payer_id": names[i % len(names)],
        }
        ids.append(str(server.post("/payments", body)["id"]))
    return ids


def lua_list(values: list[str]) -> str:
    return "{" + ",".join(f'"{v}"' for v in values) + "}"


def read_payments(server: Server, ids: list[str], seconds: float) -> WrkResult:
    script = lua_headers(server.token) + (
        f"local ids = {lua_list(ids)}\n"
        "request = function()\n"
        '  return wrk.format("GET", "/payments/" .. ids[math.random(#ids)])\n'
        "end\n"
    )
    return wrk(server.base, script, 32, seconds)


def read_wallets(server: Server, seconds: float) -> WrkResult:
    script = lua_headers(server.token) + (
        f"local payers = {PAYERS}\n"
        "request = function()\n"
        '  local path = string.format("/wallets/payer-%d?currency=USD", '
        "math.random(0, payers - 1))\n"
        '  return wrk.format("GET", path)\n'
        "end\n"
    )
    return wrk(server.base, script, 32, seconds)


def payments_script(token: str) -> str:
    return lua_headers(token, json_body=True) + (
        f"local payers = {PAYERS}\n"
        "request = function()\n"
        '  local body = string.format(\'{"amount":100,"currency":"USD","recipient":'
        '"school-1","method":"wallet","payer_id":"payer-%d"}\', '
        "math.random(0, payers - 1))\n"
        '  return wrk.format("POST", "/payments", nil, body)\n'
        "end\n"
    )


@dataclass
class Sample:
    """What the server reports at one moment of a sustained payments run."""

    at_s: float
    total: int  # payments in the payments view
    settled: int  # of those, out of CREATED and PROCESSING
    backlog: int  # CREATED + PROCESSING
    relay_lag: int | None
    relay_lag_s: float | None


@dataclass
class Settlement:
    post: WrkResult
    settled_rate: float
    samples: list[Sample] = field(default_factory=list)
    drain_s: float = 0.0

    @property
    def relay_lag_s_max(self) -> float | None:
        lags = [s.relay_lag_s for s in self.samples if s.relay_lag_s is not None]
        return max(lags) if lags else None


def sample(server: Server, started: float) -> Sample:
    summary = server.get("/summary")
    by_status = summary["by_status"]
    assert isinstance(by_status, dict)
    backlog = int(by_status["CREATED"]) + int(by_status["PROCESSING"])
    total = int(str(summary["total"]))
    relay = server.client.get("/ready").json().get("relay") or {}
    on = relay.get("status") == "on"
    return Sample(
        time.monotonic() - started,
        total,
        total - backlog,
        backlog,
        relay.get("lag") if on else None,
        relay.get("lag_s") if on else None,
    )


def sustained_payments(server: Server, seconds: float, every_s: float) -> Settlement:
    """POST /payments at 32 connections for `seconds`, sampling the backlog and the relay's
    lag every `every_s`; settled/s is counted over the same window, then the rest drains."""
    started = time.monotonic()
    first = sample(server, started)
    process = wrk_start(server.base, payments_script(server.token), 32, seconds)
    samples = [first]
    while process.poll() is None:
        time.sleep(every_s)
        if process.poll() is None:
            samples.append(sample(server, started))
    post = wrk_result(process)
    last = sample(server, started)
    samples.append(last)
    settled_rate = (last.settled - first.settled) / (last.at_s - first.at_s)
    result = Settlement(post, settled_rate, samples)
    drain_started = time.monotonic()
    server.wait_caught_up(600)
    while sample(server, started).backlog:
        if time.monotonic() - drain_started > 600:
            raise RuntimeError("payments did not settle in time")
        time.sleep(0.2)
    result.drain_s = time.monotonic() - drain_started
    return result


def hot_wallet(server: Server, seconds: float) -> tuple[WrkResult, bool]:
    """32 connections debiting one wallet; the check: its balance fell by exactly the
    debits that were answered 201 (none lost, none doubled, never below zero)."""
    seed_wallets(server, [HOT_WALLET], 10**9)
    script = lua_headers(server.token, json_body=True) + (
        'wrk.method = "POST"\n'
        'wrk.body = \'{"amount":1,"currency":"USD"}\'\n'
        f'wrk.path = "/wallets/{HOT_WALLET}/debit"\n'
    )
    result = wrk(f"{server.base}/wallets/{HOT_WALLET}/debit", script, 32, seconds)
    balance = int(str(server.get(f"/wallets/{HOT_WALLET}?currency=USD")["balance"]))
    debited = result.requests - result.bad_status
    # A request cut off by wrk at the end may still have been applied: allow those.
    correct = 0 <= 10**9 - balance - debited <= 32 and balance >= 0
    return result, correct


def transfers_script(token: str) -> str:
    return lua_headers(token, json_body=True) + (
        f"local wallets = {TRANSFER_WALLETS}\n"
        "request = function()\n"
        "  local a = math.random(0, wallets - 1)\n"
        "  local b = math.random(0, wallets - 2)\n"
        "  if b >= a then b = b + 1 end\n"
        '  local body = string.format(\'{"from_customer_id":"bench-%d",'
        '"to_customer_id":"bench-%d","amount":1,"currency":"USD"}\', a, b)\n'
        '  return wrk.format("POST", "/transfers", nil, body)\n'
        "end\n"
    )


def transfer_wallets_total(server: Server) -> int:
    """The sum of the transfer wallets' balances (transfers must leave it unchanged)."""
    return sum(
        int(str(server.get(f"/wallets/bench-{i}?currency=USD")["balance"]))
        for i in range(TRANSFER_WALLETS)
    )


def http_transfers(server: Server, seconds: float) -> WrkResult:
    wrk(server.base, transfers_script(server.token), 32, 1)  # warm caches and connections
    return wrk(server.base, transfers_script(server.token), 32, seconds)
