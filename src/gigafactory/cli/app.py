"""The typer application and its root options; verbs register on it from their modules."""
from __future__ import annotations

from typing import Optional

import typer

from gigafactory import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    help="gigafactory — open digital twin of an AI factory: catalog, design, serving, rollout, operations, devices, demand, economics; "
         "an OpenAI-compatible emulator, a web app and REST API, sweeps on Ray.",
)
catalog_app = typer.Typer(no_args_is_help=True, help="Browse the sourced catalog (hardware, models, network, facility, regions, costs).")
scenario_app = typer.Typer(no_args_is_help=True, help="Create scenario files.")
runs_app = typer.Typer(no_args_is_help=True, help="The run store: every plan is recorded; list, show and compare runs.")
app.add_typer(catalog_app, name="catalog")
app.add_typer(scenario_app, name="scenario")
app.add_typer(runs_app, name="runs")


def _version_callback(value: bool) -> None:
    if value:
        from gigafactory.catalog import load_catalog

        typer.echo(f"gigafactory {__version__} (catalog {load_catalog().version})")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(None, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."),
) -> None:
    """gigafactory — open digital twin of an AI factory."""
