"""`gigafactory plan`: the main job."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from gigafactory.catalog import load_catalog
from gigafactory.cli.app import app
from gigafactory.cli.common import JsonOpt, ScenarioArg, StoreOpt, err, ms, out, print_json
from gigafactory.display import human


@app.command()
def plan(
    scenario: Optional[Path] = ScenarioArg,
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Output folder for result.json and report.html (default: ./plan-<scenario name>)."),
    store: Optional[Path] = StoreOpt,
    no_store: bool = typer.Option(False, "--no-store", help="Do not record the run in the run store."),
    samples: int = typer.Option(10_000, "--samples", min=0, max=1_000_000, help="Economics Monte Carlo samples."),
    exact: bool = typer.Option(False, "--exact", help="Solve the rollout's base plan with CP-SAT (slower) instead of the list scheduler."),
    workers: int = typer.Option(2, "--workers", min=1, max=64, help="Processes for the serving simulation's pools (results do not depend on it)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute every stage (the stage cache is in $GIGAFACTORY_HOME/cache)."),
    as_json: bool = JsonOpt,
) -> None:
    """The main job: design -> serving configuration per model -> simulation -> rollout -> operations -> devices -> demand -> economics -> build methods, with result.json, report.html and a run record."""  # noqa: E501
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from gigafactory.pipeline import RunOptions, StageCache, cache_enabled_by_env
    from gigafactory.plan import plan_result
    from gigafactory.report.html import render_report
    from gigafactory.runs.outputs import commit_run, preflight_output_dir
    from gigafactory.runs.store import preflight_store
    from gigafactory.scenario import default_scenario_path, load_scenario

    scn = load_scenario(scenario)
    text = (scenario or default_scenario_path()).read_text(encoding="utf-8")
    # every output path is checked before the work starts
    target = preflight_output_dir(out_dir or Path(f"plan-{scn.name}"))
    store_file = None if no_store else preflight_store(store)
    cache = StageCache() if cache_enabled_by_env() and not no_cache else None
    options = RunOptions(economics_samples=samples, rollout_exact=exact, sim_workers=workers)
    from gigafactory.pipeline.graph import Pipeline as Graph
    from gigafactory.pipeline.stages import STAGES

    steps = Graph(None, None, STAGES).order(["plan"])  # type: ignore[arg-type]  # the stages plan runs, in order
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("planning", total=len(steps))

        def progress(step: str) -> None:
            bar.update(task, description=f"planning: {step}", completed=steps.index(step))

        typed = plan_result(load_catalog(), scn, text, str(scenario) if scenario else None, progress, cache=cache, options=options)
        bar.update(task, description="writing outputs", completed=len(steps))
        result = typed.model_dump(mode="json")
        files, run_id = commit_run(result, target, store_file, render_report)
    if as_json:
        print_json({"run_id": run_id, "result": str(files["result"]), "report": str(files["report"])})
        return
    d, r, e = result["design"], result["rollout"], result["economics"]
    out.print(f"[bold]{scn.name}[/] — {len(d['sites'])} sites, {d['gpus']:,} GPUs in {d['racks']:,} racks, {d['facility_power_mw']:,.0f} MW facility "
              f"(PUE {d['pue']:.3f}), capex {human(d['capex_usd'], 'USD')} (USD {d['base_year']})")
    out.print(f"Deployment TTFT: first production token P50 [bold]{r['ttft_days']:.0f} days[/] ({r['first_token_date']}), P90 {r['ttft_days_p90']:.0f} days; "
              f"full capacity P50 {r['full_capacity_days']:.0f} days")
    dm = result["demand"]
    gw_year = dm["revenue_per_gw_year_usd"]
    out.print(f"Demand ({dm['mode']}): utilisation {dm['utilisation']:.0%} of GPU-hours in service, {dm['unserved_share']:.1%} of token demand unserved; "
              f"revenue {human(dm['revenue_usd'], 'USD')} over the horizon, {human(gw_year, 'USD') if gw_year else '—'} per GW-year in its last year "
              f"({dm['revenue_mix'].get('contracts', 0):.0%} contracts, {dm['revenue_mix'].get('tokens', 0):.0%} tokens)")
    out.print(f"Build method: [bold]{result['methods']['headline']}[/] (`gigafactory rollout --compare-methods` for every method)")
    t = Table(title="Serving (best configuration under each model's SLO)", title_justify="left")
    for col in ("model", "configuration", "tok/s/GPU", "tok/s/user", "TTFT p99 (est.)", "TPOT p99 (est.)", "SLO", "cost / Mtok"):
        t.add_column(col, justify="left" if col in ("model", "configuration") else "right")
    for model, s in result["serving"].items():
        cfg = s["config"] or {}
        label = f"{cfg.get('mode', '—')} {cfg.get('layout', '')}" + (f" (prefill {cfg['prefill_layout']})" if cfg.get("prefill_layout") else "")
        c = e["cost_per_mtok_usd"].get(model)
        t.add_row(model, label, f"{s['tok_s_gpu']:,.0f}", f"{s['tok_s_user'] or 0:,.1f}",
                  "—" if s["ttft_p99_s"] is None else f"{s['ttft_p99_s'] * 1e3:,.0f} ms", "—" if s["tpot_p99_s"] is None else f"{s['tpot_p99_s'] * 1e3:,.1f} ms",
                  f"{s['slo']['ttft_p99_s'] * 1e3:,.0f} / {s['slo']['tpot_p99_s'] * 1e3:,.0f} ms", "—" if c is None else f"{c:.3f} USD")
    out.print(t)
    sim = result["simulation"]
    out.print(f"Serving simulation ({sim['trace']}, {sim['duration_s']:,.0f} s): fleet TTFT p99 {ms(sim['ttft_s']['p99'])}, TPOT p99 {ms(sim['tpot_s']['p99'])}, "
              + ", ".join(f"{b['models'][0]} SLO met by {b['slo_attainment']:.1%}" for b in sim["pools"] if b.get("slo_attainment") is not None)
              + f"; {sim['energy_j_per_token'] or 0:.3f} J/token (GPU)")
    irr_text = "—" if e["irr"] is None else f"{e['irr']:.1%}"
    pb = "never" if e["payback_months"] is None else f"{e['payback_months']:.1f} months"
    out.print(f"Economics: NPV {human(e['npv_usd'], 'USD')}, IRR {irr_text}, payback {pb}, {e['cost_per_gpu_hour_usd']:.2f} USD per GPU-hour, "
              f"cost of delay {human(e['cost_of_delay_usd_per_week'], 'USD')} per week")
    for w in e["warnings"]:
        out.print(f"[yellow]warning: {w}[/]")
    out.print(f"wrote {files['result']} and {files['report']}" + (f"; run recorded as [bold]{run_id}[/]" if run_id else ""))
