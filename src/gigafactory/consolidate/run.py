"""Orchestrator of `gigafactory consolidate`: separate clusters against one shared factory.

1. The model (default: the scenario's first workload's) and its serving unit: the
   configuration the serving stage chose, as the simulation stage builds its pool.
2. Tenants: the K busiest ServeGen clients of the model's kind (:mod:`.demand`), rates scaled by
   one factor so that the aggregate's busiest 10-minute window asks for the modelled capacity
   of a stated number of GPUs (default: the scenario's GPUs for that model), or as recorded.
3. Every pool, the shared one and each tenant's, is searched the same way from its fluid
   estimate (:func:`.sizing.size_pool`).
4. Figures over the whole record: GPUs, busy and token utilisation, cost per million output
   tokens at the economics stage's levelised cost per GPU-hour.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.consolidate.demand import (
    Tenant,
    check_dataset,
    dataset_for,
    peak_to_mean,
    scaled,
    servegen_tenants,
)
from gigafactory.consolidate.sizing import (
    STEP_DOWN,
    STEP_UP,
    Settings,
    Sizing,
    UnitModel,
    busy_curve,
    scenario_unit,
    size_pool,
    spans,
)
from gigafactory.errors import InputError, Problem
from gigafactory.results.consolidate import (
    BusyPoint,
    ConsolidationMethod,
    ConsolidationResult,
    PoolFigures,
    ProbeRecord,
    Totals,
)
from gigafactory.scenario.model import Scenario

DEFAULT_TENANTS = 10
DEFAULT_TARGET = 0.99
DEFAULT_WINDOWS = 1
#: step factors (down, up) of every pool's search from its fluid estimate.
SEARCH_STEP = (STEP_DOWN, STEP_UP)
#: --quick: fewer tenants, one window per pool, a shorter measured time and a smaller group.
QUICK = {"tenants": 4, "windows": 1, "measure_s": 90.0, "request_budget": 4_000, "min_requests": 2_000}


def check_inputs(tenants: int, target: float, windows: int, gpus: float | None) -> None:
    problems = []
    if not isinstance(tenants, int) or tenants < 2:
        problems.append(Problem("consolidation needs at least 2 tenants", field="--tenants", value=tenants,
                                expected="a whole number >= 2", fix="e.g. --tenants 10"))
    if not (isinstance(target, (int, float)) and 0 < target < 1):
        problems.append(Problem("the SLO attainment target must be a share strictly between 0 and 1", field="--target", value=target,
                                expected="0 < target < 1", fix="e.g. --target 0.99"))
    if not isinstance(windows, int) or windows < 1:
        problems.append(Problem("each pool needs at least one sizing window", field="--windows", value=windows,
                                expected="a whole number >= 1", fix="e.g. --windows 2"))
    if gpus is not None and not (math.isfinite(gpus) and gpus > 0):
        problems.append(Problem("the GPUs the demand is scaled to must be positive", field="--gpus", value=gpus,
                                expected="a number of GPUs > 0", fix="e.g. --gpus 10000, or --as-is"))
    if problems:
        raise InputError(problems)


def resolve_model(cat: Catalog, scn: Scenario, model: str | None) -> str:
    """The catalog id of the studied model: ``model`` (an id or alias of one of the scenario's
    workloads' models), else the first workload's."""
    ids = [w.model for w in scn.workloads]
    wanted = model or ids[0]
    if wanted in ids:
        return wanted
    try:
        resolved = cat.model(wanted).id
    except Exception:  # noqa: BLE001 - an unknown id: say which ones the scenario has
        resolved = None
    if resolved not in ids:
        raise InputError([Problem(f"model '{wanted}' is not one of the scenario's workloads", field="--model", value=wanted,
                                  expected="one of: " + ", ".join(ids), fix="pick a workload's model, or add a workload for it")])
    return resolved


def _model_spec(cat: Catalog, scn: Scenario, model: str, design: Any, serving: Any) -> tuple[Any, Any]:
    from gigafactory.simulate.run import plan_pools

    specs = [s for s in plan_pools(cat, scn, design, serving) if s.model_id == model]
    if not specs:
        raise InputError([Problem(f"no system of the design serves '{model}' under its SLO, so there is nothing to size",
                                  field="--model", value=model, fix="relax the workload's SLO or pick another model (see `gigafactory perf`)")])
    spec = specs[0]
    row = serving.systems[spec.system_id][[w.model for w in scn.workloads].index(model)]
    return spec, row


def _figures(sz: Sizing, tenants: list[Tenant], unit: UnitModel, curve: tuple[np.ndarray, np.ndarray], cost_gpu_h: float,
             record_days: float) -> PoolFigures:
    rate = np.sum([t.rate_rps for t in tenants], axis=0)
    window_s = tenants[0].window_s
    out_tok_s = np.sum([t.rate_rps * t.mean_output for t in tenants], axis=0)
    gpus = sz.units * unit.gpus_per_unit
    load = unit.fluid_units(tenants) / sz.units
    busy = float(np.mean(np.interp(np.minimum(load, curve[0][-1]), curve[0], curve[1])))
    tok_per_day = float(np.mean(out_tok_s)) * 86400.0
    ch = sz.chosen
    ttfts = [w.ttft_p99_s for w in ch.windows if w.ttft_p99_s is not None]
    tpots = [w.tpot_p99_s for w in ch.windows if w.tpot_p99_s is not None]
    return PoolFigures(
        name=sz.name, tenants=[t.name for t in tenants], units=sz.units, gpus=gpus, reached=sz.reached,
        fluid_peak_units=sz.fluid_peak_units, sizing_windows=list(sz.windows), sizing_windows_start_s=[w * window_s for w in sz.windows],
        attainment=ch.attainment, attainment_by_window=[w.attainment for w in ch.windows],
        ttft_p99_s=max(ttfts) if ttfts else None, tpot_p99_s=max(tpots) if tpots else None,
        peak_busy_utilisation=float(np.mean([w.busy_utilisation for w in ch.windows])), busy_utilisation=busy,
        token_utilisation=float(np.mean(out_tok_s)) / (gpus * unit.tok_s_gpu) if gpus else 0.0,
        mean_rate_rps=float(np.mean(rate)), peak_rate_rps=float(np.max(rate)), peak_to_mean=peak_to_mean(rate),
        output_tokens_per_day=tok_per_day,
        cost_per_mtok_usd=gpus * 24.0 * cost_gpu_h / (tok_per_day / 1e6) if tok_per_day > 0 else None,
        group_schedulers=sz.group, measure_s=sz.measure_s,
        probes=[ProbeRecord(units=p.units, attainment=p.attainment, requests=p.requests) for p in sz.probes])


def _totals(pools: list[PoolFigures], cost_gpu_h: float) -> Totals:
    gpus = sum(p.gpus for p in pools)
    tok = sum(p.output_tokens_per_day for p in pools)
    return Totals(units=sum(p.units for p in pools), gpus=gpus,
                  busy_utilisation=sum(p.busy_utilisation * p.gpus for p in pools) / gpus if gpus else 0.0,
                  token_utilisation=sum(p.token_utilisation * p.gpus for p in pools) / gpus if gpus else 0.0,
                  cost_per_mtok_usd=gpus * 24.0 * cost_gpu_h / (tok / 1e6) if tok > 0 else None,
                  attainment_min=min(p.attainment for p in pools), all_reached=all(p.reached for p in pools))


def consolidate_tenants(unit: UnitModel, tenants: list[Tenant], target: float, seed: int, cost_per_gpu_hour_usd: float,
                        windows: int = DEFAULT_WINDOWS, settings: Settings | None = None,
                        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Size every tenant's own cluster and the shared one on ``unit`` (the core of
    :func:`consolidate_scenario`, also used by the tests with synthetic tenants and units).

    Returns ``shared`` and ``separate`` (:class:`Sizing`), the pools' figures and totals."""
    settings = settings or Settings()
    record_days = tenants[0].windows * tenants[0].window_s / 86400.0
    if progress:
        progress("shared")
    # every pool is searched the same way, from its own fluid estimate: near the knee an LLM pool's attainment is not
    # monotone in its size, so where a search ends depends a little on where it starts
    shared = size_pool(unit, tenants, target, seed, "shared", windows, settings, guess=1.0, step=SEARCH_STEP)
    separate = []
    for t in tenants:
        if progress:
            progress(t.name)
        separate.append(size_pool(unit, [t], target, seed, t.name, windows, settings, guess=1.0, step=SEARCH_STEP))
    curve = busy_curve(unit, tenants, seed, settings)
    tenant_figs = [_figures(sz, [t], unit, curve, cost_per_gpu_hour_usd, record_days) for sz, t in zip(separate, tenants)]
    shared_fig = _figures(shared, tenants, unit, curve, cost_per_gpu_hour_usd, record_days)
    fl = [float(np.max(unit.fluid_units([t]))) for t in tenants]
    agg = float(np.max(unit.fluid_units(tenants)))
    return {"shared": shared, "separate": separate, "tenant_figures": tenant_figs, "shared_figures": shared_fig,
            "separate_totals": _totals(tenant_figs, cost_per_gpu_hour_usd), "shared_totals": _totals([shared_fig], cost_per_gpu_hour_usd),
            "curve": curve, "diversity_factor": sum(fl) / agg if agg > 0 else 1.0,
            "aggregate_peak_to_mean": peak_to_mean(np.sum([t.rate_rps for t in tenants], axis=0))}


def consolidate_scenario(cat: Catalog, scn: Scenario, model: str | None = None, tenants: int | None = None, gpus: float | None = None,
                         as_is: bool = False, target: float = DEFAULT_TARGET, windows: int | None = None, quick: bool = False,
                         dataset: str | None = None, pipeline: Any = None, settings: Settings | None = None,
                         progress: Callable[[str], None] | None = None) -> ConsolidationResult:
    """Separate clusters (one per tenant) against one shared factory for ``model`` on the
    scenario's serving configuration; see the module docstring and docs/consolidation.md."""
    k = tenants if tenants is not None else (QUICK["tenants"] if quick else DEFAULT_TENANTS)
    nwin = windows if windows is not None else (QUICK["windows"] if quick else DEFAULT_WINDOWS)
    check_inputs(k, target, nwin, None if as_is else gpus)
    if dataset is not None:
        check_dataset(dataset)
    model_id = resolve_model(cat, scn, model)
    if settings is None:
        settings = Settings(measure_s=QUICK["measure_s"], request_budget=QUICK["request_budget"],
                            min_requests=QUICK["min_requests"]) if quick else Settings()
    if pipeline is None:
        from gigafactory.pipeline import Pipeline

        pipeline = Pipeline(cat, scn)
    design, serving = pipeline.result("design"), pipeline.result("serving")
    spec, row = _model_spec(cat, scn, model_id, design, serving)
    unit = scenario_unit(cat, spec, row.tok_s_gpu, row.config.ttft_s, row.config.tpot_s)
    cost_gpu_h = float(pipeline.result("economics").cost_per_gpu_hour_usd)
    ds = dataset or dataset_for(spec.model_id)
    ts, facts = servegen_tenants(ds, k, spec.isl, spec.osl)
    if as_is:
        scale, fit = 1.0, None
    else:
        fit = round(gpus) if gpus is not None else spec.units_total * spec.gpus_per_unit
        scale = fit / unit.gpus_per_unit / float(np.max(unit.fluid_units(ts)))
    ts = [scaled(t, scale) for t in ts]
    core = consolidate_tenants(unit, ts, target, scn.seed, cost_gpu_h, nwin, settings, progress)
    sep, sh = core["separate_totals"], core["shared_totals"]
    warm, meas, cool = spans(unit, settings)
    sizings = [core["shared"], *core["separate"]]
    notes = [
        ("Sizing criterion: SLO attainment (both p99 limits) at or above the target in each of the pool's busiest "
         f"{nwin} ten-minute window(s) of the {facts['record_days']:.0f}-day record; other windows are not simulated."),
        ("Each probe simulates a representative group of the pool (a few schedulers carrying their share of the traffic, as "
         "`simulate` does), so the gain of a larger pool from routing among more replicas is not counted in either case."),
        (f"Lengths: mean {spec.isl:g} input / {spec.osl:g} output tokens for every tenant (ServeGen records "
         f"{facts['recorded_mean_input_tokens']:.0f} / {facts['recorded_mean_output_tokens']:.0f}); each tenant keeps its own length "
         "distribution around them."),
    ]
    if not (sep.all_reached and sh.all_reached):
        notes.append("Some pool did not reach the target within the search range: its units are the largest size tried.")
    return ConsolidationResult(
        scenario=scn.name, model=spec.model_id, system=spec.system_id, configuration=unit.label, gpus_per_unit=unit.gpus_per_unit,
        unit_capacity_rps=unit.capacity_rps, slo_ttft_p99_s=unit.slo.ttft_s, slo_tpot_p99_s=unit.slo.tpot_s,
        isl_tokens=spec.isl, osl_tokens=spec.osl, dataset=facts["dataset"], record_days=facts["record_days"], window_s=facts["window_s"],
        cost_per_gpu_hour_usd=cost_gpu_h, separate=sep, shared=sh, gpus_saved=sep.gpus - sh.gpus,
        gpu_saving_share=(sep.gpus - sh.gpus) / sep.gpus if sep.gpus else 0.0,
        aggregate_peak_to_mean=core["aggregate_peak_to_mean"], diversity_factor=core["diversity_factor"],
        fluid_saving=1.0 - 1.0 / core["diversity_factor"] if core["diversity_factor"] > 0 else 0.0,
        tenants=core["tenant_figures"], shared_pool=core["shared_figures"],
        busy_curve=[BusyPoint(load=float(x), busy_utilisation=float(y)) for x, y in zip(*core["curve"])],
        method=ConsolidationMethod(
            target_attainment=target, windows_per_pool=nwin, measure_s=meas, warmup_s=warm, cooldown_s=cool,
            request_budget=settings.request_budget, min_requests=settings.min_requests, probes=sum(len(s.probes) for s in sizings),
            requests_measured=sum(p.requests for s in sizings for p in s.probes), seed=scn.seed, demand_scale=scale,
            demand_fit_gpus=fit,
            lengths=f"workload means ({spec.isl:g} / {spec.osl:g} tokens) for every tenant, ServeGen's per-client length shapes"),
        notes=notes)
