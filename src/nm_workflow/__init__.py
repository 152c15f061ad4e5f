"""nm-workflow: an event-sourced workflow service for new-media operations."""

__version__ = "0.1.0"
