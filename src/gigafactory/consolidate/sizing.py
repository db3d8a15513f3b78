"""Sizing one pool (one tenant, or all of them together) by simulation: the smallest number of
serving units whose SLO attainment reaches the target in each of the pool's busiest windows.

Serving unit
    :class:`UnitModel`: the GPUs of one unit, its schedulers (decode or aggregated instances x
    attention-DP ranks), its modelled capacity and how a group of it is simulated.
    :func:`scenario_unit` makes one from the scenario's chosen configuration (the simulator's
    ``PoolSpec``: prefill and decode instances, layouts, batch limit, SLO); :func:`queue_unit`
    is a degenerate M/M/c-like unit for the closed-form checks.

Representative group
    As in ``simulate``: a pool of n units is simulated as a group of k schedulers (and the
    prefill instances that go with them, a whole number, at least one) carrying
    k / (n x schedulers per unit) of the pool's traffic; with n x schedulers per unit <= k the
    whole pool is simulated.  k is fixed per pool from a request budget (so one probe costs about
    the same whatever n is), or a little smaller where that holds the unit's prefill:decode
    ratio better.

Arrivals
    In each 10-minute window a tenant's arrivals are a renewal process at its rate with Gamma
    inter-arrival times of its CV (ServeGen fits Gamma or Weibull; a Weibull window gets the Gamma
    of the same CV).  The group sees each tenant's stream thinned at random with probability f,
    which is again a renewal process whose gaps are Gamma(M kappa, theta) with M ~ Geometric(f):
    drawn exactly without drawing the whole pool's stream.  A shared pool's stream is the
    superposition of its tenants' thinned streams.  The streams are drawn once per window at the
    fraction f_ref of the pool's fluid size; a probe at another size (fraction f) multiplies their
    arrival times by f_ref / f, as ``simulate`` scales a trace to a rate (the thinned stream's CV,
    sqrt(f c^2 + 1 - f), is kept at f_ref's: ~1 whenever f c^2 << 1, as in every pool here).

Measurement
    Per window, arrival time simulated = warm-up (1.5 x the modelled time in system, at least
    30 s, not counted) + the measured time (``MEASURE_S``, longer when the group would see fewer
    than ``MIN_REQUESTS`` requests in it) + a cool-down (the modelled time in system, not
    counted).  SLO attainment: requests arrived in the measured time that met both p99 limits
    (TTFT and TPOT) over those arrived; dropped or unfinished requests count as misses.

Search
    From the first guess (the fluid estimate, peak demand / unit capacity), step down by 7 % or
    up by 8 % until the outcome flips, then bisect on whole units.  Every probe of a pool serves the same requests (common random numbers, above), so
    neighbouring probes differ by the pool size, not by the draw.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gigafactory.consolidate.demand import Tenant
from gigafactory.pipeline.streams import stream
from gigafactory.simulate import workload as wlmod
from gigafactory.simulate.cost import TokenLinearCost
from gigafactory.simulate.engine import EngineConfig, Pool, Replica
from gigafactory.simulate.kernel import PRIORITY_SAMPLE
from gigafactory.simulate.metrics import SLO, busy_at
from gigafactory.simulate.router import make_router
from gigafactory.simulate.sim import Requests, Simulation

#: requests one simulated window is sized for (sets the group k).
REQUEST_BUDGET = 16_000
#: schedulers simulated per pool at least / at most.
MIN_GROUP, MAX_GROUP = 2, 64
#: arrival time measured per window [s], at least ...
MEASURE_S = 180.0
#: ... and enough for this many measured requests per window (pools with few requests measure longer), up to
MIN_REQUESTS = 4_000
MAX_MEASURE_S = 3_600.0
#: step factors of the search before it bisects.
STEP_DOWN, STEP_UP = 0.93, 1.08
#: the search gives up beyond this many times the fluid estimate (+10 units).
MAX_FACTOR = 8.0


Builder = Callable[[int, int, wlmod.Workload, float], tuple[Simulation, Pool]]


@dataclass(frozen=True)
class UnitModel:
    """One serving unit and how a group of it is simulated.

    ``capacity_rps``: modelled requests/s of one unit at the workload's mean lengths (isl, osl),
    the fluid capacity the first guess and the demand scale use; ``e2e_s``: modelled time in
    system of a request without queueing (warm-up and cool-down)."""

    label: str
    gpus_per_unit: int
    schedulers_per_unit: int
    capacity_rps: float
    isl: float
    osl: float
    slo: SLO
    e2e_s: float
    max_context: int
    tok_s_gpu: float
    builder: Builder
    mode: str = "aggregated"
    prefill_per_scheduler: float = 0.0  # prefill instances per decode scheduler in a unit (disaggregated), else 0

    def fluid_units(self, tenants: list[Tenant]) -> np.ndarray:
        """Units the pool's demand needs in each window at the modelled capacity: the larger of its
        prompt-token and output-token rates over one unit's (for a disaggregated unit, prefill and
        decode are sized inside it)."""
        p = np.sum([t.rate_rps * t.mean_input for t in tenants], axis=0)
        o = np.sum([t.rate_rps * t.mean_output for t in tenants], axis=0)
        return np.maximum(p / self.isl, o / self.osl) / self.capacity_rps


def scenario_unit(cat: Any, spec: Any, tok_s_gpu: float, ttft_s: float, tpot_s: float) -> UnitModel:
    """The unit of the scenario's chosen configuration (``simulate.run.PoolSpec`` of the model's pool)."""
    from gigafactory.simulate.run import build_pool_sim

    ranks = spec.ranks
    spu = (spec.decode_per_unit if spec.mode == "disaggregated" else 1) * ranks

    def build(n_units: int, k: int, wl: wlmod.Workload, duration_s: float) -> tuple[Simulation, Pool]:
        sp = dataclasses.replace(spec, units_total=n_units, decode_sim=k, rate_rps=0.0,
                                 prefill_sim=max(1, round(k * spec.prefill_per_unit / (spec.decode_per_unit * ranks)))
                                 if spec.mode == "disaggregated" else 0)
        sim, _ = build_pool_sim(cat, sp, wl, duration_s)
        return sim, sim.pools[0]

    model = cat.model(spec.model_id)
    capacity = spec.gpus_per_unit * tok_s_gpu / spec.osl
    layout = spec.layout
    label = (f"{spec.mode} {spec.prefill_per_unit}x prefill + {spec.decode_per_unit}x decode" if spec.mode == "disaggregated"
             else f"{spec.mode}") + f" (decode tp{layout['tp']}{' DEP' if layout.get('dp_attention') else ''}, batch {spec.max_seqs})"
    return UnitModel(label=label, gpus_per_unit=spec.gpus_per_unit, schedulers_per_unit=spu, capacity_rps=capacity,
                     isl=spec.isl, osl=spec.osl, slo=spec.slo, e2e_s=ttft_s + spec.osl * tpot_s,
                     max_context=int(model.max_context_tokens), tok_s_gpu=tok_s_gpu, builder=build, mode=spec.mode,
                     prefill_per_scheduler=spec.prefill_per_unit / (spec.decode_per_unit * ranks) if spec.mode == "disaggregated" else 0.0)


def queue_unit(servers_per_unit: int = 1, mean_service_s: float = 1.0, osl: float = 100.0, ttft_slo_s: float = 0.0015,
               tpot_s: float | None = None) -> UnitModel:
    """A degenerate unit for queueing checks: ``servers_per_unit`` one-request servers behind one
    FIFO queue (M/M/c with exponential output lengths).  A request's prompt is one token (1 ms
    of prefill, its first token), then (output - 1) decode steps of ``mean_service_s / osl``;
    so TTFT = wait + 1 ms, and with the default TTFT limit of 1.5 ms, SLO attainment is the
    share of requests that did not wait (1 - Erlang C)."""
    step = (mean_service_s - 1e-3) / (osl - 1)  # mean service = 1 ms + (osl - 1) steps = mean_service_s
    cost = TokenLinearCost(s_per_prefill_token=1e-3, s_per_decode_step=step, kv_capacity_tokens=1e12)  # finite: decode runs divide it

    def build(n_units: int, k: int, wl: wlmod.Workload, duration_s: float) -> tuple[Simulation, Pool]:
        req = Requests(wl.arrival_s.tolist(), wl.input_tokens.tolist(), wl.output_tokens.tolist(), [0] * len(wl))
        sim = Simulation(req, duration_s)
        pool = Pool(sim, "queue", None, make_router("central-queue"), scale=n_units * servers_per_unit / k)
        pool.replicas = [Replica(sim, pool, i, cost, EngineConfig(max_seqs=1)) for i in range(k)]
        sim.add_pool(pool, [0])
        return sim, pool

    return UnitModel(label=f"queue x{servers_per_unit}", gpus_per_unit=servers_per_unit, schedulers_per_unit=servers_per_unit,
                     capacity_rps=servers_per_unit / mean_service_s, isl=1.0, osl=osl,
                     slo=SLO(ttft_slo_s, tpot_s if tpot_s is not None else step * 1.01), e2e_s=mean_service_s,
                     max_context=1 << 30, tok_s_gpu=osl / mean_service_s, builder=build)


# ------------------------------------------------------------------------------------------ arrivals


#: gaps drawn per tenant at a time (fixed, so a stream is the same however far it is extended).
CHUNK = 2048


class TenantStream:
    """One tenant's requests in one window, as the group sees them at the reference fraction
    ``f_ref``: a Gamma renewal stream (rate, CV) thinned with probability ``f_ref``, whose gaps
    are Gamma(M kappa, theta) with M ~ Geometric(f_ref) (module docstring), with a length drawn
    for every request; extended chunk by chunk on demand from its own random stream."""

    def __init__(self, t: Tenant, w: int, f_ref: float, rng: np.random.Generator, max_context: int) -> None:
        self.rate, self.f = float(t.rate_rps[w]), f_ref
        self.kappa = 1.0 / max(float(t.cv[w]), 1e-3) ** 2
        self.theta = 1.0 / (self.rate * self.kappa) if self.rate > 0 else 0.0
        self.t, self.rng, self.max_context = t, rng, max_context
        self.mean_in, self.mean_out = float(t.mean_input[w]), float(t.mean_output[w])
        self.times = np.empty(0)
        self.inp = np.empty(0, np.int64)
        self.out = np.empty(0, np.int64)
        self.end = 0.0

    def _extend(self) -> None:
        rng, n = self.rng, CHUNK
        m = rng.geometric(self.f, n) if self.f < 1 else np.ones(n, dtype=np.int64)
        gaps = rng.gamma(m * self.kappa, self.theta)
        if self.times.size == 0:  # start inside a gap (approximately stationary): a uniform part of the first one
            gaps[0] *= rng.random()
        times = self.end + np.cumsum(gaps)
        out = np.minimum(_lengths(self.t.output_shape, self.t.u_grid, self.mean_out, n, rng), self.max_context // 2)
        inp = np.minimum(_lengths(self.t.input_shape, self.t.u_grid, self.mean_in, n, rng), self.max_context - out)
        self.times = np.concatenate([self.times, times])
        self.inp = np.concatenate([self.inp, inp])
        self.out = np.concatenate([self.out, out])
        self.end = float(times[-1])

    def upto(self, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Requests with reference arrival time < ``t_s``."""
        if self.rate <= 0:
            return np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64)
        while self.end < t_s:
            self._extend()
        i = int(np.searchsorted(self.times, t_s))
        return self.times[:i], self.inp[:i], self.out[:i]


