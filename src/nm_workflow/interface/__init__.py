"""Entrypoints: HTTP (FastAPI), CLI (typer). They translate, nothing more."""
