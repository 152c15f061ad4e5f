"""Serving the ASGI app with uvicorn on a listening socket we bind ourselves.

Why not `uvicorn.run(workers=N)`: with several workers uvicorn binds the socket
as `socket.socket(family)`, whose protocol is 0, and asyncio sets TCP_NODELAY
only on accepted sockets whose protocol is IPPROTO_TCP. Without it Nagle's
algorithm holds a response's last small segment until the client's delayed ACK:
about 40 ms per keep-alive request (uvicorn issue 3149). Binding the socket here
with IPPROTO_TCP (and TCP_NODELAY on the listener, which Linux copies to accepted
sockets) gives every worker's connections TCP_NODELAY; one code path serves one
worker or several.

With several workers on Linux each worker listens on a socket of its own, bound with
SO_REUSEPORT to the same address: the kernel spreads new connections over them by a hash of
the connection's addresses. On one shared socket the first worker to wake accepted every
connection waiting, so a client opening its keep-alive connections at once had all sixteen on
one worker in two starts of seven, and the other worker idle for the connections' life
(docs/adr/0069). The supervisor keeps a socket bound to the address (not listening) so that
the port stays the server's while workers restart; `nm-workflow serve` holds the port's claim
(`claim_address`) so that a second one is refused even before a worker listens.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any, cast

import uvicorn

from nm_workflow.interface.projection_worker import ProjectionWorker
from nm_workflow.interface.supervisor import Supervisor

log = logging.getLogger("uvicorn.error")
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
STARTUP_FAILURE = 3  # uvicorn's own exit status when it cannot start
HEALTHCHECK_SECONDS = 30  # how long a worker process may leave its supervisor's ping unanswered


# Linux spreads connections over the sockets of a SO_REUSEPORT group; other systems either lack
# the option or give every connection to one socket of the group, so they share one socket.
SPREAD_BY_KERNEL = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")
# Linux 5.14 and later: 1 moves the connections queued on a closing socket of the group to another.
MIGRATE_REQUESTS = Path("/proc/sys/net/ipv4/tcp_migrate_req")
UNMIGRATED = (
    "net.ipv4.tcp_migrate_req is 0: connections still queued for a worker that stops are reset; "
    "1 moves them to another worker (docs/operators.md)"
)


def authority(host: str, port: int) -> str:
    """`host:port` as a URL writes it: an IPv6 address in brackets (`[::1]:8000`)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listening_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to (host, port), inheritable by worker processes, TCP_NODELAY on;
    with `reuse_port`, in the address's SO_REUSEPORT group (Linux: only sockets of the same
    user may join it).

    Exits with a one-line message (not a traceback) when the address cannot be bound,
    e.g. the port is in use.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise SystemExit(f"Cannot listen on {authority(host, port)}: {error.strerror}.") from None
    sock.set_inheritable(True)
    return sock


def claim_address(port: int) -> socket.socket | None:
    """The port's claim, for a `serve` process to hold for its life; None where workers share
    one socket (not Linux), which a second server cannot join.

    On Linux a second `serve` could join the first's SO_REUSEPORT group, and the check that a
    port is in use (a bind, cli.py) fails only once a socket listens on it: not while the
    first server's workers start, nor while its only worker restarts. The claim is an abstract
    Unix socket named after the port, whatever the address (the wildcard and a specific address,
    or two spellings of one, share connections of one port), scoped as ports are to the network
    namespace, and freed by the kernel when its process ends, however it ends. Raises OSError:
    EADDRINUSE when another process holds it, another errno when Unix sockets are not allowed.
    """
    if not SPREAD_BY_KERNEL:
        return None
    claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        claim.bind(f"\0nm-workflow-serve-port-{port}")
    except OSError:
        claim.close()
        raise
    return claim


def _hangups_left_to_serve() -> None:
    """In a new API worker process: SIGHUP ignored. `serve` decides what one means (replace the
    workers, or stop them gracefully at its terminal's hangup); a shell sends a closed terminal's
    hangup to serve's whole process group, nohup or not, which ended each worker at once."""
    if hasattr(signal, "SIGHUP"):  # not on Windows
        signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _handed_socket(sock: socket.socket) -> socket.socket:
    """In a new worker process (`HandedSocket`): the one listening socket `serve` bound."""
    _hangups_left_to_serve()
    return sock


