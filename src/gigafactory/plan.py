"""The plan stage and `gigafactory plan`, the main job: the pipeline's design -> serving ->
simulation -> rollout -> economics, assembled into one typed :class:`PlanResult`, written to
DIR/result.json and DIR/report.html and recorded in the run store.  The JSON Schema of the
result is generated from the types (docs/result.schema.json, docs/result.md)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from gigafactory import __version__
from gigafactory.catalog import Catalog
from gigafactory.pipeline.cache import StageCache
from gigafactory.pipeline.options import RunOptions
from gigafactory.results.design import DesignResult
from gigafactory.results.demand import DemandResult
from gigafactory.results.devices import DevicesResult
from gigafactory.results.operations import OperationsResult
from gigafactory.results.economics import EconomicsResult
from gigafactory.results.methods import MethodComparison
from gigafactory.results.plan import PlanResult
from gigafactory.results.rollout import RolloutResult
from gigafactory.results.serving import ServingResult
from gigafactory.results.simulation import SimulationResult
from gigafactory.scenario.model import Scenario

SLO_ATTAINMENT_TARGET = 0.99  # the SLOs are p99 latencies
SCHEMA_VERSION = 7  # 7: fast-track and conversion build methods, weeks sooner than fast-track; 6: operations stage; 5: devices stage; 4: demand stage; 2: typed results, no wall-clock "created" (it lives in the run record); 3: build-method comparison, rollout sensitivity
Progress = Callable[[str], None]


def _serving_section(scn: Scenario, serving: ServingResult, main_system: str, simulation: SimulationResult | None) -> dict[str, Any]:
    """Per model: the configuration chosen on the programme's main system, with p99 estimates
    (steady state x MLPerf p99 ratios) and, when simulated, the simulated p99s."""
    pools = {p.pool: p for p in (simulation.pools if simulation else [])}
    out: dict[str, Any] = {}
    for wl, row in zip(scn.workloads, serving.systems[main_system]):
        cfg = row.config
        sim = pools.get(f"{main_system}/{row.model}")
        attained = sim.slo_attainment if sim else None
        # the SLOs are p99s: a configuration that the simulation shows meeting them for fewer than 99 %
        # of requests does not meet them, whatever the steady-state estimate says
        meets = row.tok_s_gpu > 0 and (attained is None or attained >= SLO_ATTAINMENT_TARGET)
        reason = row.reason
        if row.tok_s_gpu > 0 and not meets:
            reason = (f"the serving simulation meets the p99 SLOs for {attained:.1%} of requests (target {SLO_ATTAINMENT_TARGET:.0%}): "
                      "the steady-state choice queues under bursty arrivals")
        out[row.model] = {
            "system": main_system,
            "share": wl.share,
            "precision": wl.precision,
            "isl_tokens": wl.isl_tokens,
            "osl_tokens": wl.osl_tokens,
            "slo": {"ttft_p99_s": wl.slo.ttft_p99_ms / 1e3, "tpot_p99_s": wl.slo.tpot_p99_ms / 1e3},
            "meets_slo": meets,
            "config": cfg.model_dump() if cfg else None,
            "tok_s_gpu": row.tok_s_gpu,
            "tok_s_user": row.tok_s_user,
            # p99s of the queueing model under Poisson arrivals at the configuration's rate (perf.load)
            "ttft_p99_s": row.ttft_p99_s,
            "tpot_p99_s": row.tpot_p99_s,
            "ttft_p99_sim_s": sim.ttft_s.p99 if sim else None,
            "tpot_p99_sim_s": sim.tpot_s.p99 if sim else None,
            "slo_attainment_sim": sim.slo_attainment if sim else None,
            "efficiency": row.efficiency,
            "reason": reason,
        }
    return out


def main_system(design: DesignResult) -> str:
    """The system with the most GPUs in the programme (the first site's on a tie)."""
    return max(design.sites, key=lambda s: s.gpus).system


def assemble_plan(cat: Catalog, scn: Scenario, design: DesignResult, serving: ServingResult, simulation: SimulationResult,
                  rollout: RolloutResult, econ: EconomicsResult, methods: MethodComparison, demand: DemandResult,
                  devices: DevicesResult | None = None, operations: OperationsResult | None = None) -> PlanResult:
    """The plan stage: every stage's figures in one typed result (written as result.json)."""
    system = main_system(design)
    t = design.total
    body = {
        "schema_version": SCHEMA_VERSION,
        "gigafactory_version": __version__,
        "catalog_version": cat.version,
        "scenario_name": scn.name,
        "scenario_file": None,
        "scenario_sha256": None,
        "seed": scn.seed,
        "scenario": scn.model_dump(mode="json"),
        "design": {
            "gpus": t.gpus, "racks": t.racks, "scalable_units": t.scalable_units, "it_power_mw": t.it_power_mw,
            "facility_power_mw": t.facility_power_mw, "pue": t.pue, "wue_l_per_kwh": t.wue_l_per_kwh, "capex_usd": t.capex_usd,
            "capex_breakdown_usd": t.capex_breakdown_usd, "floor_area_m2": t.floor_area_m2, "annual_energy_mwh": t.annual_energy_mwh,
            "sites": [s.model_dump() for s in design.sites], "bom": [b.model_dump() for b in t.bom], "base_year": design.base_year,
            "currency": design.currency,
        },
        "serving": _serving_section(scn, serving, system, simulation),
        "simulation": simulation.model_dump(),
        "frontiers": {"system": system, "models": {row.model: [p.model_dump() for p in row.frontier]
                                                   for row in serving.systems[system] if row.frontier}},
        "rollout": rollout.model_dump(),
        "demand": demand.model_dump(),
        "devices": devices.model_dump() if devices is not None else None,
        "operations": operations.model_dump() if operations is not None else None,
        "economics": econ.model_dump(),
        "methods": methods.model_dump(),
        "sources": _sources(cat, scn, design),
    }
    return PlanResult.model_validate(body)


def run_plan(cat: Catalog, scn: Scenario, scenario_text: str, scenario_file: str | None, progress: Progress | None = None,
             rollout_samples: int | None = None, economics_samples: int = 10_000, cache: StageCache | None = None,
             options: RunOptions | None = None) -> dict[str, Any]:
    """The main job through the pipeline; returns result.json's content (the JSON edge)."""
    return plan_result(cat, scn, scenario_text, scenario_file, progress, rollout_samples, economics_samples, cache, options).model_dump(mode="json")


def plan_result(cat: Catalog, scn: Scenario, scenario_text: str, scenario_file: str | None, progress: Progress | None = None,
                rollout_samples: int | None = None, economics_samples: int = 10_000, cache: StageCache | None = None,
                options: RunOptions | None = None) -> PlanResult:
    from gigafactory.pipeline import Pipeline

    opts = options or RunOptions(rollout_samples=rollout_samples, economics_samples=economics_samples)
    pipe = Pipeline(cat, scn, options=opts, cache=cache, progress=(lambda stage, event: progress(stage)) if progress else None)
    res = pipe.result("plan")
    return res.model_copy(update={"scenario_file": scenario_file, "scenario_sha256": hashlib.sha256(scenario_text.encode()).hexdigest()})


def _sources(cat: Catalog, scn: Scenario, design: DesignResult) -> list[dict[str, str]]:
    """Catalog entries the plan used, with the sources of their values."""
    ids = [("systems", s.system) for s in design.sites] + [("regions", s.region) for s in design.sites]
    ids += [("facility", s.cooling) for s in design.sites] + [("models", w.model) for w in scn.workloads]
    ids += [("costs", scn.finance.cost_profile)]
    out = []
    for kind, ident in dict.fromkeys(ids):
        e = cat.get(kind, ident)
        urls = sorted({u for p in e.provenance.values() for u in p.source})
        out.append({"kind": kind, "id": e.id, "name": e.name, "sources": urls})
    return out


def write_outputs(result: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write result.json (and report.html) atomically: nothing half-written on failure."""
    from gigafactory.report.html import render_report

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"result": out_dir / "result.json", "report": out_dir / "report.html"}
    body = json.dumps(result, indent=1, default=str)
    html = render_report(result)
    for path, text in ((files["result"], body), (files["report"], html)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return files
