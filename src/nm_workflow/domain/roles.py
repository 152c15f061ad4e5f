"""Roles of the policy's Ch. 7 and the review stages of Ch. 4.2.

Which stages an item's review passes, and in which order, is the workflow
policy's to say (domain/review.py); `SEED_CHAIN` is the seed policy's chain.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    MARKETING = "marketing"
    EDITOR = "editor"
    DEPARTMENT_HEAD = "department_head"
    LEGAL = "legal"
    CUSTOMER_SERVICE = "customer_service"
    DATA_ANALYST = "data_analyst"
    MANAGEMENT = "management"
    AUDITOR = "auditor"
    ADMIN = "admin"
    SERVICE = "service"


class Stage(StrEnum):
    """Review stages, in the order the policy requires them."""

    EDITOR = "editor"
    DEPARTMENT_HEAD = "department_head"
    LEGAL = "legal"
    MANAGEMENT = "management"
    """Not in the seed chain; a policy revision may require it (Ch. 6.1: management checks)."""

    @property
    def reviewer_role(self) -> Role:
        return Role(self.value)


SEED_CHAIN = (Stage.EDITOR, Stage.DEPARTMENT_HEAD, Stage.LEGAL)
"""Ch. 4.2: content editing -> department head review -> legal review."""