def _lengths(shape: np.ndarray, u_grid: np.ndarray, mean: float, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.maximum(1, np.rint(np.interp(rng.random(n), u_grid, shape) * mean)).astype(np.int64)


class WindowStreams:
    """A pool's requests in one window for any pool size: its tenants' streams at the reference
    fraction, superposed, with arrival times multiplied by f_ref / f for a probe at fraction f
    (common random numbers: every size serves the same requests, faster or slower)."""

    def __init__(self, tenants: list[Tenant], w: int, f_ref: float, seed: int, prefix: str, max_context: int) -> None:
        self.f_ref = f_ref
        self.streams = [TenantStream(t, w, f_ref, stream(seed, f"{prefix}.{t.name}"), max_context) for t in tenants]

    def workload(self, f: float, duration_s: float) -> wlmod.Workload:
        scale = self.f_ref / f
        parts = [s.upto(duration_s / scale) for s in self.streams]
        a = np.concatenate([p[0] for p in parts]) * scale
        o = np.argsort(a, kind="stable")
        return wlmod.Workload(name="consolidate", arrival_s=a[o], input_tokens=np.concatenate([p[1] for p in parts])[o],
                              output_tokens=np.concatenate([p[2] for p in parts])[o], model=np.zeros(a.size, dtype=np.int16),
                              duration_s=duration_s)


# ------------------------------------------------------------------------------------------ probes


@dataclass(frozen=True)
class WindowProbe:
    window: int
    attainment: float
    requests: int
    busy_utilisation: float
    ttft_p99_s: float | None
    tpot_p99_s: float | None


@dataclass(frozen=True)
class Probe:
    units: int
    windows: tuple[WindowProbe, ...]

    @property
    def attainment(self) -> float:
        return min(w.attainment for w in self.windows)

    @property
    def requests(self) -> int:
        return sum(w.requests for w in self.windows)


@dataclass(frozen=True)
class Settings:
    """How much each probe simulates."""

    measure_s: float = MEASURE_S
    request_budget: int = REQUEST_BUDGET
    min_requests: int = MIN_REQUESTS
    min_group: int = MIN_GROUP
    max_group: int = MAX_GROUP


def spans(unit: UnitModel, settings: Settings) -> tuple[float, float, float]:
    """Warm-up, measured time and cool-down of one simulated window [s] (module docstring)."""
    warm = max(30.0, 1.5 * unit.e2e_s)
    return warm, settings.measure_s, max(10.0, unit.e2e_s)


def group_size(unit: UnitModel, tenants: list[Tenant], windows: list[int], n_guess: int, settings: Settings) -> int:
    """Schedulers simulated for this pool: as many as the request budget per window allows at the
    first guess, or fewer (down to half) where a smaller group holds the unit's prefill:decode ratio
    better (a group's prefill instances are a whole number, at least one)."""
    warm, meas, cool = spans(unit, settings)
    rate = max(float(np.sum([t.rate_rps[w] for t in tenants])) for w in windows)
    per_sched = rate / max(1, n_guess * unit.schedulers_per_unit) * (warm + meas + cool)
    k = int(settings.request_budget // per_sched) if per_sched > 0 else settings.max_group
    k = max(settings.min_group, min(settings.max_group, k))
    r = unit.prefill_per_scheduler
    if r > 0:
        def err(g: int) -> float:
            return abs(max(1, round(g * r)) - g * r) / (g * r)

        k = min(range(max(settings.min_group, (k + 1) // 2), k + 1), key=lambda g: (round(err(g), 3), -g))
    return k


def probe_window(unit: UnitModel, streams: WindowStreams, w: int, n_units: int, k_group: int, settings: Settings) -> WindowProbe:
    """Simulate ``n_units`` units serving the window's ``streams`` (a group of ``k_group`` schedulers)."""
    total = n_units * unit.schedulers_per_unit
    k = min(k_group, total)
    f = k / total
    warm, meas, cool = spans(unit, settings)
    duration = warm + meas + cool
    wl = streams.workload(f, duration)
    sim, pool = unit.builder(n_units, k, wl, duration)
    # long enough for the longest measured request to finish within its TPOT limit
    longest = int(wl.output_tokens.max()) if len(wl) else 0
    sim.horizon_s = duration + 60.0 + 1.5 * (unit.e2e_s + longest * unit.slo.tpot_s)
    snaps: dict[float, list[tuple[float, float]]] = {}
    for t in (warm, warm + meas):
        sim.queue.push(t, PRIORITY_SAMPLE, lambda now, _: snaps.__setitem__(now, busy_at(pool, now)), None)
    sim.run()
    arr = np.asarray(sim.req.arrival, dtype=float)
    first = np.asarray(sim.req.first, dtype=float)
    fin = np.asarray(sim.req.finish, dtype=float)
    out = np.asarray(sim.req.out, dtype=np.int64)
    dropped = np.asarray(sim.req.dropped, dtype=bool)
    m = (arr >= warm) & (arr < warm + meas)
    done = m & np.isfinite(fin) & ~dropped
    ttft = first - arr
    tpot = np.where(out > 1, (fin - first) / np.maximum(out - 1, 1), 0.0)
    good = done & (ttft <= unit.slo.ttft_s) & (tpot <= unit.slo.tpot_s)
    n = int(m.sum())
    reps = pool.all_replicas()
    gpus = sum(r.cost.gpus for r in reps)
    b0, b1 = snaps.get(warm), snaps.get(warm + meas)
    busy = (sum((e[0] - s[0]) * r.cost.gpus for r, s, e in zip(reps, b0, b1)) / (gpus * meas)) if b0 and b1 and gpus else 0.0
    multi = done & (out > 1)
    return WindowProbe(window=w, attainment=float(good.sum() / n) if n else 1.0, requests=n, busy_utilisation=min(1.0, busy),
                       ttft_p99_s=float(np.percentile(ttft[done], 99)) if done.any() else None,
                       tpot_p99_s=float(np.percentile(tpot[multi], 99)) if multi.any() else None)


@dataclass(frozen=True)
class Sizing:
    """The outcome of :func:`size_pool`."""

    name: str
    units: int
    reached: bool
    fluid_peak_units: float
    windows: tuple[int, ...]
    group: int
    probes: tuple[Probe, ...]
    measure_s: float = MEASURE_S

    @property
    def chosen(self) -> Probe:
        return next(p for p in self.probes if p.units == self.units)


def sizing_windows(unit: UnitModel, tenants: list[Tenant], count: int) -> list[int]:
    """The ``count`` windows of highest fluid demand (earliest first among equals)."""
    fl = unit.fluid_units(tenants)
    order = np.argsort(-fl, kind="stable")
    return sorted(int(i) for i in order[:count])


def size_pool(unit: UnitModel, tenants: list[Tenant], target: float, seed: int, name: str, windows: int = 2,
              settings: Settings | None = None, guess: float = 1.0, step: tuple[float, float] = (STEP_DOWN, STEP_UP),
              cache: dict[int, Probe] | None = None) -> Sizing:
    """The smallest number of units whose attainment reaches ``target`` in each of the pool's
    ``windows`` busiest windows (module docstring).  The search starts at ``guess`` x the fluid
    estimate and steps by ``step`` (down, up) factors until the outcome flips.

    The group, the measured time and the requests depend on the pool, not on the guess (they are
    set at the fluid estimate), so a second search of the same pool may pass the first one's
    ``cache`` of probes (units -> :class:`Probe`) and reuse them."""
    settings = settings or Settings()
    ws = sizing_windows(unit, tenants, windows)
    fluid = float(np.max(unit.fluid_units(tenants)))
    n_ref = max(1, math.ceil(fluid))
    n0 = max(1, math.ceil(fluid * guess))
    k = group_size(unit, tenants, ws, n_ref, settings)
    f_ref = min(1.0, k / (n_ref * unit.schedulers_per_unit))
    group_rps = min(float(np.sum([t.rate_rps[w] for t in tenants])) for w in ws) * f_ref
    if group_rps > 0 and settings.min_requests / group_rps > settings.measure_s:
        settings = dataclasses.replace(settings, measure_s=min(MAX_MEASURE_S, settings.min_requests / group_rps))
    streams = {w: WindowStreams(tenants, w, f_ref, seed, f"consolidate.{name}.w{w}", unit.max_context) for w in ws}
    cache = {} if cache is None else cache

    def probe(n: int) -> Probe:
        if n not in cache:
            cache[n] = Probe(units=n, windows=tuple(probe_window(unit, streams[w], w, n, k, settings) for w in ws))
        return cache[n]

    def ok(n: int) -> bool:
        return probe(n).attainment >= target

    limit = int(MAX_FACTOR * n0) + 10
    reached = True
    if ok(n0):
        hi, lo = n0, 0
        while hi > 1:
            n = min(hi - 1, max(1, math.floor(hi * step[0])))
            if ok(n):
                hi = n
            else:
                lo = n
                break
    else:
        lo, hi = n0, None
        n = n0
        while hi is None:
            n = max(n + 1, math.ceil(n * step[1]))
            if n > limit:
                hi, reached = limit, False
                probe(limit)
                break
            if ok(n):
                hi = n
            else:
                lo = n
    while reached and hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return Sizing(name=name, units=hi, reached=reached, fluid_peak_units=fluid, windows=tuple(ws), group=k,
                  probes=tuple(cache[n] for n in sorted(cache)), measure_s=settings.measure_s)


def busy_curve(unit: UnitModel, tenants: list[Tenant], seed: int, settings: Settings,
               loads: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Busy GPU time / GPU time of a group at each fluid load (Poisson arrivals, the tenants'
    request-weighted mean lengths and shapes), for the utilisation over the whole record."""
    req = np.array([t.requests() for t in tenants])
    wts = req / req.sum()
    mean_in = float(sum(w * np.sum(t.rate_rps * t.mean_input) / max(np.sum(t.rate_rps), 1e-12) for w, t in zip(wts, tenants)))
    mean_out = float(sum(w * np.sum(t.rate_rps * t.mean_output) / max(np.sum(t.rate_rps), 1e-12) for w, t in zip(wts, tenants)))
    in_shape = np.sum([w * t.input_shape for w, t in zip(wts, tenants)], axis=0)
    out_shape = np.sum([w * t.output_shape for w, t in zip(wts, tenants)], axis=0)
    cap = unit.capacity_rps / max(mean_in / unit.isl, mean_out / unit.osl)  # requests/s of one unit at these lengths
    n_units = 10  # a pool large enough that the group is a part of it, as in the sized pools
    busy = []
    for rho in loads:
        t = Tenant(name="avg", rate_rps=np.array([rho * cap * n_units]), cv=np.array([1.0]), mean_input=np.array([mean_in]),
                   mean_output=np.array([mean_out]), input_shape=in_shape, output_shape=out_shape, u_grid=tenants[0].u_grid)
        k = group_size(unit, [t], [0], n_units, settings)
        f = min(1.0, k / (n_units * unit.schedulers_per_unit))
        p = probe_window(unit, WindowStreams([t], 0, f, seed, f"consolidate.busy.{rho:g}", unit.max_context), 0, n_units, k, settings)
        busy.append(p.busy_utilisation)
    return np.asarray(loads, dtype=float), np.asarray(busy, dtype=float)
