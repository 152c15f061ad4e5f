"""What the benchmarks share: the command line and the reports (rates against the run's baselines)."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.turns import WRITERS
from nm_workflow.application.settings import Settings

Run = Callable[[Settings, int], dict[str, float]]


def report(results: dict[str, float], unit: str, *, larger_costs: bool = False) -> str:
    """`results` maps case -> rate, the baseline first; cost = baseline rate / case rate.

    `larger_costs`: the figures are costs themselves (e.g. MB): cost = case / baseline.
    """
    baseline = next(iter(results.values()))
    width = max(len(case) for case in results) + 2
    lines = [f"{'case':<{width}} {unit:>10} {'cost vs baseline':>17}"]
    for case, figure in results.items():
        cost = figure / baseline if larger_costs else baseline / figure
        lines.append(f"{case:<{width}} {figure:>10.0f} {cost:>16.2f}x")
    return "\n".join(lines)


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """A command line whose help is the module's docstring, as written."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def main(
    doc: str | None, size: tuple[str, int, str], run: Run, unit: str, *, larger_costs: bool = False
) -> None:
    """Parse `--<size> N [--database-url URL]`, run on a temporary SQLite file or that URL, print."""
    name, default, meaning = size
    parser = arguments(doc)
    parser.add_argument(f"--{name}", type=int, default=default, help=meaning)
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL; default: a temporary SQLite file"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=args.database_url, data_dir=Path(folder))
        print(report(run(settings, getattr(args, name)), unit, larger_costs=larger_costs))


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def load_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (database, workers, projections, clients): each server's rate, latency and CPU,
    the service's ratios."""
    points: dict[tuple[str, int, str, int], dict[str, dict[str, Any]]] = {}
    for row in rows:
        point = (row["database"], row["workers"], row["projections"], row["clients"])
        points.setdefault(point, {})[row["server"]] = row
    summary = []
    for (database, workers, projections, clients), servers in points.items():
        trivial, plain, service = (servers[name] for name in ("trivial", "plain", "nm-workflow"))
        summary.append(
            {
                "database": database,
                "workers": workers,
                "projections": projections,
                "clients": clients,
                **{f"{name}_per_second": servers[name]["per_second"] for name in servers},
                **{f"{name}_p50_ms": servers[name]["p50_ms"] for name in servers},
                "nm-workflow_p99_ms": service["p99_ms"],
                **{
                    f"{name}_{part}_cpu_ms": servers[name].get(f"{part}_cpu_ms")
                    for name in servers
                    for part in ("server", "projections", "database", "client")
                },
                **{f"{name}_busy_cores": servers[name].get("machine_busy_cores") for name in servers},
                "vs_trivial": ratio(service["per_second"], trivial["per_second"]),
                "vs_plain": ratio(service["per_second"], plain["per_second"]),
                "p50_vs_plain": ratio(service["p50_ms"], plain["p50_ms"]),
                "errors": sum(server["errors"] for server in servers.values()),
                "lag_max_events": service.get("lag_max_events"),
                "catch_up_seconds": service.get("catch_up_seconds"),
                **{f"turn_held_{w}": service.get(f"turn_held_{w}") for w in WRITERS},
            }
        )
    return summary


LOAD_COLUMNS = (  # heading, key, format
    ("db", "database", "{}"),
    ("workers", "workers", "{}"),
    ("projections", "projections", "{}"),
    ("clients", "clients", "{}"),
    ("trivial/s", "trivial_per_second", "{:.0f}"),
    ("plain/s", "plain_per_second", "{:.0f}"),
    ("nm/s", "nm-workflow_per_second", "{:.0f}"),
    ("vs trivial", "vs_trivial", "{:.2f}"),
    ("vs plain", "vs_plain", "{:.2f}"),
    ("p50 ms t/p/nm", None, "{:.1f}/{:.1f}/{:.1f}"),
    ("nm p99 ms", "nm-workflow_p99_ms", "{:.1f}"),
    ("server CPU ms/cmd t/p/nm", "server_cpu_ms", "{}/{}/{}"),
    ("nm projection worker CPU ms/cmd", "nm-workflow_projections_cpu_ms", "{:.2f}"),
    ("db CPU ms/cmd p/nm", "database_cpu_ms", "{}/{}"),
    ("load CPU ms/cmd t/p/nm", "client_cpu_ms", "{}/{}/{}"),
    ("cores busy t/p/nm", "busy_cores", "{}/{}/{}"),
    ("lag max", "lag_max_events", "{}"),
    ("catch-up s", "catch_up_seconds", "{:.2f}"),
    ("nm turn held store/proj", "turn_held", "{}/{}"),
    ("errors", "errors", "{}"),
)


def _per_server(value: float | None) -> str:
    """One server's figure in a "t/p/nm" cell: milliseconds or cores, to two places."""
    return "-" if value is None else f"{value:.2f}"


def load_table(summary: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table (readable in a terminal, pasteable into docs)."""

    def cell(row: dict[str, Any], key: str | None, shape: str) -> str:
        if key is None:
            return shape.format(*(row[f"{name}_p50_ms"] for name in ("trivial", "plain", "nm-workflow")))
        if key == "turn_held":  # SQLite's write turn, the service's writers (bench/turns.py)
            return shape.format(*(_per_server(row.get(f"turn_held_{w}")) for w in WRITERS))
        if key.endswith(("_cpu_ms", "_cores")) and not key.startswith("nm-workflow_"):
            # Per server (the database's: not the trivial endpoint's); a key naming a server is its own.
            names = ("trivial", "plain", "nm-workflow")[key.startswith("database") :]
            return shape.format(*(_per_server(row.get(f"{name}_{key}")) for name in names))
        return "-" if row[key] is None else shape.format(row[key])

    lines = ["| " + " | ".join(heading for heading, _, _ in LOAD_COLUMNS) + " |"]
    lines.append("|" + "---|" * len(LOAD_COLUMNS))
    lines += [
        "| " + " | ".join(cell(row, key, shape) for _, key, shape in LOAD_COLUMNS) + " |" for row in summary
    ]
    return "\n".join(lines)
