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
from uuid import UUID

from nm_workflow.domain.content import METRIC_NAMES
from nm_workflow.domain.content_item import ContentItem
from projections.base import Projection, Recorded, handles
from projections.rows import Appended, Keyed
from projections.schema import Index, Table, col
from projections.sql import Tx

_COUNTERS = tuple(col(name, "bigint", null=True) for name in METRIC_NAMES)
_RATES = (col("interaction_rate", "real", null=True), col("conversion_rate", "real", null=True))
HISTORY_TABLE = Table(
    "item_metrics_history",
    (
        col("position", "bigint"), col("item_id", "uuid"), col("platform", "text"),
        col("observed_at", "time"), *_COUNTERS, *_RATES, col("recorded_at", "time"),
        col("corrected", "json", null=True),
    ),
    ("position",),
    (Index("item", ("item_id", "platform", "observed_at")), Index("observed", ("observed_at",))),
)  # fmt: skip
LATEST_TABLE = Table(
    "item_metrics",
    (
        col("item_id", "uuid"), col("platform", "text"), col("observed_at", "time"), *_COUNTERS, *_RATES,
        col("recorded_at", "time"), col("position", "bigint"), col("observations", "int"),
    ),
    ("item_id", "platform"),
)  # fmt: skip
HISTORY = Appended(HISTORY_TABLE, ("item_id", "platform"))
LATEST = Keyed(LATEST_TABLE, ("item_id", "platform"))

TIMES = ("observed_at", "recorded_at")
JSONS = ("corrected",)


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
    schema = (LATEST_TABLE, HISTORY_TABLE)
    batch_tables = (HISTORY, LATEST)

    @handles(ContentItem, "MetricsRecorded")
    def metrics_recorded(self, tx: Tx, r: Recorded) -> None:
        counters: dict[str, int] = dict(r.event.counters)
        interaction, conversion = rates(counters)
        corrected = getattr(r.event, "corrections", None)  # absent from events recorded before
        observation: dict[str, Any] = {name: counters.get(name) for name in METRIC_NAMES}
        observation |= {
            "position": r.position, "item_id": r.aggregate_id, "platform": r.event.platform,
            "observed_at": r.event.observed_at, "interaction_rate": interaction,
            "conversion_rate": conversion, "recorded_at": r.at,
            "corrected": dict(corrected) if corrected else None,
        }  # fmt: skip
        HISTORY.add(tx, observation)
        self._refresh_latest(tx, (r.aggregate_id, r.event.platform))

    @staticmethod
    def _refresh_latest(tx: Tx, key: tuple[UUID, str]) -> None:
        # Recomputed from the history: an observation recorded late must not replace a newer
        # one, and a counter the latest observation left out keeps its last reported total.
        history = sorted(HISTORY.rows(tx, key), key=lambda row: (row["observed_at"], row["position"]))
        totals = {
            name: next((r[name] for r in reversed(history) if r[name] is not None), None)
            for name in METRIC_NAMES
        }
        interaction, conversion = rates({name: value for name, value in totals.items() if value is not None})
        latest = history[-1] | totals | {"interaction_rate": interaction, "conversion_rate": conversion}
        latest.pop("corrected")
        LATEST.put(tx, latest | {"observations": len(history)})
