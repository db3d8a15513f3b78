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
    first, full, binding, ft_idx, fc_idx = evaluate(order, preds, sample_durations(order, n_samples, rng))
    return RiskResult(first, full, _critical(order, binding, ft_idx), _critical(order, binding, fc_idx))


def sample_durations(order: list[Task], n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Triangular (low, mode, high) durations, tasks x samples [h]; degenerate tasks keep their mode."""
    n = len(order)
    lo = np.array([t.duration[0] for t in order])
    mo = np.array([t.duration[1] for t in order])
    hi = np.array([t.duration[2] for t in order])
    # triangular needs lo <= mode <= hi and lo < hi
    degenerate = hi - lo < 1e-9
    dur = np.empty((n, n_samples))
    if (~degenerate).any():
        idx = np.nonzero(~degenerate)[0]
        dur[idx] = rng.triangular(lo[idx, None], np.clip(mo[idx], lo[idx], hi[idx])[:, None], hi[idx, None], size=(idx.size, n_samples))
    dur[degenerate] = mo[degenerate, None]
    return dur


def longest_path(preds: list[list[int]], dur: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and finish of every task (in plan order) for every column of ``dur``, and the
    predecessor that binds each start (-1 for none)."""
    n, n_samples = dur.shape
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
    return start, finish, binding


def evaluate(order: list[Task], preds: list[list[int]], dur: np.ndarray) -> tuple[np.ndarray, ...]:
    """Longest path over the plan's order for every column of ``dur`` (tasks x samples, hours):
    first token and full capacity per column, the binding predecessor of each task, and the
    software / acceptance task that ends each."""
    n_samples = dur.shape[1]
    _, finish, binding = longest_path(preds, dur)
    soft = [i for i, t in enumerate(order) if t.kind == "software"]
    acc = [i for i, t in enumerate(order) if t.kind == "accept"]
    ft_idx = np.asarray(soft)[np.argmin(finish[soft], axis=0)]
    # a graph without acceptance tasks (nothing to bring online) is at full capacity at first token
    fc_idx = np.asarray(acc)[np.argmax(finish[acc], axis=0)] if acc else ft_idx
    return finish[ft_idx, np.arange(n_samples)], finish[fc_idx, np.arange(n_samples)], binding, ft_idx, fc_idx


def group_of(t: Task) -> str:
    """The group a task's duration belongs to: a site-level task by id, a scalable unit's task by
    site and kind (its hundreds of copies move together)."""
    return t.id if t.su is None else f"{t.site}/su*/{t.kind}"


def duration_tornado(tasks: list[Task], plan: Plan) -> list[dict[str, float | str]]:
    """First token with each group's durations at their low and at their high end, every other
    task at its mode, on the base plan's order: which durations move the first token most.
    Rows by swing (descending), then group; groups that cannot move it are left out."""
    order, preds = _graph(tasks, plan)
    groups = sorted({group_of(t) for t in order})
    index = {g: [i for i, t in enumerate(order) if group_of(t) == g] for g in groups}
    mo = np.array([t.duration[1] for t in order])
    dur = np.repeat(mo[:, None], 1 + 2 * len(groups), axis=1)
    for j, g in enumerate(groups):
        rows = index[g]
        dur[rows, 1 + 2 * j] = [order[i].duration[0] for i in rows]
        dur[rows, 2 + 2 * j] = [order[i].duration[2] for i in rows]
    first = evaluate(order, preds, dur)[0] / 24.0
    base = float(first[0])
    out = []
    for j, g in enumerate(groups):
        low, high = float(first[1 + 2 * j]), float(first[2 + 2 * j])
        if abs(high - low) > 1e-9:
            out.append({"task": g, "first_token_days_low": low, "first_token_days_high": high, "swing_days": high - low,
                        "base_days": base})
    return sorted(out, key=lambda r: (-float(r["swing_days"]), str(r["task"])))


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
            key = group_of(t)
            seen.add(key)
            i = int(binding[i, s])
        for key in seen:
            counts[key] = counts.get(key, 0) + 1
    # share descending, ties by key: `seen` is a set, so counts' insertion order follows string
    # hashing, which changes from one process to the next
    return dict(sorted(((k, v / n) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0])))
