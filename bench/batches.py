"""The embedded projections' batch alone, in process: its CPU per batch, by projection and by phase.

Items live their lives through the application layer first (plan, draft, review request, three
approvals, publish, three observations: 11 commands of one event each), the projections off.
Then the shared reader of all 13 projections (the runner's, projections/batches.py) follows the
log `--commands` events per batch, as at one client the embedded projections do after a gather
of that many commands (1: a command alone; about 15: what one client's 0.05 s gather holds).

Reported: the process's CPU per batch (`time.process_time`, one thread), and the wall time of
each phase summed over the batches: reading the log (with decoding), moving the trackings, each
projection's `apply` (its reads, computing, encoding and writes), and the rest of the
transaction (its begin and commit). With `--instructions`, valgrind's callgrind counts the
machine instructions of the measured batches instead (repeatable on a loaded machine, within
0.2%: compare builds by it).

With `--interleaved N`, N lives are written at a time, a command of each in turn, as N
concurrent clients send them: a batch then holds commands of many items, most of them
changing rows an earlier batch wrote.

    python -m bench.batches [--items 20] [--commands 1] [--interleaved N] [--instructions]
                            [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import zip_longest
from pathlib import Path
from typing import Any

from bench.projections import _one_item_lifecycle, item_life
from bench.report import arguments
from nm_workflow.application.items import ContentItems
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from projections import ReadModel, batches
from projections.batches import Builder, SharedReader
from projections.registry import select

Phases = dict[str, float]


@contextmanager
def _timed(phases: Phases, name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        phases[name] += time.perf_counter() - started


def _wrapped(phases: Phases, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        with _timed(phases, name):
            return function(*args, **kwargs)

    return timed


def _reader(read_model: ReadModel, size: int, phases: Phases | None) -> tuple[SharedReader, list[Builder]]:
    rm = read_model
    builders = [Builder(rm.projections[cls.name], rm.recorders[cls.name], rm.db, rm.source, size)
                for cls in select(None)]  # fmt: skip
    if phases is not None:  # each phase timed where it is called
        for builder in builders:
            projection = builder.projection
            projection.apply = _wrapped(phases, projection.name, projection.apply)  # type: ignore[method-assign]
        rm.source.read = _wrapped(phases, "read the log", rm.source.read)  # type: ignore[method-assign]
        rm.source.head = _wrapped(phases, "read the head", rm.source.head)  # type: ignore[method-assign]
        setattr(batches, "advance_together", _wrapped(phases, "trackings", vars(batches)["advance_together"]))  # noqa: B010
    return SharedReader(builders, rm.db, rm.source, size), builders


def _lives(service: ContentItems, items: int, interleaved: int) -> None:
    """`items` lives, one after another, or `interleaved` at a time, a command of each in turn."""
    at_a_time = interleaved or 1
    for first in range(0, items, at_a_time):
        for _ in zip_longest(*(item_life(service) for _ in range(first, min(first + at_a_time, items)))):
            pass


def measure(
    settings: Settings, items: int, count: Callable[[str], None], phases: Phases | None, interleaved: int = 0
) -> int:
    """Write `items` lives (`interleaved` at a time: see `_lives`), then apply them in batches;
    the number of batches measured."""
    store = EventStore(settings)
    read_model = ReadModel(settings, store)
    try:
        service = ContentItems(store, clock=lambda: datetime.now(UTC) + timedelta(days=4))
        reader, builders = _reader(read_model, settings.projection_batch_size, phases)
        _one_item_lifecycle(service)  # warm: statements prepared, caches filled
        while reader.step(builders):
            pass
        _lives(service, items, interleaved)
        if phases is not None:
            phases.clear()
        steps = 0
        count("on")
        while reader.step(builders):
            steps += 1
        count("off")
        return steps
    finally:
        read_model.close()
        store.close()


def _callgrind(switch: str) -> None:
    subprocess.run(["callgrind_control", "-i", switch, str(os.getpid())], check=True, capture_output=True)


def _instructions(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="nm-batches-") as folder:
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                   f"--callgrind-out-file={folder}/callgrind.out", sys.executable, "-m", "bench.batches",
                   "--counted", "--items", str(args.items), "--commands", str(args.commands),
                   "--interleaved", str(args.interleaved)]  # fmt: skip
        if args.database_url:
            command += ["--database-url", args.database_url]
        env = {**os.environ, "NM_DATA_DIR": str(Path(folder) / "data")}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    steps = re.search(r"batches: (\d+)", done.stdout)
    if collected is None or steps is None:
        raise RuntimeError(done.stderr[-2000:] + done.stdout[-2000:])
    batches_ = int(steps[1])
    print(f"{int(collected[1]) / batches_ / 1e6:.3f} million instructions per batch "
          f"({batches_} batches of {args.commands} events)")  # fmt: skip


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--items", type=int, default=20, help="item lives of 11 events measured")
    parser.add_argument("--commands", type=int, default=1, help="events (commands) per batch")
    parser.add_argument("--instructions", action="store_true", help="count instructions (valgrind)")
    parser.add_argument(
        "--interleaved", type=int, default=0,
        help="lives written this many at a time, a command of each in turn (as concurrent clients); "
        "default: one after another",
    )  # fmt: skip
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL; default: a temporary SQLite file"
    )
    parser.add_argument("--counted", action="store_true", help=argparse.SUPPRESS)  # the process valgrind runs
    args = parser.parse_args()
    if args.instructions:
        _instructions(args)
        return
    with tempfile.TemporaryDirectory(prefix="nm-batches-") as folder:
        settings = Settings(database_url=args.database_url, data_dir=Path(folder),
                            embedded_projections=False, projection_batch_size=args.commands)  # fmt: skip
        if args.counted:
            print(f"batches: {measure(settings, args.items, _callgrind, None, args.interleaved)}")
            return
        phases: Phases = defaultdict(float)
        cpu: list[float] = []
        steps = measure(
            settings, args.items, lambda _: cpu.append(time.process_time()), phases, args.interleaved
        )
    per_batch = (cpu[1] - cpu[0]) / steps * 1e3
    print(f"{steps} batches of {args.commands} events: {per_batch:.3f} ms CPU per batch")
    for name, seconds in sorted(phases.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<28} {seconds / steps * 1e3:8.3f} ms per batch (wall)")


if __name__ == "__main__":
    main()
