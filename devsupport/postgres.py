"""A throwaway PostgreSQL server, started from the machine's binaries.

The test suite runs one per session, tuned for speed, not durability (no fsync):
its data is worthless once the session ends, and each test gets its own database,
created from `template0` and dropped afterwards. The benchmarks run one with
production's durable settings (`durable=True`: fsync and synchronous commit on,
data on disk rather than in memory) so that commits cost what they cost in use.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

SERVER_USER = "postgres"
WORKDIR_PREFIX = "nm-test-pg-"
IN_MEMORY_MIN_FREE = 2 * 1024**3
STALE_SECONDS = 600.0  # far longer than initdb takes, before postmaster.pid exists
STARTUP_SECONDS = 30.0
SHUTDOWN_SECONDS = 30.0
# The server's zone is set, not taken from the environment of whichever process starts it (a
# test may have TZ set): the company's zone, not UTC, so every test on PostgreSQL runs against a
# server whose sessions would read times in another zone than the service's (ADR 0061).
SERVER_OPTIONS = {"max_connections": "400", "timezone": "Asia/Shanghai"}
FAST_OPTIONS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries were found on this machine."""


def find_bindir() -> Path | None:
    """The folder holding `initdb` and `postgres`: pg_config's, the newest Debian one, or PATH's."""
    candidates = [_pg_config_bindir(), *_debian_bindirs(), _path_bindir()]
    return next((d for d in candidates if d is not None and _has_server(d)), None)


def _pg_config_bindir() -> Path | None:
    # pg_config may come from the client library package alone, so its answer is only a hint.
    if shutil.which("pg_config") is None:
        return None
    result = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
    return Path(result.stdout.strip()) if result.returncode == 0 and result.stdout.strip() else None


def _debian_bindirs() -> list[Path]:
    def version(folder: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in folder.parent.name.split(".") if part.isdigit())

    return sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)


def _path_bindir() -> Path | None:
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _has_server(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in ("initdb", "postgres"))


@contextmanager
def throwaway_server(bindir: Path | None = None, *, durable: bool = False) -> Iterator[str]:
    """Run a fresh server until the block ends; yields its admin URL.

    `durable`: fsync and synchronous commit on, data on disk; else fast and in memory when room.
    """
    bindir = bindir or find_bindir()
    if bindir is None:
        raise PostgresUnavailable("No PostgreSQL server binaries (initdb, postgres) were found.")
    workdir = _make_workdir(Path(tempfile.gettempdir()) if durable else _workdir_parent())
    try:
        _initdb(bindir, workdir)
        options = SERVER_OPTIONS if durable else {**SERVER_OPTIONS, **FAST_OPTIONS}
        with _running_server(bindir, workdir, options) as url:
            yield url
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _as_root() -> bool:
    return os.geteuid() == 0


def _make_workdir(parent: Path) -> Path:
    _remove_stale_workdirs(parent)
    workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=parent))
    if _as_root():
        # initdb and postgres refuse to run as root: the server runs as the postgres user.
        try:
            account = pwd.getpwnam(SERVER_USER)
        except KeyError:
            workdir.rmdir()
            raise PostgresUnavailable(f"Running as root but there is no '{SERVER_USER}' user.") from None
        os.chown(workdir, account.pw_uid, account.pw_gid)
    return workdir


def _workdir_parent() -> Path:
    # In memory when there is room: on some disks CREATE DATABASE alone takes ~0.4 s, in memory ~0.03 s.
    shm = Path("/dev/shm")
    with suppress(OSError):
        if os.access(shm, os.W_OK | os.X_OK) and shutil.disk_usage(shm).free >= IN_MEMORY_MIN_FREE:
            return shm
    return Path(tempfile.gettempdir())


def _remove_stale_workdirs(parent: Path) -> None:
    """Remove what servers killed outright (no teardown) left behind; in memory it would stay."""
    for workdir in parent.glob(f"{WORKDIR_PREFIX}*"):
        with suppress(OSError):
            old = time.time() - workdir.stat().st_mtime > STALE_SECONDS
            if old and not _server_alive(workdir):
                shutil.rmtree(workdir, ignore_errors=True)


def _server_alive(workdir: Path) -> bool:
    pid = _postmaster_pid(workdir)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        pass
    return True


def _command(bindir: Path, program: str, *args: str) -> list[str]:
    prefix = ["runuser", "-u", SERVER_USER, "--"] if _as_root() else []
    return [*prefix, str(bindir / program), *args]


def _initdb(bindir: Path, workdir: Path) -> None:
    args = ["-D", str(workdir / "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]
    # The C locale exists everywhere; the machine's own locale may not be installed.
    args += ["--locale=C"]
    result = subprocess.run(
        _command(bindir, "initdb", *args), cwd=workdir, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


@contextmanager
def _running_server(bindir: Path, workdir: Path, server_options: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    socket_dir = workdir / "sockets"
    socket_dir.mkdir()
    shutil.chown(socket_dir, *_owner(workdir))
    options = [arg for name, value in server_options.items() for arg in ("-c", f"{name}={value}")]
    args = ["-D", str(workdir / "data"), "-h", "127.0.0.1", "-p", str(port), "-k", str(socket_dir), *options]
    with (workdir / "server.log").open("wb") as log:
        process = _spawn(_command(bindir, "postgres", *args), workdir, log)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        _wait_until_ready(url, process, workdir)
        yield url
    finally:
        _stop(process, workdir)


def _owner(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_uid, status.st_gid


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _spawn(command: Sequence[str], workdir: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        start_new_session=True,  # Ctrl-C in the terminal must not reach the server before teardown.
    )


def _die_with_parent() -> None:
    # If the test process is killed outright (no teardown), the server must not outlive it.
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], workdir: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited at startup:\n{_log_tail(workdir)}")
        with suppress(psycopg.OperationalError), psycopg.connect(url, connect_timeout=2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"PostgreSQL did not start in {STARTUP_SECONDS:.0f} s:\n{_log_tail(workdir)}")


def _log_tail(workdir: Path, lines: int = 30) -> str:
    log = workdir / "server.log"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def _stop(process: subprocess.Popen[bytes], workdir: Path) -> None:
    """Fast shutdown (SIGINT to the postmaster); immediate shutdown if that hangs."""
    pid = _postmaster_pid(workdir) or process.pid
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
        with suppress(ProcessLookupError):
            os.kill(pid, sig)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=SHUTDOWN_SECONDS)
            return
    process.kill()


def _postmaster_pid(workdir: Path) -> int | None:
    # Under runuser the spawned process is runuser itself; the postmaster records its own pid.
    pid_file = workdir / "data" / "postmaster.pid"
    with suppress(OSError, ValueError, IndexError):
        return int(pid_file.read_text().splitlines()[0])
    return None


def create_database(admin_url: str) -> str:
    """Create an empty, uniquely named database; its URL (same server and credentials)."""
    name = f"nm_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        # From PostgreSQL 15 the default strategy copies the template through the WAL: slower.
        strategy = " STRATEGY FILE_COPY" if admin.info.server_version >= 150000 else ""
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE template0" + strategy)
        admin.execute(statement.format(sql.Identifier(name)))
    return urlsplit(admin_url)._replace(path=f"/{name}").geturl()


def drop_database(admin_url: str, url: str) -> None:
    """Drop a database made by `create_database`, disconnecting whoever still uses it."""
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
