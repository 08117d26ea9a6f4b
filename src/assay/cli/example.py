"""`assay example`: run the bundled example service (courier) on 127.0.0.1."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import typer

from assay.errors import UsageError

app = typer.Typer(name="example", help="The bundled example service.", no_args_is_help=True)

SERVICES = {"courier": "a small messaging API: conversations, messages, WebSockets, outbox to Redis Streams"}
# Where the example lives in a source checkout, for when it is not pip-installed.
EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples"


def import_service(name: str) -> None:
    """Make the example importable: installed, or straight from the checkout."""
    try:
        importlib.import_module(name)
        return
    except ImportError:
        pass
    source = EXAMPLES_DIR / name
    if not (source / name / "__init__.py").is_file():
        raise UsageError(f"the {name} example is not installed; run `pip install -e examples/{name}`")
    sys.path.insert(0, str(source))
    importlib.import_module(name)


@app.command("list")
def list_services() -> None:
    """List the example services."""
    for name, summary in SERVICES.items():
        typer.echo(f"{name}\t{summary}")


@app.command("serve")
def serve(
    service: str = typer.Argument(..., help="The example to run: courier."),
    port: int | None = typer.Option(None, "--port", "-p", help="Port on 127.0.0.1 (default 8080)."),
    host: str | None = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1)."),
    db: str | None = typer.Option(None, "--db", help="Database URL: sqlite:///file.db or postgresql://..."),
    redis: str | None = typer.Option(
        None, "--redis", help="Redis URL; without it an in-process queue is used."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="Settings file (YAML, JSON or TOML)."),
) -> None:
    """Start an example service in the foreground; Ctrl-C or SIGTERM drains and stops it."""
    if service not in SERVICES:
        raise UsageError(f"unknown example {service!r}; known examples: {', '.join(SERVICES)}")
    import_service(service)
    from courier.server import serve as run
    from courier.settings import SettingsError, load_settings

    overrides = {"port": port, "host": host, "database_url": db, "redis_url": redis}
    try:
        settings = load_settings(config, overrides=overrides)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    typer.echo(
        f"courier on http://{settings.host}:{settings.port} (database: {_scheme(settings.database_url)}, "
        f"queue: {'redis' if settings.uses_redis else 'in-process'})",
        err=True,
    )
    run(settings)


def _scheme(url: str) -> str:
    """The kind of database, never its credentials."""
    return url.split(":", 1)[0]
