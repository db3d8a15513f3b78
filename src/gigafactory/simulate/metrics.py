"""Metrics of a finished simulation: latency percentiles, goodput, throughput, utilisation,
energy, and request conservation.

Definitions (as MLPerf LoadGen and vLLM's benchmark report them):
- TTFT: first token time - arrival (queueing included); TPOT: (finish - first token) / (output
  tokens - 1), for requests with more than one output token; end-to-end: finish - arrival.
- goodput: completed requests per second that met both SLOs (DistServe's definition).
- throughput: output tokens of completed requests / simulated span.
- utilisation: share of the span a replica was running a step, averaged over GPUs.
- energy: GPU energy over the span from the power model (idle + prefill + decode draw).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gigafactory.simulate.power import PowerModel
from gigafactory.simulate.sim import Simulation

PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class SLO:
    ttft_s: float
    tpot_s: float


def percentiles(x: np.ndarray) -> dict[str, float | None]:
    if x.size == 0:
        return {f"p{p}": None for p in PERCENTILES} | {"mean": None}
    v = np.percentile(x, PERCENTILES)
    return {f"p{p}": float(q) for p, q in zip(PERCENTILES, v)} | {"mean": float(x.mean())}


def request_arrays(sim: Simulation) -> dict[str, np.ndarray]:
    r = sim.req
    return {
        "arrival": np.asarray(r.arrival, dtype=float), "first": np.asarray(r.first, dtype=float),
        "finish": np.asarray(r.finish, dtype=float), "inp": np.asarray(r.inp, dtype=np.int64),
        "out": np.asarray(r.out, dtype=np.int64), "model": np.asarray(r.model, dtype=np.int64),
        "dropped": np.asarray(r.dropped, dtype=bool), "cached": np.asarray(r.cached, dtype=np.int64),
        "preemptions": np.asarray(r.preemptions, dtype=np.int64),
    }


def latencies(a: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    """Per completed request in ``mask``: TTFT and end-to-end; TPOT for those with > 1 output token [s]."""
    done = mask & np.isfinite(a["finish"])
    multi = done & (a["out"] > 1)
    return {"ttft": a["first"][done] - a["arrival"][done], "tpot": (a["finish"][multi] - a["first"][multi]) / (a["out"][multi] - 1),
            "e2e": a["finish"][done] - a["arrival"][done]}


def latency_metrics(a: dict[str, np.ndarray], mask: np.ndarray, slo: SLO | None, span_s: float) -> dict[str, Any]:
    done = mask & np.isfinite(a["finish"])
    lat = latencies(a, mask)
    ttft = lat["ttft"]
    out: dict[str, Any] = {
        "ttft_s": percentiles(ttft), "tpot_s": percentiles(lat["tpot"]), "e2e_s": percentiles(lat["e2e"]),
        "completed": int(done.sum()), "output_tokens": int(a["out"][done].sum()), "input_tokens": int(a["inp"][done].sum()),
        "cached_prompt_tokens": int(a["cached"][done].sum()), "preemptions": int(a["preemptions"][mask].sum()),
    }
    if slo is not None:
        tp = np.where(a["out"][done] > 1, (a["finish"][done] - a["first"][done]) / np.maximum(a["out"][done] - 1, 1), 0.0)
        good = (ttft <= slo.ttft_s) & (tp <= slo.tpot_s)
        out["slo"] = {"ttft_s": slo.ttft_s, "tpot_s": slo.tpot_s}
        out["slo_attainment"] = float(good.mean()) if good.size else None
        out["goodput_rps"] = float(good.sum() / span_s)
    return out


def weighted_percentiles(x: np.ndarray, w: np.ndarray) -> dict[str, float | None]:
    """Percentiles of ``x`` where each value stands for ``w`` requests (inverted CDF)."""
    if x.size == 0:
        return {f"p{p}": None for p in PERCENTILES} | {"mean": None}
    o = np.argsort(x, kind="stable")
    xs, cw = x[o], np.cumsum(w[o])
    total = cw[-1]
    out = {f"p{p}": float(xs[min(np.searchsorted(cw, p / 100 * total), xs.size - 1)]) for p in PERCENTILES}
    return out | {"mean": float(np.sum(x * w) / np.sum(w))}


def pool_summary(sim: Simulation, info: dict[str, Any], models: tuple[str, ...], slo: SLO | None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One pool's block of the result and its per-request latencies (for fleet percentiles).

    ``info``: ``model_indices``, ``power`` (PowerModel), ``mode``, ``replicas_represented``.
    The pool's ``scale`` (real replicas per simulated one) multiplies throughput, goodput,
    GPUs and energy; per-request figures are unchanged by it.
    """
    pool = sim.pools[0] if len(sim.pools) == 1 else next(p for p in sim.pools if p.name == info["name"])
    a = request_arrays(sim)
    span = sim.end_s
    mask = np.isin(a["model"], info["model_indices"])
    lm = latency_metrics(a, mask, slo, span)
    reps = pool.all_replicas()
    pm: PowerModel = info["power"]
    energy = sum(pm.energy_j(r.cost.gpus, span, r.busy_prefill_s, r.busy_s - r.busy_prefill_s) for r in reps)
    gpus = sum(r.cost.gpus for r in reps)
    busy_gpu_s = sum(r.busy_s * r.cost.gpus for r in reps)
    scale = pool.scale
    finished = mask & np.isfinite(a["finish"]) & ~a["dropped"]
    dropped = int((a["dropped"] & mask).sum())
    arrived = int(mask.sum())
    block: dict[str, Any] = {
        "pool": pool.name, "models": [models[i] for i in info["model_indices"]], "mode": info.get("mode", "aggregated"),
        "system": info.get("system"), "layout": info.get("layout"), "engine": info.get("engine"),
        "per_rank_mean_field": info.get("dp_attention_ranks_simulated_separately", False),
        "replicas_simulated": len(reps), "replicas_represented": info.get("replicas_represented", len(reps)),
        "gpus_represented": info.get("gpus_represented", gpus * scale), "gpus_simulated": gpus, "rate_rps_represented": arrived / sim.duration_s * scale,
        "arrived": arrived, "dropped": dropped, "in_flight": arrived - int(finished.sum()) - dropped,
        **lm,
        "goodput_rps": lm.get("goodput_rps", 0.0) * scale,
        "throughput_tok_s": lm["output_tokens"] / span * scale if span else 0.0,
        "gpu_utilization": busy_gpu_s / (gpus * span) if gpus and span else 0.0,
        "energy_j": energy * scale,  # the simulated group's energy x replicas represented per simulated one
        "energy_j_per_token": energy / lm["output_tokens"] if lm["output_tokens"] else None,
        "kv_capacity_tokens_per_replica": reps[0].cap if reps and math.isfinite(reps[0].cap) else None,
        "prefix_cache_hit_rate": lm["cached_prompt_tokens"] / lm["input_tokens"] if lm["input_tokens"] else 0.0,
        "events": sim.queue.processed, "stopped_at_horizon": sim.stopped_early,
        "timeseries": [{"t_s": s.t_s, **s.pools.get(pool.name, {})} for s in sim.samples],
    }
    lat = latencies(a, finished) | {"scale": np.array([scale])}
    block["busy_gpu_s"] = busy_gpu_s * scale
    block["span_s"] = span
    block["scale"] = scale
    return block, lat


