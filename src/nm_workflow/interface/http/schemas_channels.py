"""Request and response bodies of official channel accounts (Ch. 4.4)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, Strict

from nm_workflow.interface.http.schemas import Command, Medium, Platform, Short, example
from nm_workflow.interface.http.schemas_reads import row_example
from nm_workflow.interface.http.times import Moment

Followers = Annotated[int, Strict(), Field(ge=0, le=10**12)]
_ACCOUNT = {"platform": "weibo", "account_id": "7312345678", "account_name": "ACME 官方微博"}


class ChannelAccountIn(Command):
    platform: Platform
    account_id: Short = Field(description="The platform's id of the account; unique per platform.")
    account_name: Short
    department: Short | None = Field(default=None, description="Owning department; defaults to the caller's.")

    model_config = example({**_ACCOUNT, "department": "marketing"})


class FollowersIn(Command):
    observed_at: Moment = Field(description="When the count was read; not in the future.")
    followers: Followers = Field(description="The cumulative follower count the platform reports.")
    correction: bool = Field(default=False, description="Replace a different count recorded for that time.")

    model_config = example({"observed_at": "2026-03-02T09:00:00Z", "followers": 120345, "correction": False})


class RetirementIn(Command):
    reason: Medium

    model_config = example({"reason": "Account merged into the group account"})


class ChannelAccountOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "1f5c0c1e-8f9d-5a4e-9a2e-3b7c6d5e4f10", "version": 3, **_ACCOUNT,
                    "department": "marketing", "latest_followers": 120345,
                    "latest_observed_at": "2026-03-02T09:00:00Z", "observations": 2, "retired_at": None,
                    "retirement_reason": None, "created_at": "2026-03-01T08:00:00Z",
                    "modified_at": "2026-03-02T09:00:02Z",
                }
            ]
        }
    )  # fmt: skip

    id: UUID
    version: int = Field(description="Aggregate version; also sent as the ETag.")
    platform: str
    account_id: str
    account_name: str
    department: str
    latest_followers: int | None = Field(description="The count observed latest (by observed_at).")
    latest_observed_at: datetime | None
    observations: int
    retired_at: datetime | None
    retirement_reason: str | None
    created_at: datetime
    modified_at: datetime


class GrowthRow(BaseModel):
    model_config = row_example(**
        {"period_start": "2026-03-01", "last_day": "2026-03-07", "followers": 120345, "net_growth": 845,
         "corrected": False}
    )  # fmt: skip

    period_start: date = Field(description="First day of the day, week (Monday) or month.")
    last_day: date = Field(description="The period's last day with an observation.")
    followers: int = Field(description="Followers on last_day.")
    net_growth: int = Field(description="Sum of the period's daily net growth.")
    corrected: bool = Field(description="A correction changed a figure of the period.")
