"""`gigafactory rollout`: the build plan to first token."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from gigafactory.cli.app import app
from gigafactory.cli.common import JsonOpt, NoCacheOpt, ScenarioArg, err, out, pipeline_for, print_json


@app.command()
def rollout(
    scenario: Optional[Path] = ScenarioArg,
    samples: Optional[int] = typer.Option(None, "--samples", min=0, max=20_000, help="Monte Carlo samples (default: the scenario's)."),
    gantt: bool = typer.Option(False, "--gantt", help="Include every task's start and end in the JSON."),
    exact: bool = typer.Option(False, "--exact", help="Solve the base plan with CP-SAT (slower, proven gap) instead of the list scheduler."),
    compare_methods: bool = typer.Option(False, "--compare-methods", help="Also schedule and finance the same design under every build method "
                                         "and compare each with stick-built (weeks sooner, their worth, NPV)."),
    no_cache: bool = NoCacheOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Plan the rollout: deployment time to first token (P10/P50/P90), capacity ramp, critical path, headcount."""
    from gigafactory.pipeline import RunOptions
    from gigafactory.scenario import load_scenario

    scn = load_scenario(scenario)
    pipe = pipeline_for(scn, RunOptions(rollout_samples=samples, rollout_exact=exact), no_cache)
    with err.status("designing the factory and rating it (performance model)…"):
        pipe.result("serving")
    with err.status(("solving the base plan (CP-SAT)" if exact else "scheduling the base plan") + " and sampling risk…"):
        result = pipe.result("rollout").model_dump(mode="json")
    methods = None
    if compare_methods:
        with err.status("scheduling and financing the design under every build method…"):
            methods = pipe.result("methods").model_dump(mode="json")
    if not gantt:
        result.pop("gantt")
    if as_json:
        print_json({**result, "methods": methods} if methods else result)
        return
    out.print(f"[bold]Rollout — {scn.name}[/], method [bold]{result['method']}[/] from {result['start_date']}")
    out.print(f"Deployment TTFT (first production token): P50 [bold]{result['ttft_days']:.0f} days[/] ({result['first_token_date']}), "
              f"P10 {result['ttft_days_p10'] or float('nan'):.0f}, P90 {result['ttft_days_p90'] or float('nan'):.0f}; base plan {result['plan_ttft_days']:.0f} days")
    out.print(f"Full capacity: P50 {result['full_capacity_days']:.0f} days (P10 {result['full_capacity_days_p10'] or float('nan'):.0f}, "
              f"P90 {result['full_capacity_days_p90'] or float('nan'):.0f}); base plan {result['plan_full_capacity_days']:.0f} days")
    s = result["solver"]
    out.print(f"{'CP-SAT' if s['method'] == 'cp-sat' else 'List schedule'}: {s['status']}, optimality gap {s['optimality_gap']:.1%}, {s['tasks']:,} tasks; "
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
    if methods:
        print_methods(methods)


def print_methods(m: dict) -> None:
    """The build-method comparison table and its headline."""
    from gigafactory.display import human

    t = Table(title=f"Build methods on the same design (baseline {m['baseline']}; cost of delay {human(m['cost_of_delay_usd_per_week'], 'USD')} per week)",
              title_justify="left")
    for col in ("method", "first token P10 / P50 / P90 d", "full capacity P50 d", "weeks sooner", "vs fast-track", "worth (cost of delay)", "NPV",
                "NPV vs baseline"):
        t.add_column(col, justify="left" if col == "method" else "right")
    for r in m["methods"]:
        p10 = "—" if r["ttft_days_p10"] is None else f"{r['ttft_days_p10']:.0f}"
        p90 = "—" if r["ttft_days_p90"] is None else f"{r['ttft_days_p90']:.0f}"
        t.add_row(r["method"] + (" (scenario)" if r["method"] == m["chosen"] else ""), f"{p10} / {r['ttft_days']:.0f} / {p90}",
                  f"{r['full_capacity_days']:.0f}", f"{r['weeks_sooner_than_baseline']:+.1f}",
                  "—" if r.get("weeks_sooner_than_fast_track") is None else f"{r['weeks_sooner_than_fast_track']:+.1f}",
                  human(r["value_of_time_saved_usd"], "USD"),
                  human(r["npv_usd"], "USD"), human(r["npv_gain_vs_baseline_usd"], "USD"))
    out.print(t)
    out.print(f"[bold]{m['headline']}[/]")
