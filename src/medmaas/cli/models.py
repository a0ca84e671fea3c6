"""``medmaas models list / show / promote``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from medmaas.cli.context import Context, console, print_json

app = typer.Typer(no_args_is_help=True, help="Registered models, versions and stages.")


def _headline(h: object) -> str:
    if h is None:
        return ""
    ci = f" ({h.ci[0]:.3f}–{h.ci[1]:.3f})" if h.ci else ""  # type: ignore[attr-defined]
    return f"{h.name} {h.value:.3f}{ci}"  # type: ignore[attr-defined]


@app.command("list")
def list_models(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every model with its production version and key metric, and builds in progress."""
    c: Context = ctx.obj
    models = c.registry.list_models(project=c.project)
    jobs = [j for j in c.registry.list_jobs(project=c.project) if j.status in ("queued", "running", "failed")]
    if as_json:
        from dataclasses import asdict

        print_json({"models": [asdict(m) for m in models], "jobs": [asdict(j) for j in jobs]})
        return
    table = Table(title="models")
    for column in ("name", "kind", "task", "versions", "production", "key metric (95% CI)"):
        table.add_column(column)
    for m in models:
        table.add_row(m.name, m.kind, m.task, str(m.version_count),
                      str(m.production_version or "-"), _headline(m.headline))
    console.print(table)
    for j in jobs:
        console.print(f"[cyan]{j.status}[/cyan] {j.name}: {j.progress:.0%} {j.message}", highlight=False)


@app.command("show")
def show(ctx: typer.Context, name: str, version: Annotated[str | None, typer.Option()] = None,
         as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A model's versions, stage history and the chosen version's model card."""
    from medmaas.registry.refs import parse_ref

    c: Context = ctx.obj
    ref = parse_ref(version)
    info = c.registry.resolve(name, ref, project=c.project)
    versions = c.registry.list_versions(name, project=c.project)
    history = c.registry.stage_history(name, project=c.project)
    if as_json:
        from dataclasses import asdict

        print_json({"version": asdict(info), "versions": [v.version for v in versions],
                    "history": [asdict(e) for e in history]})
        return
    table = Table(title=f"{name} versions")
    for column in ("version", "stage", "aliases", "created", "by", "key metric"):
        table.add_column(column)
    for v in versions:
        table.add_row(str(v.version), v.stage, ",".join(v.aliases), v.created_at.strftime("%Y-%m-%d %H:%M"),
                      v.created_by, _headline(v.headline))
    console.print(table)
    for e in history:
        console.print(f"{e.at:%Y-%m-%d %H:%M} v{e.version} {e.from_stage or 'new'} → {e.to_stage} by {e.actor}"
                      + (f": {e.reason}" if e.reason else ""), highlight=False)
    card_md = c.registry.bundle_path(info) / "card.md"
    if card_md.exists():
        from rich.markdown import Markdown

        console.print(Markdown(card_md.read_text()))


@app.command("promote")
def promote(ctx: typer.Context, name: str, version: int,
            stage: Annotated[str, typer.Option(help="staging, production or archived")],
            reason: Annotated[str, typer.Option()] = "") -> None:
    """Move a version to a stage; the previous holder of production/staging is archived."""
    from medmaas.audit import AuditEvent

    c: Context = ctx.obj
    info = c.registry.promote(name, version, stage, actor=c.actor, reason=reason, project=c.project,
                              record=c.audit.recorder(lambda _: AuditEvent(
                                  actor=c.actor, role="sysadmin", action="model.promote", project=c.project,
                                  resource=name, version=version, outcome="ok", detail={"stage": stage})))
    console.print(f"{name} version {info.version} is now {info.stage}")
