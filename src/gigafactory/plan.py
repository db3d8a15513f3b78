"""Orchestrator of `gigafactory plan`, the main job: design -> best serving configuration per
model under its SLO -> serving simulation of the fleet -> rollout -> economics, written to DIR/result.json and DIR/report.html and
recorded in the run store.  The result schema is documented in docs/result.md."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from gigafactory import __version__
from gigafactory.catalog import Catalog
from gigafactory.design.choice import mix_tok_s_per_gpu
from gigafactory.design.factory import design_factory
from gigafactory.economics.run import run_economics, serving_rates
from gigafactory.perf.validate import P99_OVER_STEADY
from gigafactory.rollout.plan import plan_rollout
from gigafactory.scenario.model import Scenario
from gigafactory.simulate.run import simulate_scenario

SCHEMA_VERSION = 1
Progress = Callable[[str], None]


def _serving_section(cat: Catalog, scn: Scenario, serving: dict[str, list[dict[str, Any]]], design: dict[str, Any],
                     simulation: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per model: the configuration chosen on the programme's main system, with p99 estimates
    (steady state x MLPerf p99 ratios) and, when simulated, the simulated p99s."""
    main_system = max(design["sites"], key=lambda s: s["gpus"])["system"]
    pools = {p["pool"]: p for p in (simulation or {}).get("pools", [])}
    out: dict[str, Any] = {}
    for wl, row in zip(scn.workloads, serving[main_system]):
        cfg = row.get("config") or {}
        sim = pools.get(f"{main_system}/{row['model']}") or {}
        out[row["model"]] = {
            "system": main_system,
            "share": wl.share,
            "precision": wl.precision,
            "isl_tokens": wl.isl_tokens,
            "osl_tokens": wl.osl_tokens,
            "slo": {"ttft_p99_s": wl.slo.ttft_p99_ms / 1e3, "tpot_p99_s": wl.slo.tpot_p99_ms / 1e3},
            "meets_slo": row["tok_s_gpu"] > 0,
            "config": cfg or None,
            "tok_s_gpu": row["tok_s_gpu"],
            "tok_s_user": row.get("tok_s_user"),
            # p99 from the steady-state estimate with the MLPerf p99/p50 ratios (perf.validate.P99_OVER_STEADY)
            "ttft_p99_s": cfg.get("ttft_s", 0) * P99_OVER_STEADY["ttft"] if cfg else None,
            "tpot_p99_s": cfg.get("tpot_s", 0) * P99_OVER_STEADY["tpot"] if cfg else None,
            "ttft_p99_sim_s": (sim.get("ttft_s") or {}).get("p99"),
            "tpot_p99_sim_s": (sim.get("tpot_s") or {}).get("p99"),
            "slo_attainment_sim": sim.get("slo_attainment"),
            "efficiency": row.get("efficiency"),
            "reason": row.get("reason"),
        }
    return out


def frontiers(serving_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pareto frontier per workload (for the report), as found by the serving search."""
    return {row["model"]: row["frontier"] for row in serving_rows if row.get("frontier")}


def run_plan(cat: Catalog, scn: Scenario, scenario_text: str, scenario_file: str | None, progress: Progress | None = None,
             rollout_samples: int | None = None, economics_samples: int = 10_000) -> dict[str, Any]:
    say = progress or (lambda _msg: None)
    say("design")
    design = design_factory(cat, scn)
    say("serving")
    serving = serving_rates(cat, scn, design)
    say("simulate")
    simulation = simulate_scenario(cat, scn, design=design, serving=serving)
    say("rollout")
    rollout = plan_rollout(cat, scn, design, mix_tok_s_per_gpu(design, serving), samples=rollout_samples)
    say("economics")
    econ = run_economics(cat, scn, design, rollout, serving, economics_samples)
    say("frontiers")
    main_system = max(design["sites"], key=lambda s: s["gpus"])["system"]
    fronts = frontiers(serving[main_system])
    t = design["total"]
    return {
        "schema_version": SCHEMA_VERSION,
        "gigafactory_version": __version__,
        "catalog_version": cat.version,
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "scenario_name": scn.name,
        "scenario_file": scenario_file,
        "scenario_sha256": hashlib.sha256(scenario_text.encode()).hexdigest(),
        "seed": scn.seed,
        "scenario": scn.model_dump(mode="json"),
        "design": {
            "gpus": t["gpus"], "racks": t["racks"], "scalable_units": t["scalable_units"], "it_power_mw": t["it_power_mw"],
            "facility_power_mw": t["facility_power_mw"], "pue": t["pue"], "wue_l_per_kwh": t["wue_l_per_kwh"], "capex_usd": t["capex_usd"],
            "capex_breakdown_usd": t["capex_breakdown_usd"], "floor_area_m2": t["floor_area_m2"], "annual_energy_mwh": t["annual_energy_mwh"],
            "sites": design["sites"], "bom": t["bom"], "base_year": design["base_year"], "currency": design["currency"],
        },
        "serving": _serving_section(cat, scn, serving, design, simulation),
        "simulation": simulation,
        "frontiers": {"system": main_system, "models": fronts},
        "rollout": rollout,
        "economics": econ,
        "sources": _sources(cat, scn, design),
    }


def _sources(cat: Catalog, scn: Scenario, design: dict[str, Any]) -> list[dict[str, str]]:
    """Catalog entries the plan used, with the sources of their values."""
    ids = [("systems", s["system"]) for s in design["sites"]] + [("regions", s["region"]) for s in design["sites"]]
    ids += [("facility", s["cooling"]) for s in design["sites"]] + [("models", w.model) for w in scn.workloads]
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
