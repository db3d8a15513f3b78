"""`gigafactory serve`: the virtual factory behind an OpenAI-compatible endpoint (docs/emulator.md)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from gigafactory.cli.app import app
from gigafactory.cli.common import NoCacheOpt, ScenarioArg, err
from gigafactory.errors import InputError


@app.command()
def serve(
    scenario: Optional[Path] = ScenarioArg,
    model: Optional[str] = typer.Option(None, "--model", help="Serve only this model (the scenario's workload for it, else the first workload's lengths and SLO)."),
    system: Optional[str] = typer.Option(None, "--system", help="Serve on this system instead of the scenario's (e.g. gb300-nvl72)."),
    replicas: int = typer.Option(1, "--replicas", help="Engine instances simulated per pool (attention-DP ranks count separately; prefill replicas in the configuration's ratio)."),
    router: Optional[str] = typer.Option(None, "--router", help="round-robin, least-outstanding, prefix-aware or central-queue (default: the scenario's)."),
    speedup: float = typer.Option(1.0, "--speedup", help="Simulated seconds per wall-clock second (> 1 runs faster than the real factory)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="GIGAFACTORY_API_KEY", help="Require 'Authorization: Bearer KEY' on /v1 and /admin."),
    max_waiting: int = typer.Option(1024, "--max-waiting", help="Requests waiting per pool beyond which new ones get 429 (0: no limit)."),
    no_cache: bool = NoCacheOpt,
) -> None:
    """Serve the scenario's pools behind an OpenAI-compatible API, timed by the serving simulator's engine."""
    if not speedup > 0 or speedup > 1e4:
        raise InputError.single("the speedup must be in (0, 10000]", field="--speedup", value=speedup, fix="e.g. --speedup 10")
    if not 1 <= replicas <= 64:
        raise InputError.single("replicas per pool must be 1 to 64", field="--replicas", value=replicas, fix="e.g. --replicas 2")
    if not 0 <= port <= 65535:
        raise InputError.single("the port must be 0 to 65535", field="--port", value=port)
    if max_waiting < 0:
        raise InputError.single("--max-waiting must be >= 0", field="--max-waiting", value=max_waiting)
    from gigafactory.emulator.server import require_serve_extra

    require_serve_extra()
    from gigafactory.scenario import load_scenario
    from gigafactory.simulate.router import make_router

    if router is not None:
        make_router(router, field="--router")
    scn = load_scenario(scenario)
    import uvicorn

    from gigafactory.catalog import load_catalog
    from gigafactory.emulator.app import Settings, create_app
    from gigafactory.emulator.fleet import build_pool, scenario_specs
    from gigafactory.emulator.server import uvicorn_config

    with err.status("designing the factory and choosing serving configurations…", spinner="dots"):
        specs = scenario_specs(scn, model=model, system=system, router=router, replicas=replicas, no_cache=no_cache)
    cat = load_catalog()
    pools = [build_pool(cat, s) for s in specs]
    for lp in pools:
        reps = lp.pool.all_replicas()
        err.print(f"pool {lp.name}: {lp.spec.mode} {lp.info['layout']}, {len(reps)} simulated replica(s), "
                  f"max_model_len {lp.max_request_tokens():,}, router {lp.spec.router}", markup=False)
    err.print(f"serving on http://{host}:{port}/v1 at {speedup:g}x real time (metrics on /metrics)", markup=False)
    application = create_app(pools, Settings(api_key=api_key, speedup=speedup, max_waiting=max_waiting))
    uvicorn.Server(uvicorn_config(application, host, port, log_level="info")).run()
