"""The history the charts draw: one metrics dict per point, thinned as training goes on.

A session may run for millions of updates, so the history keeps HISTORY_MAX points: past
that, every other older point goes and the HISTORY_RECENT newest are all kept. Step back
trims the points after the step it returns to.
"""

from __future__ import annotations

HISTORY_MAX = 4000  # points kept for the charts; older ones are thinned, recent ones kept
HISTORY_RECENT = 1000


def add_point(history: list[dict], m: dict) -> None:
    """Append the metrics `m`; past HISTORY_MAX, every other older point goes."""
    history.append(m)
    if len(history) > HISTORY_MAX:
        old = history[:-HISTORY_RECENT]
        history[:-HISTORY_RECENT] = old[:1] + old[2::2] if len(old) > 2 else old


def trim_after(history: list[dict], step: int) -> None:
    """Drop the points from after update `step`."""
    while history and history[-1]["step"] > step:
        history.pop()


__all__ = ["HISTORY_MAX", "HISTORY_RECENT", "add_point", "trim_after"]
