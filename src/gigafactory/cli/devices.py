"""`gigafactory devices`: the device fleets, their hybrid routing and their load on the factory."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from gigafactory.cli.app import app
from gigafactory.cli.common import JsonOpt, NoCacheOpt, ScenarioArg, err, ms, out, pipeline_for, print_json


def _pct(x: float) -> str:
    return f"{x:.1%}"


@app.command()
def devices(
    scenario: Optional[Path] = ScenarioArg,
    policy: Optional[str] = typer.Option(None, "--policy", help="Routing policy to use instead of the scenario's (see --policies)."),
    policies: bool = typer.Option(False, "--policies", help="List the registered routing policies and exit."),
    simulate: bool = typer.Option(False, "--simulate", help="Replay the peak hour of the offload pool on the serving simulator, sized for the "
                                  "static and the fleet-aware peak (about 10-30 s)."),
    no_cache: bool = NoCacheOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Personal AI on devices: what each fleet answers locally, what it offloads to the factory, the latency users see on each
    route, energy per request on the device and in the factory, cloud cost per user-month, and the GPUs a fleet-aware threshold saves."""
    from gigafactory.devices.routing import DESCRIPTIONS, POLICIES
    from gigafactory.errors import InputError, Problem
    from gigafactory.pipeline import RunOptions
    from gigafactory.scenario import load_scenario

    if policies:
        if as_json:
            print_json(DESCRIPTIONS)
            return
        for name, text in DESCRIPTIONS.items():
            out.print(f"[bold]{name}[/]: {text}")
        return
    if policy is not None and policy not in POLICIES:
        raise InputError([Problem(f"unknown routing policy '{policy}'", field="--policy", value=policy, expected="one of " + ", ".join(POLICIES),
                                  fix="see gigafactory devices --policies", check="device-policy")])
    scn = load_scenario(scenario)
    if policy is not None:
        scn = scn.model_copy(update={"devices": scn.devices.model_copy(update={"policy": policy})})
    pipe = pipeline_for(scn, RunOptions(), no_cache)
    with err.status("designing the factory and routing the fleets…", spinner="dots") if not as_json else _null():
        res = pipe.result("devices")
    checks = None
    if simulate:
        from gigafactory.devices.peakcheck import peak_hour_check

        with err.status("simulating the peak hour of the offload pool…", spinner="dots") if not as_json else _null():
            checks = peak_hour_check(pipe.cat, scn, pipe.result("design"), pipe.result("serving"), res)
    if as_json:
        body = res.model_dump(mode="json")
        if checks is not None:
            body["peak_hour_simulation"] = [c.model_dump(mode="json") for c in checks]
        print_json(body)
        return
    if not res.fleets:
        out.print(f"No device fleets in {scn.name}: add a devices section (docs/devices.md).")
        return
    out.print(f"[bold]Devices — {scn.name}[/]: {res.devices:,} devices, {res.requests_per_day:,.0f} requests/day, policy {res.policy}; "
              f"offloaded to {res.offload_model}: {_pct(res.cloud_share)} of requests, {res.cloud_output_tokens_per_day:,.3g} output tokens/day")
    t = Table(title="Per fleet", title_justify="left")
    for col in ("fleet", "device / model", "threshold", "cloud", "forced local", "forced cloud", "local TTFT p50/p99", "local e2e p50/p99",
                "cloud TTFT p50/p99", "cloud e2e p50/p99", "J device", "J factory", "$/user-month"):
        t.add_column(col, justify="left" if col in ("fleet", "device / model") else "right")
    for f in res.fleets:
        t.add_row(f.name, f"{f.device} / {f.local_model} {f.precision} ({f.local_decode_tok_s:.1f} tok/s)", f"{f.threshold:.2f}",
                  _pct(f.cloud_share), _pct(f.forced_local_share), _pct(f.forced_cloud_share),
                  f"{ms(f.local.ttft_p50_s)} / {ms(f.local.ttft_p99_s)}", f"{ms(f.local.e2e_p50_s)} / {ms(f.local.e2e_p99_s)}",
                  f"{ms(f.cloud.ttft_p50_s)} / {ms(f.cloud.ttft_p99_s)}", f"{ms(f.cloud.e2e_p50_s)} / {ms(f.cloud.e2e_p99_s)}",
                  f"{f.energy_device_j_per_request:,.0f}", f"{f.energy_factory_j_per_request:,.0f}", f"{f.cloud_cost_usd_per_user_month:.3f}")
    out.print(t)
    out.print(f"Factory side: offload capacity {res.offload_capacity_tok_s:,.0f} tok/s under SLO; peak hour at {_pct(res.peak_utilisation)} of it "
              f"(peak/mean {res.peak_to_mean:.2f}); queue wait p99 {ms(res.queue_wait_p99_s)} (Erlang C); "
              f"{res.factory_j_per_output_token:.2f} J per offloaded output token, {res.cloud_cost_usd_per_mtok:.3f} USD per Mtok at the rental floor; "
              f"one GW serves {res.devices_per_gw:,.0f} such devices at SLO")
    a = res.fleet_aware
    if a is not None:
        out.print(f"Fleet-aware threshold (same tokens offloaded per week): peak {a.static_peak_tok_s:,.0f} -> {a.aware_peak_tok_s:,.0f} tok/s, "
                  f"GPUs for the offload model {a.static_gpus:,.0f} -> {a.aware_gpus:,.0f} ([bold]{a.gpus_saved:,.0f} saved, {_pct(a.gpus_saved_share)}[/]); "
                  f"whole serving units of {a.unit_gpus} GPUs {a.static_units} -> {a.aware_units}; hourly threshold {a.threshold_min:.2f}-{a.threshold_max:.2f}")
    if checks:
        t = Table(title="Peak hour of the offload pool on the serving simulator", title_justify="left")
        for col in ("case", "configuration", "units", "GPUs", "requests/s", "from devices", "SLO met", "TTFT p99", "TPOT p99"):
            t.add_column(col, justify="left" if col == "case" else "right")
        for c in checks:
            t.add_row(c.case, c.layout, f"{c.units}", f"{c.gpus:,}", f"{c.rate_rps:,.0f}", _pct(c.device_share), _pct(c.slo_attainment),
                      ms(c.ttft_p99_s), ms(c.tpot_p99_s))
        out.print(t)
    out.print(f"Round trip: {res.rtt_model}")
    for n in res.notes:
        out.print(f"[dim]note: {n}[/]")


def _null():
    from contextlib import nullcontext

    return nullcontext()
