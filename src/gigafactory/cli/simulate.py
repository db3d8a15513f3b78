"""`gigafactory simulate`: the serving simulation of the fleet."""
from __future__ import annotations

import contextlib

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from gigafactory.cli.app import app
from gigafactory.cli.common import JsonOpt, NoCacheOpt, ScenarioArg, err, ms, ms_pair, out, pipeline_for, print_json
from gigafactory.errors import InputError


@app.command()
def simulate(
    scenario: Optional[Path] = ScenarioArg,
    trace: Optional[str] = typer.Option(None, "--trace", help="Bundled trace name (azure-conv-2023, azure-code-2023, mooncake-conversation, "
                                        "mooncake-synthetic, sharegpt, arxiv-summarization), poisson, gamma-cv<X>, diurnal, or a CSV/JSONL path."),
    rate: Optional[float] = typer.Option(None, "--rate", min=0.0, help="Whole-fleet arrival rate [requests/s] (default: the scenario's, else each pool at finance.utilisation of its modelled capacity)."),
    duration: Optional[float] = typer.Option(None, "--duration", min=0.0, help="Simulated time of arrivals [s] (default: the scenario's simulation.duration_s)."),
    router: Optional[str] = typer.Option(None, "--router", help="round-robin, least-outstanding, prefix-aware or central-queue (default: the scenario's)."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Processes to run pools in parallel."),
    target_ci: float = typer.Option(0.1, "--target-ci", help="Without --duration: simulate until each pool's p99 TTFT 95 % interval is within "
                                    "this relative half-width (one pass of a recorded trace); see docs/simulate.md."),
    no_cache: bool = NoCacheOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Discrete-event serving simulation of the scenario's fleet on a real or synthetic trace: TTFT/TPOT percentiles, goodput, utilisation, energy."""
    from gigafactory.scenario import load_scenario
    from gigafactory.pipeline.options import run_options

    if rate is not None and rate <= 0:
        raise InputError.single("the arrival rate must be positive", field="--rate", value=rate, expected="requests per second > 0", fix="e.g. --rate 100")
    if duration is not None and duration <= 0:
        raise InputError.single("the duration must be positive", field="--duration", value=duration, expected="seconds > 0", fix="e.g. --duration 3600")
    scn = load_scenario(scenario)
    opts = run_options({"trace": "--trace", "rate_rps": "--rate", "duration_s": "--duration", "router": "--router", "sim_workers": "--workers",
                        "sim_target_ci": "--target-ci"},
                       trace=trace, rate_rps=rate, duration_s=duration, router=router, sim_workers=workers, sim_target_ci=target_ci)
    pipe = pipeline_for(scn, opts, no_cache)
    with err.status("designing the factory and choosing serving configurations…", spinner="dots") if not as_json else contextlib.nullcontext():
        pipe.result("serving")
    result = pipe.result("simulation").model_dump(mode="json")
    if as_json:
        print_json(result)
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
                  ms_pair(b["ttft_s"]), ms_pair(b["tpot_s"]), "—" if att is None else f"{att:.1%}",
                  f"{b['throughput_tok_s'] / b['gpus_represented']:,.0f}", f"{b['gpu_utilization']:.0%}",
                  "—" if b["energy_j_per_token"] is None else f"{b['energy_j_per_token']:.3f}")
    out.print(t)
    out.print(f"Fleet: TTFT p50/p90/p99 {ms(result['ttft_s']['p50'])} / {ms(result['ttft_s']['p90'])} / {ms(result['ttft_s']['p99'])}, "
              f"TPOT {ms(result['tpot_s']['p50'])} / {ms(result['tpot_s']['p90'])} / {ms(result['tpot_s']['p99'])}; "
              f"goodput {result['goodput_rps']:,.0f} req/s, {result['throughput_tok_s']:,.0f} output tok/s, "
              f"GPU utilisation {result['gpu_utilization']:.0%}, {result['energy_j_per_token'] or 0:.3f} J/token (GPU)")
    out.print(f"Requests simulated: {result['arrived']:,} arrived = {result['completed']:,} completed + {result['dropped']:,} dropped + "
              f"{result['in_flight']:,} in flight; {result['events']:,} events")