def fleet_summary(blocks: list[dict[str, Any]], lats: list[dict[str, np.ndarray]], span_s: float, duration_s: float) -> dict[str, Any]:
    """Fleet totals over pools; percentiles weight each simulated request by its pool's scale."""
    def merged(key: str) -> dict[str, float | None]:
        xs = [l[key] for l in lats]
        ws = [np.full(l[key].size, float(l["scale"][0])) for l in lats]
        return weighted_percentiles(np.concatenate(xs) if xs else np.empty(0), np.concatenate(ws) if ws else np.empty(0))

    gpus = sum(b["gpus_represented"] for b in blocks)
    tok = sum(b["output_tokens"] * b["scale"] for b in blocks)
    energy = sum(b["energy_j"] for b in blocks)
    arrived = sum(b["arrived"] for b in blocks)
    completed = sum(b["completed"] for b in blocks)
    dropped = sum(b["dropped"] for b in blocks)
    in_flight = sum(b["in_flight"] for b in blocks)
    return {
        "span_s": span_s, "duration_s": duration_s,
        "arrived": arrived, "completed": completed, "dropped": dropped, "in_flight": in_flight,
        "conservation_ok": arrived == completed + dropped + in_flight,
        "ttft_s": merged("ttft"), "tpot_s": merged("tpot"), "e2e_s": merged("e2e"),
        "goodput_rps": sum(b["goodput_rps"] for b in blocks),
        "throughput_tok_s": sum(b["throughput_tok_s"] for b in blocks),
        "gpu_utilization": sum(b["gpu_utilization"] * b["gpus_represented"] for b in blocks) / gpus if gpus else 0.0,
        "energy_j_per_token": energy / tok if tok else None,
        "gpus_represented": gpus,
        "rate_rps_represented": sum(b["rate_rps_represented"] for b in blocks),
        "events": sum(b["events"] for b in blocks),
    }
