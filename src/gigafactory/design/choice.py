"""Design choice: compare candidate systems for the scenario's workload mix by tokens/s per
MW of facility power and per capex dollar, using the performance model's best configuration
per workload under its SLO."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.errors import InputError
from gigafactory.perf.architecture import param_counts
from gigafactory.perf.efficiency import efficiency_for, efficiency_source
from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.load import DEFAULT_LENGTH_CV, Lengths
from gigafactory.perf.search import search
from gigafactory.perf.serving import Speculation
from gigafactory.results.design import DesignChoice, DesignResult
from gigafactory.results.serving import ServingResult
from gigafactory.scenario.model import Scenario
from gigafactory.simulate.run import traffic_kind
from gigafactory.simulate.workload import DIURNAL_PEAK_TO_TROUGH, SYNTHETIC_LENGTH_CV, TRACES, load_lengths, load_trace, peak_rate_factor


def replayed_traffic(scn: Scenario) -> tuple[float, float | None, float]:
    """What the serving simulation will replay, as the p99 judge needs it: (prompt-length CV,
    output-length CV or None for the same, peak-to-mean arrival rate) [1].  A recorded trace gives
    all three (the simulation rescales its lengths to the workload's means, keeping the CVs; its
    peak is :func:`simulate.workload.peak_rate_factor`); a length table its CVs with Poisson
    arrivals; synthetic arrivals draw lengths at SYNTHETIC_LENGTH_CV, and peak only ``diurnal``'s
    daily cosine does (peak / mean = 1 + a).  The trace is read once."""
    trace = scn.simulation.trace
    kind = traffic_kind(trace)
    if kind == "trace":
        wl = load_trace(trace)
        return _cv(wl.input_tokens), _cv(wl.output_tokens), peak_rate_factor(wl.arrival_s)
    if trace in TRACES:
        inp, out = load_lengths(trace)
        return _cv(inp), _cv(out), 1.0
    peak = 1.0 + (DIURNAL_PEAK_TO_TROUGH - 1.0) / (DIURNAL_PEAK_TO_TROUGH + 1.0) if kind == "non-stationary" else 1.0
    return SYNTHETIC_LENGTH_CV, None, peak


def _cv(x: np.ndarray) -> float:
    return float(np.std(x) / np.mean(x)) if len(x) and np.mean(x) > 0 else DEFAULT_LENGTH_CV


def workload_lengths(scn: Scenario, isl_tokens: float, osl_tokens: float,
                     traffic: tuple[float, float | None, float] | None = None) -> Lengths:
    """The request lengths a workload's p99s are judged with: its means, with the spread of what
    the simulation replays (``traffic``, from :func:`replayed_traffic` when not given)."""
    cv, osl_cv, _ = traffic if traffic is not None else replayed_traffic(scn)
    return Lengths(isl_tokens, osl_tokens, cv=cv, osl_cv=osl_cv)


def arrival_peak(scn: Scenario, factor: float | None = None) -> float:
    """How far above the configurations' sustainable rate the serving pools' arrivals peak [1]:
    ``finance.utilisation`` (the pools run at that share of it) x the replayed arrivals'
    peak-to-mean rate (``factor``, from :func:`replayed_traffic` when not given), at least 1."""
    if factor is None:
        factor = replayed_traffic(scn)[2]
    return max(1.0, scn.finance.utilisation * factor)


def serving_for_system(cat: Catalog, scn: Scenario, system_id: str) -> list[dict[str, Any]]:
    """Best tok/s/GPU per workload on ``system_id`` under the workload's SLO (None if unmet)."""
    hw = hardware_from_catalog(cat, system_id)
    eff = efficiency_for(hw.generation, "trtllm", accelerator=hw.accelerator_id)
    out = []
    traffic = replayed_traffic(scn)  # read once for every workload
    peak = arrival_peak(scn, traffic[2])
    for wl in scn.workloads:
        m = cat.model(wl.model)
        if not hw.supports(wl.precision):
            out.append({"model": m.id, "share": wl.share, "tok_s_gpu": 0.0, "reason": f"{wl.precision} not supported"})
            continue
        # the SLOs are p99s, judged by the queueing model (Poisson arrivals, the lengths the
        # serving simulation replays, at the peak of its arrival rate); tok_s_gpu is what the
        # configuration sustains under them
        res = search(m, hw, eff, wl.precision, wl.isl_tokens, wl.osl_tokens,
                     ttft_s=wl.slo.ttft_p99_ms / 1e3, tpot_s=wl.slo.tpot_p99_ms / 1e3,
                     spec=Speculation(wl.speculative_tokens), pc=param_counts(m), lengths=workload_lengths(scn, wl.isl_tokens, wl.osl_tokens, traffic),
                     peak=peak)
        best, load = res.best, res.best_load
        out.append({
            "model": m.id, "share": wl.share, "tok_s_gpu": best.tok_s_gpu if best else 0.0,
            "tok_s_user": best.tok_s_user if best else None, "config": best.as_dict() if best else None,
            "ttft_p99_s": load.ttft_p99_s if load else None, "tpot_p99_s": load.tpot_p99_s if load else None,
            "reason": None if best else "no configuration meets the SLO", "efficiency": efficiency_source(hw.generation, "trtllm"),
            "frontier": [{"tok_s_user": p.tok_s_user, "tok_s_gpu": p.tok_s_gpu, "ttft_s": p.ttft_s, "tpot_s": p.tpot_s, "mode": p.mode,
                          "layout": p.layout.label(), "concurrency": p.concurrency} for p in res.frontier],
        })
    return out


