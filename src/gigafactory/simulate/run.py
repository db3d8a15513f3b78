"""Orchestrator of `gigafactory simulate`: the scenario's fleet, serving its workload mix on a
real or synthetic trace, one pool per (system, model).

Fleet: the factory design gives GPUs per system; each workload gets its share of them, cut into
serving units of the configuration the performance model chose under the workload's SLO
(``design.choice.serving_for_system``), with its batch size as the engine's ``max_seqs``.

Traffic: arrival times come from the trace, scaled to the pool's rate; request lengths come
from the trace too, rescaled so their means are the workload's ``isl_tokens`` / ``osl_tokens``
(the shape of the length distribution is kept); for traces with prefix-block hashes (Mooncake)
the block size is rescaled with the prompts, so the sharing structure is kept.  With no rate given, each pool
is loaded at ``finance.utilisation`` of the throughput the performance model predicts for it.

Scale: identical replicas behind a load-balancing router see statistically identical traffic,
so a pool of R replicas is simulated as a representative group of k <= R replicas carrying
k/R of the pool's traffic, and totals are scaled by R/k.  k is as large as a request budget
allows (at least ``MIN_SIMULATED_UNITS`` units).  With fewer replicas to balance over, the
router's choice is a little worse than in the full pool, so tail latencies are if anything
overstated.  Pools are independent and can run in parallel processes.
"""
from __future__ import annotations

import dataclasses
import math
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.design.choice import serving_for_system
from gigafactory.design.factory import design_factory
from gigafactory.errors import InputError, Problem
from gigafactory.perf.architecture import param_counts
from gigafactory.perf.efficiency import efficiency_for
from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.layout import Layout
from gigafactory.perf.serving import Speculation
from gigafactory.scenario.model import Scenario
from gigafactory.simulate import workload as wlmod
from gigafactory.simulate.cost import PerfStepCost, RankCost
from gigafactory.simulate.engine import EngineConfig, Pool, Replica, host_bandwidth_per_gpu
from gigafactory.simulate.metrics import SLO, fleet_summary, pool_summary
from gigafactory.simulate.power import power_model
from gigafactory.simulate.router import ROUTERS, make_router
from gigafactory.simulate.sim import Requests, Simulation

#: simulated requests per pool the representative group is sized for.
REQUEST_BUDGET = 60_000
#: (decode) replicas simulated per pool at least, so the router has a choice.
MIN_SIMULATED_REPLICAS = 2
#: most (decode) replicas simulated per pool.
MAX_SIMULATED_REPLICAS = 64


@dataclass
class PoolSpec:
    """Everything one pool's simulation needs (picklable, for parallel runs)."""

    name: str
    model_id: str
    system_id: str
    precision: str
    speculative_tokens: int
    mode: str
    layout: dict[str, Any]
    prefill_layout: dict[str, Any] | None
    prefill_per_unit: int
    decode_per_unit: int
    max_seqs: int
    units_total: int
    gpus_per_unit: int
    slo: SLO
    rate_rps: float  # the whole pool's arrival rate
    isl: float
    osl: float
    router: str
    seed: int
    decode_sim: int = 1  # decode (or aggregated) replicas simulated
    prefill_sim: int = 0  # prefill replicas simulated (disaggregated)
    engine: str = "trtllm"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ranks(self) -> int:
        """Simulated schedulers per decode (or aggregated) instance: its attention-DP ranks."""
        return int(self.layout["tp"]) if self.layout.get("dp_attention") else 1

    @property
    def decode_total(self) -> int:
        """Decode (or aggregated) schedulers in the whole pool (instances x attention-DP ranks)."""
        return self.units_total * (self.decode_per_unit if self.mode == "disaggregated" else 1) * self.ranks


def _layout(d: dict[str, Any]) -> Layout:
    return Layout(tp=int(d["tp"]), pp=int(d.get("pp", 1)), ep=int(d.get("ep", 1)), dp_attention=bool(d.get("dp_attention", False)))


_GAMMA = re.compile(r"^gamma(?:-cv([0-9.]+))?$")


