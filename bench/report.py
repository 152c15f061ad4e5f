"""What the benchmarks share: the command line and the report (rates, cost vs the run's baseline)."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from nm_workflow.application.settings import Settings

Run = Callable[[Settings, int], dict[str, float]]


def report(results: dict[str, float], unit: str) -> str:
    """`results` maps case -> rate, the baseline first; cost = baseline rate / case rate."""
    baseline = next(iter(results.values()))
    width = max(len(case) for case in results) + 2
    lines = [f"{'case':<{width}} {unit:>10} {'cost vs baseline':>17}"]
    for case, rate in results.items():
        lines.append(f"{case:<{width}} {rate:>10.0f} {baseline / rate:>16.2f}x")
    return "\n".join(lines)


def main(doc: str | None, size: tuple[str, int, str], run: Run, unit: str) -> None:
    """Parse `--<size> N [--database-url URL]`, run on a temporary SQLite file or that URL, print."""
    name, default, meaning = size
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(f"--{name}", type=int, default=default, help=meaning)
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL; default: a temporary SQLite file"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=args.database_url, data_dir=Path(folder))
        print(report(run(settings, getattr(args, name)), unit))
