"""`nm-workflow policy show|diff`: read the workflow policy's versions (Ch. 8) from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from nm_workflow.application.clock import system_clock
from nm_workflow.application.policy_book import book_of
from nm_workflow.application.policy_views import diff_rules, rule_text
from nm_workflow.domain.workflow_policy import PolicyVersion, WorkflowPolicy
from nm_workflow.interface.cli_errors import EXIT_USAGE, fail
from nm_workflow.interface.cli_settings import opened_store

app = typer.Typer(
    help="The workflow policy: its versions and what changed between them.", no_args_is_help=True
)
console = Console()


@app.command("show")
def show(
    version: Annotated[
        int | None, typer.Argument(min=1, help="A version number; default: the one in force.")
    ] = None,
) -> None:
    """Show a version: its status, when it is in force, its reviews and its rules."""
    with _policy() as policy:
        shown = _version(policy, version) if version is not None else policy.in_force(system_clock())
    rules = shown["rules"]
    table = Table("", "", show_header=False, box=None)
    rows: list[tuple[str, Any]] = [
        ("version", f"{shown['version']} ({shown['status']})"),
        ("reason", shown["reason"]),
        ("proposed", f"{shown['proposed_by'] or '-'} at {shown['proposed_at']:%Y-%m-%d %H:%M}"),
        (
            "reviews",
            "; ".join(f"{d}: {r['decision']} by {r['reviewer_id']}" for d, r in shown["reviews"].items()),
        ),
        ("approved", f"{shown['approved_by'] or '-'}"),
        ("effective from", shown["effective_from"]),
        ("review chains", rule_text(rules["review_chains"])),
        ("stage hours", rule_text(rules["stage_hours"])),
        ("interaction deadlines", rule_text(rules["interaction_deadlines"])),
        (
            "periodic check",
            f"every {rules['periodic_check_days']} days; evaluation per {rules['evaluation_period']}",
        ),
        ("policy reviewers", ", ".join(rules["review_departments"])),
    ]
    for category in rules["lexicon"]["categories"]:
        terms = ", ".join(category["terms"])
        rows.append(
            (f"lexicon {category['name']}", f"[{category['severity']}] {category['legal_basis']}: {terms}")
        )
    rows += [(f"Ch. {c['chapter']}", c["title"]) for c in rules["clauses"]]
    for label, value in rows:
        table.add_row(label, str(value))
    console.print(table)


@app.command("diff")
def diff(
    old: Annotated[int, typer.Argument(min=1, help="The earlier version.")],
    new: Annotated[int, typer.Argument(min=1, help="The later version.")],
) -> None:
    """What changed in the rules and the lexicon from one version to another."""
    with _policy() as policy:
        lines = diff_rules(_version(policy, old)["rules"], _version(policy, new)["rules"])
    for line in lines or [f"Versions {old} and {new} have the same rules."]:
        console.print(line, markup=False, soft_wrap=True)


@contextmanager
def _policy() -> Iterator[WorkflowPolicy]:
    """The policy, read from the store; the store's failures are one line and exit status 3."""
    with opened_store(existing=True) as store:
        yield book_of(store).policy()


def _version(policy: WorkflowPolicy, number: int) -> PolicyVersion:
    found = policy.numbered(number)
    if found is None:  # a bad argument (docs/operators.md): exit status 2
        fail(f"The policy has no version {number}; it has {len(policy.versions)}.", EXIT_USAGE)
    return found
