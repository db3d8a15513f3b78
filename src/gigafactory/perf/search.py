"""Configuration search: enumerate feasible layouts and batch sizes, keep the Pareto frontier
of output tok/s/GPU versus tok/s/user, and pick the best point under TTFT/TPOT limits."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from gigafactory.perf.architecture import ParamCounts, param_counts
from gigafactory.perf.efficiency import Efficiency
from gigafactory.perf.hardware import Hardware
from gigafactory.perf.layout import Layout
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


@dataclass(frozen=True)
class SearchResult:
    points: list[ServingPoint]
    frontier: list[ServingPoint]
    best: ServingPoint | None
    n_evaluated: int
    n_layouts_infeasible: int


def search(
    m: Any, hw: Hardware, eff: Efficiency, precision: str, isl: float, osl: float,
    ttft_s: float | None = None, tpot_s: float | None = None, spec: Speculation = Speculation(),
    modes: tuple[str, ...] = ("aggregated", "disaggregated"), layouts: list[Layout] | None = None,
    pc: ParamCounts | None = None, max_gpus: int | None = None,
) -> SearchResult:
    """Evaluate every feasible (mode, layout, concurrency) and return the frontier and the best
    point under the limits (None when no point meets them).  Memory-infeasible layouts are skipped."""
    pc = pc or param_counts(m)
    layouts = layouts or candidate_layouts(m, hw, max_gpus)
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
                p = aggregated_point(m, pc, hw, eff, layout, precision, isl, osl, b, spec)
                if p is not None:
                    points.append(p)
    if "disaggregated" in modes and feasible_layouts:
        # Prefill prefers small, compute-dense instances: the smallest feasible layouts.
        prefill_candidates = sorted(feasible_layouts, key=lambda x: x[0].gpus)[:3]
        for layout, max_c in feasible_layouts:
            for b in batch_sizes(max_c)[::2]:
                for pl, _ in prefill_candidates:
                    p = disaggregated_point(m, pc, hw, eff, pl, layout, precision, isl, osl, b, spec)
                    if p is not None:
                        points.append(p)
    frontier = pareto_frontier(points)
    return SearchResult(points, frontier, best_under_slo(points, ttft_s, tpot_s), len(points), infeasible)
