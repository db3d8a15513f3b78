"""`gigafactory consolidate`: separate clusters per tenant against one shared factory."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from gigafactory.cli.app import app
from gigafactory.cli.common import JsonOpt, NoCacheOpt, ScenarioArg, err, ms, out, pipeline_for, print_json


@app.command()
def consolidate(
    scenario: Optional[Path] = ScenarioArg,
    model: Optional[str] = typer.Option(None, "--model", help="Model whose tenants are studied (default: the scenario's first workload's)."),
    tenants: Optional[int] = typer.Option(None, "--tenants", help="The K busiest ServeGen clients (default 10; 4 with --quick)."),
    gpus: Optional[float] = typer.Option(None, "--gpus", help="Scale every rate so that the aggregate's busiest 10 minutes ask for the "
                                         "modelled capacity of this many GPUs (default: the scenario's GPUs for the model)."),
    as_is: bool = typer.Option(False, "--as-is", help="Take ServeGen's rates as recorded instead of scaling them."),
    target: float = typer.Option(0.99, "--target", help="SLO attainment (both p99 limits) each pool must reach in its busiest windows."),
    windows: Optional[int] = typer.Option(None, "--windows", help="Busiest 10-minute windows simulated per pool (default 1)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="ServeGen clients: m-small (language) or deepseek-r1 (reasoning); "
                                          "default: deepseek-r1 for DeepSeek-R1, else m-small."),
    quick: bool = typer.Option(False, "--quick", help="4 tenants, 1 window per pool, 90 s measured per window: a smoke run."),
    no_cache: bool = NoCacheOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Consolidation measured: N separate clusters (one per tenant, each sized for its own peak and SLO) against one shared
    factory serving the same real, bursty, diurnal demand (ServeGen clients): GPUs, utilisation, $/Mtok at equal SLO attainment."""
    from gigafactory.consolidate import consolidate_scenario
    from gigafactory.consolidate.demand import check_dataset
    from gigafactory.consolidate.run import check_inputs, resolve_model
    from gigafactory.pipeline import RunOptions
    from gigafactory.scenario import load_scenario

    check_inputs(tenants if tenants is not None else 2, target, windows if windows is not None else 1, None if as_is else gpus)
    if dataset is not None:
        check_dataset(dataset)
    scn = load_scenario(scenario)
    pipe = pipeline_for(scn, RunOptions(), no_cache)
    resolve_model(pipe.cat, scn, model)
    with err.status("designing, rating and costing the factory…", spinner="dots") if not as_json else _null():
        pipe.result("economics")
    status = err.status("sizing pools by simulation…", spinner="dots") if not as_json else _null()
    with status as st:
        def progress(name: str) -> None:
            if st is not None:
                st.update(f"sizing by simulation: {name}…")

        res = consolidate_scenario(pipe.cat, scn, model=model, tenants=tenants, gpus=gpus,
                                   as_is=as_is, target=target, windows=windows, quick=quick, dataset=dataset, pipeline=pipe,
                                   progress=progress)
    result = res.model_dump(mode="json")
    if as_json:
        print_json(result)
        return
    m = result["method"]
    out.print(f"[bold]Consolidation — {scn.name}[/]: {result['model']} on {result['system']}, unit {result['configuration']} = "
              f"{result['gpus_per_unit']} GPUs; SLO p99 TTFT {ms(result['slo_ttft_p99_s'])}, TPOT {ms(result['slo_tpot_p99_s'])}, "
              f"target attainment {m['target_attainment']:.1%}")
    scale = "as recorded" if m["demand_fit_gpus"] is None else \
        f"x{m['demand_scale']:,.0f} so the aggregate's busiest 10 minutes need {m['demand_fit_gpus']:,} GPUs at the modelled capacity"
    out.print(f"Demand: {len(result['tenants'])} busiest ServeGen clients ({result['dataset']}, {result['record_days']:.0f} days, "
              f"10-minute windows), rates {scale}")
    t = Table(title="Per pool", title_justify="left")
    for col in ("pool", "peak/mean", "units", "GPUs", "SLO met", "p99 TTFT", "p99 TPOT", "busy util", "token util", "$/Mtok"):
        t.add_column(col, justify="left" if col == "pool" else "right")
    for p in [*result["tenants"], result["shared_pool"]]:
        t.add_row(p["name"] if p["name"] != "shared" else "[bold]shared[/]", f"{p['peak_to_mean']:.2f}", f"{p['units']:,}" + ("" if p["reached"] else "+"),
                  f"{p['gpus']:,}", f"{p['attainment']:.2%}", ms(p["ttft_p99_s"]), ms(p["tpot_p99_s"]), f"{p['busy_utilisation']:.0%}",
                  f"{p['token_utilisation']:.0%}", _usd(p["cost_per_mtok_usd"]))
    out.print(t)
    s, h = result["separate"], result["shared"]
    t = Table(title="Separate clusters vs one shared factory", title_justify="left")
    for col in ("", "GPUs", "busy util", "token util", "$/Mtok", "lowest SLO met"):
        t.add_column(col, justify="left" if not col else "right")
    for name, x in (("separate (sum)", s), ("shared", h)):
        t.add_row(name, f"{x['gpus']:,}", f"{x['busy_utilisation']:.0%}", f"{x['token_utilisation']:.0%}", _usd(x["cost_per_mtok_usd"]),
                  f"{x['attainment_min']:.2%}")
    out.print(t)
    out.print(f"Saving: {result['gpus_saved']:,} GPUs ({result['gpu_saving_share']:.1%}); fluid bound from peaks alone "
              f"{result['fluid_saving']:.1%} (diversity factor {result['diversity_factor']:.2f}, aggregate peak/mean "
              f"{result['aggregate_peak_to_mean']:.2f}); levelised {result['cost_per_gpu_hour_usd']:.2f} USD/GPU-h")
    out.print(f"Simulated: {m['probes']} sizes, {m['requests_measured']:,} requests measured, {m['windows_per_pool']} window(s) per pool, "
              f"{m['measure_s']:.0f} s measured each (docs/consolidation.md)")
    for n in result["notes"]:
        out.print(f"[dim]- {n}[/]")


def _usd(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _null():
    import contextlib

    return contextlib.nullcontext()
