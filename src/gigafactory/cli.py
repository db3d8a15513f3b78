"""The `gigafactory` command line.

Exit codes: 0 success, 2 bad input (a message naming file, field, value and fix),
1 internal error.  `--json` prints machine-readable output on stdout.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from gigafactory import __version__
from gigafactory.catalog import KINDS, load_catalog
from gigafactory.catalog.schema import schema_rows
from gigafactory.display import human
from gigafactory.errors import InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    help="gigafactory — open digital twin of an AI factory: catalog, design, rollout, economics, serving.",
)
catalog_app = typer.Typer(no_args_is_help=True, help="Browse the sourced catalog (hardware, models, network, facility, regions, costs).")
scenario_app = typer.Typer(no_args_is_help=True, help="Create scenario files.")
app.add_typer(catalog_app, name="catalog")
app.add_typer(scenario_app, name="scenario")

# Piped output (files, CI logs, tests) gets a wide fixed width instead of Rich's 80 columns,
# so tables are not truncated; a terminal uses its own width.
_WIDTH = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "160"))
out = Console(soft_wrap=False, width=_WIDTH)
err = Console(stderr=True, width=_WIDTH)

ScenarioArg = typer.Argument(None, help="Scenario YAML file; the bundled default scenario when omitted.", show_default=False)
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def _version_callback(value: bool) -> None:
    if value:
        cat = load_catalog()
        typer.echo(f"gigafactory {__version__} (catalog {cat.version})")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(None, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."),
) -> None:
    """gigafactory — open digital twin of an AI factory."""


# --------------------------------------------------------------------------- check


@app.command()
def check(scenario: Optional[Path] = ScenarioArg, as_json: bool = JsonOpt) -> None:
    """Validate a scenario file: schema, catalog ids, magnitudes, SLO feasibility.

    Exits 0 when valid and 2 with a message per problem (file, line, field, value, expected, fix) when not.
    """
    from gigafactory.scenario import load_scenario
    from gigafactory.summary import scenario_summary

    try:
        scn = load_scenario(scenario)
    except InputError as exc:
        if as_json:
            _print_json({"valid": False, "file": str(scenario) if scenario else None, "problems": [p.as_dict() for p in exc.problems]})
            raise typer.Exit(2)
        raise
    summary = scenario_summary(scn, load_catalog())
    if as_json:
        _print_json({"valid": True, "file": str(scenario) if scenario else "default (bundled)", **summary})
        return
    _print_scenario_summary(summary, scenario)


def _print_scenario_summary(summary: dict[str, Any], path: Optional[Path]) -> None:
    where = str(path) if path else "bundled default scenario"
    out.print(f"[bold green]✓ valid[/] {where}: [bold]{summary['name']}[/] — seed {summary['seed']}, catalog {summary['catalog_version']}")
    t = Table(title="Sites", title_justify="left")
    for col in ("site", "region", "power", "system", "rack max / typical", "≤ racks (power-bound)", "climate °C (min–max month)", "power price", "grid carbon"):
        t.add_column(col, justify="right" if col not in ("site", "region", "system") else "left")
    for s in summary["sites"]:
        t.add_row(
            s["name"],
            s["region_name"],
            f"{s['power_mw']:g} MW {s['power_basis']}",
            s["system"],
            f"{s['unit_max_power_kw']:g} / {s['unit_typical_power_kw']:g} kW",
            f"{s['max_units_by_power']:,}",
            f"{s['coldest_month_c']:.1f} – {s['warmest_month_c']:.1f}",
            f"{s['electricity_price_usd_per_mwh']:.0f} USD/MWh",
            f"{s['grid_carbon_kg_per_mwh']:.0f} kg/MWh",
        )
    out.print(t)
    w = Table(title="Workloads", title_justify="left")
    for col in ("model", "share", "precision", "ISL / OSL", "SLO p99 TTFT / TPOT", "TPOT floor", "weights"):
        w.add_column(col, justify="left" if col == "model" else "right")
    for x in summary["workloads"]:
        w.add_row(
            f"{x['model']} ({x['architecture']}, {human(x['total_params'], 'count')} params)",
            f"{x['share']:.0%}",
            x["precision"],
            f"{x['isl_tokens']:,} / {x['osl_tokens']:,}",
            f"{x['ttft_p99_ms']:g} ms / {x['tpot_p99_ms']:g} ms",
            f"{x['tpot_floor_ms']:.3g} ms",
            human(x["weights_bytes"], "B"),
        )
    out.print(w)
    out.print(
        f"Programme: {summary['total_power_mw']:g} MW over {len(summary['sites'])} sites, "
        f"build method [bold]{summary['rollout_method']}[/] from {summary['start_date']}, "
        f"cost profile {summary['cost_profile']}, {summary['device_count']:,} devices offloading to {summary['offload_model'] or '—'}."
    )
    out.print("[dim]Rack counts above are upper bounds from power alone; `gigafactory design` (coming) sizes the full factory.[/]")


# --------------------------------------------------------------------------- plan


@app.command()
def plan(
    scenario: Optional[Path] = ScenarioArg,
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Output folder for result.json and report.html (default: ./plan-<scenario name>)."),
    store: Optional[Path] = typer.Option(None, "--store", help="Run-store database (default: $GIGAFACTORY_HOME/runs.sqlite or ~/.local/share/gigafactory)."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not record the run in the run store."),
    samples: int = typer.Option(10_000, "--samples", min=0, max=1_000_000, help="Economics Monte Carlo samples."),
    as_json: bool = JsonOpt,
) -> None:
    """The main job: design -> serving configuration per model -> rollout -> economics, with result.json, report.html and a run record."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from gigafactory.plan import run_plan, write_outputs
    from gigafactory.runs.store import record
    from gigafactory.scenario import default_scenario_path, load_scenario

    scn = load_scenario(scenario)
    text = (scenario or default_scenario_path()).read_text(encoding="utf-8")
    target = out_dir or Path(f"plan-{scn.name}")
    if target.exists() and not target.is_dir():
        raise InputError.single("the output path exists and is not a folder", file=str(target), fix="choose another --out")
    steps = ["design", "serving", "simulate", "rollout", "economics", "frontiers"]
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("planning", total=len(steps))

        def progress(step: str) -> None:
            bar.update(task, description=f"planning: {step}", completed=steps.index(step))

        result = run_plan(load_catalog(), scn, text, str(scenario) if scenario else None, progress, economics_samples=samples)
        bar.update(task, completed=len(steps))
    files = write_outputs(result, target)
    run_id = None if no_store else record(result, target, store)
    if as_json:
        _print_json({"run_id": run_id, "result": str(files["result"]), "report": str(files["report"])})
        return
    d, r, e = result["design"], result["rollout"], result["economics"]
    out.print(f"[bold]{scn.name}[/] — {len(d['sites'])} sites, {d['gpus']:,} GPUs in {d['racks']:,} racks, {d['facility_power_mw']:,.0f} MW facility "
              f"(PUE {d['pue']:.3f}), capex {human(d['capex_usd'], 'USD')} (USD {d['base_year']})")
    out.print(f"Deployment TTFT: first production token P50 [bold]{r['ttft_days']:.0f} days[/] ({r['first_token_date']}), P90 {r['ttft_days_p90']:.0f} days; "
              f"full capacity P50 {r['full_capacity_days']:.0f} days")
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
    out.print(f"Serving simulation ({sim['trace']}, {sim['duration_s']:,.0f} s): fleet TTFT p99 {_ms(sim['ttft_s']['p99'])}, TPOT p99 {_ms(sim['tpot_s']['p99'])}, "
              + ", ".join(f"{b['models'][0]} SLO met by {b['slo_attainment']:.1%}" for b in sim["pools"] if b.get("slo_attainment") is not None)
              + f"; {sim['energy_j_per_token'] or 0:.3f} J/token (GPU)")
    irr_text = "—" if e["irr"] is None else f"{e['irr']:.1%}"
    pb = "never" if e["payback_months"] is None else f"{e['payback_months']:.1f} months"
    out.print(f"Economics: NPV {human(e['npv_usd'], 'USD')}, IRR {irr_text}, payback {pb}, {e['cost_per_gpu_hour_usd']:.2f} USD per GPU-hour, "
              f"cost of delay {human(e['cost_of_delay_usd_per_week'], 'USD')} per week")
    for w in e["warnings"]:
        out.print(f"[yellow]warning: {w}[/]")
    out.print(f"wrote {files['result']} and {files['report']}" + (f"; run recorded as [bold]{run_id}[/]" if run_id else ""))


