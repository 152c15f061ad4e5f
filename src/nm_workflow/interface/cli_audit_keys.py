"""`nm-workflow audit keygen PATH`: make the Ed25519 key that signs checkpoints and tree heads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nm_workflow.application.audit_signing import write_new_key
from nm_workflow.interface.cli_errors import EXIT_USAGE, cannot_write, fail


def keygen(
    path: Annotated[Path, typer.Argument(help="Where to write the private key (PEM); must not exist.")],
) -> None:
    """Write a new Ed25519 private key to PATH (mode 0600) and print its public key (PEM).

    Point NM_AUDIT_KEY_FILE at PATH to sign; hand the printed public key to the auditors.
    """
    try:
        signer = write_new_key(path)
    except FileExistsError:
        fail(f"{path} exists; a key is never overwritten (signed checkpoints name it).", EXIT_USAGE)
    except OSError as error:
        cannot_write(path, error)
    typer.echo(signer.public_key_pem(), nl=False)
