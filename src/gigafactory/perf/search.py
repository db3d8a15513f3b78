"""Configuration search: enumerate feasible layouts and batch sizes, keep the Pareto frontier
of output tok/s/GPU versus tok/s/user, and pick the best point under TTFT/TPOT limits.

Limits are judged one of two ways: against the steady state (:func:`best_under_slo`, the caller
having divided p99 limits by fixed ratios), or as p99s under Poisson arrivals with the queueing
model of ``perf.load`` (:func:`best_under_load`): each point then serves the highest rate, up to
its saturation rate, at which its p99s meet the limits, and a disaggregated prefill pool is sized
for its queue instead of being balanced against the decode pool at full load."""
from __future__ import annotations

import dataclasses
import heapq
import math
from dataclasses import dataclass
from typing import Any, Iterable

from gigafactory.perf.architecture import ParamCounts, param_counts
from gigafactory.perf.efficiency import Efficiency
from gigafactory.perf.hardware import Hardware
from gigafactory.perf.layout import Layout
from gigafactory.perf.load import AdpBalance, Lengths, LoadPoint, load_at
from gigafactory.perf.memory import memory_fit
from gigafactory.perf.serving import ServingPoint, Speculation, aggregated_point, disaggregated_point

POWERS = (1, 2, 4, 8, 16, 32, 64)


def candidate_layouts(m: Any, hw: Hardware, max_gpus: int | None = None) -> list[Layout]:
    """Layouts worth trying: TP within an NVLink domain, PP across domains, and for MoE
    expert parallelism with or without attention data parallelism."""
    limit = max_gpus or hw.domain_gpus
    out: list[Layout] = []
    for tp in (t for t in POWERS if t <= min(limit, hw.domain_gpus)):
        for pp in (p for p in (1, 2, 4, 8) if tp * p <= max(limit, tp)):
            if pp > 1 and tp * pp <= hw.domain_gpus and tp < min(8, hw.domain_gpus):
                continue  # inside one NVLink domain, more TP beats PP
            if m.architecture == "moe":
                eps = {1, tp} if tp > 1 else {1}
                for ep in sorted(eps):
                    out.append(Layout(tp=tp, pp=pp, ep=ep))
                if tp > 1:
                    out.append(Layout(tp=tp, pp=pp, ep=tp, dp_attention=True))
            else:
                out.append(Layout(tp=tp, pp=pp))
    return out


def batch_sizes(max_concurrency: int) -> list[int]:
    sizes = [b for b in (1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384) if b <= max_concurrency]
    if max_concurrency >= 1 and (not sizes or sizes[-1] != max_concurrency) and max_concurrency <= 65536:
        sizes.append(max_concurrency)
    return sizes


def pareto_frontier(points: Iterable[ServingPoint]) -> list[ServingPoint]:
    """Points not dominated in (tok_s_gpu, tok_s_user), sorted by tok_s_user descending."""
    pts = sorted(points, key=lambda p: (-p.tok_s_user, -p.tok_s_gpu))
    frontier: list[ServingPoint] = []
    best_gpu = -1.0
    for p in pts:
        if p.tok_s_gpu > best_gpu:
            frontier.append(p)
            best_gpu = p.tok_s_gpu
    return frontier


def best_under_slo(points: Iterable[ServingPoint], ttft_s: float | None = None, tpot_s: float | None = None) -> ServingPoint | None:
    ok = [p for p in points if (ttft_s is None or p.ttft_s <= ttft_s) and (tpot_s is None or p.tpot_s <= tpot_s)]
    return max(ok, key=lambda p: (p.tok_s_gpu, p.tok_s_user)) if ok else None


#: a disaggregated point whose prompts queue past the TTFT limit is tried again with this many
#: more prefill instances (relative, at least one more), up to PREFILL_HEADROOM_MAX times the
#: pool that balances the decode rate: beyond that the prompt itself, not its queue, is too slow
PREFILL_STEP = 0.02
PREFILL_HEADROOM_MAX = 2.0
#: a point is run below its saturation rate down to this share of it; a point that meets its p99s
#: only lower is not worth its GPUs.  LOAD_BISECTIONS halvings find the share to 1/64 of the range
MIN_LOAD_FRACTION = 0.5
LOAD_BISECTIONS = 6
#: with an attention-DP balancing hold the p99 TTFT is not monotonic in the rate: the shares of
#: saturation scanned (from 1 down to MIN_LOAD_FRACTION) before the bisection refines
ADP_SCAN_STEP = 1 / 16


