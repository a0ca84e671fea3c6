"""``medmaas check``: is the data directory whole (after a crash, a restore, a move)?"""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from typing import Annotated

import typer

from medmaas.cli.context import Context, console, print_json


def check(ctx: typer.Context,
          as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False) -> None:
    """Check every bundle against its sha256, look for writes left half-done, verify the audit
    chain; exit 1 on any problem. Safe while the server runs."""
    from medmaas.registry.integrity import Problem, find_problems, unreferenced_bundles

    c: Context = ctx.obj
    home = c.settings.home
    registry = c.registry  # opening it runs the migrations and removes leftovers of killed writes
    status = contextlib.nullcontext() if as_json else console.status("re-hashing the stored bundles")
    with status:
        problems = find_problems(registry, home)
        report = c.audit.verify()
    if not report.ok:
        problems.append(Problem("audit-chain", "audit log",
                                f"broken at event {report.first_bad_seq}: {report.reason}"))
    recovered = registry.store.recovered
    unused = unreferenced_bundles(registry)
    if as_json:
        print_json({"ok": not problems, "problems": [asdict(p) for p in problems],
                    "audit_events_verified": report.checked, "removed_leftovers": len(recovered),
                    "unreferenced_bundles": len(unused)})
    else:
        if recovered:
            console.print(f"removed {len(recovered)} leftover(s) of writes whose process died", highlight=False)
        if unused:
            console.print(f"{len(unused)} stored bundle(s) belong to no version (registrations that stopped "
                          "before recording the version); harmless", highlight=False)
        for problem in problems:
            console.print(f"[red]{problem.kind}[/red] {problem.path}: {problem.message}", highlight=False)
        if not problems:
            console.print(f"[green]data directory intact[/green]: every bundle matches its sha256, no write "
                          f"left half-done, {report.checked} audit events verified", highlight=False)
    if problems:
        raise typer.Exit(1)