# --------------------------------------------------------------------------- simulate


@app.command()
def simulate(
    scenario: Optional[Path] = ScenarioArg,
    trace: Optional[str] = typer.Option(None, "--trace", help="Bundled trace name (azure-conv-2023, azure-code-2023, mooncake-conversation, "
                                        "mooncake-synthetic, sharegpt, arxiv-summarization), poisson, gamma-cv<X>, diurnal, or a CSV/JSONL path."),
    rate: Optional[float] = typer.Option(None, "--rate", min=0.0, help="Whole-fleet arrival rate [requests/s] (default: the scenario's, else each pool at finance.utilisation of its modelled capacity)."),
    duration: Optional[float] = typer.Option(None, "--duration", min=0.0, help="Simulated time of arrivals [s] (default: the scenario's simulation.duration_s)."),
    router: Optional[str] = typer.Option(None, "--router", help="round-robin, least-outstanding, prefix-aware or central-queue (default: the scenario's)."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Processes to run pools in parallel."),
    as_json: bool = JsonOpt,
) -> None:
    """Discrete-event serving simulation of the scenario's fleet on a real or synthetic trace: TTFT/TPOT percentiles, goodput, utilisation, energy."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from gigafactory.scenario import load_scenario
    from gigafactory.simulate.run import simulate_scenario

    if rate is not None and rate <= 0:
        raise InputError.single("the arrival rate must be positive", field="--rate", value=rate, expected="requests per second > 0", fix="e.g. --rate 100")
    if duration is not None and duration <= 0:
        raise InputError.single("the duration must be positive", field="--duration", value=duration, expected="seconds > 0", fix="e.g. --duration 3600")
    scn = load_scenario(scenario)
    cat = load_catalog()
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("simulating", total=1.0)

        def progress(pool: str, frac: float) -> None:
            bar.update(task, description=f"simulating {pool}", completed=frac)

        result = simulate_scenario(cat, scn, trace=trace, rate_rps=rate, duration_s=duration, router=router, workers=workers, progress=progress)
    if as_json:
        _print_json(result)
        return
    out.print(f"[bold]Serving simulation — {scn.name}[/]: trace {result['trace']}, router {result['router']}, {result['duration_s']:,.0f} s of arrivals "
              f"({result['rate_rps_represented']:,.0f} req/s over {result['gpus_represented']:,.0f} GPUs)")
    t = Table(title="Per pool (p50 / p99)", title_justify="left")
    for col in ("pool", "configuration", "simulated", "TTFT", "TPOT", "SLO met", "tok/s/GPU", "GPU util", "J/token"):
        t.add_column(col, justify="left" if col in ("pool", "configuration") else "right")
    for b in result["pools"]:
        u = b["units"]
        sim_txt = f"{u['decode_replicas_simulated']}" + (f"+{u['prefill_replicas_simulated']}p" if u["prefill_replicas_simulated"] else "") + \
            f" of {b['replicas_represented']:,}" + (" (per rank)" if b["per_rank_mean_field"] else "")
        att = b.get("slo_attainment")
        t.add_row(b["pool"], f"{b['mode']} {b['layout']}", sim_txt,
                  _ms_pair(b["ttft_s"]), _ms_pair(b["tpot_s"]), "—" if att is None else f"{att:.1%}",
                  f"{b['throughput_tok_s'] / b['gpus_represented']:,.0f}", f"{b['gpu_utilization']:.0%}",
                  "—" if b["energy_j_per_token"] is None else f"{b['energy_j_per_token']:.3f}")
    out.print(t)
    out.print(f"Fleet: TTFT p50/p90/p99 {_ms(result['ttft_s']['p50'])} / {_ms(result['ttft_s']['p90'])} / {_ms(result['ttft_s']['p99'])}, "
              f"TPOT {_ms(result['tpot_s']['p50'])} / {_ms(result['tpot_s']['p90'])} / {_ms(result['tpot_s']['p99'])}; "
              f"goodput {result['goodput_rps']:,.0f} req/s, {result['throughput_tok_s']:,.0f} output tok/s, "
              f"GPU utilisation {result['gpu_utilization']:.0%}, {result['energy_j_per_token'] or 0:.3f} J/token (GPU)")
    out.print(f"Requests simulated: {result['arrived']:,} arrived = {result['completed']:,} completed + {result['dropped']:,} dropped + "
              f"{result['in_flight']:,} in flight; {result['events']:,} events")


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x * 1e3:,.0f} ms" if x >= 0.1 else f"{x * 1e3:,.1f} ms"


def _ms_pair(p: dict[str, float | None]) -> str:
    return f"{_ms(p['p50'])} / {_ms(p['p99'])}"


# --------------------------------------------------------------------------- runs

runs_app = typer.Typer(no_args_is_help=True, help="The run store: every plan is recorded; list, show and compare runs.")
app.add_typer(runs_app, name="runs")
StoreOpt = typer.Option(None, "--store", help="Run-store database (default: $GIGAFACTORY_HOME/runs.sqlite or ~/.local/share/gigafactory).")


@runs_app.command("list")
def runs_list(store: Optional[Path] = StoreOpt, as_json: bool = JsonOpt) -> None:
    """List recorded plans."""
    from gigafactory.runs.store import list_runs

    rows = list_runs(store)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        out.print("no runs recorded yet: run `gigafactory plan`")
        return
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
        _print_json(run)
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
        _print_json(diff)
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


# --------------------------------------------------------------------------- design


@app.command()
def design(
    scenario: Optional[Path] = ScenarioArg,
    compare: bool = typer.Option(True, "--compare/--no-compare", help="Also compare the scenario's candidate systems by tokens/s per MW and per capex dollar."),
    as_json: bool = JsonOpt,
) -> None:
    """Design the factory: racks, SUs, fabric, power chain, cooling, PUE/WUE, floor, BOM and capex per site."""
    from gigafactory.design.choice import compare_systems
    from gigafactory.design.factory import design_factory
    from gigafactory.scenario import load_scenario

    scn = load_scenario(scenario)
    cat = load_catalog()
    result = design_factory(cat, scn)
    if compare:
        with err.status("comparing candidate systems (performance model search per workload)…"):
            result["design_choice"] = compare_systems(cat, scn, design_factory)
    if as_json:
        _print_json(result)
        return
    t = Table(title=f"Factory design — {scn.name} (capex in USD {result['base_year']})", title_justify="left")
    cols = ("site", "system", "cooling", "SUs", "racks", "GPUs", "IT MW", "facility MW", "PUE", "WUE L/kWh", "floor m²", "capex", "capex/MW IT", "limit")
    for c in cols:
        t.add_column(c, justify="left" if c in ("site", "system", "cooling", "limit") else "right")
    rows = result["sites"] + [{**result["total"], "name": "total", "system": "", "cooling": "", "limiting_factor": ""}]
    for d in rows:
        t.add_row(d["name"], d["system"], d["cooling"], f"{d['scalable_units']:,}", f"{d['racks']:,}", f"{d['gpus']:,}", f"{d['it_power_mw']:,.1f}",
                  f"{d['facility_power_mw']:,.1f}", f"{d['pue']:.3f}", f"{d['wue_l_per_kwh']:.2f}", f"{d['floor_area_m2']:,.0f}",
                  human(d["capex_usd"], "USD"), human(d["capex_per_mw_it_usd"], "USD"), d["limiting_factor"])
    out.print(t)
    b = Table(title="Capex breakdown", title_justify="left")
    b.add_column("category")
    b.add_column("USD", justify="right")
    b.add_column("share", justify="right")
    tot = result["total"]["capex_usd"]
    for k, v in sorted(result["total"]["capex_breakdown_usd"].items(), key=lambda kv: -kv[1]):
        b.add_row(k, human(v, "USD"), f"{v / tot:.1%}")
    out.print(b)
    bom = Table(title="Bill of materials (programme)", title_justify="left")
    for c in ("category", "item", "count", "unit cost", "total", "source"):
        bom.add_column(c, justify="right" if c in ("count", "unit cost", "total") else "left", overflow="fold", max_width=60 if c == "source" else None)
    for line in sorted(result["total"]["bom"], key=lambda x: -x["total_usd"]):
        unit = "—" if line["unit_cost_usd"] is None else (f"{line['unit_cost_usd']:.3g} /W" if "per W" in line["item"] or line["item"].startswith(("shell", "site", "white", "back", "office")) else human(line["unit_cost_usd"], "USD"))
        count = f"{line['count'] / 1e6:,.1f} MW" if unit.endswith("/W") else f"{line['count']:,.0f}"
        bom.add_row(line["category"], line["item"], count, unit, human(line["total_usd"], "USD"), line["source"])
    out.print(bom)
    if compare and result.get("design_choice"):
        dc = result["design_choice"]
        c = Table(title="Design choice: candidate systems for this workload mix", title_justify="left")
        for col in ("system", "GPUs", "facility MW", "capex", "tok/s (mix)", "tok/s per MW", "tok/s per M USD"):
            c.add_column(col, justify="left" if col == "system" else "right")
        for r in dc["candidates"]:
            if not r["feasible"]:
                c.add_row(r["system"], "—", "—", "—", "—", "—", f"infeasible: {r['reason']}")
                continue
            c.add_row(r["system"] + (" (announced)" if r["announced"] else ""), f"{r['gpus']:,}", f"{r['facility_power_mw']:,.0f}", human(r["capex_usd"], "USD"),
                      f"{r['tok_s']:,.0f}", f"{r['tok_s_per_mw']:,.0f}", f"{r['tok_s_per_musd']:,.1f}")
        out.print(c)
        if dc["why"]:
            out.print(f"[bold]Winner per MW: {dc['winner_per_mw']}; per capex dollar: {dc['winner_per_usd']}.[/] {dc['why']}")


# --------------------------------------------------------------------------- rollout


@app.command()
def rollout(
    scenario: Optional[Path] = ScenarioArg,
    samples: Optional[int] = typer.Option(None, "--samples", min=0, max=100_000, help="Monte Carlo samples (default: the scenario's)."),
    gantt: bool = typer.Option(False, "--gantt", help="Include every task's start and end in the JSON."),
    as_json: bool = JsonOpt,
) -> None:
    """Plan the rollout: deployment time to first token (P10/P50/P90), capacity ramp, critical path, headcount."""
    from gigafactory.design.choice import mix_tok_s_per_gpu
    from gigafactory.design.factory import design_factory
    from gigafactory.economics.run import serving_rates
    from gigafactory.rollout.plan import plan_rollout
    from gigafactory.scenario import load_scenario

    scn = load_scenario(scenario)
    cat = load_catalog()
    with err.status("designing the factory…"):
        design_result = design_factory(cat, scn)
    with err.status("serving rates per system (performance model)…"):
        tok = mix_tok_s_per_gpu(design_result, serving_rates(cat, scn, design_result))
    with err.status("solving the base plan (CP-SAT) and sampling risk…"):
        result = plan_rollout(cat, scn, design_result, tok, samples=samples)
    if not gantt:
        result.pop("gantt")
    if as_json:
        _print_json(result)
        return
    out.print(f"[bold]Rollout — {scn.name}[/], method [bold]{result['method']}[/] from {result['start_date']}")
    out.print(f"Deployment TTFT (first production token): P50 [bold]{result['ttft_days']:.0f} days[/] ({result['first_token_date']}), "
              f"P10 {result['ttft_days_p10'] or float('nan'):.0f}, P90 {result['ttft_days_p90'] or float('nan'):.0f}; base plan {result['plan_ttft_days']:.0f} days")
    out.print(f"Full capacity: P50 {result['full_capacity_days']:.0f} days (P10 {result['full_capacity_days_p10'] or float('nan'):.0f}, "
              f"P90 {result['full_capacity_days_p90'] or float('nan'):.0f}); base plan {result['plan_full_capacity_days']:.0f} days")
    s = result["solver"]
    out.print(f"CP-SAT: {s['status']}, optimality gap {s['optimality_gap']:.1%}, {s['tasks']:,} tasks, {s['wall_s']:.1f} s; "
              f"peak on-site headcount {result['peak_headcount']:,}; permanent staff {result['permanent_staff_fte']:,.0f} FTE")
    c = Table(title="Tasks most often on the critical path to first token", title_justify="left")
    c.add_column("task")
    c.add_column("share of samples", justify="right")
    for row in result["critical_path"][:10]:
        c.add_row(row["task"], f"{row['share']:.0%}")
    out.print(c)
    r = Table(title="Capacity ramp (every 4 weeks)", title_justify="left")
    for col in ("week", "date", "GPUs online", "tokens/s online"):
        r.add_column(col, justify="right")
    for row in result["ramp"][::4] + ([result["ramp"][-1]] if result["ramp"] else []):
        r.add_row(str(row["week"]), row["date"], f"{row['gpus']:,}", f"{row['tok_s']:,.0f}")
    out.print(r)


# --------------------------------------------------------------------------- economics


@app.command()
def economics(
    scenario: Optional[Path] = ScenarioArg,
    samples: int = typer.Option(10_000, "--samples", min=0, max=1_000_000, help="Monte Carlo samples over uncertain inputs."),
    as_json: bool = JsonOpt,
) -> None:
    """Cash flows, $/GPU-hour and $/Mtok per model, NPV, IRR, payback, cost of delay, tornado and Monte Carlo."""
    from gigafactory.design.choice import mix_tok_s_per_gpu
    from gigafactory.design.factory import design_factory
    from gigafactory.economics.run import run_economics, serving_rates
    from gigafactory.rollout.plan import plan_rollout
    from gigafactory.scenario import load_scenario

    scn = load_scenario(scenario)
    cat = load_catalog()
    with err.status("designing, rating and scheduling the factory…"):
        design_result = design_factory(cat, scn)
        serving = serving_rates(cat, scn, design_result)
        plan = plan_rollout(cat, scn, design_result, mix_tok_s_per_gpu(design_result, serving), samples=min(scn.rollout.monte_carlo_samples, 300))
    with err.status("cash flows, sensitivity and Monte Carlo…"):
        result = run_economics(cat, scn, design_result, plan, serving, samples)
    if as_json:
        _print_json(result)
        return
    a = result["assumptions"]
    out.print(f"[bold]Economics — {scn.name}[/] (USD {a['base_year']}, {a['horizon_months']} months, WACC {a['wacc']:.1%}, tax {a['tax_rate']:.0%}, utilisation {a['utilisation']:.0%})")
    t = Table(title="Headline", title_justify="left")
    t.add_column("figure")
    t.add_column("value", justify="right")
    irr_text = "—" if result["irr"] is None else f"{result['irr']:.1%}"
    pb = result["payback_months"]
    for k, v in (("levelised cost per GPU-hour", f"{result['cost_per_gpu_hour_usd']:.2f} USD"),
                 ("  per sold GPU-hour (at utilisation)", f"{result['cost_per_sold_gpu_hour_usd']:.2f} USD"),
                 ("NPV", human(result["npv_usd"], "USD")), ("IRR", irr_text),
                 ("payback", "never within the horizon" if pb is None else f"{pb:.1f} months"),
                 ("cost of delay", f"{human(result['cost_of_delay_usd_per_week'], 'USD')} per week of slip")):
        t.add_row(k, v)
    for model, c in result["cost_per_mtok_usd"].items():
        t.add_row(f"cost per million output tokens, {model}", "—" if c is None else f"{c:.3f} USD")
    mc = result["monte_carlo"]
    if mc:
        t.add_row(f"NPV P10 / P50 / P90 ({mc['samples']:,} samples)", f"{human(mc['npv_p10_usd'], 'USD')} / {human(mc['npv_p50_usd'], 'USD')} / {human(mc['npv_p90_usd'], 'USD')}")
        t.add_row("probability NPV < 0", f"{mc['probability_npv_negative']:.0%}")
    out.print(t)
    tor = Table(title="Tornado: NPV at the low / high end of each input", title_justify="left")
    for col in ("input", "range", "NPV low", "NPV high", "swing"):
        tor.add_column(col, justify="left" if col == "input" else "right")
    for r in result["tornado"]:
        tor.add_row(r["input"], f"{r['low']:g} – {r['high']:g}", human(r["npv_low_usd"], "USD"), human(r["npv_high_usd"], "USD"), human(r["swing_usd"], "USD"))
    out.print(tor)
    for m in result["market_check"]:
        out.print(f"{m['model']}: list price {m['list_price_output_usd_per_mtok']:.2f} USD/Mtok output = {m['price_over_cost']:.1f}x the modelled cost")
    for w in result["warnings"]:
        out.print(f"[yellow]warning: {w}[/]")
    for note in result["notes"]:
        out.print(f"[dim]note: {note}[/]")


# --------------------------------------------------------------------------- perf


@app.command()
def perf(
    model: str = typer.Option(..., "--model", help="Model id, alias or Hugging Face id."),
    system: str = typer.Option(..., "--system", help="System id (or GPU id such as h100-sxm)."),
    isl: int = typer.Option(..., "--isl", min=1, max=10_000_000, help="Input (prompt) length [tokens]."),
    osl: int = typer.Option(..., "--osl", min=1, max=10_000_000, help="Output length [tokens]."),
    precision: str = typer.Option("fp8", "--precision", help="bf16, fp8 or fp4."),
    ttft_slo_ms: Optional[float] = typer.Option(None, "--ttft-slo-ms", help="Limit on time to first token [ms]."),
    tpot_slo_ms: Optional[float] = typer.Option(None, "--tpot-slo-ms", help="Limit on time per output token [ms]."),
    framework: str = typer.Option("trtllm", "--framework", help="Serving engine whose calibration to use: trtllm, vllm, sglang."),
    draft_tokens: int = typer.Option(0, "--draft-tokens", min=0, max=8, help="Speculative / MTP draft tokens per step."),
    mode: str = typer.Option("both", "--mode", help="aggregated, disaggregated or both."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write the Pareto frontier as an interactive HTML plot."),
    as_json: bool = JsonOpt,
) -> None:
    """Search serving configurations: Pareto frontier of tok/s/GPU vs tok/s/user, best point under SLOs."""
    from gigafactory.perf.query import perf_query

    modes = {"both": ("aggregated", "disaggregated"), "aggregated": ("aggregated",), "disaggregated": ("disaggregated",)}
    if mode not in modes:
        raise InputError.single(f"unknown mode '{mode}'", field="--mode", value=mode, expected="aggregated, disaggregated or both", fix="--mode both")
    if plot is not None and plot.suffix.lower() not in (".html", ".htm"):
        raise InputError.single("the plot is written as HTML", field="--plot", value=str(plot), expected="a path ending in .html", fix=f"--plot {plot.with_suffix('.html')}")
    body, result = perf_query(load_catalog(), model, system, isl, osl, precision, ttft_slo_ms, tpot_slo_ms, framework, draft_tokens, modes[mode])
    if plot is not None:
        from gigafactory.perf.plot import frontier_html

        plot.write_text(frontier_html(body, result), encoding="utf-8")
        body["plot"] = str(plot)
    if as_json:
        _print_json(body)
        return
    out.print(f"[bold]{body['model']}[/] on [bold]{body['system']}[/] ({body['precision']}, ISL {isl} / OSL {osl}) — "
              f"{body['n_evaluated']} configurations evaluated; efficiency: {body['efficiency']['source']}")
    t = Table(title="Pareto frontier (output tok/s/GPU vs tok/s/user)", title_justify="left")
    for col in ("mode", "layout", "prefill", "conc./inst.", "GPUs", "tok/s/GPU", "tok/s/user", "TTFT ms", "TPOT ms"):
        t.add_column(col, justify="left" if col in ("mode", "layout", "prefill") else "right")
    best = result.best
    for p in result.frontier:
        mark = " [bold green]◀ best under SLO[/]" if p is best else ""
        pre = f"{p.prefill_instances}×{p.prefill_layout.label()} + {p.decode_instances}×" if p.prefill_layout else ""
        t.add_row(p.mode, p.layout.label() + mark, pre, str(p.concurrency), str(p.gpus), f"{p.tok_s_gpu:,.0f}", f"{p.tok_s_user:,.1f}", f"{p.ttft_s * 1e3:,.0f}", f"{p.tpot_s * 1e3:,.1f}")
    out.print(t)
    if ttft_slo_ms or tpot_slo_ms:
        if best is None:
            out.print("[bold red]No configuration meets the SLO.[/]")
        elif best not in result.frontier:
            out.print(f"Best under SLO: {best.mode} {best.layout.label()} at {best.concurrency} sequences: {best.tok_s_gpu:,.0f} tok/s/GPU, {best.tok_s_user:,.1f} tok/s/user")
    if plot is not None:
        out.print(f"plot written to {plot}")


@app.command()
def calibrate(
    measured: Path = typer.Option(..., "--measured", help="Measured-results CSV (format of shared/data/measured/calibration.csv)."),
    out_path: Optional[Path] = typer.Option(None, "--out", help="Where to write the fitted parameters (default: the package's perf/data/efficiency.yaml)."),
    as_json: bool = JsonOpt,
) -> None:
    """Fit the roofline efficiency parameters per hardware generation and engine on measured rows."""
    from gigafactory.perf.calibrate import MIN_ROWS, MIN_ROWS_PARTIAL
    from gigafactory.perf.calibrate import calibrate as run_calibration
    from gigafactory.perf.calibrate import report_rows, write_efficiency_file
    from gigafactory.perf.efficiency import efficiency_path, load_efficiencies
    from gigafactory.perf.validate import read_measured_csv

    rows = read_measured_csv(measured)
    target = out_path or efficiency_path()
    if target.parent and not target.parent.exists():
        raise InputError.single("the folder does not exist", file=str(target), fix=f"create {target.parent} first")
    with err.status("fitting efficiency parameters…"):
        reports = run_calibration(rows, load_catalog(), str(measured), progress=None if as_json else (lambda msg: err.print(msg)))
    if not reports:
        raise InputError.single("no (generation, engine) group has enough usable rows to fit", file=str(measured),
                                expected=f"at least {MIN_ROWS} usable rows (trust 1-3) of TensorRT-LLM on one hardware generation "
                                f"(another engine then needs {MIN_ROWS_PARTIAL})", fix="add measured rows")
    write_efficiency_file(reports, target, str(measured))
    load_efficiencies.cache_clear()
    table = report_rows(reports)
    if as_json:
        _print_json({"written": str(target), "groups": table})
        return
    t = Table(title=f"Calibrated efficiency → {target}", title_justify="left")
    for col in ("generation", "engine", "rows", "compute", "memory", "collective µs", "step overhead ms", "expert", "median APE", "p90 APE"):
        t.add_column(col, justify="left" if col in ("generation", "engine") else "right")
    for r in table:
        t.add_row(r["generation"], r["engine"], str(r["n_rows"]), f"{r['compute']:.3f}", f"{r['memory']:.3f}", f"{r['collective_latency_s'] * 1e6:.1f}",
                  f"{r['step_overhead_s'] * 1e3:.2f}", f"{r['expert']:.3f}", f"{r['median_ape']:.1%}", f"{r['p90_ape']:.1%}")
    out.print(t)
    out.print("[dim]APE here is in-sample (the rows the fit saw); see `gigafactory validate` and docs/accuracy.md for held-out figures.[/]")


@app.command()
def validate(
    measured: Path = typer.Option(..., "--measured", help="Measured-results CSV (format of shared/data/measured/calibration.csv)."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Write rows and summary as JSON to this file ('-' for stdout)."),
    efficiency: Optional[Path] = typer.Option(None, "--efficiency", help="Efficiency parameters file (default: the calibrated package file)."),
) -> None:
    """Predict every row of a measured CSV by its scenario's rule and report the errors."""

    from gigafactory.perf.efficiency import load_efficiencies
    from gigafactory.perf.validate import read_measured_csv, validate_rows

    rows = read_measured_csv(measured)
    if efficiency is not None and not efficiency.exists():
        raise InputError.single("no such file", file=str(efficiency), fix="give a file written by `gigafactory calibrate --out`")
    table = load_efficiencies(str(efficiency) if efficiency else None)
    preds, summary = validate_rows(rows, load_catalog(), table)
    body = {"rows": [p.as_dict() for p in preds], "summary": summary}
    if json_out == "-":
        _print_json(body)
        return
    if json_out:
        target = Path(json_out)
        if target.parent and not target.parent.exists():
            raise InputError.single("the folder does not exist", file=json_out, fix=f"create {target.parent} first")
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(body, indent=1, default=str), encoding="utf-8")
        tmp.replace(target)
    t = Table(title=f"Predicted vs measured output tok/s/GPU — {measured}", title_justify="left")
    for col in ("id", "scenario", "measured", "predicted", "APE", "config / reason"):
        t.add_column(col, justify="right" if col in ("measured", "predicted", "APE") else "left", overflow="fold")
    for p in preds:
        if p.status == "ok":
            cfg = p.config or {}
            t.add_row(p.id, p.meta["scenario"], f"{p.measured_tok_s_gpu:,.0f}", f"{p.predicted_tok_s_gpu:,.0f}", f"{p.ape:.0%}",
                      f"{cfg.get('mode', '')} {cfg.get('layout', '')} c={cfg.get('concurrency_per_instance', '')}")
        else:
            t.add_row(p.id, p.meta["scenario"], f"{p.measured_tok_s_gpu or 0:,.0f}", "—", "—", f"[yellow]unsupported:[/] {p.reason}")
    out.print(t)
    s = Table(title="Absolute percentage error", title_justify="left")
    for col in ("group", "value", "rows ok", "median APE", "p90 APE"):
        s.add_column(col, justify="left" if col in ("group", "value") else "right")

    def fmt(x):
        return "—" if x is None else f"{x:.1%}"

    s.add_row("all", "", str(summary["n_ok"]), fmt(summary["median_ape"]), fmt(summary["p90_ape"]))
    s.add_row("trust 1-2", "", str(summary["trust_1_2"]["n_ok"]), fmt(summary["trust_1_2"]["median_ape"]), fmt(summary["trust_1_2"]["p90_ape"]))
    for key in ("source_kind", "hardware", "model"):
        for value, st in summary["by"][key].items():
            s.add_row(key, value, str(st["n_ok"]), fmt(st["median_ape"]), fmt(st["p90_ape"]))
    out.print(s)
    out.print(f"{summary['n_rows']} rows: {summary['n_ok']} predicted, {summary['n_unsupported']} unsupported "
              + (f"({'; '.join(f'{k}: {v}' for k, v in summary['unsupported_reasons'].items())})" if summary["unsupported_reasons"] else ""))
    if json_out:
        out.print(f"JSON written to {json_out}")