def pool_workload(trace: str | None, rate_rps: float, duration_s: float, isl: float, osl: float, rng: np.random.Generator,
                  field_name: str = "simulation.trace") -> wlmod.Workload:
    """The pool's requests over ``duration_s`` at ``rate_rps`` (see the module docstring)."""
    if trace in (None, "poisson"):
        return wlmod.synthetic(wlmod.poisson_arrivals(rate_rps, duration_s, rng), rng, isl=isl, osl=osl, duration_s=duration_s, name="poisson")
    g = _GAMMA.match(trace)
    if g:
        cv = float(g.group(1) or 2.0)
        return wlmod.synthetic(wlmod.gamma_arrivals(rate_rps, cv, duration_s, rng), rng, isl=isl, osl=osl, duration_s=duration_s, name=f"gamma-cv{cv:g}")
    if trace == "diurnal":
        return wlmod.synthetic(wlmod.diurnal_arrivals(rate_rps, duration_s, rng), rng, isl=isl, osl=osl, duration_s=duration_s, name="diurnal")
    info = wlmod.TRACES.get(trace)
    if info is not None and info.kind == "lengths":
        inp, out = wlmod.load_lengths(trace)
        base = wlmod.synthetic(wlmod.poisson_arrivals(rate_rps, duration_s, rng), rng, lengths=(inp, out), duration_s=duration_s, name=f"poisson+{trace}")
        return _rescale_lengths(base, isl, osl)
    base = wlmod.load_trace(trace)
    return _rescale_lengths(wlmod.window(wlmod.scale_to_rate(base, rate_rps), duration_s), isl, osl)


def _rescale_lengths(wl: wlmod.Workload, isl: float, osl: float) -> wlmod.Workload:
    if len(wl) == 0:
        return wl
    fi = isl / float(np.mean(wl.input_tokens))
    fo = osl / float(np.mean(wl.output_tokens))
    inp = np.maximum(1, np.rint(wl.input_tokens * fi)).astype(np.int64)
    out = np.maximum(1, np.rint(wl.output_tokens * fo)).astype(np.int64)
    # prefix-block hashes keep their meaning: a block now stands for fi x as many tokens
    block = wl.hash_block_tokens * fi if wl.block_hashes is not None else 0
    return dataclasses.replace(wl, input_tokens=inp, output_tokens=out, hash_block_tokens=block,
                               source=f"{wl.source}; lengths x{fi:.3g} (input) x{fo:.3g} (output) to the workload's means")


