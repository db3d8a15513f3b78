"""`gigafactory sweep run | show | export`: parameter sweeps over scenarios on Ray (docs/sweeps.md).

Thin: parse, call gigafactory.sweep, format.  Ray, DuckDB and PyArrow are imported inside the
commands, so other verbs never load them; without the `sweep` extra a command exits 2 saying
how to install it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from gigafactory.cli.app import app
from gigafactory.cli.common import JsonOpt, StoreOpt, err, out, print_json
from gigafactory.errors import InputError

sweep_app = typer.Typer(no_args_is_help=True, help="Parameter sweeps over scenarios on Ray: run a spec, query and export the results table.")
app.add_typer(sweep_app, name="sweep")

EXPORT_FORMATS = {".csv": "(FORMAT CSV, HEADER)", ".parquet": "(FORMAT PARQUET)", ".json": "(FORMAT JSON, ARRAY true)", ".jsonl": "(FORMAT JSON)"}


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e5 else f"{v:,.4e}"
    return str(v)


@sweep_app.command("run")
def run(
    spec: Path = typer.Argument(..., help="Sweep spec YAML (docs/sweeps.md)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Sweep folder (default ./sweep-<name>); an existing folder of the same sweep is resumed."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, max=4096,
                                          help="CPUs of the local Ray (default: this machine's); with --address, points in flight (default: the cluster's CPUs)."),
    address: Optional[str] = typer.Option(None, "--address", help="An existing Ray cluster (host:6379, ray://host:10001, auto); a local Ray when omitted."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute every stage of every point (the stage cache is in $GIGAFACTORY_HOME/cache)."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard the folder's earlier results of this sweep instead of resuming."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="On resume, run failed points again."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Run at most this many new points now (resume later for the rest)."),
    store: Optional[Path] = StoreOpt,
    no_store: bool = typer.Option(False, "--no-store", help="Do not record the sweep in the run store."),
    as_json: bool = JsonOpt,
) -> None:
    """Run (or resume) a sweep: every point's scenario through the pipeline on Ray; results to DIR/results.parquet and DIR/report.html."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from gigafactory.runs.store import preflight_store
    from gigafactory.sweep.run import SweepInterrupted, record_outcome, require_sweep_extra, run_sweep
    from gigafactory.sweep.spec import load_sweep

    require_sweep_extra()
    sweep = load_sweep(spec)
    store_file = None if no_store else preflight_store(store)  # a bad --store fails now, not after the last point
    folder = out_dir or Path(f"sweep-{sweep.spec.name}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("starting Ray", total=None)

        def on_start(total: int, done: int) -> None:
            bar.update(task, total=total, description=f"sweep {sweep.spec.name}" + (f" (resumed: {done} done)" if done else ""))

        def on_progress(n: int, total: int, failed: int) -> None:
            bar.update(task, completed=n, description=f"sweep {sweep.spec.name}" + (f", {failed} failed" if failed else ""))

        try:
            res = run_sweep(sweep, folder, workers=workers, address=address, no_cache=no_cache, fresh=fresh, retry_failed=retry_failed,
                            limit=limit, on_progress=on_progress, on_start=on_start)
        except SweepInterrupted as exc:
            o = exc.outcome
            sweep_id = record_outcome(sweep, o, store_file) if store_file else None
            err.print(f"interrupted: {o.ran} points recorded this time, {o.ran + o.skipped} of {o.points} in {o.folder}; "
                      "run the same command again to resume" + (f" (sweep {sweep_id} in the run store)" if sweep_id else ""), markup=False)
            raise typer.Exit(130) from None
    sweep_id = record_outcome(sweep, res, store_file) if store_file else None
    a = res.analysis
    summary = {"folder": str(res.folder), "points": res.points, "ran": res.ran, "resumed_from": res.skipped, "ok": a["ok"], "failed": a["failed"],
               "feasible": a["feasible"], "pareto_points": a["pareto"], "sobol": a["sobol"], "wall_s": res.wall_s, "ray_startup_s": res.startup_s,
               "points_per_minute": res.points_per_minute, "table": str(res.folder / "results.parquet"), "report": str(res.folder / "report.html"),
               "sweep_id": sweep_id}
    if as_json:
        print_json(summary)
        return
    rate = f", {res.points_per_minute:,.0f} points/min" if res.points_per_minute else ""
    out.print(f"[bold]{sweep.spec.name}[/]: {res.points} points — {a['ok']} ok, {a['failed']} failed, {a['feasible']} feasible, "
              f"{len(a['pareto'])} on the Pareto front; ran {res.ran} now ({res.skipped} already done) in {res.wall_s:,.1f} s{rate}")
    _print_analysis(res.folder, a)
    out.print(f"wrote {res.folder / 'results.parquet'} and {res.folder / 'report.html'}" + (f"; sweep recorded as [bold]{sweep_id}[/]" if sweep_id else ""))


def _print_analysis(folder: Path, a: dict[str, Any]) -> None:
    from gigafactory.sweep.store import SweepStore, connect

    store = SweepStore(folder)
    manifest = store.manifest() or {}
    objs = [o["metric"] for o in manifest.get("objectives", [])]
    if a["pareto"]:
        cols = ["point"] + manifest["parameters"] + objs
        con = connect(store.table_path)
        sel = ", ".join(f'"{c}"' for c in cols)
        rows = con.execute(f"SELECT {sel} FROM points WHERE pareto ORDER BY point LIMIT 20").fetchall()
        t = Table(title=f"Pareto front ({len(a['pareto'])} points)", title_justify="left")
        for c in cols:
            t.add_column(c, justify="right")
        for r in rows:
            t.add_row(*(_fmt(v) for v in r))
        out.print(t)
    for metric, res in a["sobol"].items():
        t = Table(title=f"Sobol' indices of {metric} ({res['blocks_used']} base samples)", title_justify="left")
        for c in ("parameter", "S1", "± 95 %", "ST", "± 95 %"):
            t.add_column(c, justify="right")
        for i, name in enumerate(res["names"]):
            t.add_row(name, f"{res['S1'][i]:.3f}", f"{res['S1_conf'][i]:.3f}", f"{res['ST'][i]:.3f}", f"{res['ST_conf'][i]:.3f}")
        out.print(t)


def _query(folder: Path, sql: str) -> tuple[list[str], list[tuple]]:
    from gigafactory.sweep.store import connect

    con = connect(folder / "results.parquet")
    try:
        cur = con.execute(sql)
    except Exception as exc:  # noqa: BLE001 - duckdb's errors are the user's SQL: exit 2 with its message
        raise InputError.single(f"the query failed: {exc}", field="--query", value=sql, expected="DuckDB SQL over the view `points`",
                                fix="e.g. --query \"SELECT * FROM points WHERE status = 'ok' ORDER BY npv_usd DESC LIMIT 5\"", check="sweep-query") from None
    return [d[0] for d in cur.description or []], cur.fetchall()


def _folder_of(target: str, store: Optional[Path]) -> Path:
    """A sweep folder as given, or the folder of a sweep recorded in the run store (id or unique prefix)."""
    from gigafactory.runs.store import get_sweep

    p = Path(target)
    if p.is_dir():
        return p
    if p.exists():
        raise InputError.single("not a sweep folder or a sweep id", file=target, field="ID-or-DIR", value=target,
                                fix="name the folder a `gigafactory sweep run` wrote, or a sweep id from `gigafactory runs list`", check="sweep-folder")
    try:
        rec = get_sweep(target, store)
    except InputError as exc:
        q = exc.problems[0]
        raise InputError.single(f"no sweep folder '{target}', and {q.message}", field="ID-or-DIR", value=target,
                                expected="a sweep folder (the --out of `gigafactory sweep run`) or a sweep id from `gigafactory runs list`",
                                fix=q.fix, check="sweep-folder") from None
    folder = Path(rec["folder"])
    if not folder.is_dir():
        raise InputError.single(f"sweep {rec['id']} was recorded in {folder}, which no longer exists", field="ID-or-DIR", value=target,
                                fix="the folder was moved or deleted; name its new place as DIR", check="sweep-folder")
    return folder


@sweep_app.command("show")
def show(
    target: str = typer.Argument(..., metavar="ID-or-DIR", help="A sweep folder (the --out of `gigafactory sweep run`), or a sweep id from `gigafactory runs list`."),
    query: Optional[str] = typer.Option(None, "--query", help="DuckDB SQL over the view `points` (one row per point)."),
    store_opt: Optional[Path] = StoreOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Summarise a sweep (counts, Pareto front, Sobol' indices), or run SQL over its results table."""
    from gigafactory.sweep.run import refresh, require_sweep_extra

    require_sweep_extra()
    folder = _folder_of(target, store_opt)
    store, manifest, a = refresh(folder)
    if query:
        cols, rows = _query(folder, query)
        if as_json:
            print_json([dict(zip(cols, r)) for r in rows])
            return
        t = Table(title_justify="left")
        for c in cols:
            t.add_column(c, justify="right")
        for r in rows:
            t.add_row(*(_fmt(v) for v in r))
        out.print(t)
        return
    summary = {"name": manifest["name"], "points": manifest["points"], "recorded": a["ok"] + a["failed"], "ok": a["ok"], "failed": a["failed"],
               "feasible": a["feasible"], "pareto_points": a["pareto"], "sobol": a["sobol"], "parameters": manifest["paths"],
               "metrics": manifest["metrics"] + manifest["outputs"], "table": str(store.table_path)}
    if as_json:
        print_json(summary)
        return
    out.print(f"[bold]{manifest['name']}[/]: {summary['recorded']} of {manifest['points']} points recorded — {a['ok']} ok, {a['failed']} failed, "
              f"{a['feasible']} feasible, {len(a['pareto'])} on the Pareto front")
    out.print("columns: " + ", ".join(["point", "status", "error", "error_check", "seed"] + manifest["parameters"] + summary["metrics"]
                                      + ["feasible", "pareto"]), markup=False)
    _print_analysis(folder, a)
    if summary["recorded"] < manifest["points"]:
        out.print(f"[yellow]{manifest['points'] - summary['recorded']} points not run yet: `gigafactory sweep run` with the same spec and --out resumes[/]")


@sweep_app.command("export")
def export(
    target: str = typer.Argument(..., metavar="ID-or-DIR", help="A sweep folder, or a sweep id from `gigafactory runs list`."),
    to: Path = typer.Option(..., "--to", help="Output file: .csv, .parquet, .json (an array) or .jsonl (one object a line)."),
    query: Optional[str] = typer.Option(None, "--query", help="DuckDB SQL over `points`; every row and column when omitted."),
    store_opt: Optional[Path] = StoreOpt,
) -> None:
    """Write a sweep's results (or a query over them) to CSV, Parquet or JSON."""
    from gigafactory.sweep.run import refresh, require_sweep_extra
    from gigafactory.sweep.store import _sql_str, connect

    require_sweep_extra()
    fmt = EXPORT_FORMATS.get(to.suffix.lower())
    if fmt is None:
        raise InputError.single("unknown export format", file=str(to), field="--to", value=to.suffix, expected=f"one of {', '.join(EXPORT_FORMATS)}",
                                fix=f"--to {to.with_suffix('.csv')}", check="sweep-export")
    if not to.parent.exists():
        raise InputError.single("the folder does not exist", file=str(to), field="--to", fix=f"mkdir -p {to.parent}", check="sweep-export")
    store, _, _ = refresh(_folder_of(target, store_opt))
    con = connect(store.table_path)
    sql = query or "SELECT * FROM points ORDER BY point"
    try:
        con.execute(f"COPY ({sql}) TO '{_sql_str(str(to))}' {fmt}")
    except Exception as exc:  # noqa: BLE001 - the user's SQL or path
        raise InputError.single(f"export failed: {exc}", field="--query" if query else "--to", value=query or str(to), check="sweep-export") from None
    n = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
    out.print(f"wrote {n} rows to {to}")

