"""Every figure of the performance issue in one run, each with its ratio and its goal.

Measures the limits first, in the same run: (L1) pgbench's single-row INSERT commits/s at
16 clients (pgbench -n -c16 -j2 -T10, a scratch database created and dropped here); (L2, L3)
the framework's GET and POST ceilings (bench/ceiling.py: a trivial async Litestar handler
with msgspec structs, one uvicorn process, wrk -t2 -c32). Then the figures, against
`payledger serve` as it runs by default (projections, payment processor, webhooks and
installments in-process), every request with a bearer token checked, and the NATS relay on
when NATS answers. Prints one table: figure, measured, limit used, ratio, goal, met.

Usage: uv run python bench/all.py [--quick] [--backend postgres|sqlite|both]
       [--dsn postgresql://postgres@127.0.0.1:5432/test] [--nats nats://127.0.0.1:4222]
--quick takes about 5 minutes (shorter runs, smaller logs, one round); the full run longer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import audit
import catchup
import ledger
import relay
from figures_table import Row, print_table
from harness import (
    Server,
    WrkResult,
    framework_ceilings,
    pgbench_commits,
    postgres_env,
    scratch_schema,
    wrk,
)
from http_figures import (
    PAYER_BALANCE,
    create_payments,
    hot_wallet,
    http_transfers,
    payers,
    payments_script,
    read_payments,
    read_wallets,
    seed_wallets,
    sustained_payments,
)

from application.principal import SYSTEM
from application.wallets import WalletService
from entrypoints.container import build_sync_container
from entrypoints.migration import migrate
from entrypoints.settings import Settings, load_settings

# The best seed app's figures on this box (issue 13): writes 311/s, reads 543/s.
SEED_WRITES, SEED_READS = 311, 543


@dataclass(frozen=True)
class Durations:
    """How long each part runs: --quick (about 5 minutes in all) or the full run."""

    ceiling_s: float
    reads_s: float
    sustained_s: float
    sample_s: float
    hot_s: float
    transfers_s: float
    rounds: int
    audit_events: int
    relay_events: int

    @classmethod
    def of(cls, quick: bool) -> Durations:
        if quick:
            return cls(5, 5, 20, 2, 5, 5, 1, 50_000, 20_000)
        return cls(15, 15, 60, 5, 15, 15, 3, 200_000, 100_000)


@dataclass
class Limits:
    pgbench: float
    get: WrkResult
    post: WrkResult


def nats_reachable(url: str) -> str | None:
    """None when something accepts connections at the NATS address, else why not."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), 1):
            return None
    except OSError as error:
        return f"NATS at {url} unreachable: {error}"


def http_row(figure: str, result: WrkResult, limit: WrkResult, name: str) -> tuple[str, str, float]:
    measured = f"{result.rate:,.0f}/s, p99 {result.p99_ms:.1f} ms"
    if result.bad_status or result.socket_errors:
        measured += f" ({result.bad_status} non-2xx, {result.socket_errors} socket errors)"
    return measured, f"{name} {limit.rate:,.0f}/s", result.rate / limit.rate


def reads_rows(label: str, server: Server, limits: Limits, d: Durations, goal: str) -> list[Row]:
    ids = create_payments(server, 200)
    server.wait_caught_up()
    rows = []
    results = (
        ("GET /payments/{id}, 32 conn.", read_payments(server, ids, d.reads_s)),
        ("GET /wallets/{id}?currency=, 32 conn.", read_wallets(server, d.reads_s)),
    )
    for figure, result in results:
        measured, limit, ratio = http_row(figure, result, limits.get, "L2")
        if goal == "pg":
            met = ratio >= 0.4 and result.p99_ms <= 20 and not result.bad_status
            rows.append(
                Row(f"{label} {figure}", measured, limit, ratio, ">= 0.4 x L2, p99 <= 20 ms", met)
            )
        else:
            met = result.rate >= 3 * SEED_READS and not result.bad_status
            rows.append(
                Row(
                    f"{label} {figure}",
                    measured,
                    limit,
                    ratio,
                    f">= {3 * SEED_READS:,}/s (seed x 3)",
                    met,
                )
            )
    return rows


