"""The review rules an item follows: its chain of stages, their deadlines, and the compliance gates.

An item's review is fixed when it is requested (Ch. 8: each decision follows
the rule version it was made under): `ReviewTerms` carries the chains and
deadlines of the policy version in force, the item resolves its own chain
from its format and platforms, and the ReviewRequested event records the
chain, the deadlines and the version. Approvals then follow that record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nm_workflow.domain.compliance import Finding, Severity
from nm_workflow.domain.errors import (
    RuleViolation,
    UnacknowledgedFindings,
    UnjustifiedFindings,
    UnknownFinding,
)
from nm_workflow.domain.roles import SEED_CHAIN, Stage

SEED_STAGE_HOURS = 48


def _seed_chains() -> dict[str, Any]:
    return {"default": recorded_chain(None), "formats": {}, "platforms": {}}


@dataclass(frozen=True)
class ReviewTerms:
    """The review rules of one policy version.

    `chains`: {"default": [stage, ...], "formats": {format: [stage, ...]},
    "platforms": {platform: [stage, ...]}}; `stage_hours`: stage -> hours a
    stage may take. `policy_version` 0 stands for "no policy" (unit tests).
    """

    policy_version: int = 0
    chains: Mapping[str, Any] = field(default_factory=_seed_chains)
    stage_hours: Mapping[str, int] = field(default_factory=lambda: {s.value: SEED_STAGE_HOURS for s in Stage})

    def chain_for(self, format: str, platforms: Sequence[str]) -> list[Stage]:
        """The format's chain (else the default) plus every stage a platform adds, in stage order."""
        wanted = set(self.chains["formats"].get(format, self.chains["default"]))
        for platform in platforms:
            wanted |= set(self.chains["platforms"].get(platform, ()))
        return [stage for stage in Stage if stage.value in wanted]


def recorded_chain(chain: Sequence[str] | None) -> list[str]:
    """A ReviewRequested event's chain; events from before the policy was versioned have none: the seed's."""
    return list(chain) if chain else [s.value for s in SEED_CHAIN]


def next_stage(chain: Sequence[str], stage: Stage) -> Stage | None:
    position = list(chain).index(stage.value)
    return Stage(chain[position + 1]) if position + 1 < len(chain) else None


def check_justified(findings: Sequence[Finding], justifications: Mapping[str, str]) -> None:
    """Ch. 4.2: a blocking finding goes to review only with marketing's justification."""
    _check_known(findings, justifications)
    open_ = [f["id"] for f in findings if f["severity"] == Severity.BLOCK and f["id"] not in justifications]
    if open_:
        raise UnjustifiedFindings(
            f"The revision has blocking findings without a justification: {', '.join(open_)}. "
            "Change the text, or justify each one in 'justifications'."
        )


def check_acknowledged(findings: Sequence[Finding], acknowledged: Sequence[str]) -> None:
    """Legal approves a revision only after answering each of its findings."""
    _check_known(findings, acknowledged)
    open_ = [f["id"] for f in findings if f["id"] not in acknowledged]
    if open_:
        raise UnacknowledgedFindings(
            f"Legal approval must acknowledge every finding of the revision; open: {', '.join(open_)}."
        )


def check_acknowledgement(stage: Stage, findings: Sequence[Finding], acknowledged: Sequence[str]) -> None:
    """Legal acknowledges every finding of the revision by id; the other stages acknowledge none."""
    if stage is Stage.LEGAL:
        check_acknowledged(findings, acknowledged)
    elif acknowledged:
        raise RuleViolation("Findings are acknowledged by legal, at the legal stage.")


def _check_known(findings: Sequence[Finding], named: Mapping[str, str] | Sequence[str]) -> None:
    known = {f["id"] for f in findings}
    unknown = sorted(set(named) - known)
    if unknown:
        have = ", ".join(sorted(known)) or "none"
        raise UnknownFinding(f"The revision has no finding {', '.join(unknown)} (its findings: {have}).")
