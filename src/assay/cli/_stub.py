"""A placeholder command group for rooms of the map that are not built yet.

`assay --help` lists every group from day one; running one that is not built yet
says so in one line and exits 64 rather than failing with a traceback.
"""

from __future__ import annotations

import typer

from assay.errors import NotBuiltError

NOT_BUILT: set[str] = set()


def not_built_group(name: str, summary: str) -> typer.Typer:
    NOT_BUILT.add(name)
    app = typer.Typer(name=name, help=f"{summary} (not built yet)")

    @app.callback(
        invoke_without_command=True,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def _not_built(ctx: typer.Context) -> None:
        raise NotBuiltError(f"'assay {name}' is not built yet in this version of assay")

    # A group needs at least one command for click to accept it; this one is hidden.
    @app.command("_", hidden=True)
    def _hidden() -> None:
        raise NotBuiltError(f"'assay {name}' is not built yet in this version of assay")

    return app
