"""Every error the service raises on purpose has a 4xx/503 status and a documented type."""

from __future__ import annotations

from pathlib import Path

import pytest

from nm_workflow.domain.errors import DomainError, WorkflowError
from nm_workflow.interface.http.app import create_app  # noqa: F401 - registers every error class
from nm_workflow.interface.http.problems import catalogue, status_of


def _leaves() -> list[type[WorkflowError]]:
    found, pending = [], [WorkflowError]
    while pending:
        kind = pending.pop()
        children = kind.__subclasses__()
        pending.extend(children)
        if not children:
            found.append(kind)
    return found


@pytest.mark.parametrize("kind", _leaves(), ids=lambda k: k.__name__)
def test_every_concrete_error_maps_to_a_client_or_availability_status(kind: type[WorkflowError]) -> None:
    assert status_of(kind) in {400, 401, 403, 404, 409, 412, 422, 503}
    assert catalogue()[kind.slug] == (status_of(kind), kind.title)


def test_slugs_are_unique() -> None:
    slugs = [k.slug for k in _leaves()]
    assert len(slugs) == len(set(slugs))


def test_domain_errors_are_never_server_errors() -> None:
    assert all(400 <= status_of(k) < 500 for k in _leaves() if issubclass(k, DomainError))


def test_every_problem_type_has_a_row_in_docs_errors() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "errors.md").read_text(encoding="utf-8")
    assert [slug for slug in catalogue() if f"| `/problems/{slug}` |" not in doc] == []
