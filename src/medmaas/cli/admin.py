"""``medmaas keys ...``, ``medmaas projects ...`` and ``medmaas audit ...``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from medmaas.cli.context import Context, console, print_json

keys_app = typer.Typer(no_args_is_help=True, help="API keys: create (shown once), list, revoke.")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")
projects_app = typer.Typer(no_args_is_help=True, help="Projects (tenants): each has its own models, keys, datasets and audit.")


@projects_app.command("create")
def create_project(ctx: typer.Context, name: str) -> None:
    """Create a project; give it keys with `medmaas --project NAME keys create ...`."""
    from medmaas.audit import AuditEvent

    c: Context = ctx.obj
    if c.registry.create_project(name):
        c.audit.append(AuditEvent(actor=c.actor, role="sysadmin", action="project.create", project=name,
                                  resource=name, outcome="ok"))
        console.print(f"created project {name}")
    else:
        console.print(f"project {name} already exists")


@projects_app.command("list")
def list_projects(ctx: typer.Context) -> None:
    c: Context = ctx.obj
    for name in c.registry.list_projects():
        print(name)


@keys_app.command("create")
def create(ctx: typer.Context, name: Annotated[str, typer.Option()],
           role: Annotated[str, typer.Option(help="sysadmin, admin, developer, clinician or auditor")],
           as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create a key; its secret is printed once and stored only as a keyed hash."""
    from medmaas.audit import AuditEvent

    c: Context = ctx.obj
    plaintext, info = c.keys.create(name, role, created_by=c.actor, project=c.project,
                                    record=c.audit.recorder(lambda created: AuditEvent(
                                        actor=c.actor, role="sysadmin", action="key.create",
                                        project=created.project, resource=created.key_id, outcome="ok",
                                        detail={"role": role})))
    if as_json:
        print_json({"key_id": info.key_id, "role": info.role, "api_key": plaintext})
        return
    console.print(f"created {role} key [bold]{info.key_id}[/bold] ({name}). Store it now; it is not shown again:")
    print(plaintext)


@keys_app.command("list")
def list_keys(ctx: typer.Context) -> None:
    c: Context = ctx.obj
    table = Table(title="API keys")
    for column in ("key id", "name", "role", "project", "created", "revoked"):
        table.add_column(column)
    for k in c.keys.list():
        table.add_row(k.key_id, k.name, k.role, k.project, f"{k.created_at:%Y-%m-%d %H:%M}",
                      f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "")
    console.print(table)


@keys_app.command("revoke")
def revoke(ctx: typer.Context, key_id: str) -> None:
    from medmaas.audit import AuditEvent

    c: Context = ctx.obj
    c.keys.revoke(key_id, actor=c.actor, record=c.audit.recorder(lambda revoked: AuditEvent(
        actor=c.actor, role="sysadmin", action="key.revoke", project=revoked.project, resource=key_id,
        outcome="ok")))
    console.print(f"revoked {key_id}")


@audit_app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Check the whole hash chain; exit 1 if any event was edited, deleted or reordered."""
    c: Context = ctx.obj
    report = c.audit.verify()
    if report.ok:
        console.print(f"[green]audit log intact[/green]: {report.checked} events verified")
        return
    console.print(f"[red]audit log BROKEN[/red] at event {report.first_bad_seq}: {report.reason}")
    raise typer.Exit(1)


@audit_app.command("tail")
def tail(ctx: typer.Context, n: Annotated[int, typer.Option("-n", min=1)] = 20,
         action: Annotated[str | None, typer.Option()] = None,
         actor: Annotated[str | None, typer.Option(help="a key id, or the CLI's actor name")] = None,
         before: Annotated[int | None, typer.Option(min=1, help="only events older than this seq (page back)")] = None,
         as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The latest audit events, oldest first."""
    c: Context = ctx.obj
    events = c.audit.tail(n, action=action, actor=actor, before=before)
    if as_json:
        from dataclasses import asdict

        print_json([asdict(e) for e in events])
        return
    table = Table(title="audit events")
    for column in ("seq", "at", "actor", "action", "resource", "version", "outcome"):
        table.add_column(column)
    for e in events:
        table.add_row(str(e.seq), f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.resource,
                      str(e.version or ""), e.outcome)
    console.print(table)
