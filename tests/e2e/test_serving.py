"""`nm-workflow serve` as a real process: every accepted connection has TCP_NODELAY.

Without it Nagle's algorithm meets the client's delayed ACK and each keep-alive
request waits ~40 ms (uvicorn issue 3149, multi-worker mode). The option is read
from the server's own accepted socket, not inferred from timings.
"""

from __future__ import annotations

import http.client
import socket
import sys
from pathlib import Path

import pytest

from devsupport.server import free_port, running_server
from tests.support.sockets import borrowed_socket, holder_of, server_side_inode

CLI = str(Path(sys.executable).with_name("nm-workflow"))


@pytest.mark.parametrize("workers", [2, 1])
def test_accepted_connections_have_tcp_nodelay(workers: int, tmp_path: Path) -> None:
    port = free_port()
    command = [CLI, "serve", "--port", str(port), "--workers", str(workers)]
    env = {"NM_DATA_DIR": str(tmp_path / "data")}
    with running_server(command, port, tmp_path / "server.log", env) as server:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for _ in range(2):  # the same kept-alive connection serves both
                connection.request("GET", "/health")
                response = connection.getresponse()
                response.read()
                assert response.status == 200
            assert connection.sock is not None
            client_port = connection.sock.getsockname()[1]
            pid, fd = holder_of(server_side_inode(port, client_port))
            with borrowed_socket(pid, fd) as accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            connection.close()
        assert pid != server.pid or workers == 1, "with workers, a worker process serves the connection"