# --------------------------------------------------------------------------- catalog

_LIST_COLUMNS: dict[str, list[str]] = {
    "accelerators": ["generation", "hbm_capacity_bytes", "hbm_bandwidth_bytes_per_s", "dense_fp8_flop_per_s", "dense_fp4_flop_per_s", "tdp_w"],
    "systems": ["accelerator", "gpus", "cpus", "max_power_w", "typical_power_w", "cooling", "price_usd"],
    "models": ["architecture", "attention", "total_params", "active_params", "num_layers", "max_context_tokens"],
}


def _columns_for(kind: str) -> list[str]:
    if kind in _LIST_COLUMNS:
        return _LIST_COLUMNS[kind]
    schema = load_catalog().schemas[kind]
    cols = [a.name for a in schema.attributes if a.name == "category"]
    cols += [a.name for a in schema.attributes if a.numeric][:5]
    return cols


def _kind_arg(kind: str) -> str:
    if kind not in KINDS:
        load_catalog().kind(kind)  # raises InputError with a suggestion
    return kind


@catalog_app.command("list")
def catalog_list(
    kind: Optional[str] = typer.Argument(None, help=f"One of: {', '.join(KINDS)}. All kinds (counts) when omitted.", show_default=False),
    as_json: bool = JsonOpt,
) -> None:
    """List catalog entries of one kind, or count entries of every kind."""
    cat = load_catalog()
    if kind is None:
        counts = {k: len(cat.tables[k]) for k in KINDS}
        if as_json:
            _print_json({"catalog_version": cat.version, "kinds": counts})
            return
        t = Table(title=f"gigafactory catalog {cat.version}", title_justify="left")
        t.add_column("kind")
        t.add_column("entries", justify="right")
        t.add_column("description")
        for k in KINDS:
            t.add_row(k, str(counts[k]), cat.schemas[k].description.split(".")[0])
        out.print(t)
        return
    kind = _kind_arg(kind)
    schema = cat.schemas[kind]
    cols = _columns_for(kind)
    if as_json:
        _print_json([{"id": e.id, "name": e.name, "status": e.status, "aliases": list(e.aliases), **{c: _plain(getattr(e, c)) for c in cols}} for e in cat.tables[kind].values()])
        return
    t = Table(title=f"{kind} ({len(cat.tables[kind])})", title_justify="left")
    t.add_column("id", style="bold", no_wrap=True)
    t.add_column("name", max_width=40, overflow="ellipsis", no_wrap=True)
    for c in cols:
        t.add_column(c, justify="right")
    for e in cat.tables[kind].values():
        spec = {a.name: a for a in schema.attributes}
        cells = [human(getattr(e, c), spec[c].unit if c in spec else None) for c in cols]
        t.add_row(e.id, e.name + (" [yellow](announced)[/]" if e.announced else ""), *cells)
    out.print(t)


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def entry_as_dict(entry: Any) -> dict[str, Any]:
    cat = load_catalog()
    schema = cat.schemas[entry.kind]
    attrs: dict[str, Any] = {}
    for spec in schema.attributes:
        value = getattr(entry, spec.name)
        if value is None:
            continue
        if spec.name in entry.provenance:
            attrs[spec.name] = entry.provenance[spec.name].as_dict()
        else:
            attrs[spec.name] = {"value": _plain(value)}
    return {
        "id": entry.id,
        "kind": entry.kind,
        "name": entry.name,
        "aliases": list(entry.aliases),
        "status": entry.status,
        "description": entry.description,
        "catalog_version": cat.version,
        "attributes": attrs,
    }