def serving_rates(cat: Catalog, scn: Scenario, design: DesignResult) -> ServingResult:
    """The serving stage: best point per workload on every system the design builds."""
    systems = dict.fromkeys(s.system for s in design.sites)
    return ServingResult(systems={sid: serving_for_system(cat, scn, sid) for sid in systems})


def successor_serving(cat: Catalog, scn: Scenario, design: DesignResult) -> ServingResult:
    """The successor stage: with ``finance.price_decline_per_year: next-generation``, the main
    system's successor serving the scenario's workloads (what the price decline is priced from);
    empty otherwise.  A stage of its own so that a change of prices finds it in the cache."""
    from gigafactory.demand.decline import successor_system

    succ = successor_system(cat, design) if scn.finance.price_decline_per_year == "next-generation" else None
    return ServingResult(systems={succ: serving_for_system(cat, scn, succ)} if succ else {})


def mix_tok_s_per_gpu(design: DesignResult, serving: ServingResult) -> dict[str, float]:
    """Per site: output tokens/s per GPU of the workload mix (share-weighted best points)."""
    return {s.name: sum(w.share * w.tok_s_gpu for w in serving.systems[s.system]) for s in design.sites}


def compare_systems(cat: Catalog, scn: Scenario, design_fn: Callable[[Catalog, Scenario], DesignResult]) -> DesignChoice:
    """Design the whole programme with each candidate system and rank them."""
    candidates = [scn.systems.default, *scn.systems.candidates]
    rows = []
    for sid in dict.fromkeys(cat.system(c).id for c in candidates):
        variant = scn.model_copy(update={
            "systems": scn.systems.model_copy(update={"default": sid}),
            "sites": [s.model_copy(update={"system": None, "cooling": None}) for s in scn.sites],
        })
        try:
            design = design_fn(cat, variant)
        except InputError as exc:
            rows.append({"system": sid, "feasible": False, "reason": exc.problems[0].message})
            continue
        serving = serving_for_system(cat, variant, sid)
        gpus = design.total.gpus
        tok_s = sum(w["share"] * gpus * w["tok_s_gpu"] for w in serving)
        fac_mw = design.total.facility_power_mw
        capex = design.total.capex_usd
        rows.append({
            "system": sid, "feasible": True, "announced": cat.system(sid).announced, "gpus": gpus, "facility_power_mw": fac_mw, "capex_usd": capex,
            "tok_s": tok_s, "tok_s_per_mw": tok_s / fac_mw if fac_mw else 0.0, "tok_s_per_musd": tok_s / (capex / 1e6) if capex else 0.0,
            "serving": serving,
        })
    ok = [r for r in rows if r["feasible"] and r["tok_s"] > 0]
    verdict = None
    if ok:
        by_mw = max(ok, key=lambda r: r["tok_s_per_mw"])
        by_usd = max(ok, key=lambda r: r["tok_s_per_musd"])
        verdict = _explain(by_mw, by_usd, ok)
    return DesignChoice.model_validate({"candidates": rows, "winner_per_mw": verdict and verdict["per_mw"],
                                        "winner_per_usd": verdict and verdict["per_usd"], "why": verdict and verdict["why"]})


def _explain(by_mw: dict, by_usd: dict, rows: list[dict]) -> dict[str, Any]:
    others = [r for r in rows if r is not by_mw]
    parts = []
    for r in others:
        ratio_mw = by_mw["tok_s_per_mw"] / r["tok_s_per_mw"] if r["tok_s_per_mw"] else float("inf")
        gpu_ratio = by_mw["gpus"] / r["gpus"] if r["gpus"] else float("inf")
        tok_gpu = (by_mw["tok_s"] / by_mw["gpus"]) / (r["tok_s"] / r["gpus"]) if r["tok_s"] else float("inf")
        parts.append(f"{by_mw['system']} serves {ratio_mw:.2f}x the tokens per MW of {r['system']}: "
                     f"{gpu_ratio:.2f}x the GPUs in the same power and {tok_gpu:.2f}x the tokens/s per GPU for this mix")
    why = "; ".join(parts)
    if by_usd is not by_mw:
        why += f". Per capex dollar {by_usd['system']} wins ({by_usd['tok_s_per_musd']:,.0f} vs {by_mw['tok_s_per_musd']:,.0f} tok/s per M USD)."
    if by_mw.get("announced"):
        why += f" Note: {by_mw['system']} is announced, not shipping; its figures are vendor claims."
    return {"per_mw": by_mw["system"], "per_usd": by_usd["system"], "why": why}
