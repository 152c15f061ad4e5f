"""The rule book a WorkflowPolicy version holds, and the checks a proposed one must pass.

A version's `rules` is one JSON-like document (docs/policy.md shows it whole):

    review_chains          {"default": [stage, ...], "formats": {format: [stage, ...]},
                            "platforms": {platform: [stage, ...]}}   (domain/review.py)
    stage_hours            {stage: hours a review stage may take}
    interaction_deadlines  {"first_response_hours", "negative_handling_hours"}: hours to
                            answer an interaction, and to escalate or resolve a
                            negative one (application/interactions.py)
    periodic_check_days    days between management's periodic checks (Ch. 6.1)
    evaluation_period      "quarter" (Ch. 6.2)
    review_departments     departments whose heads review the next revision (Ch. 8)
    lexicon                {"categories": [{"name", "severity", "legal_basis", "terms"}]}
    clauses                [{"chapter", "title", "text"}]: the policy's own words

Types and ranges are checked at the edge (the HTTP schema); what only the
whole document can tell is checked here, and refused as InvalidPolicy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nm_workflow.domain.compliance import Matcher
from nm_workflow.domain.oversight_errors import InvalidPolicy
from nm_workflow.domain.review import ReviewTerms
from nm_workflow.domain.roles import Stage

_STAGES = {s.value for s in Stage}


def check_rules(rules: Mapping[str, Any]) -> None:
    """InvalidPolicy unless the chains, deadlines, departments and lexicon fit together."""
    chains = rules["review_chains"]
    named = {"default chain": chains["default"]}
    named |= {f"chain of format {k!r}": v for k, v in chains["formats"].items()}
    for what, chain in named.items():
        _check_chain(what, chain)
        if Stage.LEGAL.value not in chain:
            raise InvalidPolicy(f"The {what} must include the legal stage (Ch. 4.2: legal review).")
    for platform, stages in chains["platforms"].items():
        _check_chain(f"stages added for platform {platform!r}", stages, allow_empty=True)
    used = {s for chain in [*named.values(), *chains["platforms"].values()] for s in chain}
    missing = sorted(used - set(rules["stage_hours"]))
    if missing:
        raise InvalidPolicy(f"stage_hours gives no deadline for the stage(s) {', '.join(missing)}.")
    departments = rules["review_departments"]
    if not departments or len(set(departments)) != len(departments):
        raise InvalidPolicy("review_departments names at least one department, each once.")
    names = [c["name"] for c in rules["lexicon"]["categories"]]
    if len(set(names)) != len(names):
        raise InvalidPolicy("Each lexicon category name appears once.")
    Matcher(dict(rules["lexicon"]), version=0)  # two terms that read the same are refused here


def _check_chain(what: str, chain: list[str], *, allow_empty: bool = False) -> None:
    unknown = sorted(set(chain) - _STAGES)
    if unknown:
        raise InvalidPolicy(f"The {what} names unknown stage(s) {', '.join(unknown)}.")
    if (not chain and not allow_empty) or len(set(chain)) != len(chain):
        raise InvalidPolicy(f"The {what} names each stage once, at least one.")
    if chain != [s.value for s in Stage if s.value in chain]:
        order = " -> ".join(s.value for s in Stage)
        raise InvalidPolicy(f"The {what} must keep the stages in the order {order}.")


def review_terms(version: int, rules: Mapping[str, Any]) -> ReviewTerms:
    return ReviewTerms(version, rules["review_chains"], rules["stage_hours"])
