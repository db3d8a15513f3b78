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
over the whole duration allows (at least ``MIN_SIMULATED_REPLICAS``).  A disaggregated group holds
at least ``MIN_PREFILL_POOL`` prefill replicas where its decode side fits in
``MAX_SIMULATED_REPLICAS`` (a few prefill replicas queue prompts far more near full load than the
pool their router balances over), keeps the design's prefill : decode ratio within 5 % (growing
the group up to 4x if it must) and carries the smaller of its two sides' shares of the traffic,
so that neither side runs hotter than designed.  With fewer replicas to
balance over, the router's choice is worse than in the full pool, so tail latencies are if
anything overstated (near full load by far: hence the prefill pool's minimum).  Pools are independent and can run in parallel processes.

Size (``target_ci``): how much arrival time each pool simulates is set by the precision its
figures must reach.  An explicit duration is always simulated in full; otherwise the scenario's
``simulation.duration_s`` is an upper bound, and the group (k, above) is the same as for the
whole duration.  The figures are measured over a window of arrivals that starts after a
warm-up (the p99 time in the system of the first requests, so that the measured ones find a
loaded system, not the empty one the run starts from) and is followed by a cool-down as long
(requests keep arriving, so the last measured ones are not served in an emptying system);
warm-up and cool-down are simulated but not counted (:class:`_Sequential`).  The window is:

- for a recorded trace, one pass.  Scaled to the group's rate, the trace repeats back to back,
  and a replay brings no new traffic (the arrivals and lengths of the first pass again), so more
  passes would narrow the reported interval without adding information; a part of a pass is not
  representative either (bursts sit where they sit), so a pass is never cut.  Lengths are
  rescaled over exactly that pass;
- for stationary synthetic traffic (``poisson``, ``gamma-cv<X>``, a length table), as long as it
  takes for the 95 % intervals of p99 TTFT (relative half-width) and of SLO attainment
  (half-width ``target_ci / 10``) to be within the target at ``CONSECUTIVE_CHECKS`` checks in a
  row; checks come every ``CHECK_GROWTH`` x of arrival time, from ``MIN_ADAPTIVE_REQUESTS``
  measured requests on;
- for non-stationary traffic (``diurnal``), or when the above does not fit, the whole duration.

Each pool reports the sizes used and the intervals reached (``sampling``; ``metrics.precision``).

Seeds: each pool draws from its own named random stream, ``simulate.pool.<system>/<model>``
(``gigafactory.pipeline.streams``), so its traffic depends neither on the order nor on the
number of the scenario's workloads.
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
from gigafactory.errors import InputError, Problem
from gigafactory.perf.architecture import param_counts
from gigafactory.perf.efficiency import efficiency_for
from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.layout import Layout
from gigafactory.perf.serving import Speculation
from gigafactory.pipeline.streams import stream_seed
from gigafactory.results.design import DesignResult
from gigafactory.results.serving import DisaggregatedConfig, ServingResult
from gigafactory.results.simulation import SimulationResult
from gigafactory.scenario.model import Scenario
from gigafactory.simulate import workload as wlmod
from gigafactory.simulate.cost import PREFILL_MAX_SEQS, PerfStepCost, RankCost, kv_transfer_s_per_token
from gigafactory.simulate.engine import EngineConfig, Pool, Replica, host_bandwidth_per_gpu
from gigafactory.simulate.kernel import PRIORITY_SAMPLE
from gigafactory.simulate.metrics import CI_BATCHES, SLO, busy_at, fleet_summary, pool_summary, precision, quantile_ci, request_arrays
from gigafactory.simulate.power import power_model
from gigafactory.simulate.router import ROUTERS, make_router
from gigafactory.simulate.sim import Requests, Simulation

#: simulated requests per pool the representative group is sized for.
REQUEST_BUDGET = 60_000
#: (decode) replicas simulated per pool at least, so the router has a choice.
MIN_SIMULATED_REPLICAS = 2
#: most (decode) replicas simulated per pool; growing a disaggregated group's prefill side
#: (size_group), an attention-DP decode instance's ranks count as one.
MAX_SIMULATED_REPLICAS = 64
#: prefill replicas a disaggregated group holds at least, where its decode side allows (size_group)
MIN_PREFILL_POOL = 64
#: a disaggregated group keeps the design's prefill : decode ratio within this relative error
#: (:func:`_matched_group`), growing up to GROUP_GROWTH_MAX x the budget's decode replicas to do so
PREFILL_RATIO_TOLERANCE = 0.05
GROUP_GROWTH_MAX = 4
#: the prefill pool's growth (MIN_PREFILL_POOL) stops where the group's arrivals over this long
#: (or over growth_horizon_s, for long-lived requests) would pass REQUEST_BUDGET: a warm-up and a
#: cool-down are each the p99 time in the system (about 30 s on the default plan's Llama and
#: gpt-oss pools), and both are simulated at the full rate.  Without the cap a
#: fast pool (gpt-oss-120b, 8,000 requests/s in a 125-replica group) simulated 25x its measured
#: requests in warm-up and cool-down: 1.2 M events, 80 s of the plan.
GROWTH_HORIZON_S = 60.0
#: default precision target: relative half-width of the 95 % interval of each pool's p99 TTFT
#: (and, divided by 10, the half-width of its SLO attainment) at which a run may stop.
DEFAULT_TARGET_CI = 0.1
#: requests of stationary traffic measured before a run may stop.
MIN_ADAPTIVE_REQUESTS = 4_000
#: arrival time grows by this factor from one stopping check to the next.
CHECK_GROWTH = 1.15
#: snapshots of step times over the longest arrival window (where a measured window may start).
SNAPSHOTS = 240
#: resolved requests the warm-up (their p99 time in the system) is estimated from, at least.
MIN_WARMUP_REQUESTS = 500
#: checks in a row at which the target must be met before a stationary run stops.
CONSECUTIVE_CHECKS = 2


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
    target_ci: float | None = None  # precision target (module docstring); None: no target
    adaptive: bool = False  # whether the run may simulate less arrival time than asked (no explicit duration)

    @property
    def ranks(self) -> int:
        """Simulated schedulers per decode (or aggregated) instance: its attention-DP ranks."""
        return int(self.layout["tp"]) if self.layout.get("dp_attention") else 1

    @property
    def decode_total(self) -> int:
        """Decode (or aggregated) schedulers in the whole pool (instances x attention-DP ranks)."""
        return self.units_total * (self.decode_per_unit if self.mode == "disaggregated" else 1) * self.ranks

    @property
    def share(self) -> float:
        """Share of the pool's traffic the simulated group carries [1]: its decode schedulers'
        share, or its prefill replicas' where that is smaller, so that neither side of a
        disaggregated group runs hotter than designed (:func:`_matched_group`)."""
        if not self.decode_total:
            return 0.0
        out = self.decode_sim / self.decode_total
        if self.mode == "disaggregated" and self.prefill_sim and self.units_total * self.prefill_per_unit:
            out = min(out, self.prefill_sim / (self.units_total * self.prefill_per_unit))
        return out


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
    eff = efficiency_for(hw.generation, spec.engine, accelerator=hw.accelerator_id)
    spec_dec = Speculation(spec.speculative_tokens)
    system = cat.system(spec.system_id)
    host_bw = host_bandwidth_per_gpu(getattr(system, "cpu_model", None))
    over = engine_overrides or {}
    req = Requests(wl.arrival_s.tolist(), wl.input_tokens.tolist(), wl.output_tokens.tolist(), [0] * len(wl),
                   hashes=list(wl.block_hashes) if wl.block_hashes is not None else None, hash_block_tokens=wl.hash_block_tokens)
    sim = Simulation(req, duration_s, sample_interval_s=sample_interval_s)
    scale = 1.0 / spec.share
    router = make_router(spec.router)
    dec_layout = _layout(spec.layout)
    dec_cost: Any = PerfStepCost(m, pc, hw, eff, dec_layout, spec.precision, spec_dec)
    if spec.ranks > 1:
        dec_cost = RankCost(dec_cost, spec.ranks)
    if spec.mode == "disaggregated":
        pf_layout = _layout(spec.prefill_layout)
        pf_cost = PerfStepCost(m, pc, hw, eff, pf_layout, spec.precision, Speculation())
        pool = Pool(sim, spec.name, None, router, decode_router=make_router("least-outstanding"),
                    transfer_s_per_token=kv_transfer_s_per_token(dec_cost.kv_bytes_per_token, hw, spec.gpus_per_unit <= hw.domain_gpus),
                    scale=scale)
        pf_cfg = EngineConfig(max_seqs=over.get("prefill_max_seqs", PREFILL_MAX_SEQS), host_bw_bytes_per_s=host_bw)
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


def traffic_kind(trace: str | None) -> str:
    """How a pool's arrivals behave over time: ``"stationary"`` (synthetic renewal arrivals: poisson,
    gamma-cv<X>, a length table with Poisson arrivals), ``"trace"`` (a recorded trace, replayed back to
    back) or ``"non-stationary"`` (diurnal)."""
    if trace in (None, "poisson") or _GAMMA.match(trace):
        return "stationary"
    if trace == "diurnal":
        return "non-stationary"
    info = wlmod.TRACES.get(trace)
    return "stationary" if info is not None and info.kind == "lengths" else "trace"


def trace_pass_s(trace: str, rate_rps: float) -> float:
    """Arrival time of one pass of a recorded ``trace`` scaled to ``rate_rps`` [s]."""
    return len(wlmod.load_trace(trace)) / rate_rps


def pool_seed(seed: int, pool_name: str) -> int:
    """The seed of a pool's random stream ``simulate.pool.<pool_name>`` under the scenario seed."""
    return stream_seed(seed, f"simulate.pool.{pool_name}")


class _Window:
    """The measured arrival window of a pool's run, [start, end), with snapshots of the replicas'
    step times at both ends (``metrics.pool_summary``)."""

    def __init__(self, sim: Simulation, close_at_end: bool = True) -> None:
        self.sim = sim
        self.start, self.end = 0.0, sim.duration_s
        self.busy_start: list[tuple[float, float]] | None = None
        self.busy_end: list[tuple[float, float]] | None = None
        self.rule: str | None = None  # "trace-pass" or "target" once a stopping rule has placed the window
        if close_at_end:  # else a stopping rule closes it (an event left far ahead would stretch the run to it)
            self.schedule_close()

    def schedule_close(self) -> None:
        self.sim.queue.push(self.end, PRIORITY_SAMPLE, self._close, None)

    def _close(self, now: float, _: Any) -> None:
        self.busy_end = busy_at(self.sim.pools[0], now)

    def info(self) -> dict[str, Any]:
        return {"window": (self.start, self.end), "busy_at_window_start": self.busy_start, "busy_at_window_end": self.busy_end}


class _Sequential:
    """Where a pool's measured window starts and ends, decided while the run goes (module docstring).

    At checks every ``CHECK_GROWTH`` x of arrival time, on the requests that arrived before the
    first unfinished one:

    - warm-up: the p99 of their time in the system (a run that starts empty holds about as many
      requests as in steady state by then), rounded up to the next snapshot of step times;
    - a trace (``pass_s``): the measured window is one pass from the end of the warm-up;
    - stationary traffic: the measured window ends at the first check at which the intervals of
      p99 TTFT and SLO attainment over the requests after the warm-up are within ``target``, at
      ``CONSECUTIVE_CHECKS`` checks in a row (one check alone stops too often on an interval that
      happens to look narrow);

    then requests keep arriving for a cool-down as long as the warm-up (so that the last measured
    ones are served among others, as in steady state), and stop.  If the window does not fit in
    the duration, it is the whole duration.
    """

    def __init__(self, sim: Simulation, window: _Window, arrival: np.ndarray, slo: SLO, target: float | None,
                 pass_s: float | None = None) -> None:
        self.sim, self.window, self.arrival, self.slo, self.target, self.pass_s = sim, window, arrival, slo, target, pass_s
        self.max_s = sim.duration_s
        self.snap_dt = self.max_s / SNAPSHOTS
        self.snaps: list[tuple[float, list[tuple[float, float]]]] = []
        self.decided = False
        self.streak = 0
        sim.queue.push(0.0, PRIORITY_SAMPLE, self._snapshot, None)
        k = MIN_WARMUP_REQUESTS if pass_s is not None else MIN_ADAPTIVE_REQUESTS
        first = float(arrival[k]) if arrival.size > k else math.inf
        if first < self.max_s:
            sim.queue.push(first, PRIORITY_SAMPLE, self._check, None)
        else:
            self._whole()

    def _whole(self) -> None:
        """The measured window is the whole duration."""
        self.decided = True
        self.window.schedule_close()

    def _snapshot(self, now: float, _: Any) -> None:
        if self.decided:
            return
        self.snaps.append((now, busy_at(self.sim.pools[0], now)))
        if now + self.snap_dt < self.max_s:
            self.sim.queue.push(now + self.snap_dt, PRIORITY_SAMPLE, self._snapshot, None)

    def _check(self, now: float, _: Any) -> None:
        req = self.sim.req
        n = int(np.searchsorted(self.arrival, now, side="right"))  # arrived so far
        fin = np.asarray(req.finish[:n], dtype=float)
        dropped = np.asarray(req.dropped[:n], dtype=bool)
        pending = np.isnan(fin) & ~dropped
        u = int(np.argmax(pending)) if pending.any() else n  # requests [0, u) are all resolved
        ok = ~dropped[:u]
        arr = self.arrival[:u]
        if ok.sum() >= MIN_WARMUP_REQUESTS:
            warm = float(np.quantile(fin[:u][ok] - arr[ok], 0.99))
            start = next((t for t, _ in self.snaps if t >= warm), None)
            if start is not None and self.pass_s is not None:
                self._measure(start, start + self.pass_s)
                return
            if start is not None and ok.sum() >= MIN_ADAPTIVE_REQUESTS:
                self.streak = self.streak + 1 if self._met(now, start, n, u, fin, dropped) else 0
                if self.streak >= CONSECUTIVE_CHECKS:
                    self._measure(start, now)
                    return
        nxt = now * CHECK_GROWTH
        if nxt < self.max_s:
            self.sim.queue.push(nxt, PRIORITY_SAMPLE, self._check, None)
        else:
            self._whole()  # the last check

    def _met(self, now: float, start: float, n: int, u: int, fin: np.ndarray, dropped: np.ndarray) -> bool:
        """Whether the intervals over the requests measured so far are within the target.

        SLO attainment: over the resolved requests (those before the first unfinished one).
        p99 TTFT: over every request that arrived more than the longest TTFT seen ago; one still
        without its first token has a longer TTFT than any seen, so it counts as above the p99
        (leaving it out would hide the queue of a burst still in progress)."""
        req = self.sim.req
        arr = self.arrival[:n]
        closed = float(self.arrival[u]) if u < n else now
        a = {"arrival": arr[:u], "first": np.asarray(req.first[:u], dtype=float), "finish": fin[:u],
             "out": np.asarray(req.out[:u], dtype=np.int64)}
        mask = ~dropped[:u] & (arr[:u] >= start)
        if mask.sum() < MIN_ADAPTIVE_REQUESTS:
            return False
        att = precision(a, mask, self.slo, (start, closed))["slo_attainment_ci_half_width"]
        if att is not None and att > self.target / 10:
            return False
        first = np.asarray(req.first[:n], dtype=float)
        ttft = first - arr
        lag = float(np.nanmax(ttft)) if np.isfinite(ttft).any() else 0.0
        cut = now - lag
        sel = ~dropped & (arr >= start) & (arr < cut)
        x = np.where(np.isnan(ttft[sel]), math.inf, ttft[sel])
        if x.size < MIN_ADAPTIVE_REQUESTS or cut <= start:
            return False
        batch = np.clip(((arr[sel] - start) / (cut - start) * CI_BATCHES).astype(np.int64), 0, CI_BATCHES - 1)
        c = quantile_ci(x, batch)
        if c["hi"] is None or not math.isfinite(c["hi"]) or not c["q"]:
            return False
        return max(c["q"] - c["lo"], c["hi"] - c["q"]) / c["q"] <= self.target

    def _measure(self, start: float, end: float) -> None:
        """Measure arrivals in [start, end), then a cool-down as long as the warm-up."""
        if end + start > self.max_s:
            self._whole()  # the window and its cool-down do not fit in the duration
            return
        self.decided = True
        w = self.window
        w.start, w.busy_start, w.end = start, next(b for t, b in self.snaps if t == start), end
        w.rule = "trace-pass" if self.pass_s is not None else "target"
        w.schedule_close()
        if end + start < self.max_s:
            self.sim.duration_s = end + start  # later arrivals are not admitted


def target_met(p: dict[str, Any], target: float) -> bool:
    """Whether the intervals of :func:`metrics.precision` ``p`` are within ``target``."""
    rel = p["ttft_p99_ci_rel_half_width"]
    att = p["slo_attainment_ci_half_width"]
    return rel is not None and rel <= target and (att is None or att <= target / 10)


def run_pool(cat: Catalog, spec: PoolSpec, trace: str | None, duration_s: float, sample_interval_s: float | None = None,
             progress: Callable[[float], None] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Simulate one pool; ``duration_s`` is the arrival window, an upper bound when ``spec.adaptive``."""
    rng = np.random.default_rng(spec.seed)
    sim_rate = spec.rate_rps * spec.share
    kind = traffic_kind(trace)
    pass_s = trace_pass_s(trace, sim_rate) if kind == "trace" and spec.adaptive and sim_rate > 0 else None
    if pass_s is not None and pass_s < duration_s:
        # one pass with lengths rescaled over exactly that pass, repeated for the warm-up and cool-down
        wl = wlmod.window(pool_workload(trace, sim_rate, pass_s, spec.isl, spec.osl, rng), duration_s)
    else:
        pass_s = None
        wl = pool_workload(trace, sim_rate, duration_s, spec.isl, spec.osl, rng)
    sim, info = build_pool_sim(cat, spec, wl, duration_s, sample_interval_s)
    sequential = spec.adaptive and (pass_s is not None or (kind == "stationary" and spec.target_ci is not None))
    window = _Window(sim, close_at_end=not sequential)
    if sequential:
        _Sequential(sim, window, wl.arrival_s, spec.slo, spec.target_ci, pass_s)
    sim.run(progress)
    if not spec.adaptive:
        stop = "duration"
        note = "the whole duration: " + ("no precision target (full size)" if spec.target_ci is None else "a duration was given")
    elif window.rule == "trace-pass":
        stop = "trace-pass"
        note = (f"one pass of the trace ({pass_s:,.0f} s at the group's rate) after a {window.start:,.0f} s warm-up, followed "
                "by as long a cool-down (simulated, not counted); further passes replay the same requests, so they would "
                "narrow the intervals without adding information")
    elif window.rule == "target":
        stop = "target"
        note = (f"measured until the precision target was reached, after a {window.start:,.0f} s warm-up and followed by "
                "as long a cool-down (simulated, not counted)")
    elif kind == "trace":
        stop, note = "duration", "the whole duration: it holds less than one pass of the trace with its warm-up and cool-down"
    elif kind == "non-stationary":
        stop, note = "duration", "the whole duration: the arrivals are not stationary"
    else:
        stop, note = "duration", "the whole duration: the precision target was not reached earlier"
    info.update(window.info())
    block, lat = pool_summary(sim, info, (spec.model_id,), spec.slo)
    measured = block["arrived"]
    a = request_arrays(sim)
    in_window = (a["arrival"] >= window.start) & (a["arrival"] < window.end)
    prec = precision(a, in_window & ~a["dropped"], spec.slo, (window.start, window.end))
    block["workload"] = {"source": wl.source, "requests_simulated": int((a["arrival"] < sim.duration_s).sum()),
                         "mean_input_tokens": float(np.mean(a["inp"][in_window])) if measured else 0.0,
                         "mean_output_tokens": float(np.mean(a["out"][in_window])) if measured else 0.0}
    block["units"] = {"total": spec.units_total, "gpus_per_unit": spec.gpus_per_unit, "max_seqs": spec.max_seqs,
                      "decode_replicas_simulated": spec.decode_sim, "prefill_replicas_simulated": spec.prefill_sim,
                      "decode_replicas_total": spec.decode_total}
    block["sampling"] = {
        "target_ci": spec.target_ci, "target_met": target_met(prec, spec.target_ci) if spec.target_ci is not None else None,
        "stop": stop, "note": note,
        "window_s": [window.start, window.end], "arrival_s": window.end - window.start, "arrival_s_max": duration_s,
        "warmup_s": window.start, "cooldown_s": max(0.0, min(sim.duration_s, duration_s) - window.end), "requests": measured,
        **prec,
    }
    return block, lat


def _run_pool_worker(args: tuple) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from gigafactory.catalog import load_catalog
    spec, trace, duration_s, sample_interval_s = args
    return run_pool(load_catalog(), spec, trace, duration_s, sample_interval_s)


def plan_pools(cat: Catalog, scn: Scenario, design: DesignResult, serving: ServingResult, rate_rps: float | None = None,
               router: str | None = None, duration_s: float | None = None) -> list[PoolSpec]:
    """One :class:`PoolSpec` per (system, workload) with GPUs, from the design and serving stages' results."""
    router = router or scn.simulation.router
    if router not in ROUTERS:
        make_router(router)  # raises the "unknown router" error
    duration_s = duration_s or scn.simulation.duration_s
    gpus_by_system: dict[str, int] = {}
    for s in design.sites:
        gpus_by_system[s.system] = gpus_by_system.get(s.system, 0) + s.gpus
    specs: list[PoolSpec] = []
    util = scn.finance.utilisation
    for system_id, gpus in gpus_by_system.items():
        for wl, row in zip(scn.workloads, serving.systems[system_id]):
            cfg = row.config
            if cfg is None:
                continue  # no configuration meets the SLO on this system: nothing to simulate
            unit_gpus = cfg.gpus
            units = int(gpus * wl.share // unit_gpus)
            if units < 1:
                continue
            capacity_rps = units * unit_gpus * row.tok_s_gpu / wl.osl_tokens
            disagg = isinstance(cfg, DisaggregatedConfig)
            spec = PoolSpec(
                name=f"{system_id}/{row.model}", model_id=row.model, system_id=system_id, precision=wl.precision,
                speculative_tokens=wl.speculative_tokens, mode=cfg.mode, layout=cfg.parallel.model_dump(),
                prefill_layout=cfg.prefill_parallel.model_dump() if disagg else None,
                prefill_per_unit=cfg.prefill_instances if disagg else 0, decode_per_unit=cfg.decode_instances if disagg else 1,
                max_seqs=cfg.concurrency_per_instance, units_total=units, gpus_per_unit=unit_gpus,
                slo=SLO(wl.slo.ttft_p99_ms / 1e3, wl.slo.tpot_p99_ms / 1e3), rate_rps=util * capacity_rps,
                isl=wl.isl_tokens, osl=wl.osl_tokens, router=router, seed=0,
                extra={"capacity_rps": capacity_rps, "tok_s_gpu_model": row.tok_s_gpu,
                       "lifetime_s": wl.osl_tokens / row.tok_s_user if row.tok_s_user else 0.0},
            )
            spec.seed = pool_seed(scn.seed, spec.name)
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
        unit = s.decode_per_unit * s.ranks
        ratio = s.prefill_per_unit / unit
        # a prefill pool of a few replicas queues prompts far more near full load than the pool its
        # router balances over (an M/G/c wait scales with 1 / (c (1 - rho))): grow the group to
        # MIN_PREFILL_POOL prefill replicas where that fits in MAX_SIMULATED_REPLICAS decode ones.
        # Measured on the default plan's Llama pool (140 prefill replicas a unit): 34 replicas
        # give 90.6 % SLO attainment, 65 give 99.7 %, all 140 give 100 % (and twice the time).
        # Short of that it grows as far as the budget and the cap allow, an attention-DP instance's
        # ranks counting as one against the cap (a DEP16 pool otherwise kept one prefill replica:
        # docs/accuracy.md, fourteenth round)
        want = math.ceil(min(MIN_PREFILL_POOL, s.prefill_per_unit * s.units_total) / ratio)
        affordable = int(budget / (s.rate_rps / total * growth_horizon_s(s))) if s.rate_rps > 0 and total else total
        want = min(want, max(s.decode_sim, affordable), min(total, MAX_SIMULATED_REPLICAS * s.ranks))
        s.decode_sim = max(s.decode_sim, want)
        s.decode_sim, s.prefill_sim = _matched_group(s.decode_sim, ratio, min(total, MAX_SIMULATED_REPLICAS, GROUP_GROWTH_MAX * s.decode_sim))


def growth_horizon_s(s: PoolSpec) -> float:
    """Simulated time at the full rate that a group's warm-up and cool-down take, each about the
    p99 time in the system: GROWTH_HORIZON_S, or twice a request's modelled lifetime (output
    tokens x the configuration's TPOT) where requests live longer.  The default plan's
    DeepSeek-R1 pool (4,096 output tokens at 33 tok/s) is estimated at 124 s a side and ran a
    120 s warm-up; its Llama and gpt-oss pools (16 s) keep the 60 s [s]."""
    return max(GROWTH_HORIZON_S, 2.0 * float(s.extra.get("lifetime_s", 0.0)))


def _matched_group(decode: int, ratio: float, most: int) -> tuple[int, int]:
    """(decode, prefill) replicas of a disaggregated group: the smallest group of ``decode`` to
    ``most`` decode schedulers whose prefill : decode ratio is within PREFILL_RATIO_TOLERANCE of
    the design's ``ratio``, or the nearest one there is.  The group carries the smaller of its
    two sides' traffic shares (:attr:`PoolSpec.share`), so the side rounded up runs up to that
    much cooler than designed and neither runs hotter."""
    best = (math.inf, decode, max(1, round(decode * ratio)))
    for d in range(decode, max(decode, most) + 1):
        p = max(1, round(d * ratio))
        err = abs(p / (d * ratio) - 1.0)
        if err <= PREFILL_RATIO_TOLERANCE:
            return d, p
        if err < best[0]:
            best = (err, d, p)
    return best[1], best[2]


def simulate_scenario(cat: Catalog, scn: Scenario, design: DesignResult, serving: ServingResult, trace: str | None = None,
                      rate_rps: float | None = None, duration_s: float | None = None, router: str | None = None, workers: int = 1,
                      sample_interval_s: float | None = None, progress: Callable[[str, float], None] | None = None,
                      target_ci: float | None = DEFAULT_TARGET_CI) -> SimulationResult:
    """The simulation stage: the fleet of the design and serving stages' results on the scenario's
    (or the given) trace; the JSON form is documented in docs/simulate.md.

    ``target_ci``: the precision each pool's run is sized for (see the module docstring): the
    relative half-width of the 95 % interval of its p99 TTFT, and /10 the half-width of its SLO
    attainment; None simulates the whole duration (full size).  An explicit ``duration_s`` is
    always simulated in full.  Each pool reports the intervals reached under ``sampling``.
    """
    return SimulationResult.model_validate(simulate_fleet(cat, scn, design, serving, trace, rate_rps, duration_s, router, workers,
                                                          sample_interval_s, progress, target_ci))


def simulate_fleet(cat: Catalog, scn: Scenario, design: DesignResult, serving: ServingResult, trace: str | None = None,
                   rate_rps: float | None = None, duration_s: float | None = None, router: str | None = None, workers: int = 1,
                   sample_interval_s: float | None = None, progress: Callable[[str, float], None] | None = None,
                   target_ci: float | None = DEFAULT_TARGET_CI) -> dict[str, Any]:
    """:func:`simulate_scenario`'s result in its JSON form (a dict, ``sampling`` blocks included)."""
    sim_cfg = scn.simulation
    trace = trace if trace is not None else sim_cfg.trace
    if target_ci is not None and not 0 < target_ci < 1:
        raise InputError.single("the precision target must be a relative half-width between 0 and 1", field="target_ci",
                                value=target_ci, expected="e.g. 0.1: p99 TTFT within +/-10 %, SLO attainment within +/-1 point")
    adaptive = target_ci is not None and duration_s is None
    duration_s = float(duration_s or sim_cfg.duration_s)
    rate_rps = rate_rps if rate_rps is not None else sim_cfg.rate_rps
    try:
        check_trace(trace)
    except InputError as exc:  # name the option / scenario field the user set
        raise InputError([dataclasses.replace(p, field="--trace / simulation.trace") for p in exc.problems]) from None
    specs = plan_pools(cat, scn, design, serving, rate_rps, router, duration_s)
    if not specs:
        raise InputError([Problem("no workload has a serving configuration that meets its SLO, so there is nothing to simulate",
                                  field="workloads", fix="relax the SLOs or choose another system (see `gigafactory perf`)")])
    for s in specs:
        s.target_ci, s.adaptive = target_ci, adaptive
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
    out = fleet_summary(blocks, lats, span, max(b["sampling"]["arrival_s"] for b in blocks))
    out["trace"] = trace or "poisson"
    out["router"] = specs[0].router
    out["sampling"] = {
        "target_ci": target_ci, "adaptive": adaptive, "arrival_s_max": duration_s,
        "note": ("each pool simulated the arrival time its precision target needed (one pass of a recorded trace) "
                 "up to the duration; sizes and 95 % intervals of p99 TTFT and SLO attainment under pools[].sampling") if adaptive else
                ("every pool simulated the whole duration; 95 % intervals of p99 TTFT and SLO attainment under pools[].sampling")}
    out["pools"] = blocks
    return out


def check_trace(trace: str | None, field_name: str = "simulation.trace") -> None:
    """Fail early, with the list of choices, on a trace that is neither bundled, synthetic (with
    usable parameters) nor a readable file: the same named check `gigafactory check` runs."""
    from gigafactory.checks import trace_problems

    problems = trace_problems(trace, None)
    if problems:
        raise InputError(problems)
