"""`gigafactory runs list/show/compare`: the run store."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from gigafactory.cli.common import JsonOpt, StoreOpt, out, print_json
from gigafactory.display import human


from gigafactory.cli.app import runs_app


@runs_app.command("list")
def runs_list(store: Optional[Path] = StoreOpt, as_json: bool = JsonOpt) -> None:
    """List recorded plans, then recorded sweeps."""
    from gigafactory.runs.store import list_runs, list_sweeps

    rows = list_runs(store)
    sweeps = list_sweeps(store)
    if as_json:
        print_json({"runs": rows, "sweeps": sweeps})
        return
    if not rows:
        out.print("no runs recorded yet: run `gigafactory plan`")
    else:
        _print_runs(rows)
    if sweeps:
        _print_sweeps(sweeps)


def _print_sweeps(sweeps: list[dict]) -> None:
    t = Table(title="Sweeps (gigafactory sweep show ID)", title_justify="left")
    for col in ("id", "updated", "name", "status", "points", "ok", "failed", "folder"):
        t.add_column(col, justify="right" if col in ("points", "ok", "failed") else "left")
    for s in sweeps:
        t.add_row(s["id"], s["updated"], s["name"], s["status"], f"{s['points_total']:,}", f"{s['points_ok']:,}", f"{s['points_failed']:,}", s["folder"])
    out.print(t)


def _print_runs(rows: list[dict]) -> None:
    t = Table(title="Runs", title_justify="left")
    for col in ("id", "created", "scenario", "GPUs", "TTFT P50 d", "NPV", "capex"):
        t.add_column(col, justify="left" if col in ("id", "created", "scenario") else "right")
    for r in rows:
        h = r["headline"]
        t.add_row(r["id"], r["created"], r["scenario_name"], f"{h['gpus']:,}", f"{h['ttft_days']:.0f}", human(h["npv_usd"], "USD"), human(h["capex_usd"], "USD"))
    out.print(t)


@runs_app.command("show")
def runs_show(run_id: str = typer.Argument(..., metavar="ID", help="Run id (or a unique prefix)."), store: Optional[Path] = StoreOpt, as_json: bool = JsonOpt) -> None:
    """Show one recorded plan: inputs and headline outputs."""
    from gigafactory.runs.store import get_run

    run = get_run(run_id, store)
    if as_json:
        print_json(run)
        return
    out.print(f"[bold]{run['id']}[/] — {run['scenario_name']} (seed {run['seed']}, catalog {run['catalog_version']}) created {run['created']}; outputs in {run['out_dir']}")
    t = Table()
    t.add_column("output")
    t.add_column("value", justify="right")
    for k, v in run["headline"].items():
        t.add_row(k, "—" if v is None else (f"{v:,.4g}" if isinstance(v, float) else str(v)))
    out.print(t)


@runs_app.command("compare")
def runs_compare(a: str = typer.Argument(..., metavar="A"), b: str = typer.Argument(..., metavar="B"), store: Optional[Path] = StoreOpt, as_json: bool = JsonOpt) -> None:
    """What changed between two runs, in inputs and in outputs."""
    from gigafactory.runs.store import compare, get_run

    diff = compare(get_run(a, store), get_run(b, store))
    if as_json:
        print_json(diff)
        return
    t = Table(title=f"Inputs changed ({diff['a']} → {diff['b']})", title_justify="left")
    for col in ("input", "A", "B"):
        t.add_column(col)
    for row in diff["inputs"]:
        t.add_row(row["key"], str(row["a"]), str(row["b"]))
    out.print(t if diff["inputs"] else "inputs: identical")
    o = Table(title="Outputs changed", title_justify="left")
    for col in ("output", "A", "B", "change"):
        o.add_column(col, justify="left" if col == "output" else "right")
    for row in diff["outputs"]:
        fmt = lambda v: "—" if v is None else (f"{v:,.4g}" if isinstance(v, float) else str(v))  # noqa: E731
        o.add_row(row["key"], fmt(row["a"]), fmt(row["b"]), "—" if row["change"] is None else f"{row['change']:+.1%}")
    out.print(o if diff["outputs"] else "outputs: identical")
