"""The table bench/all.py prints: one row a figure, Markdown so the README can take it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One figure: what was measured, against which limit, the ratio, the goal, and whether
    the goal was met (None: a limit, or nothing to judge)."""

    figure: str
    measured: str
    limit: str
    ratio: float | None
    goal: str
    met: bool | None

    @classmethod
    def skipped(cls, figure: str, reason: str) -> Row:
        return cls(figure, f"skipped: {reason}", "-", None, "-", None)


def cell(row: Row) -> list[str]:
    ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
    met = "-" if row.met is None else ("yes" if row.met else "no")
    return [row.figure, row.measured, row.limit, ratio, row.goal, met]


def print_table(rows: list[Row]) -> None:
    header = ["figure", "measured", "limit used", "ratio", "goal", "met"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(cell(row)) + " |")
    met = sum(1 for row in rows if row.met)
    judged = sum(1 for row in rows if row.met is not None)
    print(f"\ngoals met: {met} of {judged}", flush=True)
