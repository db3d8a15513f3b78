"""`gigafactory economics`: cash flows, levelised costs, NPV/IRR, risk."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from gigafactory.cli.app import app
from gigafactory.cli.common import JsonOpt, NoCacheOpt, ScenarioArg, err, out, pipeline_for, print_json
from gigafactory.display import human


@app.command()
def economics(
    scenario: Optional[Path] = ScenarioArg,
    samples: int = typer.Option(10_000, "--samples", min=0, max=1_000_000, help="Monte Carlo samples over uncertain inputs."),
    no_cache: bool = NoCacheOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Cash flows, $/GPU-hour and $/Mtok per model, NPV, IRR, payback, cost of delay, tornado and Monte Carlo."""
    from gigafactory.pipeline import RunOptions
    from gigafactory.scenario import load_scenario

    scn = load_scenario(scenario)
    pipe = pipeline_for(scn, RunOptions(economics_samples=samples), no_cache)
    with err.status("designing, rating and scheduling the factory…"):
        pipe.result("rollout")
    with err.status("cash flows, sensitivity and Monte Carlo…"):
        result = pipe.result("economics").model_dump(mode="json")
    if as_json:
        print_json(result)
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
