"""`channel_growth`: followers of each official account per day, and the net growth per day.

One row per account and UTC day with at least one observation: `followers` is
the latest observation of that day (by `observed_at`, so a late report of an
earlier time does not replace it); `net_growth` is `followers` minus the
`followers` of the account's previous day with an observation (NULL on its
first day). A correction that changes a day's figure sets `corrected`; an
observation recorded late recomputes its day and the next one. Weeks and
months are sums of days (the query API and docs/projections.md show how).
`channel_growth_accounts` is this projection's own bookkeeping.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from nm_workflow.domain.channel_account import ChannelAccount
from projections.base import Projection, Recorded, handles
from projections.schema import Index, Table, col, insert, row_of, update
from projections.sql import Tx

GROWTH = Table(
    "channel_growth",
    (
        col("account_id", "uuid"),
        col("day", "date"),
        col("platform", "text"),
        col("account_name", "text"),
        col("department", "text"),
        col("followers", "bigint"),
        col("observed_at", "time"),
        col("net_growth", "bigint", null=True),
        col("corrected", "bool"),
        col("position", "bigint"),
    ),
    ("account_id", "day"),
    (Index("day", ("day", "platform")),),
)
ACCOUNTS = Table(
    "channel_growth_accounts",
    (
        col("account_id", "uuid"),
        col("platform", "text"),
        col("account_name", "text"),
        col("department", "text"),
    ),
    ("account_id",),
)


class ChannelGrowth(Projection):
    name = "channel_growth"
    schema = (GROWTH, ACCOUNTS)

    @handles(ChannelAccount, "Registered")
    def registered(self, tx: Tx, r: Recorded) -> None:
        e = r.event
        insert(tx, ACCOUNTS, {"account_id": r.aggregate_id, "platform": e.platform,
                              "account_name": e.account_name, "department": e.department})  # fmt: skip

    @handles(ChannelAccount, "FollowersRecorded")
    def followers_recorded(self, tx: Tx, r: Recorded) -> None:
        at: datetime = r.event.observed_at
        key = {"account_id": r.aggregate_id, "day": at.date()}
        row = row_of(tx, GROWTH, key)
        values = {"followers": r.event.followers, "observed_at": at, "position": r.position}
        if row is None:
            account = row_of(tx, ACCOUNTS, {"account_id": key["account_id"]})
            assert account is not None, "registered before any count"
            insert(tx, GROWTH, account | key | values | {"corrected": r.event.corrects is not None})
        elif at >= row["observed_at"]:
            update(tx, GROWTH, key, values | {"corrected": row["corrected"] or r.event.corrects is not None})
        else:
            return  # an earlier time of a day already reported later: the day's figure stands
        self._net_growth(tx, key)
        following = tx.one(
            "SELECT day FROM {channel_growth} WHERE account_id = :account_id AND day > :day "
            "ORDER BY day LIMIT 1",
            key,
        )
        if following is not None:
            self._net_growth(tx, {**key, "day": GROWTH.decode(tx.dialect, following)["day"]})

    @staticmethod
    def _net_growth(tx: Tx, key: dict[str, Any]) -> None:
        day: date = key["day"]
        previous = tx.one(
            "SELECT followers FROM {channel_growth} WHERE account_id = :account_id AND day < :day "
            "ORDER BY day DESC LIMIT 1",
            key | {"day": day},
        )
        tx.execute(  # followers - NULL is NULL: the account's first day has no growth
            "UPDATE {channel_growth} SET net_growth = followers - :previous "
            "WHERE account_id = :account_id AND day = :day",
            key | {"previous": None if previous is None else previous["followers"]},
        )