@catalog_app.command("show")
def catalog_show(
    ident: str = typer.Argument(..., metavar="ID", help="Catalog id or alias (Hugging Face ids work for models)."),
    kind: Optional[str] = typer.Option(None, "--kind", help="Restrict to one kind when an id exists in several."),
    as_json: bool = JsonOpt,
) -> None:
    """Show one entry: every attribute with its unit, source, date and confidence."""
    cat = load_catalog()
    if kind:
        hits = [cat.get(_kind_arg(kind), ident)]
    else:
        hits = cat.find(ident)
        if not hits:
            from gigafactory.catalog.loader import _did_you_mean

            guess = _did_you_mean(ident, [i for k in KINDS for i in list(cat.tables[k]) + list(cat.aliases[k])])
            raise InputError.single(
                f"no catalog entry '{ident}'" + (f" — did you mean '{guess}'?" if guess else ""),
                field="ID", value=ident, expected="an id or alias from `gigafactory catalog list KIND`",
                fix=f"try `gigafactory catalog show {guess}`" if guess else "run `gigafactory catalog list` to browse",
            )
        if len(hits) > 1:
            raise InputError.single(
                f"'{ident}' names entries of several kinds: {', '.join(h.kind for h in hits)}",
                field="ID", value=ident, fix=f"add --kind {hits[0].kind} (or another of them)",
            )
    entry = hits[0]
    data = entry_as_dict(entry)
    if as_json:
        _print_json(data)
        return
    title = f"{entry.name}  [dim]({entry.kind}: {entry.id})[/]" + ("  [yellow]ANNOUNCED — not shipping[/]" if entry.announced else "")
    out.print(title)
    if entry.aliases:
        out.print(f"aliases: {', '.join(entry.aliases)}")
    if entry.description:
        out.print(entry.description.strip())
    t = Table(show_lines=False)
    for col in ("attribute", "value", "as given", "confidence", "date", "source"):
        t.add_column(col, overflow="fold")
    schema = cat.schemas[entry.kind]
    for spec in schema.attributes:
        value = getattr(entry, spec.name)
        if value is None:
            continue
        prov = entry.provenance.get(spec.name)
        if prov:
            given = f"{prov.given_value} {prov.given_unit}"
            t.add_row(spec.name, human(value, spec.unit), given, prov.confidence, prov.date, "\n".join(prov.source) + (f"\n[dim]{prov.note}[/]" if prov.note else ""))
        else:
            t.add_row(spec.name, human(_plain(value), None), "", "", "", "")
    out.print(t)


