"""Helpers for the test suite (not test modules themselves)."""
