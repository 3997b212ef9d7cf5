"""Settlement keeping up: one sustained wallet-payments run on PostgreSQL, nothing else.

The same figure as bench/all.py's "payments settled/s vs accepted/s" row (the same
`serve`, the same load, the same sampling), without the minutes of other figures around it:
POST /payments at 32 connections for `--seconds`, the backlog (CREATED + PROCESSING)
sampled every `--every`, settled/s counted over the same window, then the drain timed.
Prints the lag over time and one line with the ratio. The NATS relay is left off.

Usage: uv run python bench/settle.py [--seconds 60] [--every 5]
       [--dsn postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Server, postgres_env, scratch_schema
from http_figures import PAYER_BALANCE, payers, seed_wallets, sustained_payments

from entrypoints.migration import migrate
from entrypoints.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--every", type=float, default=5)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with scratch_schema(args.dsn, "bench_settle") as schema:
        env = {**postgres_env(args.dsn, schema), "PAYLEDGER_NATS_URL": ""}
        migrate(load_settings(env))
        with Server(env) as server:
            server.wait_caught_up()
            seed_wallets(server, payers(), PAYER_BALANCE)
            server.wait_caught_up()
            print(f"serve pid {server.process.pid if server.process else '?'}", flush=True)
            run = sustained_payments(server, args.seconds, args.every)
    print("  t (s)  payments  settled  backlog (CREATED+PROCESSING)")
    for s in run.samples:
        print(f"  {s.at_s:5.1f}  {s.total:8d}  {s.settled:7d}  {s.backlog:8d}")
    post = run.post
    ratio = run.settled_rate / post.rate if post.rate else 0.0
    print(
        f"accepted {post.rate:,.0f}/s (p99 {post.p99_ms:.0f} ms, {post.bad_status} non-2xx), "
        f"settled {run.settled_rate:,.0f}/s, ratio {ratio:.2f}, backlog max "
        f"{max(s.backlog for s in run.samples):,}, drained in {run.drain_s:.1f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
