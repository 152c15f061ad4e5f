"""Whether a command costs more as the database fills: one server loaded for a long while, in windows.

The HTTP part measures each point for a few seconds on an empty database. Costs that grow
with what is stored (a quarter's rows of `quarterly_evaluation` hold every item of the
quarter: ADR 0081) show only under a longer load. Here each server (the plain way, the
baseline, and nm-workflow served as `serve` chooses) is loaded by one client for `windows`
windows of `seconds` each, without restarting, and each window's rate, p99 and server CPU
per command are kept. The figure that matters is each server's late windows against its
early ones (the medians of the last and the first quarter of the windows); the plain way's (no
projections) shows what the machine's drift alone does in the same run.

    python -m bench --parts sustained [--sustained-windows 12] [--seconds 5]
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench import load

SERVERS = ("plain", "nm-workflow")


def run(
    database: str, folder: Path, postgres_admin_url: str | None, windows: int, sizes: load.Sizes
) -> dict[str, Any]:
    """{server: {"windows": [figures of each window], "early": ..., "late": ..., "late_vs_early":
    {figure: ratio}}}: early and late are each figure's median over the first and the last quarter
    of the windows (one window's figure moves by a third on a shared machine).

    Figures per window: commands/s, p99 ms, server CPU ms per command (and the projection
    worker's share of it, where serve started one). Each server on a fresh database.
    """
    results: dict[str, Any] = {}
    for server in SERVERS:
        place = folder / f"{database}-sustained-{server}"
        with load.fresh_database(database, place / "data", postgres_admin_url) as settings:
            keys = load.prepare(server, settings)
            projections = settings.served_projection_place
            with load.serving(server, 1, settings, place, projections) as (port, pids):
                measured = [load.drive(port, 1, sizes, keys, settings, pids) for _ in range(windows)]
        rows = [
            {
                "per_second": window["per_second"],
                "p99_ms": window["p99_ms"],
                "server_cpu_ms": window["server_cpu_ms"],
                "projections_cpu_ms": window["projections_cpu_ms"],
                "completed": window["completed"],
            }
            for window in measured
        ]
        early, late = _medians(rows[: max(1, windows // 4)]), _medians(rows[-max(1, windows // 4) :])
        results[server] = {
            "windows": rows,
            "early": early,
            "late": late,
            "late_vs_early": {name: _ratio(late[name], early[name]) for name in _COMPARED},
        }
    return results


_COMPARED = ("per_second", "p99_ms", "server_cpu_ms", "projections_cpu_ms")


def _medians(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Each figure's median over some windows (None where the server has no such figure)."""
    return {
        name: None if rows[0][name] is None else statistics.median(row[name] for row in rows)
        for name in _COMPARED
    }


def _ratio(late: float | None, early: float | None) -> float | None:
    return late / early if late is not None and early else None


def table(results: dict[str, Any]) -> str:
    """Each server's early and late windows (the medians of the first and last quarter of them),
    and the late against the early."""
    lines = [
        "server       windows  commands/s  p99 ms  server CPU ms/cmd  projection worker CPU ms/cmd",
    ]
    for server, figures in results.items():
        for label in ("early", "late"):
            row = figures[label]
            worker = "-" if row["projections_cpu_ms"] is None else f"{row['projections_cpu_ms']:.2f}"
            lines.append(
                f"{server:<12} {label:>6}  {row['per_second']:>10.0f}  {row['p99_ms']:>6.1f}"
                f"  {row['server_cpu_ms']:>17.2f}  {worker:>28}"
            )
        ratios = figures["late_vs_early"]
        shown = "  ".join(f"{name} {value:.2f}x" for name, value in ratios.items() if value is not None)
        lines.append(f"{server:<12} late/early: {shown}")
    return "\n".join(lines)
