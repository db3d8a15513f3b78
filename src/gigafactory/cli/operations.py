"""`gigafactory operations`: failures, repairs, spares, technicians and availability of the factory."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from gigafactory.cli.app import app
from gigafactory.cli.common import (
    JsonOpt,
    NoCacheOpt,
    ScenarioArg,
    err,
    out,
    pipeline_for,
    print_json,
)


@app.command()
def operations(
    scenario: Path | None = ScenarioArg,
    simulate: bool = typer.Option(False, "--simulate", help="Also run the serving simulator on one pool with failures injected "
                                  "(time-compressed) and scale its goodput loss to the real rate (a few seconds)."),
    rate_scale: float = typer.Option(1.0, "--rate-scale", min=0.0, help="Multiply every failure rate (sensitivity)."),
    no_cache: bool = NoCacheOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Failures per component class, blast radius, spares and technicians optimised against lost goodput, availability per site and month, and what it costs."""  # noqa: E501
    from contextlib import nullcontext

    from gigafactory.operations.stage import (
        OperationsSpec,
        run_operations,
        simulate_failures,
    )
    from gigafactory.pipeline import RunOptions
    from gigafactory.scenario import load_scenario

    scn = load_scenario(scenario)
    spec = OperationsSpec(failure_rate_scale=rate_scale)
    pipe = pipeline_for(scn, RunOptions(), no_cache)
    with err.status("designing, scheduling and sizing spares and crews…", spinner="dots") if not as_json else nullcontext():
        design, serving, rollout = pipe.result("design"), pipe.result("serving"), pipe.result("rollout")
        res = run_operations(pipe.cat, scn, design, serving, rollout, spec)
        if simulate:
            res = res.model_copy(update={"simulation": simulate_failures(pipe.cat, scn, design, serving, spec)})
    if as_json:
        print_json(res.model_dump(mode="json"))
        return
    t = res.total
    out.print(f"[bold]Operations — {scn.name}[/]: availability [bold]{t.availability:.3%}[/] of {t.gpus:,} GPUs; {t.failures_per_day:,.0f} failures/day; "
              f"{t.technicians_on_duty} technicians on duty ({t.technician_fte:,.0f} FTE, {t.technicians_usd_per_year / 1e6:,.1f} M USD/year); "
              f"spares {t.spares_capex_usd / 1e6:,.0f} M USD ({t.spares_share_of_it_capex:.2%} of GPU-system capex); "
              f"lost {t.lost_gpu_hours_per_year / 1e6:,.2f} M GPU-h/year = {t.lost_value_usd_per_year / 1e6:,.1f} M USD/year at "
              f"{res.gpu_hour_value_usd:.2f} USD/GPU-h, {t.lost_goodput_tok_s:,.0f} tok/s of goodput")
    tab = Table(title="Per site (full build-out)", title_justify="left")
    for col in ("site", "GPUs", "availability", "trays", "racks", "maintenance", "restarts", "cordon P", "techs", "tech util", "tech wait",
                "spares (compute trays)", "spares M USD"):
        tab.add_column(col, justify="left" if col == "site" else "right")
    for s in res.sites:
        ct = next((p for p in s.spares if p.fru == "compute_tray"), None)
        tab.add_row(s.site, f"{s.gpus:,}", f"{s.availability:.3%}", f"{s.lost_trays:.3%}", f"{s.lost_racks:.3%}", f"{s.lost_maintenance:.3%}",
                    f"{s.lost_restarts:.3%}", f"{s.cordon_probability:.1e}", f"{s.technicians_on_duty}", f"{s.technician_utilisation:.0%}",
                    f"{s.technician_wait_s / 60:,.0f} min", f"{ct.spares:,}" if ct else "-", f"{s.spares_capex_usd / 1e6:,.0f}")
    out.print(tab)
    c = res.llama3_check
    out.print(f"Check: the model's rates on Llama 3's 16,384 H100 for 54 days give {c.predicted_interruptions:.0f} interruptions "
              f"(published {c.published_interruptions}), one every {c.predicted_mtbf_h:.1f} h")
    if res.simulation is not None:
        m = res.simulation
        out.print(f"Simulator ({m.pool}, failures x{m.time_compression:g}): {m.failures} replica failures, {m.retried} requests retried, "
                  f"{m.failed} failed; goodput {m.goodput_rps_without:.2f} -> {m.goodput_rps_with:.2f} req/s; p99 TTFT "
                  f"{(m.ttft_p99_s_without or 0) * 1e3:.0f} -> {(m.ttft_p99_s_with or 0) * 1e3:.0f} ms; at the real rate "
                  f"{m.real_goodput_loss_share:.3%} of goodput lost to replica failures")
    for n in res.notes:
        out.print(f"[dim]note: {n}[/]")
