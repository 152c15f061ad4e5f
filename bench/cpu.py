"""CPU time spent by a process and its descendants, and by the whole machine, read from /proc (Linux).

The load benchmark divides the CPU a server spent during a load by the commands it
completed: CPU per command is what bounds the rate once the machine's cores are busy,
and unlike a rate it hardly depends on what else the shared machine is doing. How many
of the machine's cores were busy meanwhile says how far a rate was from that bound.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces), or None if gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def _processes() -> Iterator[tuple[int, int]]:
    """(pid, parent pid) of every process now."""
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            yield int(entry.name), int(fields[1])


def tree(root: int) -> list[int]:
    """`root` and all its descendants now."""
    children: dict[int, list[int]] = {}
    for pid, parent in _processes():
        children.setdefault(parent, []).append(pid)
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def projection_workers(roots: list[int]) -> list[int]:
    """The projection worker processes (`cli_projections run`, started by `serve`) within the trees
    of `roots`: how much of the server's CPU the projections took, apart from the API's."""
    return [
        pid
        for root in roots
        for pid in tree(root)
        if b"nm_workflow.interface.cli_projections" in _cmdline(pid)
    ]


def _cmdline(pid: int) -> bytes:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def cpu_seconds(root: int) -> float:
    """User plus system CPU seconds of `root` and its live descendants, each thread included.

    A descendant that exited since the last reading takes its CPU with it (unless reaped by
    a process of the tree): sample trees whose processes live through the measurement.
    """
    total = 0
    for pid in tree(root):
        if (fields := _stat(pid)) is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICKS


def machine_ticks() -> tuple[int, int] | None:
    """(busy, all) clock ticks of every core since boot, from /proc/stat's first line; None
    where there is no /proc/stat. Idle and I/O wait are not busy; steal (taken by the host's
    other guests) is not counted in either, so the cores' share is of the time this machine had."""
    try:
        with (PROC / "stat").open() as stat:
            first = stat.readline().split()
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is within user)
    user, nice, system, idle, iowait, irq, softirq = (int(value) for value in first[1:8])
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait


def busy_cores(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """How many of the machine's cores were busy on average between two `machine_ticks` readings."""
    if before is None or after is None or after[1] == before[1]:
        return None
    return (os.cpu_count() or 1) * (after[0] - before[0]) / (after[1] - before[1])


def postgres_server(port: int) -> int | None:
    """The pid of the PostgreSQL postmaster serving on `port` here, if there is one."""
    for pid, _ in _processes():
        try:
            arguments = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        postmaster = arguments[0].endswith(b"postgres") and b"-p" in arguments
        if postmaster and arguments[arguments.index(b"-p") + 1 :][:1] == [str(port).encode()]:
            return pid
    return None