def postgres_figures(args: argparse.Namespace, limits: Limits, d: Durations) -> list[Row]:
    nats_down = nats_reachable(args.nats)
    with scratch_schema(args.dsn, "bench_all") as schema:
        rows = _postgres_server_figures(args, limits, d, schema, nats_down)
    rows += audit_rows(args, d)
    rows += relay_rows(args, d, nats_down)
    return rows


def _postgres_server_figures(
    args: argparse.Namespace, limits: Limits, d: Durations, schema: str, nats_down: str | None
) -> list[Row]:
    """The figures of servers on `schema` (with the NATS relay on unless `nats_down`)."""
    env = {
        **postgres_env(args.dsn, schema),
        # Checkpoints signed, as a deployment that keeps an audit trail runs.
        "PAYLEDGER_AUDIT_SIGNING_KEY": secrets.token_bytes(32).hex(),
    }
    stream = f"BENCH_ALL_{uuid.uuid4().hex[:8].upper()}"
    if nats_down is None:
        env |= {
            "PAYLEDGER_NATS_URL": args.nats,
            "PAYLEDGER_NATS_STREAM": stream,
            "PAYLEDGER_NATS_SUBJECT_PREFIX": stream.lower(),
        }
    settings = load_settings(env)
    rows: list[Row] = []
    try:
        migrate(settings)
        app_rate, conflicts = ledger.app_transfers(settings, 16, d.transfers_s)
        print(
            f"transfers via the application, 16 producers: {app_rate:,.0f}/s "
            f"({conflicts} conflicts retried)"
        )
        rows.append(
            Row(
                "pg transfers via the application layer, 16 producers",
                f"{app_rate:,.0f}/s",
                f"L1 {limits.pgbench:,.0f}/s",
                app_rate / limits.pgbench,
                ">= 0.25 x L1",
                app_rate >= 0.25 * limits.pgbench,
            )
        )
        with Server(env) as server:
            server.wait_caught_up()
            seed_wallets(server, payers(), PAYER_BALANCE)
            rows += reads_rows("pg", server, limits, d, "pg")
            rows += settlement_rows(server, limits, d, nats_down)
            hot, correct = hot_wallet(server, d.hot_s)
            balance = "balance right" if correct else "balance WRONG"
            measured = f"{hot.rate:,.0f}/s, p99 {hot.p99_ms:.1f} ms, {balance}"
            if hot.bad_status or hot.socket_errors:
                measured += f", {hot.bad_status} non-2xx, {hot.socket_errors} socket errors"
            met = hot.rate >= 500 and correct
            rows.append(
                Row("pg one hot wallet, 32 conn. debiting", measured, "-", None, ">= 500/s", met)
            )
            one = http_transfers(server, d.transfers_s)
        with Server(env, workers=2) as server:
            server.wait_caught_up()
            two = http_transfers(server, d.transfers_s)
        rows.append(scale_out_row(settings, one, two))
        rows += rebuild_rows(load_settings({**env, "PAYLEDGER_NATS_URL": ""}), d)
    finally:
        if nats_down is None:
            asyncio.run(relay.delete_stream(args.nats, stream))
    return rows


