"""Shared pieces of the command line: consoles, common options, JSON output."""
from __future__ import annotations

import json
import os
import sys
from typing import Any

import typer
from rich.console import Console

# Piped output (files, CI logs, tests) gets a wide fixed width instead of Rich's 80 columns,
# so tables are not truncated; a terminal uses its own width.
_WIDTH = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "160"))
out = Console(soft_wrap=False, width=_WIDTH)
err = Console(stderr=True, width=_WIDTH)

ScenarioArg = typer.Argument(None, help="Scenario YAML file; the bundled default scenario when omitted.", show_default=False)
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")
StoreOpt = typer.Option(None, "--store", help="Run-store database (default: $GIGAFACTORY_HOME/runs.sqlite or ~/.local/share/gigafactory).")


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str, allow_nan=False) + "\n")


def ms(x: float | None) -> str:
    return "—" if x is None else f"{x * 1e3:,.0f} ms" if x >= 0.1 else f"{x * 1e3:,.1f} ms"


def ms_pair(p: dict[str, float | None]) -> str:
    return f"{ms(p['p50'])} / {ms(p['p99'])}"


NoCacheOpt = typer.Option(False, "--no-cache", help="Recompute every stage (the stage cache is in $GIGAFACTORY_HOME/cache).")


def pipeline_for(scn: Any, options: Any, no_cache: bool = False, progress: Any = None) -> Any:
    """The pipeline every verb runs, with the stage cache unless --no-cache or GIGAFACTORY_CACHE=off."""
    from gigafactory.catalog import load_catalog
    from gigafactory.pipeline import Pipeline, StageCache, cache_enabled_by_env

    cache = StageCache() if cache_enabled_by_env() and not no_cache else None
    return Pipeline(load_catalog(), scn, options, cache=cache, progress=progress)
