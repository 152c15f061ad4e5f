"""Errors of the application layer (see nm_workflow.domain.errors for the tree)."""

from __future__ import annotations

from nm_workflow.domain.errors import RuleViolation, WorkflowError


class ApplicationError(WorkflowError):
    slug = "application-error"
    title = "The command could not be carried out"


class NotFound(ApplicationError):
    slug = "not-found"
    title = "Nothing with that id or position"


class VersionMismatch(ApplicationError):
    """If-Match named another version than the stored one."""

    slug = "version-mismatch"
    title = "It has changed since the version you named"

    def __init__(self, detail: str, current_version: int) -> None:
        super().__init__(detail)
        self.current_version = current_version


class ConcurrentModification(ApplicationError):
    slug = "concurrent-modification"
    title = "Another command changed it at the same time"


class IdempotencyKeyReused(ApplicationError):
    slug = "idempotency-key-reused"
    title = "The idempotency key was used for a different request"


class AuthenticationFailed(ApplicationError):
    slug = "unauthenticated"
    title = "A valid API key is required"


class PermissionDenied(ApplicationError):
    slug = "forbidden"
    title = "Your role may not do this"


class StoreUnavailable(ApplicationError):
    slug = "store-unavailable"
    title = "The event store cannot be reached"


class StoreBusy(StoreUnavailable):
    """The database answered, but a lock could not be had in time."""

    slug = "store-busy"
    title = "The event store is busy"


class WrongDepartment(PermissionDenied):
    """The caller's role acts only on its own department's items, and this one is another's."""

    slug = "wrong-department"
    title = "Your role acts only on your own department's items"


class FiguresStale(ApplicationError):
    """The quarterly figures were computed with another company time zone or review-stage hours
    than the settings give now (ADR 0038): they stay wrong until `quarterly_evaluation` is rebuilt."""

    slug = "figures-stale"
    title = "The quarterly figures were computed with other settings"


class ProjectionsBehind(ApplicationError):
    """The read side lags the log by more than the readiness threshold (NM_READY_MAX_LAG_EVENTS)."""

    slug = "projections-behind"
    title = "The read side is behind the log"


# --- audit proofs (docs/audit.md): sizes and positions outside the log's Merkle tree -----------


class TreeSizeBeyondLog(ApplicationError):
    """A proof or tree head was asked for more leaves than the log holds."""

    slug = "tree-size-beyond-log"
    title = "The log does not hold that many events yet"


class NotInTree(ApplicationError):
    """An inclusion proof was asked for an event that came after the tree size named."""

    slug = "not-in-tree"
    title = "The event is not in the tree of that size"


class UndeliverableEventType(RuleViolation):
    """A webhook subscription names an event type that is not public, or not for services (ADR 0034)."""

    slug = "undeliverable-event-type"
    title = "Webhooks cannot carry that event type"


class NoSuchVersion(NotFound):
    """A past state asked for (`version=`, `as_of=`) that the aggregate never had."""

    slug = "no-such-version"
    title = "The aggregate has no such version"


class CursorOutOfRange(ApplicationError):
    """A history page asked for after a version the aggregate has not reached."""

    slug = "history-cursor-out-of-range"
    title = "The history cursor lies beyond the aggregate's history"
