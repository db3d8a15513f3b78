"""Metrics of a finished simulation: latency percentiles, goodput, throughput, utilisation,
energy, and request conservation.

Definitions (as MLPerf LoadGen and vLLM's benchmark report them):
- TTFT: first token time - arrival (queueing included); TPOT: (finish - first token) / (output
  tokens - 1), for requests with more than one output token; end-to-end: finish - arrival.
- goodput: completed requests that met both SLOs per second of arrival window (DistServe's
  definition).
- throughput: output tokens of completed requests per second of arrival window.
- utilisation: share of the arrival window a replica was running a step, averaged over GPUs.
- energy: GPU energy over the arrival window from the power model (idle + prefill + decode
  draw); energy per token divides it by the output tokens generated within the window (a
  request's first token at its first-token time, the others evenly until it finishes).

Measured window.  Every figure is over the requests that arrived in the measured window
[start, end) (by default the arrival window [0, duration)), and rates and energy are per
second of that window, not of the span up to the last completion: goodput and throughput count
the window's requests, utilisation and energy the work done within the window (from snapshots
of the replicas' step times at its two ends, :func:`busy_at`).  After the last arrival the
requests drain at shrinking batches, and a run starts empty; counting that tail would make a
short run look slower and costlier per token than a long one (the drain is as long for both),
so it is left out, and a short and a long run estimate the same steady-state figures.  A run
may also measure from a warm-up time on and keep requests arriving after the window (cool-down)
so that the measured requests see a loaded system throughout (``simulate.run``).

Precision (:func:`precision`): 95 % confidence intervals of a pool's p99 TTFT and SLO attainment
by batch means.  The requests are cut into ``CI_BATCHES`` batches of equal arrival time; the
variance of a share (of requests meeting the SLO, or with TTFT at or below the estimated p99)
is estimated from the spread of the batch shares, which carries the correlation between
neighbouring requests of a queue (Schmeiser, "Batch size effects in the analysis of simulation
output", Oper. Res. 30(3), 1982; Law, Simulation Modeling and Analysis, ch. 9, batch means), and
is never taken below the binomial variance of independent requests.  From it, an effective
number of independent requests ``n_eff = p (1 - p) / var`` gives:

- p99 TTFT: the distribution-free order-statistic interval (Conover, Practical Nonparametric
  Statistics, ch. 3), ranks n (0.99 -/+ t sqrt(0.99 x 0.01 / n_eff)); no upper end when
  the upper rank passes the largest value;
- SLO attainment: the Wilson score interval with n_eff requests,

with t the Student quantile for ``batches - 1`` degrees of freedom.  With independent requests
these are the textbook binomial intervals.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtri, stdtrit  # the t and normal quantiles; scipy.stats takes ~2.5 s to import

from gigafactory.simulate.power import PowerModel
from gigafactory.simulate.sim import Simulation

PERCENTILES = (50, 90, 99)
#: confidence level of the intervals in a pool's ``sampling`` block.
CONFIDENCE = 0.95
#: batches of equal arrival time the batch-means variance is estimated from (10-30 is the usual advice).
CI_BATCHES = 20


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
        "failed": np.asarray(r.failed, dtype=bool), "retries": np.asarray(r.retries, dtype=np.int64),
        "aborted": np.isfinite(np.asarray(r.aborted, dtype=float)),  # its client went away (the emulator's abort)
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


def busy_at(pool: Any, now: float) -> list[tuple[float, float]]:
    """Step time and prefill-step time [s] of each of ``pool``'s replicas up to ``now``, the
    running step's elapsed part included (a snapshot for :func:`pool_summary`)."""
    out = []
    for r in pool.all_replicas():
        run = now - r.t_start if r.busy else 0.0
        out.append((r.busy_s + run, r.busy_prefill_s + (run if r.chunks else 0.0)))
    return out


def tokens_generated_by(a: dict[str, np.ndarray], mask: np.ndarray, t_s: float) -> float:
    """Output tokens the requests in ``mask`` had generated by ``t_s``: the first at the first-token
    time, the others evenly between it and the finish."""
    first, fin, out = a["first"][mask], a["finish"][mask], a["out"][mask]
    has_first = np.isfinite(first) & (first <= t_s)
    done = np.isfinite(fin)
    span = np.where(done, fin - first, np.inf)
    frac = np.where(span > 0, np.clip((t_s - first) / np.where(span > 0, span, 1.0), 0.0, 1.0), 1.0)
    frac = np.where(done, frac, 0.0)
    return float(np.sum(np.where(has_first, 1.0 + (out - 1) * frac, 0.0)))


