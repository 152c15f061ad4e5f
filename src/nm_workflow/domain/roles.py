"""Roles of the policy's Ch. 7 and the review chain of Ch. 4.2."""

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

    @property
    def reviewer_role(self) -> Role:
        return Role(self.value)

    @property
    def next(self) -> Stage | None:
        order = list(Stage)
        position = order.index(self)
        return order[position + 1] if position + 1 < len(order) else None


FIRST_STAGE = Stage.EDITOR
