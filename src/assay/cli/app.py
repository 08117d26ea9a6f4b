"""The `assay` command: one typer app with a sub-app per command group.

Group modules are thin (parse, call, print) and import their engines inside the
command functions, so `assay --help` stays fast. `main()` is the only place that
turns exceptions into exit codes.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import tempfile
import traceback

import typer
from rich.console import Console

try:  # typer >= 0.26 vendors click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exc  # type: ignore[no-redef]

from assay import __version__
from assay.cli._stub import NOT_BUILT
from assay.errors import AssayError, ExitCode, NotBuiltError

# name -> module; each module exposes `app: typer.Typer`.
GROUPS: dict[str, str] = {
    "load": "assay.cli.load",
    "proxy": "assay.cli.proxy",
    "fault": "assay.cli.fault",
    "contract": "assay.cli.contract",
    "broker": "assay.cli.broker",
    "chaos": "assay.cli.chaos",
    "slo": "assay.cli.slo",
    "trend": "assay.cli.trend",
    "plan": "assay.cli.plan",
    "results": "assay.cli.results",
    "example": "assay.cli.example",
    "observe": "assay.cli.observe",
    "messaging": "assay.cli.messaging",
}

app = typer.Typer(
    name="assay",
    help="Test how services hold up: contracts, faults, chaos, load, SLO gates and regressions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"assay {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """assay: the reliability test suite for one CI box."""


for _name, _module in GROUPS.items():
    _sub = importlib.import_module(_module).app
    app.add_typer(_sub, name=_name)

from assay.cli.schema import schema_command  # noqa: E402

app.command("schema")(schema_command)

err_console = Console(stderr=True)


def _crash_log(exc: BaseException) -> str:
    fd, path = tempfile.mkstemp(prefix="assay-crash-", suffix=".log")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"assay {__version__} {' '.join(sys.argv)}\n")
        fh.write("".join(traceback.format_exception(exc)))
    return path


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and map every outcome onto DESIGN.md's exit codes."""
    logging.basicConfig(level=os.environ.get("ASSAY_LOG_LEVEL", "WARNING"))
    args = sys.argv[1:] if argv is None else argv
    try:
        if args and args[0] in NOT_BUILT and not set(args[1:]) & {"-h", "--help"}:
            raise NotBuiltError(f"'assay {args[0]}' is not built yet in this version of assay")
        if args[:2] == ["chaos", "run"]:
            from assay.cli.chaos import bare_dry_means_plan

            args = bare_dry_means_plan(args)
        rv = app(args=args, standalone_mode=False)
        # Without standalone mode click returns typer.Exit's code instead of exiting.
        if isinstance(rv, int) and rv:
            sys.exit(rv)
    except AssayError as exc:
        from rich.markup import escape

        # escaped: messages quote user input and commands ("pip install 'assay[ray]'"), not markup
        err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
        sys.exit(int(exc.exit_code))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except click_exc.ClickException as exc:  # bad options or arguments
        exc.show()
        sys.exit(int(ExitCode.USAGE))
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say where the log is
        path = _crash_log(exc)
        err_console.print(f"[bold red]internal error:[/] {exc!r}\nthe traceback is in {path}", highlight=False)
        sys.exit(int(ExitCode.INTERNAL))
    sys.exit(0)
