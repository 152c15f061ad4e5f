"""The benchmark entry: `python -m bench` (from the repository root, with the project's environment).

Runs on a fresh clone: starts a throwaway PostgreSQL with durable settings (fsync and
synchronous_commit on) and uses temporary SQLite files, serves the service and its
baselines as real server processes, drives them from a separate load process, then
runs the in-process command and projection benchmarks on the same databases. Prints
tables and writes everything as JSON. Every figure is compared with baselines
measured in the same run; only those ratios are comparable across runs and machines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg

from bench import appends, audit, commands, history, load, memory, projections, roundtrips, sustained
from bench.report import arguments, load_summary, load_table, report
from devsupport.postgres import throwaway_server

PARTS = ("http", "roundtrips", "commands", "projections", "appends", "history", "memory", "audit")
"""The parts run unless `--parts` says otherwise."""
ASKED_FOR_ONLY = ("sustained",)
"""Parts run only when named: `sustained` loads each server for about a minute per database."""


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def _arguments() -> argparse.Namespace:
    parser = arguments(__doc__)
    sizes = load.Sizes()
    parser.add_argument("--clients", type=_numbers, default=sizes.clients, help="e.g. 1,16,64")
    parser.add_argument("--workers", type=_numbers, default=sizes.workers, help="e.g. 1,2")
    parser.add_argument("--databases", type=lambda text: tuple(text.split(",")), default=sizes.databases)
    parser.add_argument(
        "--projections",
        type=lambda text: tuple(text.split(",")),
        default=sizes.projections,
        help="where the service's projections run: default (as serve chooses: worker on SQLite, embedded"
        " on PostgreSQL), embedded, worker (a process of their own), none (off)",
    )
    parser.add_argument("--seconds", type=float, default=sizes.seconds, help="measured seconds per point")
    parser.add_argument("--warmup", type=float, default=sizes.warmup, help="unmeasured seconds first")
    parser.add_argument("--commands", type=int, default=300, help="operations per in-process command case")
    parser.add_argument("--items", type=int, default=200, help="items (11 events each) for the rebuild case")
    parser.add_argument("--appends", type=int, default=200, help="appends per writer (1 and 8 writers)")
    parser.add_argument("--events", type=int, default=10_000, help="events of the long item")
    parser.add_argument(
        "--memory-events", type=int, default=20_000, help="events stored and projected before the RSS"
    )
    parser.add_argument(
        "--audit-events", type=int, default=20_000, help="events stored, then read raw and verified"
    )
    parser.add_argument(
        "--parts",
        type=lambda text: tuple(text.split(",")),
        default=PARTS,
        help=f"{','.join(PARTS)} (the default), and {','.join(ASKED_FOR_ONLY)} when named",
    )
    parser.add_argument(
        "--sustained-windows", type=int, default=12, help="windows of --seconds each of the sustained load"
    )
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"), help="where to write")
    parser.add_argument(
        "--postgres-admin-url", default=os.environ.get("NM_BENCH_POSTGRES_URL"), help="an existing server"
    )
    return parser.parse_args()


@contextmanager
def _postgres(wanted: bool, existing: str | None) -> Iterator[str | None]:
    if not wanted or existing:
        yield existing
        return
    with throwaway_server(durable=True) as url:
        yield url


def machine(postgres_admin_url: str | None) -> dict[str, Any]:
    """What the figures were measured on."""
    model = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
        platform.machine(),
    )
    facts: dict[str, Any] = {"cpu": model, "cpus": os.cpu_count(), "python": platform.python_version()}
    facts["system"] = f"{platform.system()} {platform.release()}"
    if postgres_admin_url:
        with psycopg.connect(postgres_admin_url) as connection:
            facts["postgresql"] = connection.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    return facts


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
    raise SystemExit(128 + signum)  # unwinds the with-blocks: servers and PostgreSQL are stopped


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = _arguments()
    sizes = load.Sizes(
        args.clients, args.workers, args.databases, args.warmup, args.seconds, args.projections
    )
    in_process = {
        "commands": (commands.run, args.commands, "ops/s"),
        "projections": (projections.run, args.items, "events/s"),
        "appends": (appends.run, args.appends, "events/s"),
        "history": (history.run, args.events, "reads/s"),
        "memory": (memory.run, args.memory_events, "MB"),
        "audit": (audit.run, args.audit_events, "events/s"),
    }
    with ExitStack() as stack:
        admin_url = stack.enter_context(_postgres("postgres" in sizes.databases, args.postgres_admin_url))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nm-bench-")))
        results: dict[str, Any] = {"machine": machine(admin_url), "sizes": vars(sizes)}
        print(json.dumps(results["machine"]), file=sys.stderr)

        def save() -> None:  # after each part: an interrupted run keeps what it measured
            args.json.write_text(json.dumps(results, indent=2, default=str))

        if "http" in args.parts:
            runs = load.run(sizes, folder, admin_url, lambda text: print(f"... {text}", file=sys.stderr))
            results["http"] = {"runs": runs, "summary": load_summary(runs)}
            print("\nHTTP command mix (commands/s; ratios are nm-workflow / baseline, same run)")
            print(load_table(results["http"]["summary"]))
            save()
        for database in sizes.databases:
            if "roundtrips" in args.parts:
                with load.fresh_database(database, folder / f"{database}-roundtrips", admin_url) as settings:
                    trips = results[f"roundtrips_{database}"] = roundtrips.run(settings, settings.data_dir)
                print(f"\nDatabase round trips per command on {database}: {roundtrips.report(trips)}")
                save()
            if "sustained" in args.parts:
                steady = sustained.run(database, folder, admin_url, args.sustained_windows, sizes)
                results[f"sustained_{database}"] = steady
                print(f"\nsustained load on {database} (one client)\n{sustained.table(steady)}")
                save()
            for name in (name for name in in_process if name in args.parts):
                case, size, unit = in_process[name]
                with load.fresh_database(database, folder / f"{database}-{name}", admin_url) as settings:
                    figures = results[f"{name}_{database}"] = case(settings, size)
                shown = report(figures, unit, larger_costs=name == "memory")
                print(f"\n{name} on {database}\n{shown}")
                save()
    print(f"\nWritten to {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