def sustainable_fraction(p: ServingPoint, m: Any, pc: ParamCounts, hw: Hardware, eff: Efficiency, precision: str, lengths: Lengths,
                         ttft_p99_s: float | None, tpot_p99_s: float | None, spec: Speculation = Speculation(),
                         peak: float = 1.0, instances: int = 1, adp: AdpBalance | None = None) -> tuple[float, LoadPoint]:
    """The largest share f of the point's saturation rate (its steady tok/s) at which the p99s under
    Poisson arrivals still meet the limits when the arrivals peak at ``peak`` x their mean: judged at
    ``f x peak`` x the rate (``perf.load.load_at``; ``instances`` aggregated instances behind one
    router, ``adp`` their engine's attention-DP balancing).  (0, latencies at f = 1) when no f of at
    least MIN_LOAD_FRACTION does.

    The p99s grow with the rate, so the largest f is found by bisection, except with ``adp``: its
    hold is shorter when prompts come faster (every rank holds one sooner), so a TTFT limit can
    fail at a low f and pass at a higher one.  Then f is scanned downwards from 1 in steps of
    ADP_SCAN_STEP first, and the bisection refines the first f that meets the limits."""

    def at(f: float) -> LoadPoint:
        return load_at(p, m, pc, hw, eff, precision, lengths, spec, instances=instances, rate_scale=f * peak, adp=adp)

    full = at(1.0)
    if full.meets(ttft_p99_s, tpot_p99_s):
        return 1.0, full
    hi = 1.0
    if adp is not None:
        f = 1.0 - ADP_SCAN_STEP
        while f >= MIN_LOAD_FRACTION - 1e-12:
            lp = at(f)
            if lp.meets(ttft_p99_s, tpot_p99_s):
                break
            hi, f = f, f - ADP_SCAN_STEP
        else:
            return 0.0, full
        low, lo_f = lp, f
    else:
        low, lo_f = at(MIN_LOAD_FRACTION), MIN_LOAD_FRACTION
        if not low.meets(ttft_p99_s, tpot_p99_s):
            return 0.0, full
    lo, best = lo_f, low
    for _ in range(LOAD_BISECTIONS):
        mid = (lo + hi) / 2
        lp = at(mid)
        if lp.meets(ttft_p99_s, tpot_p99_s):
            lo, best = mid, lp
        else:
            hi = mid
    return lo, best


def best_under_load(
    points: Iterable[ServingPoint], m: Any, pc: ParamCounts, hw: Hardware, eff: Efficiency, precision: str,
    lengths: Lengths, ttft_p99_s: float | None, tpot_p99_s: float | None, spec: Speculation = Speculation(), peak: float = 1.0,
) -> tuple[ServingPoint, LoadPoint] | None:
    """The configuration that serves the most tok/s/GPU with its p99 TTFT and TPOT within the limits
    under Poisson arrivals peaking at ``peak`` x their mean (:func:`sustainable_fraction`; the
    point's concurrency is its mean in flight, and the engine admits requests while its KV cache
    has room).  The returned point's tok_s_gpu is that sustainable rate, its ``details`` give the
    share of the saturation rate (``load_fraction``); its other figures stay the steady state's.

    Branch and bound: points are judged in decreasing steady tok/s/GPU, an upper bound of what
    they sustain, until none left can beat the best found.  Points whose steady-state TTFT or TPOT
    already exceeds a limit are skipped unjudged (a p99 under load is never below the unloaded
    value).  A disaggregated point whose TPOT meets its limit but whose prompts queue too long is
    also judged with more prefill instances, so the prefill pool is sized for its p99 rather than
    balanced against the decode pool at full load."""
    heap: list[tuple[float, float, int, ServingPoint, int]] = []
    for i, p in enumerate(points):
        if (ttft_p99_s is None or p.ttft_s <= ttft_p99_s) and (tpot_p99_s is None or p.tpot_s <= tpot_p99_s):
            heap.append((-p.tok_s_gpu, -p.tok_s_user, i, p, p.prefill_instances))
    heapq.heapify(heap)
    order = len(heap)
    best: tuple[ServingPoint, LoadPoint] | None = None
    while heap and (best is None or -heap[0][0] > best[0].tok_s_gpu):
        _, _, _, p, balanced = heapq.heappop(heap)
        frac, lp = sustainable_fraction(p, m, pc, hw, eff, precision, lengths, ttft_p99_s, tpot_p99_s, spec, peak)
        if frac > 0 and (best is None or frac * p.tok_s_gpu > best[0].tok_s_gpu):
            best = (dataclasses.replace(p, tok_s_gpu=frac * p.tok_s_gpu, details={**p.details, "load_fraction": frac}), lp)
        if frac == 1.0 or p.mode != "disaggregated" or p.prefill_layout is None or not lp.tpot_p99_s <= (tpot_p99_s or math.inf):
            continue
        n_p = max(p.prefill_instances + 1, math.ceil(p.prefill_instances * (1 + PREFILL_STEP)))
        if n_p > PREFILL_HEADROOM_MAX * balanced:
            continue
        q = disaggregated_point(m, pc, hw, eff, p.prefill_layout, p.layout, precision, lengths.isl_mean, lengths.osl_mean, p.concurrency,
                                spec, prefill_instances=n_p, decode_instances=p.decode_instances, osl_cv=lengths.output_cv)
        if q is not None:
            order += 1
            heapq.heappush(heap, (-q.tok_s_gpu, -q.tok_s_user, order, q, balanced))
    return best


