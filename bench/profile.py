"""Where the service spends its CPU under load: py-spy sampling a real `nm-workflow serve`.

Serves the service (one worker) on a throwaway durable PostgreSQL (or a temporary
SQLite file), drives it with the load process, and samples the server process with
py-spy (`pip install py-spy`, or the project's `profile` extra) for the measured
seconds. Prints the share of samples by library (self time: the innermost frame)
and for a few frames of the command path (inclusive: anywhere on the stack), and
keeps the raw stacks (flamegraph.pl / speedscope can read them).

    python -m bench.profile [--clients 16] [--seconds 10] [--database sqlite] [--output stacks.txt]
        [--server plain] [--no-projections | --worker] [--gil]

`--no-projections` serves without the projections (the command path alone); `--worker` serves
them in a process of their own (`serve`'s default on SQLite) and samples every process of the
tree, each sample's stack under its process (`process <pid>:"<command line>"`, py-spy's
`--subprocesses`); `--gil` keeps only
the samples of the thread holding the interpreter lock (CPU spent in Python, not waits);
`--server plain` samples the plain way (bench/baselines.py) under the same load instead.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

from bench import load
from bench.report import arguments
from devsupport.postgres import create_database, throwaway_server
from nm_workflow.application.settings import Settings

# Frames whose inclusive share answers "how much of the work is this step". py-spy names a
# frame "Class.function (package/module.py:line)".
STEPS = {
    "the command (CommandRunner.run)": r"^CommandRunner\.run ",
    "  authorize: the API key (KeyService.authenticate)": r"^KeyService\.authenticate ",
    "  idempotency look-up (CommandRunner._replay)": r"^CommandRunner\._replay ",
    "  load the item (CommandRunner.load)": r"^CommandRunner\.load ",
    "  save (EventStore.record)": r"^EventStore\.record ",
    "request body parsing and validation (FastAPI)": r"^(request_body_to_args|solve_dependencies) ",
    "response (JSONResponse, model_dump)": r"^(JSONResponse\.|BaseModel\.model_(dump|validate))",
    "access log (uvicorn)": r"^.*\.access_log|^Logger\.(info|_log) ",
    "HTTP parsing and writing (h11)": r"\(h11/",
    "projections (wherever they run)": r"\(projections/",
    "  a batch of the projections (SharedReader.step)": r"^SharedReader\.step ",
    "    its transactions, under SQLite's write turn (SharedReader._write)": r"^SharedReader\._write ",
    "database driver (psycopg, all callers)": r"\(psycopg/",
}


def summary(stacks: Iterable[str]) -> tuple[int, Counter[str], Counter[str], Counter[str]]:
    """From py-spy's raw lines ("frame;frame;... count"): samples, by library (innermost frame), by
    step, and by process (`--subprocesses` puts `process <pid>:"<command line>"` first; else none)."""
    total, libraries, steps, processes = 0, Counter[str](), Counter[str](), Counter[str]()
    for line in stacks:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack:
            continue
        count, frames = int(count_text), stack.split(";")
        total += count
        spawned = [frame for frame in frames if frame.startswith("process ")]
        if spawned:  # the innermost: a child's samples are under its parent's frame too
            processes[spawned[-1][:100]] += count
        libraries[_library(frames[-1])] += count
        for step, pattern in STEPS.items():
            if any(re.search(pattern, frame) for frame in frames):
                steps[step] += count
    return total, libraries, steps, processes


def _library(frame: str) -> str:
    where = frame[frame.rfind("(") + 1 :]
    return where.split("/", 1)[0] if "/" in where else "Python itself (threading, sockets, ...)"


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1, help="API worker processes")
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--output", type=Path, default=Path("profile-stacks.txt"))
    parser.add_argument("--server", choices=["nm-workflow", "plain"], default="nm-workflow")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--no-projections", action="store_true")
    where.add_argument("--worker", action="store_true")
    parser.add_argument("--gil", action="store_true")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nm-profile-")))
        url = None
        if args.database == "postgres":
            url = create_database(stack.enter_context(throwaway_server(durable=True)))
        settings = Settings(database_url=url, data_dir=folder / "data")
        keys = load.prepare(args.server, settings)
        projections = "none" if args.no_projections else "worker" if args.worker else "embedded"
        served = load.serving(args.server, args.workers, settings, folder, projections)
        port, pids = stack.enter_context(served)
        sizes = load.Sizes(warmup=2.0, seconds=args.seconds)
        record = [spy, "record", "--pid", str(pids[0]), "--format", "raw", "--rate", "100"]
        # Non-blocking: pausing the process at each sample would slow the server down a lot.
        record += ["--nonblocking", "--duration", str(int(args.seconds)), "--output", str(args.output)]
        record += ["--gil"] if args.gil else []
        record += ["--subprocesses"] if args.worker else []
        # Starts sampling as the load's warm-up ends (the same two seconds), for the measured window.
        sampler = subprocess.Popen(["sh", "-c", f'sleep {sizes.warmup} && exec "$@"', "sh", *record])
        projected = args.server == "nm-workflow" and not args.no_projections
        figures = load.drive(port, args.clients, sizes, keys, settings, pids, lag=projected)
        sampler.wait()
    total, libraries, steps, processes = summary(args.output.read_text().splitlines())
    print(f"{figures['per_second']:.0f} commands/s, p50 {figures['p50_ms']:.1f} ms; {total} samples")
    print("\nself time by library")
    for library, count in libraries.most_common(12):
        print(f"  {100 * count / total:5.1f}%  {library}")
    if processes:
        print("\nby process")
        for process, count in processes.most_common():
            print(f"  {100 * count / total:5.1f}%  {process}")
    print("\ninclusive time of steps")
    for step in STEPS:
        count = steps[step]
        print(f"  {100 * count / total:5.1f}%  {step}")
    print(f"\nRaw stacks: {args.output}")


if __name__ == "__main__":
    main()
