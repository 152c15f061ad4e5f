"""The store's mapper: the library's stored bytes, encoded in fewer steps (ADR 0068).

The library's `Mapper.to_stored_event` encodes an event's state with `json.JSONEncoder.encode`,
which makes a new C encoder object for every call, and hands each value JSON cannot hold to the
transcoder's `default` hook, two Python calls each, the event's `timestamp` among them. Mapping
was about a sixth of the 8 writers' interpreter time (docs/performance-history.md, "Fewer steps
per appended event"). Here the C encoder is made once, the timestamp goes into the state already
in its transcoded form, and the events of one `record` call (a command's own and its idempotency
record's, stamped with one time by `recording`) convert that time to text once.

The bytes are the library's, byte for byte (tests/unit/test_event_mapper.py): the same separators,
the same `ensure_ascii=False`, the same `{"_type_": ..., "_data_": ...}` form from the same
registered transcoding, the same key order (the timestamp keeps its place in the state). Other
values still go through the hook. No cipher and no compressor: the store configures none.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic

from nm_workflow.application.json_text import compact_encoder


class EventMapper(Mapper[UUID]):
    """The library's mapper for a JSONTranscoder, mapping to the same stored events."""

    transcoder: JSONTranscoder

    def __init__(self, transcoder: JSONTranscoder) -> None:
        super().__init__(transcoder)
        self._encode = compact_encoder(transcoder.encoder.default, sort_keys=False)

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        return self.to_stored_events([domain_event])[0]

    def to_stored_events(self, domain_events: Sequence[DomainEventProtocol[UUID]]) -> list[StoredEvent]:
        """The stored form of each event, in order; a time shared by several converted once."""
        stored: list[StoredEvent] = []
        time: object = None  # the last timestamp converted (None: none yet), and its converted form
        encoded_time: object = None
        for event in domain_events:
            state = dict(vars(event))
            originator_id = state.pop("originator_id")
            originator_version = state.pop("originator_version")
            class_version = getattr(type(event), "class_version", 1)
            if class_version > 1:
                state["class_version"] = class_version
            timestamp = state.get("timestamp")
            if timestamp is not None:
                transcoding = None if timestamp is time else self.transcoder.types.get(type(timestamp))
                if transcoding is not None:  # what the hook (`_encode_obj`) returns, without the hook
                    time = timestamp
                    encoded_time = {"_type_": transcoding.name, "_data_": transcoding.encode(timestamp)}
                if timestamp is time:  # its place in the state, hence in the bytes, kept
                    state["timestamp"] = encoded_time
            encoded = self._encode(state).encode("utf8")
            stored.append(StoredEvent(originator_id, originator_version, get_topic(type(event)), encoded))
        return stored