@dataclass(frozen=True)
class SearchResult:
    points: list[ServingPoint]
    frontier: list[ServingPoint]
    best: ServingPoint | None
    n_evaluated: int
    n_layouts_infeasible: int
    #: latencies of ``best`` under load, when the limits were judged as p99s (``lengths`` given)
    best_load: LoadPoint | None = None


def search(
    m: Any, hw: Hardware, eff: Efficiency, precision: str, isl: float, osl: float,
    ttft_s: float | None = None, tpot_s: float | None = None, spec: Speculation = Speculation(),
    modes: tuple[str, ...] = ("aggregated", "disaggregated"), layouts: list[Layout] | None = None,
    pc: ParamCounts | None = None, max_gpus: int | None = None, lengths: Lengths | None = None, peak: float = 1.0,
) -> SearchResult:
    """Evaluate every feasible (mode, layout, concurrency) and return the frontier and the best
    point under the limits (None when no point meets them).  Memory-infeasible layouts are skipped.

    Without ``lengths`` the limits apply to the steady state; with them (the request-length
    distribution) they are p99s judged by :func:`best_under_load`, for arrivals peaking at ``peak``
    x their mean rate, and the best point's tok/s/GPU is what it sustains under them."""
    pc = pc or param_counts(m)
    layouts = layouts or candidate_layouts(m, hw, max_gpus)
    # with a length distribution, the steady decode batch holds the length-biased context
    osl_cv = lengths.output_cv if lengths is not None else 0.0
    points: list[ServingPoint] = []
    infeasible = 0
    feasible_layouts: list[tuple[Layout, int]] = []
    for layout in layouts:
        fit = memory_fit(m, pc, hw, layout, precision, int(isl + osl))
        max_c = fit.max_concurrency(isl + osl)
        if max_c < 1:
            infeasible += 1
            continue
        feasible_layouts.append((layout, max_c))
        if "aggregated" in modes:
            for b in batch_sizes(max_c):
                p = aggregated_point(m, pc, hw, eff, layout, precision, isl, osl, b, spec, osl_cv=osl_cv)
                if p is not None:
                    points.append(p)
    if "disaggregated" in modes and feasible_layouts:
        # Prefill prefers small, compute-dense instances: the smallest feasible layouts.
        prefill_candidates = sorted(feasible_layouts, key=lambda x: x[0].gpus)[:3]
        for layout, max_c in feasible_layouts:
            for b in batch_sizes(max_c)[::2]:
                for pl, _ in prefill_candidates:
                    p = disaggregated_point(m, pc, hw, eff, pl, layout, precision, isl, osl, b, spec, osl_cv=osl_cv)
                    if p is not None:
                        points.append(p)
    frontier = pareto_frontier(points)
    if lengths is None:
        return SearchResult(points, frontier, best_under_slo(points, ttft_s, tpot_s), len(points), infeasible)
    found = best_under_load(points, m, pc, hw, eff, precision, lengths, ttft_s, tpot_s, spec, peak)
    return SearchResult(points, frontier, found[0] if found else None, len(points), infeasible, found[1] if found else None)
