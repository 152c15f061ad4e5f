"""The policy as pure Python: aggregates, events and rules. No I/O here."""
