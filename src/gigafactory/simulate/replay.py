"""Replay of an MLPerf Server / Interactive row: Poisson arrivals on the row's system, and the
highest arrival rate whose simulated p99 TTFT and p99 TPOT stay under the row's limits.

This is how submitters find their number (they raise the target QPS until a bound fails), so
``rate x osl_mean / num_gpus`` at that rate is compared with the row's ``tok_s_gpu``.  The
engine's batch limit (``max_seqs``) is the submitter's tuning knob: it is searched too.

Lengths: MLPerf publishes the dataset mean and maximum, not the distribution, so lengths are
lognormal with the row's means and a coefficient of variation of 1 (stated assumption),
capped at the row's maxima.  The first ``WARMUP_SHARE`` of requests are not scored
(LoadGen scores a run that has reached steady state; ours starts empty).

Disaggregated rows run their own split: ``prefill_gpus`` in prefill instances (the layout the
row's notes state, else ``rows.prefill_layout``), ``decode_gpus`` in decode instances of the
row's layout, KV caches sent between them over NVLink within the domain (the scale-out network
beyond it); every instance is simulated, and the tok/s/GPU counts both pools' GPUs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.perf.architecture import param_counts
from gigafactory.perf.efficiency import efficiency_for
from gigafactory.perf.layout import Layout
from gigafactory.perf.memory import memory_fit
from gigafactory.perf.power import row_hardware
from gigafactory.perf.rows import cell_float, cell_int, prefill_layout, row_layouts
from gigafactory.perf.serving import Speculation
from gigafactory.simulate import workload as wlmod
from gigafactory.simulate.cost import PREFILL_MAX_SEQS, PerfStepCost, RankCost, kv_transfer_s_per_token
from gigafactory.simulate.engine import EngineConfig, Pool, Replica
from gigafactory.simulate.router import make_router
from gigafactory.simulate.sim import Requests, Simulation

LENGTH_CV = 1.0
WARMUP_SHARE = 0.1
MAX_SEQS_GRID = (8, 16, 32, 64, 128, 256, 512, 1024, 2048)
#: a run lasts at least this many request lifetimes (osl x TPOT limit + TTFT limit) ...
MIN_LIFETIMES = 4.0
#: ... and at least this long [s] (MLPerf runs last >= 600 s)
MIN_DURATION_S = 120.0


@dataclass
class ReplayResult:
    id: str
    status: str  # "ok" | "unsupported"
    reason: str | None = None
    predicted_tok_s_gpu: float | None = None
    measured_tok_s_gpu: float | None = None
    ape: float | None = None
    rate_rps: float | None = None
    max_seqs: int | None = None
    layout: str | None = None
    at_row_qps: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _row_setup(row: dict[str, str], cat: Catalog) -> dict[str, Any]:
    m = cat.model(row["model"])
    hw = row_hardware(cat, row)  # MaxQ rows run capped
    return {"m": m, "pc": param_counts(m), "hw": hw, "eff": efficiency_for(hw.generation, row.get("framework") or "trtllm", accelerator=hw.accelerator_id),
            "precision": row["precision"], "spec": Speculation(draft_tokens=max(1, m.mtp_layers or 1)) if cell_int(row, "mtp") == 1 else Speculation()}


def simulate_row_load(row: dict[str, str], cat: Catalog, layout: Layout, rate_rps: float, max_seqs: int, n_requests: int, seed: int = 0,
                      setup: dict[str, Any] | None = None, step_cost: PerfStepCost | None = None,
                      prefill: tuple[Layout, int, int] | None = None) -> dict[str, Any]:
    """p50/p99 TTFT and TPOT of the row's system under Poisson load at ``rate_rps``.  ``prefill``:
    (prefill layout, prefill instances, decode instances) of a disaggregated row."""
    s = setup or _row_setup(row, cat)
    n_gpus = cell_int(row, "num_gpus")
    ranks = layout.tp if layout.dp_attention else 1
    schedulers = (prefill[2] if prefill else n_gpus // layout.gpus) * ranks
    rng = np.random.default_rng(seed)
    # long enough to reach steady state: several request lifetimes at the latency limits
    lifetime = cell_float(row, "osl_mean") * cell_float(row, "tpot_p99_limit_ms") / 1e3 + cell_float(row, "ttft_p99_limit_ms") / 1e3
    duration = max(n_requests / rate_rps, MIN_LIFETIMES * lifetime, MIN_DURATION_S)
    # identical replicas behind the router: simulate k of them with k/n of the traffic (a
    # disaggregated row: all of them, its two pools are not identical replicas)
    k = schedulers if prefill else max(1, min(schedulers, int(n_requests * schedulers / (rate_rps * duration))))
    if k < schedulers:
        k = min(schedulers, max(k, 2))
    rate_rps = rate_rps * k / schedulers
    wl = wlmod.synthetic(wlmod.poisson_arrivals(rate_rps, duration, rng), rng, isl=cell_float(row, "isl_mean"), osl=cell_float(row, "osl_mean"),
                         cv_len=LENGTH_CV, max_input=cell_int(row, "isl_max"), max_output=cell_int(row, "osl_max"), duration_s=duration)
    req = Requests(wl.arrival_s.tolist(), wl.input_tokens.tolist(), wl.output_tokens.tolist(), [0] * len(wl))
    sim = Simulation(req, duration, drain_s=10 * duration)
    cost: Any = step_cost or PerfStepCost(s["m"], s["pc"], s["hw"], s["eff"], layout, s["precision"], s["spec"])
    if ranks > 1:
        cost = RankCost(cost, ranks)
    cfg = EngineConfig(max_seqs=max(1, max_seqs // ranks))
    if prefill:
        pf_layout, n_p, _ = prefill
        pool = Pool(sim, row["id"], None, make_router("least-outstanding"), decode_router=make_router("least-outstanding"),
                    transfer_s_per_token=kv_transfer_s_per_token(cost.kv_bytes_per_token, s["hw"], n_gpus <= s["hw"].domain_gpus))
        pf_cost = PerfStepCost(s["m"], s["pc"], s["hw"], s["eff"], pf_layout, s["precision"], Speculation())
        pool.replicas = [Replica(sim, pool, i, pf_cost, EngineConfig(max_seqs=PREFILL_MAX_SEQS), "prefill") for i in range(n_p)]
        pool.decode_replicas = [Replica(sim, pool, i, cost, cfg, "decode") for i in range(k)]
    else:
        pool = Pool(sim, row["id"], None, make_router("least-outstanding"))
        pool.replicas = [Replica(sim, pool, i, cost, cfg) for i in range(k)]
    sim.add_pool(pool, [0])
    sim.run()
    arr, first, fin = np.array(req.arrival), np.array(req.first), np.array(req.finish)
    out = np.array(req.out)
    scored = np.arange(len(req)) >= int(WARMUP_SHARE * len(req))
    done = scored & np.isfinite(fin)
    multi = done & (out > 1)
    if done.sum() < 0.95 * scored.sum():  # did not keep up: requests left unfinished
        return {"ok": False, "ttft_p50_s": math.inf, "ttft_p99_s": math.inf, "tpot_p50_s": math.inf, "tpot_p99_s": math.inf}
    ttft = first[done] - arr[done]
    tpot = (fin[multi] - first[multi]) / (out[multi] - 1)
    return {"ok": True, "ttft_p50_s": float(np.percentile(ttft, 50)), "ttft_p99_s": float(np.percentile(ttft, 99)),
            "tpot_p50_s": float(np.percentile(tpot, 50)) if tpot.size else 0.0, "tpot_p99_s": float(np.percentile(tpot, 99)) if tpot.size else 0.0}


def _meets(res: dict[str, Any], ttft_s: float, tpot_s: float) -> bool:
    return res["ok"] and res["ttft_p99_s"] <= ttft_s and res["tpot_p99_s"] <= tpot_s


def replay_server_row(row: dict[str, str], cat: Catalog, n_requests: int = 20000, iterations: int = 7, seed: int = 0) -> ReplayResult:
    """Highest Poisson rate meeting the row's p99 limits, over the row's layout(s) and a grid of batch limits."""
    rid = row.get("id", "?")
    measured = cell_float(row, "tok_s_gpu")
    if row.get("scenario") not in ("server", "interactive"):
        return ReplayResult(rid, "unsupported", "not a server or interactive row", measured_tok_s_gpu=measured)
    ttft_lim, tpot_lim = cell_float(row, "ttft_p99_limit_ms"), cell_float(row, "tpot_p99_limit_ms")
    n_gpus, isl, osl = cell_int(row, "num_gpus"), cell_float(row, "isl_mean"), cell_float(row, "osl_mean")
    if None in (ttft_lim, tpot_lim, n_gpus, isl, osl):
        return ReplayResult(rid, "unsupported", "latency limits, GPUs or lengths missing", measured_tok_s_gpu=measured)
    try:
        s = _row_setup(row, cat)
    except Exception as exc:  # unknown model or hardware in the catalog
        return ReplayResult(rid, "unsupported", f"not in the catalog: {exc}", measured_tok_s_gpu=measured)
    if not s["hw"].supports(s["precision"]):
        return ReplayResult(rid, "unsupported", f"{s['precision']} not supported on {row['hardware']}", measured_tok_s_gpu=measured)
    disagg = cell_int(row, "disaggregated") == 1
    pg, dg = (cell_int(row, "prefill_gpus"), cell_int(row, "decode_gpus")) if disagg else (0, n_gpus)
    if disagg and not (pg and dg):
        return ReplayResult(rid, "unsupported", "disaggregated row without prefill/decode GPU counts", measured_tok_s_gpu=measured)
    pf_layout = prefill_layout(s["m"], s["pc"], s["hw"], s["precision"], pg, row.get("notes", "")) if disagg else None
    best: tuple[float, int, Layout] | None = None
    prefill: tuple[Layout, int, int] | None = None
    for layout in row_layouts(row, s["m"], s["hw"]):
        if dg % layout.gpus or (pf_layout is not None and pg < pf_layout.gpus):
            continue
        fit = memory_fit(s["m"], s["pc"], s["hw"], layout, s["precision"], int(isl + osl))
        cap = fit.max_concurrency(isl + osl)
        if cap < 1:
            continue
        replicas = dg // layout.gpus
        split = (pf_layout, pg // pf_layout.gpus, replicas) if pf_layout is not None else None
        cost = PerfStepCost(s["m"], s["pc"], s["hw"], s["eff"], layout, s["precision"], s["spec"])  # one per layout: its decode-law cache is reused
        for max_seqs in [q for q in MAX_SEQS_GRID if q <= cap] or [cap]:
            # upper bound: every replica at max_seqs with a 1-token step of its batch -> optimistic rate
            step = cost.step_s(max_seqs, max_seqs * (isl + osl / 2), 0, 0)
            hi = replicas * max_seqs * s["spec"].tokens_per_step / step / osl * 1.5
            lo = 0.0
            if best is not None and best[0] >= hi:
                continue
            for _ in range(iterations):
                mid = (lo + hi) / 2 if lo > 0 else hi / 2
                if _meets(simulate_row_load(row, cat, layout, mid, max_seqs, n_requests, seed, s, cost, split), ttft_lim / 1e3, tpot_lim / 1e3):
                    lo = mid
                else:
                    hi = mid
            if lo > 0 and (best is None or lo > best[0]):
                best, prefill = (lo, max_seqs, layout), split
    if best is None:
        return ReplayResult(rid, "unsupported", "no batch limit meets the latency limits at any rate", measured_tok_s_gpu=measured)
    rate, max_seqs, layout = best
    pred = rate * osl / n_gpus
    at_qps = None
    qps = cell_float(row, "target_qps")
    if qps:
        at_qps = simulate_row_load(row, cat, layout, qps, max_seqs, n_requests, seed, s, prefill=prefill)
    label = layout.label() if prefill is None else f"{prefill[1]}x {prefill[0].label()} prefill + {prefill[2]}x {layout.label()} decode"
    return ReplayResult(rid, "ok", None, pred, measured, abs(pred - measured) / measured if measured else None, rate, max_seqs, label, at_qps)