def build_pool_sim(cat: Catalog, spec: PoolSpec, wl: wlmod.Workload, duration_s: float, sample_interval_s: float | None = None,
                   engine_overrides: dict[str, Any] | None = None) -> tuple[Simulation, dict[str, Any]]:
    """A one-pool simulation of ``spec`` on workload ``wl`` (model index 0)."""
    m = cat.model(spec.model_id)
    pc = param_counts(m)
    hw = hardware_from_catalog(cat, spec.system_id)
    eff = efficiency_for(hw.generation, spec.engine)
    spec_dec = Speculation(spec.speculative_tokens)
    system = cat.system(spec.system_id)
    host_bw = host_bandwidth_per_gpu(getattr(system, "cpu_model", None))
    over = engine_overrides or {}
    req = Requests(wl.arrival_s.tolist(), wl.input_tokens.tolist(), wl.output_tokens.tolist(), [0] * len(wl),
                   hashes=list(wl.block_hashes) if wl.block_hashes is not None else None, hash_block_tokens=wl.hash_block_tokens)
    sim = Simulation(req, duration_s, sample_interval_s=sample_interval_s)
    scale = spec.decode_total / spec.decode_sim
    router = make_router(spec.router)
    dec_layout = _layout(spec.layout)
    dec_cost: Any = PerfStepCost(m, pc, hw, eff, dec_layout, spec.precision, spec_dec)
    if spec.ranks > 1:
        dec_cost = RankCost(dec_cost, spec.ranks)
    if spec.mode == "disaggregated":
        pf_layout = _layout(spec.prefill_layout)
        pf_cost = PerfStepCost(m, pc, hw, eff, pf_layout, spec.precision, Speculation())
        same_domain = spec.gpus_per_unit <= hw.domain_gpus
        link = (hw.nvlink_bw_bytes_per_s if same_domain else hw.scaleout_bw_bytes_per_s) * 0.75
        pool = Pool(sim, spec.name, None, router, decode_router=make_router("least-outstanding"),
                    transfer_s_per_token=dec_cost.kv_bytes_per_token / link, scale=scale)
        pf_cfg = EngineConfig(max_seqs=over.get("prefill_max_seqs", 256), host_bw_bytes_per_s=host_bw)
        dec_cfg = EngineConfig(max_seqs=over.get("max_seqs", max(1, spec.max_seqs // spec.ranks)), host_bw_bytes_per_s=host_bw,
                               preemption=over.get("preemption", "recompute"))
        pool.replicas = [Replica(sim, pool, i, pf_cost, pf_cfg, "prefill") for i in range(spec.prefill_sim)]
        pool.decode_replicas = [Replica(sim, pool, i, dec_cost, dec_cfg, "decode") for i in range(spec.decode_sim)]
    else:
        cfg = EngineConfig(max_seqs=over.get("max_seqs", max(1, spec.max_seqs // spec.ranks)), host_bw_bytes_per_s=host_bw,
                           preemption=over.get("preemption", "recompute"), prefix_caching=over.get("prefix_caching", True),
                           max_batched_tokens=over.get("max_batched_tokens"))
        pool = Pool(sim, spec.name, None, router, scale=scale)
        pool.replicas = [Replica(sim, pool, i, dec_cost, cfg, "mixed") for i in range(spec.decode_sim)]
    sim.add_pool(pool, [0])
    info = {"name": spec.name, "model_indices": [0], "power": power_model(hw.tdp_w), "mode": spec.mode, "system": spec.system_id,
            "layout": dec_layout.label() if spec.mode != "disaggregated" else
            f"{spec.prefill_per_unit}x {_layout(spec.prefill_layout).label()} prefill + {spec.decode_per_unit}x {dec_layout.label()} decode",
            "engine": {"max_seqs": over.get("max_seqs", spec.max_seqs), "efficiency": spec.engine},
            "dp_attention_ranks_simulated_separately": spec.ranks > 1,
            "replicas_represented": spec.units_total * (spec.prefill_per_unit + spec.decode_per_unit if spec.mode == "disaggregated" else 1),
            "gpus_represented": spec.units_total * spec.gpus_per_unit}
    return sim, info


def run_pool(cat: Catalog, spec: PoolSpec, trace: str | None, duration_s: float, sample_interval_s: float | None = None,
             progress: Callable[[float], None] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    rng = np.random.default_rng(spec.seed)
    sim_rate = spec.rate_rps * spec.decode_sim / spec.decode_total
    wl = pool_workload(trace, sim_rate, duration_s, spec.isl, spec.osl, rng)
    sim, info = build_pool_sim(cat, spec, wl, duration_s, sample_interval_s)
    sim.run(progress)
    block, lat = pool_summary(sim, info, (spec.model_id,), spec.slo)
    block["workload"] = {"source": wl.source, "requests_simulated": len(wl), "mean_input_tokens": float(np.mean(wl.input_tokens)) if len(wl) else 0.0,
                         "mean_output_tokens": float(np.mean(wl.output_tokens)) if len(wl) else 0.0}
    block["units"] = {"total": spec.units_total, "gpus_per_unit": spec.gpus_per_unit, "max_seqs": spec.max_seqs,
                      "decode_replicas_simulated": spec.decode_sim, "prefill_replicas_simulated": spec.prefill_sim,
                      "decode_replicas_total": spec.decode_total}
    return block, lat


def _run_pool_worker(args: tuple) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from gigafactory.catalog import load_catalog
    spec, trace, duration_s, sample_interval_s = args
    return run_pool(load_catalog(), spec, trace, duration_s, sample_interval_s)


def plan_pools(cat: Catalog, scn: Scenario, rate_rps: float | None = None, router: str | None = None,
               design: dict[str, Any] | None = None, serving: dict[str, list[dict[str, Any]]] | None = None,
               duration_s: float | None = None) -> list[PoolSpec]:
    """One :class:`PoolSpec` per (system, workload) with GPUs, from the design and the SLO search."""
    design = design or design_factory(cat, scn)
    router = router or scn.simulation.router
    if router not in ROUTERS:
        make_router(router)  # raises the "unknown router" error
    duration_s = duration_s or scn.simulation.duration_s
    gpus_by_system: dict[str, int] = {}
    for s in design["sites"]:
        gpus_by_system[s["system"]] = gpus_by_system.get(s["system"], 0) + int(s["gpus"])
    specs: list[PoolSpec] = []
    util = scn.finance.utilisation
    ss = np.random.SeedSequence(scn.seed)
    children = iter(ss.spawn(64))
    for system_id, gpus in gpus_by_system.items():
        rows = (serving or {}).get(system_id) or serving_for_system(cat, scn, system_id)
        for wl, row in zip(scn.workloads, rows):
            cfg = row.get("config")
            if not cfg:
                continue  # no configuration meets the SLO on this system: nothing to simulate
            unit_gpus = int(cfg["gpus"])
            units = int(gpus * wl.share // unit_gpus)
            if units < 1:
                continue
            capacity_rps = units * unit_gpus * row["tok_s_gpu"] / wl.osl_tokens
            disagg = cfg["mode"] == "disaggregated"
            spec = PoolSpec(
                name=f"{system_id}/{row['model']}", model_id=row["model"], system_id=system_id, precision=wl.precision,
                speculative_tokens=wl.speculative_tokens, mode=cfg["mode"], layout=cfg["parallel"],
                prefill_layout=cfg["prefill_parallel"] if disagg else None,
                prefill_per_unit=int(cfg.get("prefill_instances", 0)), decode_per_unit=int(cfg.get("decode_instances", 1)),
                max_seqs=int(cfg["concurrency_per_instance"]), units_total=units, gpus_per_unit=unit_gpus,
                slo=SLO(wl.slo.ttft_p99_ms / 1e3, wl.slo.tpot_p99_ms / 1e3), rate_rps=util * capacity_rps,
                isl=wl.isl_tokens, osl=wl.osl_tokens, router=router, seed=int(next(children).generate_state(1)[0]),
                extra={"capacity_rps": capacity_rps, "tok_s_gpu_model": row["tok_s_gpu"]},
            )
            specs.append(spec)
    if rate_rps is not None:
        total = sum(s.rate_rps for s in specs)
        for s in specs:
            s.rate_rps = rate_rps * s.rate_rps / total if total else 0.0
    for s in specs:
        size_group(s, duration_s)
    return specs


def size_group(s: PoolSpec, duration_s: float, budget: int = REQUEST_BUDGET) -> None:
    """Choose how many replicas of the pool to simulate (see the module docstring)."""
    total = s.decode_total
    per_replica = s.rate_rps / total * duration_s if total else 0.0
    k = int(budget // per_replica) if per_replica > 0 else total
    s.decode_sim = max(1, min(total, MAX_SIMULATED_REPLICAS, max(MIN_SIMULATED_REPLICAS, k)))
    if s.mode == "disaggregated":
        s.prefill_sim = max(1, round(s.decode_sim * s.prefill_per_unit / (s.decode_per_unit * s.ranks)))


def simulate_scenario(cat: Catalog, scn: Scenario, trace: str | None = None, rate_rps: float | None = None,
                      duration_s: float | None = None, router: str | None = None, workers: int = 1,
                      sample_interval_s: float | None = None, progress: Callable[[str, float], None] | None = None,
                      design: dict[str, Any] | None = None, serving: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """Simulate the scenario's fleet; the result dict is documented in docs/simulate.md."""
    sim_cfg = scn.simulation
    trace = trace if trace is not None else sim_cfg.trace
    duration_s = float(duration_s or sim_cfg.duration_s)
    rate_rps = rate_rps if rate_rps is not None else sim_cfg.rate_rps
    try:
        check_trace(trace)
    except InputError as exc:  # name the option / scenario field the user set
        raise InputError([dataclasses.replace(p, field="--trace / simulation.trace") for p in exc.problems]) from None
    specs = plan_pools(cat, scn, rate_rps, router, design, serving, duration_s)
    if not specs:
        raise InputError([Problem("no workload has a serving configuration that meets its SLO, so there is nothing to simulate",
                                  field="workloads", fix="relax the SLOs or choose another system (see `gigafactory perf`)")])
    interval = sample_interval_s if sample_interval_s is not None else duration_s / 60
    results: list[tuple[dict[str, Any], dict[str, np.ndarray]]] = []
    if workers > 1 and len(specs) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(specs))) as ex:
            for i, res in enumerate(ex.map(_run_pool_worker, [(s, trace, duration_s, interval) for s in specs])):
                results.append(res)
                if progress:
                    progress(specs[i].name, 1.0)
    else:
        for s in specs:
            cb = (lambda f, name=s.name: progress(name, f)) if progress else None
            results.append(run_pool(cat, s, trace, duration_s, interval, cb))
    blocks = [b for b, _ in results]
    lats = [l for _, l in results]
    span = max(b["span_s"] for b in blocks)
    out = fleet_summary(blocks, lats, span, duration_s)
    out["trace"] = trace or "poisson"
    out["router"] = specs[0].router
    out["pools"] = blocks
    return out


def check_trace(trace: str | None, field_name: str = "simulation.trace") -> None:
    """Fail early, with the list of choices, on a trace that is neither bundled, synthetic nor a file."""
    if trace in (None, "poisson", "diurnal") or (trace and _GAMMA.match(trace)):
        return
    if trace in wlmod.TRACES:
        return
    wlmod.load_trace(trace)  # raises InputError naming the file, the format expected and the choices
