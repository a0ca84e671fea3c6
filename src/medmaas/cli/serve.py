"""``medmaas init`` and ``medmaas serve``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from medmaas.cli.context import Context, console
from medmaas.exceptions import InvalidInputError
from medmaas.settings import Settings


def _first_key(c: Context, host: str, port: int) -> None:
    from medmaas.audit import AuditEvent

    plaintext = c.keys.bootstrap_admin(record=c.audit.recorder(lambda created: AuditEvent(
        actor=c.actor, role="sysadmin", action="key.create", project="default", resource=created.key_id,
        outcome="ok", detail={"role": "sysadmin", "bootstrap": True})))
    if plaintext is None:
        return
    console.print("\n[bold]Your admin API key[/bold] (role sysadmin; shown once: store it now, it is kept only as a keyed hash):")
    print(f"\n    {plaintext}\n", flush=True)
    console.print("Use it like this:", highlight=False)
    print(f"    the dashboard: open http://{host}:{port}/ and sign in with it\n"
          f'    export MEDMAAS_KEY={plaintext}\n'
          f'    curl -H "Authorization: Bearer $MEDMAAS_KEY" http://{host}:{port}/v1/models\n'
          f"    medmaas keys create --name alice --role clinician   # keys for other people\n", flush=True)


def init(ctx: typer.Context,
         builtin: Annotated[bool, typer.Option(help="train the built-in models now")] = True) -> None:
    """Create the data directory and registry, an admin key, and the built-in models."""
    c: Context = ctx.obj
    c.registry  # noqa: B018 - opening runs the migrations
    console.print(f"registry ready under {c.settings.home.resolve()}")
    _first_key(c, c.settings.host, c.settings.port)
    if builtin:
        from medmaas.builtin.build import (
            build_lock,
            build_one,
            close_abandoned_builds,
            missing_builtins,
        )
        from medmaas.cli.progress import progress_bar

        with build_lock(c.settings.home) as held:
            if not held:
                raise InvalidInputError(
                    "another process (a server starting up?) is building the built-in models of "
                    f"{c.settings.home}; wait for it to finish, or run 'medmaas init --no-builtin'")
            close_abandoned_builds(c.registry)
            for model in missing_builtins(c.registry):
                job = c.registry.create_job(f"build {model.name}", model_name=model.name)
                with progress_bar(model.name) as progress:
                    version = build_one(model, c.registry, c.audit, progress)
                c.registry.update_job(job, progress=1.0, message=f"registered version {version}",
                                      status="succeeded")


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000)")] = None,
    builtin: Annotated[bool, typer.Option(help="build missing built-in models in the background")] = True,
    workers: Annotated[int, typer.Option(min=1, max=1, help="one process; scale out with Ray")] = 1,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate (chain): serve HTTPS, TLS 1.2 or newer only")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert")] = None,
) -> None:
    """Run the HTTP service. The first start prints an admin API key once."""
    from medmaas.api.app import create_app
    from medmaas.cli.context import configure_logging

    c: Context = ctx.obj
    if tls_cert is not None or tls_key is not None:
        c.settings = c.settings.model_copy(update={"tls_certfile": tls_cert, "tls_keyfile": tls_key})
    settings = c.settings
    tls_files(settings)
    host = host or settings.host
    port = port or settings.port
    configure_logging(settings.log_level)
    c.registry  # noqa: B018 - migrations before the first request
    _first_key(c, host, port)

    def start_builds(state: object) -> Callable[[], None] | None:
        if not builtin:
            return None
        from medmaas.builtin.build import build_in_background, stop_build

        process = build_in_background(settings)
        if process is None:
            return None
        console.print("building built-in models in the background; "
                      "`medmaas models list` shows their progress")
        return lambda: stop_build(process)

    app = create_app(settings, on_startup=start_builds)
    server = uvicorn_server(app, settings, host, port)
    scheme = "https" if settings.tls_certfile else "http"
    console.print(f"medmaas serving on {scheme}://{host}:{port}: the dashboard at /, the OpenAPI document "
                  "at /openapi.json")
    server.run()


def tls_files(settings: Settings) -> None:
    """Refuse a half or unreadable TLS configuration before anything starts."""
    cert, key = settings.tls_certfile, settings.tls_keyfile
    if (cert is None) != (key is None):
        raise InvalidInputError("give both --tls-cert and --tls-key (MEDMAAS_TLS_CERTFILE and MEDMAAS_TLS_KEYFILE), or neither")
    for path, what in ((cert, "--tls-cert"), (key, "--tls-key")):
        if path is not None and not path.is_file():
            raise InvalidInputError(f"{what}: no file at {path}")


def uvicorn_server(app: Any, settings: Settings, host: str, port: int) -> Any:
    """uvicorn over ``app``; with a certificate, HTTPS that refuses anything older than TLS 1.2.

    uvicorn takes no minimum protocol version, so its SSL context is built here (``load``) and
    tightened before the server starts: TLS 1.0 and 1.1 are deprecated (RFC 8996) and HIPAA's
    transmission-security guidance (NIST SP 800-52r2) asks for 1.2 or newer.
    """
    import ssl

    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            ssl_certfile=str(settings.tls_certfile) if settings.tls_certfile else None,
                            ssl_keyfile=str(settings.tls_keyfile) if settings.tls_keyfile else None)
    if settings.tls_certfile is not None:
        try:
            config.load()
        except (ssl.SSLError, OSError) as exc:
            raise InvalidInputError(f"cannot use the TLS certificate and key: {exc}") from None
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    return uvicorn.Server(config)
