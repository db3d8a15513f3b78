"""`gigafactory check`: validate a scenario without running a stage."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from gigafactory.catalog import load_catalog
from gigafactory.cli.app import app
from gigafactory.cli.common import JsonOpt, ScenarioArg, out, print_json
from gigafactory.display import human
from gigafactory.errors import InputError


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
            print_json({"valid": False, "file": str(scenario) if scenario else None, "problems": [p.as_dict() for p in exc.problems]})
            raise typer.Exit(2)
        raise
    summary = scenario_summary(scn, load_catalog())
    if as_json:
        print_json({"valid": True, "file": str(scenario) if scenario else "default (bundled)", **summary})
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
