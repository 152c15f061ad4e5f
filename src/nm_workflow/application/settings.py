"""The one place that reads the environment (variables prefixed `NM_`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nm_workflow.application.audit_signing import AuditSigner
from nm_workflow.application.settings_database import DatabaseSettings, checked_database_url
from nm_workflow.domain.text import SHORT, trimmed

ProjectionsPlace = Literal["embedded", "worker", "none"]
PROJECTIONS_PLACES: tuple[ProjectionsPlace, ...] = ("embedded", "worker", "none")


class Settings(DatabaseSettings, BaseSettings):
    """Service configuration; every variable and its bounds: the table in docs/operators.md.
    How it reaches the database (`uses_postgres`, `persistence_env`, ...): settings_database.py.

    Every number is bounded on both sides, so that a typo (an extra zero, hours for seconds)
    stops the process at start instead of overflowing later (e.g. a review deadline).
    """

    model_config = SettingsConfigDict(env_prefix="NM_", frozen=True, extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="postgresql://user:password@host:port/dbname; unset means embedded SQLite.",
    )
    data_dir: Path = Field(default=Path("var"), description="Folder of the SQLite file.")
    db_pool_size: int = Field(
        default=5, ge=1, le=100, description="Connections kept, shared by the API workers (at least 1 each)."
    )
    db_max_overflow: int = Field(
        default=10, ge=0, le=1000, description="Extra connections under load, shared by the API workers."
    )
    db_connect_timeout: int = Field(default=2, ge=1, le=300, description="Seconds to wait for a connection.")
    db_lock_timeout: int = Field(default=5, ge=1, le=600, description="Seconds a write waits for a lock.")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, le=67_108_864, description="Largest request body accepted."
    )
    retry_after_seconds: int = Field(default=2, ge=1, le=3600, description="Retry-After sent with 503.")
    embedded_projections: bool | None = Field(
        default=None,
        description="Older spelling of NM_PROJECTIONS: true is embedded, false none; unset: as that says.",
    )
    projection_poll_interval: float = Field(
        default=0.2,
        gt=0,
        le=60,
        description="Seconds caught-up projections wait before looking again when no append woke them.",
    )
    projection_gather_seconds: float = Field(
        default=0.05, ge=0, le=5, description="Seconds the projections let appends gather before a pass."
    )
    projection_batch_size: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Events read from the log per batch, applied to every projection in one transaction"
        " (on SQLite in one per about a millisecond of their work, ADR 0080).",
    )
    projection_worker_stall_seconds: float = Field(
        default=60,
        ge=2,
        le=3600,
        description="Seconds `serve`'s projection worker may go without a pass (hung) before it is killed "
        "and started again; more than twice the lock timeout plus the poll interval and the gather pause.",
    )
    review_stage_hours: int = Field(
        default=48, ge=1, le=8760, description="Hours a review stage may take before the item is overdue."
    )
    clock_skew_seconds: int = Field(
        default=300,
        ge=0,
        le=86_400,
        description="Seconds a reported time (publication, observation, reception, reply) may lie ahead.",
    )
    planning_horizon_days: int = Field(
        default=3650,
        ge=1,
        le=36_500,
        description="Days ahead a schedule or planned publication date may lie.",
    )
    max_waiting_reads: int = Field(
        default=1000,
        ge=0,
        le=100_000,
        description="Reads per process that may wait for Wait-For-Position at once; more are answered stale.",
    )
    request_header_timeout: float = Field(
        default=10, gt=0, le=300, description="Seconds a client has to send a request's line and headers."
    )
    request_body_timeout: float = Field(
        default=30, gt=0, le=3600, description="Seconds a client has to send a request's whole body."
    )
    interaction_department: str = Field(
        default="customer_service",
        description="Department that owns interactions until one is escalated (Ch. 7: 客服部).",
    )
    company_time_zone: str = Field(
        default="Asia/Shanghai", description="IANA time zone the company's days and quarters follow."
    )
    periodic_check_days: int = Field(
        default=30, ge=1, le=366, description="Days after a periodic check's period before the next is due."
    )
    ready_max_lag_events: int = Field(
        default=1000,
        ge=0,
        le=1_000_000_000,
        description="Events a projection may lag behind the log head while /readyz still answers ready.",
    )
    group_commit_max_wait_ms: float = Field(
        default=0.5,
        ge=0,
        le=1000,
        description=(
            "Most milliseconds a save waits for as many others as shared the last transaction, when that"
            " one committed less than this ago (a lone save never waits); 0: only those queued."
        ),
    )
    group_commit_max_batch: int = Field(
        default=64, ge=1, le=10_000, description="Most commands' saves committed in one transaction."
    )
    feed_heartbeat_seconds: float = Field(
        default=15, gt=0, le=300, description="Seconds between heartbeats of an idle event stream."
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="PEM file of the Ed25519 key that signs checkpoints and tree heads; unset: unsigned.",
    )
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="Seconds a webhook receiver has to connect and to answer."
    )
    webhook_retry_initial_seconds: float = Field(
        default=1.0, gt=0, le=3600, description="Seconds before the first retry of a failed delivery."
    )
    webhook_retry_max_interval_seconds: float = Field(
        default=600.0, gt=0, le=86_400, description="Longest wait between retries (the backoff doubles)."
    )
    webhook_retry_for_seconds: float = Field(
        default=86_400.0,
        gt=0,
        le=2_592_000,
        description="Seconds a receiver may keep failing before its subscription is paused.",
    )
    webhook_allow_private_addresses: bool = Field(
        default=False, description="Deliver to loopback, private and link-local addresses too."
    )
    snapshot_interval: int = Field(
        default=100,
        ge=0,
        le=1_000_000,
        description="Events between two snapshots of an aggregate (ADR 0029); 0 takes none.",
    )
    snapshot_interval_small_state: int = Field(
        default=20,
        ge=0,
        le=1_000_000,
        description="Events between two snapshots of an aggregate whose state is small (ADR 0044), "
        "when fewer than snapshot_interval; 0: snapshot_interval for every state.",
    )

    @field_validator("data_dir", mode="before")
    @classmethod
    def _named_folder(cls, value: object) -> object:
        # An empty NM_DATA_DIR is Path(""), the current folder: a new database wherever a command ran.
        if isinstance(value, str) and not value.strip():
            raise ValueError("must name a folder; empty, the database would be made in the current folder")
        return value

    @field_validator("audit_key_file")
    @classmethod
    def _usable_key(cls, path: Path | None) -> Path | None:
        # Read once at start, so that a missing or wrong key stops the process rather than a request.
        if path is not None:
            AuditSigner.from_file(path)
        return path

    api_workers: int = Field(
        default=1, ge=1, le=64, description="API processes sharing the pool budget (`serve --workers`)."
    )

    @field_validator("company_time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not a known IANA time zone: {name!r}") from None
        return name

    @field_validator("interaction_department")
    @classmethod
    def _short_text(cls, department: str) -> str:
        # Stored as each new interaction's department and indexed: the rule of every department
        # (domain/text.py), else PostgreSQL refuses the projections' index rows for good.
        department = trimmed(department)
        problem = SHORT.problem(department)
        if problem is not None:
            raise ValueError(problem)
        return department

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, url: str | None) -> str | None:
        return checked_database_url(url)

    projections: ProjectionsPlace | None = Field(
        default=None,
        description="Where `serve` runs the projections: embedded (threads of each API process), "
        "worker (one process of their own beside the API's) or none (elsewhere); unset: "
        "`serve` runs a worker on SQLite and embeds them on PostgreSQL, an app made otherwise embeds them.",
    )

    @field_validator("projections")
    @classmethod
    def _agrees_with_older_spelling(
        cls, place: ProjectionsPlace | None, info: ValidationInfo
    ) -> ProjectionsPlace | None:
        embedded = info.data.get("embedded_projections")
        if place is not None and embedded is not None and embedded != (place == "embedded"):
            older = "true" if embedded else "false"
            raise ValueError(f"{place!r} contradicts NM_EMBEDDED_PROJECTIONS={older} (its older spelling)")
        return place

    @property
    def projection_place(self) -> ProjectionsPlace:
        """Where an API process runs the projections: NM_PROJECTIONS, else NM_EMBEDDED_PROJECTIONS,
        else embedded (`serve` says it for each of its processes: `served_projection_place`)."""
        if self.projections is not None:
            return self.projections
        return "none" if self.embedded_projections is False else "embedded"

    @property
    def projection_beat_gap(self) -> float:
        """The longest a healthy projections thread goes between two beats (projections/runner.py): a
        batch waiting for the write lock (on SQLite up to twice, behind a writer outside the service
        holding SQLite's own lock), then an idle wait and the gather pause."""
        return 2 * self.db_lock_timeout + self.projection_poll_interval + self.projection_gather_seconds

    @property
    def served_projection_place(self) -> ProjectionsPlace:
        """Where `nm-workflow serve` runs the projections: as NM_PROJECTIONS or NM_EMBEDDED_PROJECTIONS
        say; when neither is set, a worker process on SQLite and embedded on PostgreSQL (ADR 0076)."""
        if self.projections is None and self.embedded_projections is None:
            return "embedded" if self.uses_postgres else "worker"
        return self.projection_place
