"""`nm-workflow audit verify` and `audit checkpoint`: the hash chain, for auditors (docs/audit.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nm_workflow.application.audit_checkpoint import Checkpoint, CheckpointUnreadable
from nm_workflow.application.audit_signing import signer, small_file
from nm_workflow.application.audit_verify import Verification, chain_head, verify_log
from nm_workflow.application.store import EventStore
from nm_workflow.interface.cli_errors import EXIT_FAILED, EXIT_USAGE, fail
from nm_workflow.interface.cli_settings import load_settings, opened_store


def checkpoint() -> None:
    """Print the chain's head as one JSON object: position, leaf count and chain hash.

    Signed (Ed25519, base64, with the public key) when NM_AUDIT_KEY_FILE is set. Keep the output
    outside the system; `audit verify --checkpoint FILE` proves the log still extends it.
    """
    settings = load_settings()
    with opened_store(existing=True) as store:
        head = chain_head(store)
    try:
        key = signer(settings.audit_key_file)
    except ValueError as error:  # the file changed since the settings checked it
        fail(f"NM_AUDIT_KEY_FILE: {error}.", EXIT_USAGE)
    typer.echo(Checkpoint.of(head, key).as_json())


def verify(
    checkpoint_file: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="A file `audit checkpoint` wrote: also prove the log extends it."),
    ] = None,
) -> None:
    """Recompute the hash chain over the whole log; exit 1 naming the first broken link and its kind.

    Kinds: altered record, deleted record, inserted record, reordered records, altered chain link,
    and against a checkpoint: truncated tail, diverged from the checkpoint.
    """
    kept = _read(checkpoint_file) if checkpoint_file is not None else None
    with opened_store(existing=True) as store:
        result = _verified(store, kept)
    if result.broken is not None:
        where = f"position {result.broken.position}"
        if result.broken.leaf_index is not None:
            where += f" (leaf {result.broken.leaf_index})"
        fail(f"broken at {where}: {result.broken.kind}: {result.broken.detail}"
             f" Records verified before it: {result.checked}.", EXIT_FAILED)  # fmt: skip
    head = result.head
    summary = f"intact: {result.checked} records verified"
    if head is not None:
        summary += f" up to position {head.position}, chain hash {head.chain_hash.hex()}"
    if kept is not None:
        summary += f"; extends the checkpoint of {kept.leaf_count} records (position {kept.position})"
        summary += {True: ", signature valid for its public key", None: ", unsigned"}[kept.signature_checks()]
    typer.echo(summary)


def _read(path: Path) -> Checkpoint:
    try:
        kept = Checkpoint.from_json(small_file(path).decode("utf-8"))
    except OSError as error:
        fail(f"Cannot read the checkpoint {path}: {error.strerror or error}.", EXIT_USAGE)
    except (CheckpointUnreadable, ValueError) as error:  # UnicodeDecodeError is a ValueError
        fail(f"{path} is not a checkpoint: {error}.", EXIT_USAGE)
    if kept.signature_checks() is False:
        fail(f"The signature of the checkpoint {path} does not match its content or key:"
             " it was changed after it was signed.", EXIT_FAILED)  # fmt: skip
    return kept


def _verified(store: EventStore, kept: Checkpoint | None) -> Verification:
    """Verify, with a progress bar on a terminal (on stderr, so that the summary stays alone on stdout)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        return verify_log(store, kept)
    head = chain_head(store)
    columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("verify", total=0 if head is None else head.leaf_index + 1)
        return verify_log(store, kept, lambda checked: progress.update(task, completed=checked))