@catalog_app.command("schema")
def catalog_schema(kind: str = typer.Argument(..., help=f"One of: {', '.join(KINDS)}."), as_json: bool = JsonOpt) -> None:
    """Show the attributes of one kind: type, unit, required, description."""
    kind = _kind_arg(kind)
    schema = load_catalog().schemas[kind]
    rows = schema_rows(schema)
    if as_json:
        _print_json({"kind": kind, "description": schema.description, "attributes": rows})
        return
    out.print(f"[bold]{kind}[/]: {schema.description}")
    t = Table()
    for col in ("attribute", "type", "unit", "required", "description"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["attribute"], r["type"], r["unit"], "yes" if r["required"] else "", r["description"])
    out.print(t)


# --------------------------------------------------------------------------- scenario


@scenario_app.command("init")
def scenario_init(
    path: Path = typer.Argument(..., help="Where to write a copy of the bundled default scenario."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write the bundled default scenario to PATH as a starting point."""
    from gigafactory.scenario import default_scenario_path

    if path.exists() and not force:
        raise InputError.single("the file already exists", file=str(path), fix="choose another path or add --force")
    if path.parent and not path.parent.exists():
        raise InputError.single("the folder does not exist", file=str(path), fix=f"create {path.parent} first")
    path.write_text(default_scenario_path().read_text(encoding="utf-8"), encoding="utf-8")
    out.print(f"wrote {path}; edit it, then run `gigafactory check {path}`")


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: maps errors to exit codes, never shows a traceback for bad input.

    Typer (standalone mode) handles --help, usage errors (exit 2) and typer.Exit; our own
    InputError becomes exit 2 and anything else an internal error, exit 1.
    """
    try:
        app(args=argv, prog_name="gigafactory")
        return 0
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except InputError as exc:
        # Plain text, never re-wrapped: file paths and field names must stay intact.
        sys.stderr.write(exc.render() + "\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: an internal error, exit 1
        if os.environ.get("GIGAFACTORY_DEBUG"):
            raise
        err.print(f"internal error: {type(exc).__name__}: {exc}\n(set GIGAFACTORY_DEBUG=1 for a traceback, and please report it)", markup=False)
        return 1


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
