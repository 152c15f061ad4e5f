"""Reading a socket option of another process's TCP connection (Linux: /proc and pidfd_getfd)."""

from __future__ import annotations

import ctypes
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture
ESTABLISHED, LISTEN = "01", "0A"


def server_side_inode(server_port: int, client_port: int) -> int:
    """The inode of the accepted socket of the connection 127.0.0.1:client_port -> server_port."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if (local_port, remote_port, fields[3]) == (server_port, client_port, ESTABLISHED):
                return int(fields[9])
    raise LookupError(f"No established connection from port {client_port} to {server_port}.")


def listening_inodes(port: int) -> list[int]:
    """The inodes of the sockets listening on `port` (any address), one per listening socket."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == LISTEN:
                found.append(int(fields[9]))
    return found


def _descriptors(inode: int) -> Iterator[tuple[int, int]]:
    """(pid, fd) of every descriptor of any process that refers to the socket with this inode."""
    wanted = f"socket:[{inode}]"
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with suppress(OSError):
            for fd in fd_dir.iterdir():
                with suppress(OSError):
                    if os.readlink(fd) == wanted:
                        yield int(fd_dir.parent.name), int(fd.name)


def holder_of(inode: int) -> tuple[int, int]:
    """(pid, fd) of a process holding the socket with this inode."""
    for held in _descriptors(inode):
        return held
    raise LookupError(f"No process holds socket {inode}.")


def processes_holding(inode: int) -> set[int]:
    """Every process holding the socket with this inode (a socket shared with worker processes)."""
    return {pid for pid, _ in _descriptors(inode)}


@contextmanager
def borrowed_socket(pid: int, fd: int) -> Iterator[socket.socket]:
    """A duplicate of another process's socket descriptor: the same kernel socket, its options."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        copy = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if copy < 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
    finally:
        os.close(pidfd)
    with socket.socket(fileno=copy) as sock:
        yield sock
