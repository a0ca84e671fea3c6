"""``medmaas``: init, train, evaluate, models, predict, serve, keys, audit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from medmaas.cli import admin, check, datasets, deid, entities, models, serve, train
from medmaas.cli.context import Context, err_console
from medmaas.exceptions import MedmaasError

app = typer.Typer(name="medmaas", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Self-hosted medical Model-as-a-Service: train, validate, explain and serve clinical models.")
app.add_typer(models.app, name="models")
app.add_typer(admin.keys_app, name="keys")
app.add_typer(admin.audit_app, name="audit")
app.add_typer(admin.projects_app, name="projects")
app.add_typer(datasets.datasets_app, name="datasets")
app.command("init")(serve.init)
app.command("serve")(serve.serve)
app.command("train")(train.train)
app.command("evaluate")(train.evaluate)
app.command("predict")(train.predict)
app.command("deid")(deid.deid)
app.command("entities")(entities.entities)
app.command("check")(check.check)


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(help="data directory (default: $MEDMAAS_HOME or ./.medmaas)")] = None,
    project: Annotated[str, typer.Option(envvar="MEDMAAS_PROJECT", help="the project (tenant) to act in")] = "default",
) -> None:
    ctx.obj = Context(home, project)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: user mistakes print one line and exit 1, never a traceback."""
    try:
        return app(args=argv, standalone_mode=False)
    except MedmaasError as exc:
        err_console.print(f"[red]Error:[/red] {exc}", highlight=False, markup=True)
        sys.exit(1)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        err_console.print(f"[red]Error:[/red] {exc.strerror}: {exc.filename}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