def pool_summary(sim: Simulation, info: dict[str, Any], models: tuple[str, ...], slo: SLO | None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One pool's block of the result and its per-request latencies (for fleet percentiles).

    ``info``: ``model_indices``, ``power`` (PowerModel), ``mode``, ``replicas_represented``;
    optional ``window`` (start, end) of the measured arrival window (default ``(0, sim.duration_s)``)
    and ``busy_at_window_start`` / ``busy_at_window_end``, :func:`busy_at` snapshots at its ends
    (without the end one, utilisation and energy count the work up to the end of the run).
    The pool's ``scale`` (real replicas per simulated one) multiplies throughput, goodput,
    GPUs and energy; per-request figures are unchanged by it.
    """
    pool = sim.pools[0] if len(sim.pools) == 1 else next(p for p in sim.pools if p.name == info["name"])
    a = request_arrays(sim)
    span = sim.end_s
    t0, t1 = info.get("window") or (0.0, sim.duration_s)
    window = t1 - t0  # rates are per second of the measured window (module docstring)
    # requests their client aborted are left out (never completed, dropped or in flight); a batch run has none
    pool_mask = np.isin(a["model"], info["model_indices"]) & ~a["aborted"]
    mask = pool_mask & (a["arrival"] >= t0) & (a["arrival"] < t1)
    lm = latency_metrics(a, mask, slo, window)
    reps = pool.all_replicas()
    pm: PowerModel = info["power"]
    snap = info.get("busy_at_window_end")
    busy1 = snap if snap is not None else [(r.busy_s, r.busy_prefill_s) for r in reps]
    busy0 = info.get("busy_at_window_start") or [(0.0, 0.0)] * len(reps)
    busy = [(b1 - b0, p1 - p0) for (b1, p1), (b0, p0) in zip(busy1, busy0)]
    energy = sum(pm.energy_j(r.cost.gpus, window, bp, b - bp) for r, (b, bp) in zip(reps, busy))
    gpus = sum(r.cost.gpus for r in reps)
    busy_gpu_s = sum(b * r.cost.gpus for r, (b, _) in zip(reps, busy))
    if snap is not None:  # tokens generated within the window, by whichever requests
        tokens = tokens_generated_by(a, pool_mask, t1) - (tokens_generated_by(a, pool_mask, t0) if t0 > 0 else 0.0)
    else:
        tokens = float(lm["output_tokens"])
    scale = pool.scale
    finished = mask & np.isfinite(a["finish"]) & ~a["dropped"]
    dropped = int((a["dropped"] & mask).sum())
    arrived = int(mask.sum())
    block: dict[str, Any] = {
        "pool": pool.name, "models": [models[i] for i in info["model_indices"]], "mode": info.get("mode", "aggregated"),
        "system": info.get("system"), "layout": info.get("layout"), "engine": info.get("engine"),
        "per_rank_mean_field": info.get("dp_attention_ranks_simulated_separately", False),
        "replicas_simulated": len(reps), "replicas_represented": info.get("replicas_represented", len(reps)),
        "gpus_represented": info.get("gpus_represented", gpus * scale), "gpus_simulated": gpus, "rate_rps_represented": arrived / window * scale,
        "arrived": arrived, "dropped": dropped, "in_flight": arrived - int(finished.sum()) - dropped,
        **lm,
        "goodput_rps": lm.get("goodput_rps", 0.0) * scale,
        "throughput_tok_s": lm["output_tokens"] / window * scale if window else 0.0,
        # capped: without an end snapshot the work done after the window is counted too
        "gpu_utilization": min(1.0, busy_gpu_s / (gpus * window)) if gpus and window else 0.0,
        "energy_j": energy * scale,  # the simulated group's energy x replicas represented per simulated one
        "energy_j_per_token": energy / tokens if tokens else None,
        "kv_capacity_tokens_per_replica": reps[0].cap if reps and math.isfinite(reps[0].cap) else None,
        "prefix_cache_hit_rate": lm["cached_prompt_tokens"] / lm["input_tokens"] if lm["input_tokens"] else 0.0,
        "events": sim.queue.processed, "stopped_at_horizon": sim.stopped_early,
        "timeseries": [{"t_s": s.t_s, **s.pools.get(pool.name, {})} for s in sim.samples],
    }
    lat = latencies(a, finished) | {"scale": np.array([scale]), "duration_s": np.array([window])}
    block["busy_gpu_s"] = busy_gpu_s * scale
    block["span_s"] = span
    block["scale"] = scale
    return block, lat


def fleet_summary(blocks: list[dict[str, Any]], lats: list[dict[str, np.ndarray]], span_s: float, duration_s: float) -> dict[str, Any]:
    """Fleet totals over pools.  Percentiles weight each simulated request by the real requests per
    second it stands for: its pool's scale / the pool's arrival window (pools may simulate
    windows of different lengths); energy per token is total power / total token rate."""
    def weight(l: dict[str, np.ndarray]) -> float:
        return float(l["scale"][0]) / (float(l["duration_s"][0]) if "duration_s" in l else 1.0)

    def merged(key: str) -> dict[str, float | None]:
        xs = [l[key] for l in lats]
        ws = [np.full(l[key].size, weight(l)) for l in lats]
        return weighted_percentiles(np.concatenate(xs) if xs else np.empty(0), np.concatenate(ws) if ws else np.empty(0))

    gpus = sum(b["gpus_represented"] for b in blocks)
    tok = sum(b["throughput_tok_s"] for b in blocks)  # [tokens/s]
    # [W]: each pool's energy per token x its token rate
    energy = sum(b["energy_j_per_token"] * b["throughput_tok_s"] for b in blocks if b["energy_j_per_token"] is not None)
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


def _batch_variance(v: np.ndarray, batch: np.ndarray, batches: int) -> tuple[float, int]:
    """Batch-means variance of the mean of ``v`` (ratio estimator over batches of unequal size),
    and the number of non-empty batches."""
    nb = np.bincount(batch, minlength=batches).astype(float)
    sb = np.bincount(batch, weights=v, minlength=batches)
    keep = nb > 0
    b = int(keep.sum())
    n = float(v.size)
    if b < 2:
        return 0.0, b
    m = float(v.mean())
    return b / (b - 1) * float(np.sum((sb[keep] - m * nb[keep]) ** 2)) / (n * n), b


def quantile_ci(x: np.ndarray, batch: np.ndarray, p: float = 0.99, confidence: float = CONFIDENCE,
                batches: int = CI_BATCHES) -> dict[str, Any]:
    """Confidence interval of the ``p`` quantile of ``x`` (see the module docstring).

    ``batch``: each value's batch index (0 .. batches-1).  Returns ``lo``, ``hi`` (None: no upper
    end within the sample), the order-statistic estimate ``q`` and ``n_eff``.
    """
    n = x.size
    if n == 0:
        return {"q": None, "lo": None, "hi": None, "n_eff": 0.0}
    xs = np.sort(x)
    q = float(xs[min(max(math.ceil(n * p) - 1, 0), n - 1)])
    var, b = _batch_variance((x <= q).astype(float), batch, batches)
    var = max(var, p * (1 - p) / n)
    t = float(stdtrit(b - 1, 0.5 + confidence / 2)) if b >= 2 else float(ndtri(0.5 + confidence / 2))
    h = t * math.sqrt(var)
    lo_rank = math.floor(n * (p - h))  # 1-based order statistics X_(lo_rank) .. X_(hi_rank)
    hi_rank = math.ceil(n * (p + h)) + 1
    return {"q": q, "lo": float(xs[max(lo_rank, 1) - 1]), "hi": float(xs[hi_rank - 1]) if hi_rank <= n else None,
            "n_eff": p * (1 - p) / var}


def proportion_ci(y: np.ndarray, batch: np.ndarray, confidence: float = CONFIDENCE, batches: int = CI_BATCHES) -> dict[str, Any]:
    """Wilson interval of the share of true ``y`` with the batch-means effective sample size."""
    n = y.size
    if n == 0:
        return {"share": None, "lo": None, "hi": None, "n_eff": 0.0}
    a = float(y.mean())
    var, b = _batch_variance(y.astype(float), batch, batches)
    n_eff = float(n) if var <= 0 or a * (1 - a) == 0 else min(float(n), a * (1 - a) / var)
    t = float(stdtrit(b - 1, 0.5 + confidence / 2)) if b >= 2 else float(ndtri(0.5 + confidence / 2))
    den = 1 + t * t / n_eff
    centre = (a + t * t / (2 * n_eff)) / den
    half = t * math.sqrt(a * (1 - a) / n_eff + t * t / (4 * n_eff * n_eff)) / den
    return {"share": a, "lo": max(0.0, centre - half), "hi": min(1.0, centre + half), "n_eff": n_eff}


def precision(a: dict[str, np.ndarray], mask: np.ndarray, slo: SLO | None, window: tuple[float, float],
              batches: int = CI_BATCHES, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """95 % intervals of p99 TTFT and SLO attainment over the completed requests in ``mask``,
    batched by arrival time over ``window`` = (start, end) (see the module docstring)."""
    done = mask & np.isfinite(a["finish"])
    arr = a["arrival"][done]
    t0, t1 = window
    if t1 > t0:
        batch = np.clip(((arr - t0) / (t1 - t0) * batches).astype(np.int64), 0, batches - 1)
    else:
        batch = np.zeros(arr.size, np.int64)
    ttft = a["first"][done] - arr
    qc = quantile_ci(ttft, batch, 0.99, confidence, batches)
    q = qc["q"]
    rel = None
    if q and qc["hi"] is not None:
        rel = max(q - qc["lo"], qc["hi"] - q) / q
    out: dict[str, Any] = {
        "confidence": confidence, "batches": int(np.unique(batch).size),
        "ttft_p99_ci_s": [qc["lo"], qc["hi"]], "ttft_p99_ci_rel_half_width": rel,
        "slo_attainment_ci": [None, None], "slo_attainment_ci_half_width": None,
        "effective_requests": {"ttft_p99": qc["n_eff"], "slo_attainment": None},
    }
    if slo is not None and done.any():
        out_tok = a["out"][done]
        tp = np.where(out_tok > 1, (a["finish"][done] - a["first"][done]) / np.maximum(out_tok - 1, 1), 0.0)
        pc = proportion_ci((ttft <= slo.ttft_s) & (tp <= slo.tpot_s), batch, confidence, batches)
        out["slo_attainment_ci"] = [pc["lo"], pc["hi"]]
        out["slo_attainment_ci_half_width"] = max(pc["share"] - pc["lo"], pc["hi"] - pc["share"])
        out["effective_requests"]["slo_attainment"] = pc["n_eff"]
    return out
