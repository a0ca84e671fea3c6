"""``medmaas datasets ...``: store tables with patient data encrypted, list, delete, rotate keys."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from medmaas.cli.context import Context, console, print_json

if TYPE_CHECKING:
    from medmaas.registry.datasets import DatasetStore
    from medmaas.security.encryption import Keyring

datasets_app = typer.Typer(no_args_is_help=True, help="Datasets stored encrypted at rest (AES-256-GCM, envelope keys).")


def _event(c: Context, action: str, name: str, sha256: str | None = None) -> None:
    from medmaas.audit import AuditEvent

    c.audit.append(AuditEvent(actor=c.actor, role="sysadmin", action=action, project=c.project,
                              resource=name, outcome="ok", input_sha256=sha256))


def _store(c: Context, keyring: Keyring | None = None) -> DatasetStore:
    from medmaas.registry.datasets import DatasetStore

    return DatasetStore(c.registry, keyring or c.settings.dataset_keyring())


@datasets_app.command("put")
def put(ctx: typer.Context, name: str, path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Store a table (CSV, TSV, Excel, Parquet) as dataset NAME, encrypted."""
    from medmaas.data.readers import read_table

    c: Context = ctx.obj
    data = path.read_bytes()
    frame = read_table(data, name=path.name)
    info = _store(c).put(c.project, name, data, media_type="application/octet-stream", created_by=c.actor,
                         rows=len(frame), columns=len(frame.columns))
    _event(c, "dataset.create", name, info.sha256)
    if as_json:
        print_json({"name": info.name, "project": info.project, "rows": info.rows, "sha256": info.sha256})
        return
    console.print(f"stored dataset [bold]{name}[/bold]: {info.rows} rows, {info.columns} columns, "
                  f"encrypted under key {info.kek_id}")


@datasets_app.command("list")
def list_datasets(ctx: typer.Context) -> None:
    c: Context = ctx.obj
    table = Table(title=f"datasets of project {c.project}")
    for column in ("name", "rows", "columns", "bytes", "key", "created"):
        table.add_column(column)
    for d in _store(c).list(c.project):
        table.add_row(d.name, str(d.rows), str(d.columns), str(d.size_bytes), d.kek_id, f"{d.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


@datasets_app.command("delete")
def delete(ctx: typer.Context, name: str) -> None:
    """Delete a dataset: its data key is destroyed, so no copy of the ciphertext can be read."""
    c: Context = ctx.obj
    info = _store(c).delete(c.project, name)
    _event(c, "dataset.delete", name, info.sha256)
    console.print(f"deleted dataset {name}")


@datasets_app.command("rotate-key")
def rotate_key(ctx: typer.Context) -> None:
    """Put every dataset's data key under a new key-encryption key; the data is not re-encrypted.

    With the key file, a new key is added, every data key rewrapped, then the old keys removed;
    a crash at any point leaves a key file that still opens every dataset, and running the
    command again finishes the job. With MEDMAAS_DATASET_KEYS, append the new key there first;
    this rewraps under it and says which old keys can then be removed.
    """
    c: Context = ctx.obj
    keyring = c.settings.dataset_keyring()
    if keyring.path is not None:
        keyring = keyring.with_new_key()
        keyring.save()  # the new key is durable before anything is wrapped under it
    store = _store(c, keyring)
    rewrapped = store.rewrap_all()
    retired = sorted(set(keyring.keys) - store.kek_ids_in_use() - {keyring.current})
    if keyring.path is not None:
        keyring.only_current().save()
    _event(c, "dataset.rekey", "*")
    console.print(f"rewrapped {rewrapped} dataset key(s) under {keyring.current}")
    if retired and keyring.path is None:
        console.print(f"no dataset uses {', '.join(retired)} any more: remove them from MEDMAAS_DATASET_KEYS")
