"""How each command through the write path ended, counted in application/metrics.py.

Outcomes: `applied` (saved, or nothing new to save), `replayed` (answered from its
Idempotency-Key's first outcome), `conflict` (If-Match stale, or a concurrent write
won), `refused` (the caller's error: authentication, permission, not found, a policy
rule, a reused key), `failed` (the service's: the store unreachable or busy, a bug).
"""

from __future__ import annotations

from nm_workflow.application.command_context import CommandResult
from nm_workflow.application.errors import (
    ConcurrentModification,
    StoreUnavailable,
    VersionMismatch,
)
from nm_workflow.application.metrics import COMMANDS, CONFLICTS, IDEMPOTENT_REPLAYS, child
from nm_workflow.domain.errors import WorkflowError


class Outcome:
    """What happened to a command: `with counted(command) as outcome:` around it.

    A class rather than a `@contextmanager` generator, as every command enters one
    (domain/context_values.py says why).
    """

    __slots__ = ("command", "replayed")

    def __init__(self, command: str) -> None:
        self.command = command
        self.replayed = False

    def of(self, result: CommandResult) -> CommandResult:
        """`result`, noted as the command's answer (a replay or not)."""
        self.replayed = result.replayed
        return result

    def __enter__(self) -> Outcome:
        return self

    def __exit__(self, _kind: object, error: BaseException | None, _traceback: object) -> None:
        """Count the command by how it ended (an error passes through)."""
        command = self.command
        if error is not None:
            name = outcome_of(error)
            child(COMMANDS, command, name).inc()
            if name == "conflict":
                child(CONFLICTS, command).inc()
            return
        if self.replayed:
            child(IDEMPOTENT_REPLAYS, command).inc()
        child(COMMANDS, command, "replayed" if self.replayed else "applied").inc()


def outcome_of(error: BaseException) -> str:
    if isinstance(error, VersionMismatch | ConcurrentModification):
        return "conflict"
    if isinstance(error, WorkflowError) and not isinstance(error, StoreUnavailable):
        return "refused"
    return "failed"


def counted(command: str) -> Outcome:
    """Count the command run inside the block by how it ended (errors pass through)."""
    return Outcome(command)