def settlement_rows(
    server: Server, limits: Limits, d: Durations, nats_down: str | None
) -> list[Row]:
    run = sustained_payments(server, d.sustained_s, d.sample_s)
    post = run.post
    print(f"sustained wallet payments, {d.sustained_s:.0f} s at 32 connections:")
    print("  t (s)  payments  settled  backlog (CREATED+PROCESSING)  relay lag (events, s)")
    for s in run.samples:
        lag = "-" if s.relay_lag is None else f"{s.relay_lag}, {s.relay_lag_s:.2f}"
        print(f"  {s.at_s:5.1f}  {s.total:8d}  {s.settled:7d}  {s.backlog:8d}  {lag}")
    print(f"  the backlog drained {run.drain_s:.1f} s after the load stopped", flush=True)
    measured, limit, ratio = http_row("POST", post, limits.post, "L3")
    rows = [
        Row(
            "pg POST /payments (wallet), 32 conn.",
            measured,
            limit,
            ratio,
            ">= 0.15 x L3, p99 <= 50 ms",
            ratio >= 0.15 and post.p99_ms <= 50 and not post.bad_status,
        ),
        Row(
            f"pg payments settled/s vs accepted/s, {d.sustained_s:.0f} s sustained",
            f"{run.settled_rate:,.0f}/s settled (backlog max "
            f"{max(s.backlog for s in run.samples):,}, drained in {run.drain_s:.0f} s)",
            f"accepted {post.rate:,.0f}/s",
            run.settled_rate / post.rate,
            ">= 0.9 x accepted",
            run.settled_rate >= 0.9 * post.rate,
        ),
    ]
    lag_s = run.relay_lag_s_max
    if nats_down is not None or lag_s is None:
        rows.append(Row.skipped("pg NATS relay lag at the accepted rate", nats_down or "relay off"))
    else:
        lag_events = max(s.relay_lag or 0 for s in run.samples)
        rows.append(
            Row(
                "pg NATS relay lag at the accepted payment rate",
                f"max {lag_s:.2f} s ({lag_events:,} events)",
                "-",
                None,
                "< 1 s",
                lag_s < 1,
            )
        )
    return rows


def scale_out_row(settings: Settings, one: WrkResult, two: WrkResult) -> Row:
    """Two processes vs one, and whether the transfers kept every balance right."""
    container = build_sync_container(settings, create_tables=False)
    try:
        wallets = container.get(WalletService)
        total = sum(wallets.get_wallet(SYSTEM, name, "USD").balance for name in ledger.customers())
    finally:
        container.close()
    conserved = total == len(ledger.customers()) * ledger.START_BALANCE
    errors = one.bad_status + two.bad_status
    measured = (
        f"{two.rate:,.0f} vs {one.rate:,.0f} transfers/s (p99 {two.p99_ms:.0f} vs "
        f"{one.p99_ms:.0f} ms); {errors} non-2xx, "
        f"money {'conserved' if conserved else 'NOT conserved'}"
    )
    met = two.rate >= one.rate and conserved and not errors
    return Row(
        "pg two `serve` processes vs one, HTTP transfers, 32 conn.",
        measured,
        "one process",
        two.rate / one.rate,
        ">= 1.0 x one",
        met,
    )


