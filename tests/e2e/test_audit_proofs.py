"""Tree heads and proofs of a real store, checked by the standard-library script as an auditor runs it.

Real proofs are accepted, altered ones refused (exit status 1, the line says FAILED); requests
beyond the log are problems, not errors; every process computes the same roots.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nm_workflow.application.audit_signing import signature_valid, write_new_key
from nm_workflow.domain.roles import Role
from tests.e2e.api import Api
from tests.support import verifier


def saved(folder: Path, name: str, body: dict[str, Any]) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def altered(body: dict[str, Any], key: str, index: int | None = None) -> dict[str, Any]:
    """`body` with one hex digit of `body[key]` (or of its `index`-th entry) changed."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    target = copy[key] if index is None else copy[key][index]
    changed = ("0" if target[0] != "0" else "1") + target[1:]
    if index is None:
        copy[key] = changed
    else:
        copy[key][index] = changed
    return copy


def failures_of(checked: Any) -> list[str]:
    return [line for line in checked.stdout.splitlines() if line.startswith("FAILED")]


def grow(api: Api, items: int) -> None:
    for _ in range(items):
        api.planned()


def test_real_proofs_verify_offline_and_altered_ones_fail(api: Api, tmp_path: Path) -> None:
    auditor = api.key("audrey", Role.AUDITOR, "audit")
    grow(api, 3)
    old = api.get("/audit/tree-head", auditor).json()
    grow(api, 6)
    new = api.get("/audit/tree-head", auditor).json()
    assert new["tree_size"] > old["tree_size"] >= 4
    assert new["signature"] is None  # no audit key configured
    old_head, new_head = saved(tmp_path, "old", old), saved(tmp_path, "new", new)

    position = api.client.app.state.store.head() - 7  # type: ignore[attr-defined]
    inclusion = api.get(f"/audit/proofs/inclusion?position={position}&tree_size={new['tree_size']}", auditor)
    assert inclusion.status_code == 200, inclusion.text
    proof = inclusion.json()
    assert proof["root_hash"] == new["root_hash"]
    assert 1 <= len(proof["audit_path"]) <= (new["tree_size"] - 1).bit_length()  # log2 of the size
    checked = verifier.run("inclusion", saved(tmp_path, "inclusion", proof), "--tree-head", new_head)
    assert (checked.returncode, checked.stdout.split()[0]) == (0, "OK"), checked.stdout + checked.stderr
    # The proven leaf is the event's own record, as an export shows it; not once a byte of it changed.
    export = tmp_path / "log.jsonl"
    export.write_bytes(api.get("/audit/export", auditor).content)
    checked = verifier.run(
        "inclusion", tmp_path / "inclusion.json", "--tree-head", new_head, "--export", export
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[-1] == f"OK the proof's leaf is the record of position {position}"
    records = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    for record in records:
        if record["position"] == position:
            record["state"] = base64.b64encode(
                base64.b64decode(record["state"]).replace(b"launch", b"lunch!")
            ).decode()
    export.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    checked = verifier.run(
        "inclusion", tmp_path / "inclusion.json", "--tree-head", new_head, "--export", export
    )
    assert (checked.returncode, failures_of(checked)) == (
        1,
        [f"FAILED the proof's leaf is the record of position {position}"],
    )

    consistency = api.get(
        f"/audit/proofs/consistency?first={old['tree_size']}&second={new['tree_size']}", auditor
    )
    assert consistency.status_code == 200, consistency.text
    extends = consistency.json()
    checked = verifier.run("consistency", saved(tmp_path, "c", extends), "--old", old_head, "--new", new_head)
    assert (checked.returncode, checked.stdout.split()[0]) == (0, "OK"), checked.stdout + checked.stderr

    root_altered, old_altered = (
        saved(tmp_path, "h", altered(new, "root_hash")),
        saved(tmp_path, "o", altered(old, "root_hash")),
    )
    flipped_index = {**proof, "leaf_index": proof["leaf_index"] ^ 1}
    refusals = [
        ("inclusion", saved(tmp_path, "i1", altered(proof, "audit_path", 0)), "--tree-head", new_head),
        ("inclusion", saved(tmp_path, "i2", altered(proof, "leaf_hash")), "--tree-head", new_head),
        ("inclusion", saved(tmp_path, "i3", flipped_index), "--tree-head", new_head),
        ("inclusion", saved(tmp_path, "i4", proof), "--tree-head", root_altered),
        (
            "consistency",
            saved(tmp_path, "c1", altered(extends, "proof", -1)),
            "--old",
            old_head,
            "--new",
            new_head,
        ),
        ("consistency", saved(tmp_path, "c2", extends), "--old", old_altered, "--new", new_head),
    ]
    for arguments in refusals:
        checked = verifier.run(*arguments)
        assert (checked.returncode, checked.stdout.split()[0]) == (1, "FAILED"), (arguments, checked.stdout)


def test_every_process_gives_the_same_heads_and_proofs(app_factory: Callable[..., Api]) -> None:
    first, second = app_factory(), app_factory()
    auditor = first.key("audrey", Role.AUDITOR, "audit")
    grow(first, 2)
    assert first.get("/audit/tree-head", auditor).json()["root_hash"]  # the first process's cache warm
    grow(second, 3)
    heads = [api.get("/audit/tree-head", auditor).json() for api in (first, second)]
    assert heads[0]["tree_size"] == heads[1]["tree_size"]
    assert heads[0]["root_hash"] == heads[1]["root_hash"]
    size = heads[0]["tree_size"]
    proofs = [
        api.get(f"/audit/proofs/consistency?first=2&second={size}", auditor).json() for api in (first, second)
    ]
    assert proofs[0] == proofs[1]


def test_requests_outside_the_log_are_problems(api: Api) -> None:
    auditor = api.key("audrey", Role.AUDITOR, "audit")
    grow(api, 2)
    size = api.get("/audit/tree-head", auditor).json()["tree_size"]
    head = api.client.app.state.store.head()  # type: ignore[attr-defined]
    cases = {
        f"/audit/proofs/inclusion?position=1&tree_size={size + 1}": (422, "tree-size-beyond-log"),
        f"/audit/proofs/inclusion?position={head}&tree_size=1": (422, "not-in-tree"),
        f"/audit/proofs/inclusion?position={head + 100}&tree_size={size}": (404, "not-found"),
        f"/audit/proofs/consistency?first=2&second={size + 1}": (422, "tree-size-beyond-log"),
        "/audit/proofs/consistency?first=3&second=2": (400, "invalid-request"),
        "/audit/proofs/consistency?first=0&second=2": (422, "validation-error"),
        "/audit/proofs/inclusion?position=1": (422, "validation-error"),
        "/audit/export?format=xml": (422, "validation-error"),
        "/audit/export?aggregate=item-1": (422, "validation-error"),
        "/audit/export?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z": (400, "invalid-request"),
        "/audit/export?from=2026-03-02T00:00:00": (422, "validation-error"),
    }
    for path, (status, slug) in cases.items():
        response = api.get(path, auditor)
        assert (response.status_code, response.json()["type"]) == (status, f"/problems/{slug}"), path
        assert response.headers["content-type"] == "application/problem+json"
    refused = api.get("/audit/tree-head", api.key("olga", Role.MANAGEMENT, "management"))
    assert (refused.status_code, refused.json()["type"]) == (403, "/problems/forbidden")


def openssl_verifies(public_key: Path, data: bytes, signature: bytes, folder: Path) -> bool:
    """`openssl pkeyutl -verify` on the bytes, as docs/audit.md shows it."""
    (folder / "message").write_bytes(data)
    (folder / "signature").write_bytes(signature)
    checked = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public_key), "-rawin",
         "-in", str(folder / "message"), "-sigfile", str(folder / "signature")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return checked.returncode == 0 and "Signature Verified Successfully" in checked.stdout


