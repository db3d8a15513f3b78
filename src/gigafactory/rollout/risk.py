"""Monte Carlo over task durations with a fast, vectorised schedule evaluator.

The CP-SAT base plan fixes the order of tasks on each resource; every sample then becomes a
longest-path computation over precedences plus those resource chains, evaluated for all
samples at once with numpy (one vector of start times per task).  Durations are triangular
(low, mode, high) per task, each source drawing from its own generator spawned from the
scenario seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gigafactory.rollout.solve import Plan
from gigafactory.rollout.tasks import Task


@dataclass(frozen=True)
class RiskResult:
    first_token_h: np.ndarray  # per sample
    full_capacity_h: np.ndarray
    critical_first_token: dict[str, float]  # task kind/id -> share of samples on the critical path
    critical_full_capacity: dict[str, float]

    def percentiles(self, q=(10, 50, 90)) -> dict[str, dict[str, float]]:
        return {
            "first_token_days": {f"p{p}": float(np.percentile(self.first_token_h, p) / 24) for p in q},
            "full_capacity_days": {f"p{p}": float(np.percentile(self.full_capacity_h, p) / 24) for p in q},
        }


def _graph(tasks: list[Task], plan: Plan) -> tuple[list[Task], list[list[int]]]:
    """Tasks in an order consistent with the plan, and each task's predecessor indices
    (precedences + the previous task on the same resource in the plan)."""
    order = sorted(tasks, key=lambda t: (plan.start_h[t.id], plan.end_h[t.id], t.id))
    index = {t.id: i for i, t in enumerate(order)}
    # a resource of capacity k is k lanes; each task follows the lane that freed first in the plan
    lanes: dict[str, list[tuple[int, int]]] = {}  # resource -> [(plan end, task index)] per lane
    preds: list[list[int]] = []
    for i, t in enumerate(order):
        p = [index[x] for x in t.preds]
        if t.resource:
            lane = lanes.setdefault(t.resource, [(-1, -1)] * max(1, t.capacity))
            k = min(range(len(lane)), key=lambda j: lane[j][0])
            if lane[k][1] >= 0:
                p.append(lane[k][1])
            lane[k] = (plan.end_h[t.id], i)
        preds.append(p)
    return order, preds


def simulate(tasks: list[Task], plan: Plan, n_samples: int, rng: np.random.Generator) -> RiskResult:
    order, preds = _graph(tasks, plan)
    n = len(order)
    lo = np.array([t.duration[0] for t in order])
    mo = np.array([t.duration[1] for t in order])
    hi = np.array([t.duration[2] for t in order])
    # triangular needs lo <= mode <= hi and lo < hi; degenerate tasks keep their mode
    degenerate = hi - lo < 1e-9
    dur = np.empty((n, n_samples))
    if (~degenerate).any():
        idx = np.nonzero(~degenerate)[0]
        dur[idx] = rng.triangular(lo[idx, None], np.clip(mo[idx], lo[idx], hi[idx])[:, None], hi[idx, None], size=(idx.size, n_samples))
    dur[degenerate] = mo[degenerate, None]
    start = np.zeros((n, n_samples))
    finish = np.zeros((n, n_samples))
    binding = np.full((n, n_samples), -1, dtype=np.int32)
    for i in range(n):
        p = preds[i]
        if p:
            ends = finish[p]  # (len(p), samples)
            k = np.argmax(ends, axis=0)
            start[i] = ends[k, np.arange(n_samples)]
            binding[i] = np.asarray(p, dtype=np.int32)[k]
        finish[i] = start[i] + dur[i]
    soft = [i for i, t in enumerate(order) if t.kind == "software"]
    acc = [i for i, t in enumerate(order) if t.kind == "accept"]
    ft_idx = np.asarray(soft)[np.argmin(finish[soft], axis=0)]
    fc_idx = np.asarray(acc)[np.argmax(finish[acc], axis=0)]
    first = finish[ft_idx, np.arange(n_samples)]
    full = finish[fc_idx, np.arange(n_samples)]
    return RiskResult(first, full, _critical(order, binding, ft_idx), _critical(order, binding, fc_idx))


def _critical(order: list[Task], binding: np.ndarray, ends: np.ndarray, max_samples: int = 400) -> dict[str, float]:
    """Share of samples in which each kind of task (per site) lies on the critical path, by share
    (descending) then key."""
    counts: dict[str, int] = {}
    n = min(len(ends), max_samples)
    for s in range(n):
        i = int(ends[s])
        seen: set[str] = set()
        while i >= 0:
            t = order[i]
            key = t.id if t.su is None else f"{t.site}/su*/{t.kind}"
            seen.add(key)
            i = int(binding[i, s])
        for key in seen:
            counts[key] = counts.get(key, 0) + 1
    # share descending, ties by key: `seen` is a set, so counts' insertion order follows string
    # hashing, which changes from one process to the next
    return dict(sorted(((k, v / n) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0])))
