"""The docs follow the code: the figure table is the registry; every problem type has its row."""

from __future__ import annotations

from pathlib import Path

from nm_workflow.application.figures import FIGURES, figures_markdown
from nm_workflow.interface.http.problems import catalogue
from nm_workflow.interface.report_csv import COLUMNS
from projections.quarterly_evaluation import ROWS

DOCS = Path(__file__).parents[2] / "docs"


def test_the_documented_figures_are_the_registry() -> None:
    assert figures_markdown() in (DOCS / "projections.md").read_text(encoding="utf-8")


def test_the_table_the_csv_and_the_registry_name_the_same_figures() -> None:
    names = tuple(f.name for f in FIGURES)
    assert ROWS.column_names == ("quarter", "department", "platform", *names) == COLUMNS
    assert len(set(names)) == len(names)


def test_every_problem_type_the_api_answers_with_is_in_errors_md() -> None:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    assert [slug for slug in catalogue() if f"`/problems/{slug}`" not in text] == []
