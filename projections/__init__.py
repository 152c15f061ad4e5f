"""The read side: projections of the event log into SQL tables, built exactly once.

Use from the service:

    read_model = ReadModel(settings, store)          # queries, positions, wait_for
    supervisor = ProjectionSupervisor(settings, read_model=read_model)
    supervisor.start(); ...; supervisor.stop()       # embedded runners (threads)

See docs/projections.md for the tables and how to run, inspect and rebuild them.
"""

from __future__ import annotations

from projections.queries import READS, InvalidCursor, InvalidQuery, Page, ReadModel
from projections.readside import ProjectionStatus
from projections.rebuild import RebuildRunning, rebuild
from projections.registry import NAMES, UnknownProjection
from projections.runner import ProjectionSupervisor
from projections.swap_in_place import RebuildRefused

__all__ = [
    "NAMES",
    "READS",
    "InvalidCursor",
    "InvalidQuery",
    "Page",
    "ProjectionStatus",
    "ProjectionSupervisor",
    "ReadModel",
    "RebuildRefused",
    "RebuildRunning",
    "UnknownProjection",
    "rebuild",
]
