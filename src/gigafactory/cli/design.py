"""`gigafactory design`: the factory design and the choice of system."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from gigafactory.cli.app import app
from gigafactory.cli.common import JsonOpt, NoCacheOpt, ScenarioArg, err, out, pipeline_for, print_json
from gigafactory.display import human


@app.command()
def design(
    scenario: Optional[Path] = ScenarioArg,
    compare: bool = typer.Option(True, "--compare/--no-compare", help="Also compare the scenario's candidate systems by tokens/s per MW and per capex dollar."),
    no_cache: bool = NoCacheOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Design the factory: racks, SUs, fabric, power chain, cooling, PUE/WUE, floor, BOM and capex per site."""
    from gigafactory.pipeline import RunOptions
    from gigafactory.scenario import load_scenario

    scn = load_scenario(scenario)
    pipe = pipeline_for(scn, RunOptions(), no_cache)
    result = pipe.result("design").model_dump(mode="json")
    if compare:
        with err.status("comparing candidate systems (performance model search per workload)…"):
            result["design_choice"] = pipe.result("design_choice").model_dump(mode="json")
    if as_json:
        print_json(result)
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