def test_a_signed_tree_head_is_reported_unchecked_offline_and_verifies_with_openssl(
    app_factory: Callable[..., Api], tmp_path: Path
) -> None:
    signer = write_new_key(tmp_path / "audit.pem")
    public_key = tmp_path / "audit.pub.pem"
    public_key.write_text(signer.public_key_pem(), encoding="ascii")
    api = app_factory(audit_key_file=tmp_path / "audit.pem")
    head = api.get("/audit/tree-head", api.key("audrey", Role.AUDITOR, "audit")).json()
    signature = base64.b64decode(head["signature"])
    assert len(signature) == 64

    checked = verifier.run(
        "tree-head", saved(tmp_path, "head", head), "--signed-bytes-out", tmp_path / "signed"
    )
    assert (checked.returncode, checked.stdout.split()[0]) == (0, "UNCHECKED"), checked.stdout
    rebuilt = f"nm-workflow-tree-head/1 {head['tree_size']} {head['root_hash']} {head['timestamp']}"
    assert (
        (tmp_path / "signed").read_bytes()
        == rebuilt.encode("ascii")
        == base64.b64decode(head["signed_bytes"])
    )
    assert signature_valid(signer.public_key_pem(), signature, rebuilt.encode("ascii"))
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the documented command cannot be run here")
    assert openssl_verifies(public_key, rebuilt.encode("ascii"), signature, tmp_path)
    forged = rebuilt.replace(f" {head['tree_size']} ", f" {head['tree_size'] + 1} ").encode("ascii")
    assert not openssl_verifies(public_key, forged, signature, tmp_path)
