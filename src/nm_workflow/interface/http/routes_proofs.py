"""The log as a transparency log, for auditors: signed tree heads, inclusion and consistency proofs.

Checked offline with docs/audit/verify_export.py (standard library only); docs/audit.md.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from nm_workflow.application.audit_tree import AuditTree
from nm_workflow.application.security import Command, authorize
from nm_workflow.interface.http.answers import problem_responses
from nm_workflow.interface.http.deps import CurrentActor, from_state
from nm_workflow.interface.http.hop_route import HopRoute
from nm_workflow.interface.http.openapi import callers
from nm_workflow.interface.http.problems import InvalidRequest
from nm_workflow.interface.http.schemas_proofs import ConsistencyProofOut, InclusionProofOut, TreeHeadOut
from nm_workflow.interface.http.thread_hop import in_thread

router = APIRouter(tags=["audit"], route_class=HopRoute)
Tree = Annotated[AuditTree, Depends(from_state("audit_tree"))]
PROOF = problem_responses(400, 401, 403, 404, 422, 503)


def _size(description: str, example: int) -> Any:
    return Query(ge=1, le=2**62, description=description, examples=[example])


def _route(model: Any) -> dict[str, Any]:
    return {"response_model": model, "responses": PROOF, **callers(Command.READ_AUDIT_LOG)}


@router.get("/audit/tree-head", **_route(TreeHeadOut))
async def tree_head(actor: CurrentActor, tree: Tree) -> TreeHeadOut:
    """The log's size and Merkle root now, signed with the audit key when one is configured."""
    authorize(actor, Command.READ_AUDIT_LOG)
    return TreeHeadOut.of(await in_thread(tree.tree_head))


@router.get("/audit/proofs/inclusion", **_route(InclusionProofOut))
async def inclusion_proof(
    actor: CurrentActor,
    tree: Tree,
    position: Annotated[int, _size("The event's log position.", 42)],
    tree_size: Annotated[int, _size("The size of the tree (a tree head's `tree_size`).", 1000)],
) -> InclusionProofOut:
    """Proof that the event at `position` is in the log of `tree_size` events (RFC 9162 PATH)."""
    authorize(actor, Command.READ_AUDIT_LOG)
    return InclusionProofOut.of(await in_thread(partial(tree.inclusion, position, tree_size)))


@router.get("/audit/proofs/consistency", **_route(ConsistencyProofOut))
async def consistency_proof(
    actor: CurrentActor,
    tree: Tree,
    first: Annotated[int, _size("The older tree size (e.g. a checkpoint's).", 1000)],
    second: Annotated[int, _size("The newer tree size, at least `first`.", 2000)],
) -> ConsistencyProofOut:
    """Proof that the log of `second` events extends the one of `first` (RFC 9162 PROOF)."""
    authorize(actor, Command.READ_AUDIT_LOG)
    if first > second:
        raise InvalidRequest(f"'first' ({first}) must not exceed 'second' ({second}).")
    return ConsistencyProofOut.of(await in_thread(partial(tree.consistency, first, second)))
