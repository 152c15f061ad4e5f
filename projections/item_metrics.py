"""`item_metrics_history`: every observation; `item_metrics`: the latest per item and platform.

Counters are cumulative (as the platform reports them). "Latest" means the
latest `observed_at`, not the latest recorded: an observation recorded late
lands in the history without replacing a newer one. In the history, counters
an observation did not report are NULL; in `item_metrics` each counter is its
latest reported total (NULL only if never reported), and the rates are
computed from those totals. `corrected` (history only) lists the counters an
observation reported lower than the observation before it, with the earlier
total: the platform corrected its count (JSON object, NULL when none). Rates
are NULL when their denominator is missing or 0:
interaction_rate = (likes + comments + shares + saves) / impressions (missing
numerator counters count as 0), conversion_rate = conversions / clicks.
"""

from __future__ import annotations

from typing import Any

from nm_workflow.domain.content import METRIC_NAMES
from nm_workflow.domain.content_item import ContentItem
from projections.base import Projection, Recorded, handles
from projections.sql import Tx

_COUNTERS_SQLITE = "".join(f"    {name:<16}INTEGER,\n" for name in METRIC_NAMES)
_COUNTERS_POSTGRES = "".join(f"    {name:<16}bigint,\n" for name in METRIC_NAMES)

SQLITE_DDL = f"""
CREATE TABLE IF NOT EXISTS {{item_metrics_history}} (
    position         INTEGER PRIMARY KEY,
    item_id          TEXT NOT NULL,
    platform         TEXT NOT NULL,
    observed_at      TEXT NOT NULL,
{_COUNTERS_SQLITE}    interaction_rate REAL,
    conversion_rate  REAL,
    recorded_at      TEXT NOT NULL,
    corrected        TEXT
);
CREATE INDEX IF NOT EXISTS {{item_metrics_history}}_item
    ON {{item_metrics_history}} (item_id, platform, observed_at);
CREATE INDEX IF NOT EXISTS {{item_metrics_history}}_observed ON {{item_metrics_history}} (observed_at);
CREATE TABLE IF NOT EXISTS {{item_metrics}} (
    item_id          TEXT NOT NULL,
    platform         TEXT NOT NULL,
    observed_at      TEXT NOT NULL,
{_COUNTERS_SQLITE}    interaction_rate REAL,
    conversion_rate  REAL,
    recorded_at      TEXT NOT NULL,
    position         INTEGER NOT NULL,
    observations     INTEGER NOT NULL,
    PRIMARY KEY (item_id, platform)
)
"""

POSTGRES_DDL = f"""
CREATE TABLE IF NOT EXISTS {{item_metrics_history}} (
    position         bigint PRIMARY KEY,
    item_id          uuid NOT NULL,
    platform         text NOT NULL,
    observed_at      timestamptz NOT NULL,
{_COUNTERS_POSTGRES}    interaction_rate double precision,
    conversion_rate  double precision,
    recorded_at      timestamptz NOT NULL,
    corrected        jsonb
);
CREATE INDEX IF NOT EXISTS {{item_metrics_history}}_item
    ON {{item_metrics_history}} (item_id, platform, observed_at);
CREATE INDEX IF NOT EXISTS {{item_metrics_history}}_observed ON {{item_metrics_history}} (observed_at);
CREATE TABLE IF NOT EXISTS {{item_metrics}} (
    item_id          uuid NOT NULL,
    platform         text NOT NULL,
    observed_at      timestamptz NOT NULL,
{_COUNTERS_POSTGRES}    interaction_rate double precision,
    conversion_rate  double precision,
    recorded_at      timestamptz NOT NULL,
    position         bigint NOT NULL,
    observations     integer NOT NULL,
    PRIMARY KEY (item_id, platform)
)
"""

TIMES = ("observed_at", "recorded_at")
JSONS = ("corrected",)
_COLUMNS = ", ".join(("item_id", "platform", "observed_at", *METRIC_NAMES))
_RATES = "interaction_rate, conversion_rate, recorded_at"
_VALUES = ", ".join(f":{name}" for name in f"{_COLUMNS}, {_RATES}".split(", "))


def rates(counters: dict[str, int]) -> tuple[float | None, float | None]:
    """(interaction rate, conversion rate) of one cumulative observation."""
    impressions, clicks = counters.get("impressions"), counters.get("clicks")
    engaged = [counters[n] for n in ("likes", "comments", "shares", "saves") if n in counters]
    interaction = sum(engaged) / impressions if impressions and engaged else None
    conversions = counters.get("conversions")
    conversion = conversions / clicks if clicks and conversions is not None else None
    return interaction, conversion


class ItemMetrics(Projection):
    name = "item_metrics"
    tables = ("item_metrics", "item_metrics_history")
    sqlite_ddl = SQLITE_DDL
    postgres_ddl = POSTGRES_DDL

    @handles(ContentItem, "MetricsRecorded")
    def metrics_recorded(self, tx: Tx, r: Recorded) -> None:
        counters: dict[str, int] = dict(r.event.counters)
        interaction, conversion = rates(counters)
        values: dict[str, Any] = {name: counters.get(name) for name in METRIC_NAMES}
        values |= {
            "item_id": r.aggregate_id, "platform": r.event.platform, "observed_at": r.event.observed_at,
            "interaction_rate": interaction, "conversion_rate": conversion, "recorded_at": r.at,
            "position": r.position,
        }  # fmt: skip
        corrected = getattr(r.event, "corrections", None)  # absent from events recorded before
        tx.execute(
            f"INSERT INTO {{item_metrics_history}} (position, {_COLUMNS}, {_RATES}, corrected) "  # noqa: S608
            f"VALUES (:position, {_VALUES}, :corrected)",
            values | {"corrected": tx.dialect.json(dict(corrected)) if corrected else None},
        )
        self._refresh_latest(tx, values)

    @staticmethod
    def _refresh_latest(tx: Tx, key: dict[str, Any]) -> None:
        # Recomputed from the history: an observation recorded late must not replace a newer
        # one, and a counter the latest observation left out keeps its last reported total.
        params = {"item_id": key["item_id"], "platform": key["platform"]}
        where = "item_id = :item_id AND platform = :platform"
        history = tx.all(
            f"SELECT * FROM {{item_metrics_history}} WHERE {where} ORDER BY observed_at, position",  # noqa: S608
            params,
        )
        totals = {
            name: next((r[name] for r in reversed(history) if r[name] is not None), None)
            for name in METRIC_NAMES
        }
        interaction, conversion = rates({name: value for name, value in totals.items() if value is not None})
        latest = history[-1] | totals | {"interaction_rate": interaction, "conversion_rate": conversion}
        latest.pop("corrected")
        tx.execute(f"DELETE FROM {{item_metrics}} WHERE {where}", params)  # noqa: S608
        tx.execute(
            f"INSERT INTO {{item_metrics}} ({_COLUMNS}, {_RATES}, position, observations) "  # noqa: S608
            f"VALUES ({_VALUES}, :position, :observations)",
            latest | {"observations": len(history)},
        )