class HandedSocket:
    """Stands for the one listening socket in what the supervisor hands each worker process: the
    worker, unpickling it, gets the socket (multiprocessing passes it on) and leaves SIGHUP to
    `serve`."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def __reduce__(self) -> tuple[Any, tuple[socket.socket]]:
        return _handed_socket, (self.sock,)


def _workers_own_socket(host: str, port: int) -> socket.socket:
    """In a new worker process (`WorkersOwnSocket`): its listening socket. When the address cannot
    be bound (it left the machine), the worker ends with uvicorn's start-failure status, on which
    the supervisor stops, rather than with 1, on which it started the worker again forever."""
    _hangups_left_to_serve()
    try:
        return listening_socket(host, port, reuse_port=True)
    except SystemExit as refused:  # uvicorn has not set up the worker's logging yet
        print(f"ERROR:    {refused}", file=sys.stderr, flush=True)
        raise SystemExit(STARTUP_FAILURE) from None


class WorkersOwnSocket:
    """Stands for the listening socket in what the supervisor hands each worker process: the
    worker, unpickling it, binds a socket of its own to the address, in its SO_REUSEPORT group."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return _workers_own_socket, (self.host, self.port)


@contextmanager
def shared_metrics_folder() -> Iterator[None]:
    """A folder where every worker process writes its metrics, so /metrics sums them all.

    prometheus-client's multiprocess mode reads PROMETHEUS_MULTIPROC_DIR when a worker
    starts (workers are spawned, so they inherit it). An operator's own folder is kept;
    otherwise a fresh one lives as long as the server, so no stale figures carry over.
    """
    if os.environ.get(MULTIPROC_DIR):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="nm-workflow-metrics-") as folder:
        os.environ[MULTIPROC_DIR] = folder
        try:
            yield
        finally:
            del os.environ[MULTIPROC_DIR]


def serve(
    app: str,
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str = "info",
    projection_worker: float | None = None,
    **options: Any,
) -> None:
    """Serve the app factory at import path `app` ("module:function") until interrupted.

    `workers` > 1 or `projection_worker` runs `Supervisor` (uvicorn's process supervisor, with
    SIGHUP and a terminal's hangup handled as it says), its workers listening on sockets of their
    own (Linux, several workers) or on the one bound here, each leaving SIGHUP to it; otherwise
    one uvicorn server, which stops gracefully on SIGHUP. `options` are further `uvicorn.Config`
    settings (e.g. the HTTP protocol class). `projection_worker`, when not None, runs a projection
    worker process beside the workers (interface/projection_worker.py), stopped after them and
    replaced when it made no pass for that many seconds; the API then runs in a worker process even
    alone, so that its `/metrics` sums the projection worker's figures with its own.
    """
    alone = workers == 1 and projection_worker is None
    if not alone:  # each worker process looks every second whether this one is still there
        options |= {"callback_notify": partial(_stop_if_orphaned, os.getpid()), "timeout_notify": 1}
        # uvicorn kills a worker that does not answer its ping within this many seconds (5 by
        # default); a worker still starting (the app, its database, its pool) on a busy machine,
        # beside a projection worker starting too, was killed and started again at about one start
        # in four. A hung worker is still replaced, after half a minute.
        options.setdefault("timeout_worker_healthcheck", HEALTHCHECK_SECONDS)
    config = uvicorn.Config(
        app, factory=True, host=host, port=port, workers=workers, log_level=log_level, **options
    )
    spread = SPREAD_BY_KERNEL and workers > 1  # one API worker keeps its socket while it restarts
    sock = listening_socket(host, port, reuse_port=spread)  # with `spread`, the port's holder
    if alone:
        server = uvicorn.Server(config)
        # A terminal's hangup (or `kill -HUP`) stops it as SIGTERM does, letting requests end;
        # SIGHUP's default would end it at once (a supervisor replaces its workers instead).
        # Ignored already (`nohup`): left so, as asked.
        if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
            signal.signal(signal.SIGHUP, server.handle_exit)
        server.run(sockets=[sock])
        return
    # uvicorn only pickles the sockets it is given into each worker process's arguments.
    handed = cast(list[socket.socket], [WorkersOwnSocket(host, port) if spread else HandedSocket(sock)])
    if spread:
        with suppress(OSError):  # a kernel before 5.14 has no such setting, and nothing to say
            if MIGRATE_REQUESTS.read_text().strip() == "0":
                log.warning(UNMIGRATED)
    with shared_metrics_folder():
        worker = None if projection_worker is None else ProjectionWorker(projection_worker)
        supervisor = Supervisor(config, handed, worker)  # takes SIGINT and SIGTERM from here on
        if worker is not None:
            worker.start()
        try:
            supervisor.run()
        finally:
            if worker is not None:
                worker.stop()
    # uvicorn's supervisor stops when a worker could not start, and returns as on a signal.
    if any(process.process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        raise SystemExit(STARTUP_FAILURE)


async def _stop_if_orphaned(parent: int) -> None:
    """In an API worker process: stop as on SIGTERM once `parent` (serve) is gone, e.g. killed.

    uvicorn's supervisor stops its workers when it stops, but a supervisor killed outright
    (SIGKILL) leaves them serving, holding the port a new `serve` needs. An orphan is adopted
    by another process, so its parent id changes.
    """
    if os.getppid() != parent:
        log.warning("The serve process [%d] is gone; stopping", parent)
        signal.raise_signal(signal.SIGTERM)  # uvicorn's own handler: a graceful shutdown
