"""`nm-workflow serve` runs uvicorn on the service's own h11 protocol and uvloop (ADR 0066)."""

from __future__ import annotations

import sys

import pytest
import uvicorn
from uvicorn.importer import import_from_string

from nm_workflow.interface.http.server import TimedH11Protocol, uvicorn_options


def test_the_protocol_is_the_service_s_own() -> None:
    config = uvicorn.Config("bench.baselines:trivial_app", **uvicorn_options())
    assert import_from_string(config.http) is TimedH11Protocol


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build")
def test_the_loop_is_uvloop_by_name_not_by_chance() -> None:
    import uvloop

    # uvicorn's "auto" would take uvloop only if installed: named, a missing one fails at start.
    assert uvicorn_options()["loop"] == "uvloop"
    factory = uvicorn.Config("bench.baselines:trivial_app", **uvicorn_options()).get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
