"""A fuzzer generates and mutates requests from the OpenAPI document: never a server error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from nm_workflow.application.keys import KeyService
from nm_workflow.application.settings import Settings
from nm_workflow.application.store import EventStore
from nm_workflow.domain.roles import Role
from tests.e2e.live import live_server

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _key(settings: Settings) -> str:
    store = EventStore(settings)
    try:
        roles = [Role.MARKETING, Role.EDITOR, Role.DATA_ANALYST, Role.MANAGEMENT]
        return KeyService(store).create("fuzzer", roles, "marketing", issued_by="test")
    finally:
        store.close()


def test_the_openapi_fuzzer_finds_no_failure(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    token = _key(settings)
    fuzzer = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    with live_server(settings) as url:
        run = subprocess.run(
            [
                fuzzer,
                "run",
                f"{url}/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                CHECKS,
                "--max-examples",
                "15",
                "--seed",
                "20271126",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert run.returncode == 0, run.stdout[-6000:]
