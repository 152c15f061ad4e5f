"""How each command through the write path ended, counted in application/metrics.py.

Outcomes: `applied` (saved, or nothing new to save), `replayed` (answered from its
Idempotency-Key's first outcome), `conflict` (If-Match stale, or a concurrent write
won), `refused` (the caller's error: authentication, permission, not found, a policy
rule, a reused key), `failed` (the service's: the store unreachable or busy, a bug).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nm_workflow.application.command_context import CommandResult
from nm_workflow.application.errors import (
    ConcurrentModification,
    StoreUnavailable,
    VersionMismatch,
)
from nm_workflow.application.metrics import COMMANDS, CONFLICTS, IDEMPOTENT_REPLAYS, child
from nm_workflow.domain.errors import WorkflowError


class Outcome:
    """What happened to a command that returned normally."""

    def __init__(self) -> None:
        self.replayed = False

    def of(self, result: CommandResult) -> CommandResult:
        """`result`, noted as the command's answer (a replay or not)."""
        self.replayed = result.replayed
        return result


def outcome_of(error: BaseException) -> str:
    if isinstance(error, VersionMismatch | ConcurrentModification):
        return "conflict"
    if isinstance(error, WorkflowError) and not isinstance(error, StoreUnavailable):
        return "refused"
    return "failed"


@contextmanager
def counted(command: str) -> Iterator[Outcome]:
    """Count the command run inside the block by how it ended (errors pass through)."""
    outcome = Outcome()
    try:
        yield outcome
    except BaseException as error:
        name = outcome_of(error)
        child(COMMANDS, command, name).inc()
        if name == "conflict":
            child(CONFLICTS, command).inc()
        raise
    if outcome.replayed:
        child(IDEMPOTENT_REPLAYS, command).inc()
    child(COMMANDS, command, "replayed" if outcome.replayed else "applied").inc()