def rebuild_rows(settings: Settings, d: Durations) -> list[Row]:
    raw = catchup.raw_read_rate(settings)
    rows = []
    for name in ("ledger", "payments"):
        rates = catchup.rebuild_rates(settings, name, d.rounds)
        rate = sorted(rates)[len(rates) // 2]
        print(f"projections rebuild {name}: {rate:,.0f} events/s (raw read {raw:,.0f})", flush=True)
        rows.append(
            Row(
                f"pg projections rebuild {name} (this run's log)",
                f"{rate:,.0f} ev/s",
                f"raw read {raw:,.0f} ev/s",
                rate / raw,
                ">= 20,000 ev/s",
                rate >= 20_000,
            )
        )
    return rows


def audit_rows(args: argparse.Namespace, d: Durations) -> list[Row]:
    raw, medians = audit.run(d.audit_events, d.rounds, args.dsn)
    rows = []
    for key, figure in (
        ("verification", "full verification"),
        ("wallet_balance", "point-in-time wallet balance"),
    ):
        rate = medians[key]
        rows.append(
            Row(
                f"pg audit replay, {figure}, {d.audit_events:,}-event log",
                f"{rate:,.0f} ev/s",
                f"raw read {raw:,.0f} ev/s",
                rate / raw,
                ">= 50,000 ev/s",
                rate >= 50_000,
            )
        )
    return rows


def relay_rows(args: argparse.Namespace, d: Durations, nats_down: str | None) -> list[Row]:
    if nats_down is not None:
        return [Row.skipped("pg NATS relay events/s", nats_down)]
    raw, rate, _ = relay.run(d.relay_events, "postgres", 500, None, args.nats, args.dsn)
    return [
        Row(
            f"pg NATS relay catch-up, {d.relay_events:,} events",
            f"{rate:,.0f} ev/s",
            f"raw publish {raw:,.0f} msg/s",
            rate / raw,
            ">= 10,000 ev/s",
            rate >= 10_000,
        )
    ]


def sqlite_figures(args: argparse.Namespace, limits: Limits, d: Durations) -> list[Row]:
    """The embedded default: reads, wallet payments and transfers, against the seed apps."""
    app_settings = load_settings({"PAYLEDGER_DATA_DIR": tempfile.mkdtemp(prefix="bench-all-")})
    migrate(app_settings)
    app_rate, _ = ledger.app_transfers(app_settings, 16, d.transfers_s)
    goal = 3 * SEED_WRITES
    rows = [
        Row(
            "sqlite transfers via the application layer, 16 producers",
            f"{app_rate:,.0f}/s",
            f"L1 {limits.pgbench:,.0f}/s",
            app_rate / limits.pgbench,
            f">= {goal:,}/s (seed x 3)",
            app_rate >= goal,
        )
    ]
    env = {
        "PAYLEDGER_DATA_DIR": tempfile.mkdtemp(prefix="bench-all-"),
        "PAYLEDGER_FAILURE_RATE": "0",
    }
    nats_down = nats_reachable(args.nats)
    stream = f"BENCH_ALL_{uuid.uuid4().hex[:8].upper()}"
    if nats_down is None:
        env |= {
            "PAYLEDGER_NATS_URL": args.nats,
            "PAYLEDGER_NATS_STREAM": stream,
            "PAYLEDGER_NATS_SUBJECT_PREFIX": stream.lower(),
        }
    try:
        with Server(env) as server:
            seed_wallets(server, payers(), PAYER_BALANCE)
            rows += reads_rows("sqlite", server, limits, d, "sqlite")
            post = wrk(server.base, payments_script(server.token), 32, d.reads_s)
            measured, limit, ratio = http_row("POST", post, limits.post, "L3")
            met = post.rate >= goal and not post.bad_status
            rows.append(
                Row(
                    "sqlite POST /payments (wallet), 32 conn.",
                    measured,
                    limit,
                    ratio,
                    f">= {goal:,}/s (seed x 3)",
                    met,
                )
            )
    finally:
        if nats_down is None:
            asyncio.run(relay.delete_stream(args.nats, stream))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 5 minutes")
    parser.add_argument("--backend", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    args = parser.parse_args()
    d = Durations.of(args.quick)
    started = time.monotonic()
    load_before = os.getloadavg()
    pgbench = pgbench_commits(args.dsn, 16, 10)
    get, post = framework_ceilings(d.ceiling_s)
    limits = Limits(pgbench, get, post)
    print(
        f"L1 pgbench {pgbench:,.0f} commits/s; L2 GET {get.rate:,.0f}/s; L3 POST {post.rate:,.0f}/s"
    )
    rows = [
        Row(
            "L1 pgbench single-row INSERT commits/s, 16 clients (-n -c16 -j2 -T10)",
            f"{pgbench:,.0f}/s",
            "limit",
            1.0,
            "-",
            None,
        ),
        Row(
            "L2 Litestar async msgspec GET, 1 uvicorn process, wrk -t2 -c32",
            f"{get.rate:,.0f}/s, p99 {get.p99_ms:.1f} ms",
            "limit",
            1.0,
            "-",
            None,
        ),
        Row(
            "L3 Litestar msgspec POST (JSON body), same",
            f"{post.rate:,.0f}/s, p99 {post.p99_ms:.1f} ms",
            "limit",
            1.0,
            "-",
            None,
        ),
    ]
    for backend, figures in (("postgres", postgres_figures), ("sqlite", sqlite_figures)):
        if args.backend not in (backend, "both"):
            continue
        try:
            rows += figures(args, limits, d)
        except Exception as error:  # one backend failing must not hide the other's figures
            print(f"{backend} figures stopped: {error!r}", flush=True)
            rows.append(Row.skipped(f"{backend} figures (the rest)", f"error: {error!r}"))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\n{'quick' if args.quick else 'full'} run, {when}, {time.monotonic() - started:.0f} s, "
        f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after, "
        f"{os.cpu_count()} cores"
    )
    print_table(rows)


if __name__ == "__main__":
    main()
