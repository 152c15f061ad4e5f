"""The docs' tables render as tables, and docs/errors.md lists every problem type and error class."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nm_workflow.application import errors as application_errors
from nm_workflow.domain import errors as domain_errors
from nm_workflow.domain import interaction_errors, oversight_errors
from nm_workflow.domain.errors import WorkflowError
from nm_workflow.interface.http.problems import catalogue

DOCS = Path(__file__).parents[2] / "docs"
ERRORS = (DOCS / "errors.md").read_text(encoding="utf-8")
BASES = (WorkflowError, domain_errors.DomainError, application_errors.ApplicationError)


def _tables(text: str) -> list[list[str]]:
    """Runs of consecutive lines starting with `|`, outside fenced code blocks."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    runs: list[list[str]] = [[]]
    for line in prose.splitlines():
        if line.startswith("|"):
            runs[-1].append(line)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


@pytest.mark.parametrize("doc", ["errors.md", "operators.md", "projections.md", "auditors.md"])
def test_every_table_has_a_header_and_a_separator(doc: str) -> None:
    for table in _tables((DOCS / doc).read_text(encoding="utf-8")):
        assert len(table) >= 3, f"{doc}: a table row without its table: {table[0]}"
        assert re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", table[1]), f"{doc}: no separator under {table[0]}"
        columns = table[0].count("|")
        assert all(row.count("|") - row.count("\\|") >= columns for row in table), f"{doc}: {table[0]}"


def test_every_problem_type_is_documented() -> None:
    for slug in catalogue():
        assert f"`/problems/{slug}`" in ERRORS, slug


def test_every_error_class_is_in_the_hierarchy_and_its_table() -> None:
    hierarchy = ERRORS.split("## The hierarchy", 1)[1].split("##", 1)[0]
    for module in (domain_errors, interaction_errors, oversight_errors, application_errors):
        for name, value in vars(module).items():
            ours = isinstance(value, type) and value.__module__ == module.__name__
            if not ours or not issubclass(value, WorkflowError) or value in BASES:
                continue
            assert name in hierarchy, f"{name} is missing from the hierarchy"
            assert f"| `{name}`" in ERRORS, f"{name} has no row"


def test_an_observation_without_counters_is_listed() -> None:
    assert '`"counters": {}`' in ERRORS


def test_no_document_keeps_the_conflict_markers_of_a_merge() -> None:
    marker = re.compile(r"^(<{7}|>{7})( |$)", re.M)
    documents = [DOCS.parent / "README.md", *DOCS.rglob("*.md")]
    assert [str(d) for d in documents if marker.search(d.read_text(encoding="utf-8"))] == []
