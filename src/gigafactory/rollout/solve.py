"""The base plan with OR-Tools CP-SAT, as build -> solve -> apply.

build: interval per task at its mode duration, precedence, one task at a time per resource,
symmetry breaking among a site's identical scalable units.  solve: lexicographic objective,
first the earliest first production token, then (with that fixed) the earliest capacity
(GPU-weighted completion of every scalable unit).  apply: start and end per task, status and
the optimality gap the solver proves.  Constraints carry readable names so an infeasible
plan says which rule failed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from gigafactory.rollout.tasks import Task


@dataclass
class Built:
    model: cp_model.CpModel
    start: dict[str, Any]
    end: dict[str, Any]
    first_token: Any
    weighted_completion: Any
    tasks: dict[str, Task]
    constraint_names: list[str]


@dataclass(frozen=True)
class Plan:
    start_h: dict[str, int]
    end_h: dict[str, int]
    first_token_h: int
    full_capacity_h: int
    status: str
    gap: float  # (objective - best bound) / objective of the capacity stage [1]
    first_token_proven_optimal: bool
    wall_s: float


def build(tasks: list[Task]) -> Built:
    m = cp_model.CpModel()
    by_id = {t.id: t for t in tasks}
    horizon = sum(t.mode_h for t in tasks) + 1
    start, end, interval = {}, {}, {}
    names: list[str] = []
    for t in tasks:
        start[t.id] = m.NewIntVar(0, horizon, f"start[{t.id}]")
        end[t.id] = m.NewIntVar(0, horizon, f"end[{t.id}]")
        interval[t.id] = m.NewIntervalVar(start[t.id], t.mode_h, end[t.id], f"task[{t.id}]")
    for t in tasks:
        for p in t.preds:
            if p not in by_id:
                raise KeyError(f"task {t.id} depends on unknown task {p}")
            m.Add(start[t.id] >= end[p]).WithName(f"precedence:{p}->{t.id}")
            names.append(f"precedence:{p}->{t.id}")
    resources: dict[str, list[str]] = {}
    capacity: dict[str, int] = {}
    for t in tasks:
        if t.resource:
            resources.setdefault(t.resource, []).append(t.id)
            capacity[t.resource] = t.capacity
    for res, ids in resources.items():
        if capacity[res] <= 1:
            m.AddNoOverlap([interval[i] for i in ids])
        else:
            m.AddCumulative([interval[i] for i in ids], [1] * len(ids), capacity[res])
        names.append(f"capacity:{res}")
    # identical SUs of a site: integrate and install in index order (symmetry breaking)
    for kind in ("integrate", "receive", "install"):
        groups: dict[str, list[Task]] = {}
        for t in tasks:
            if t.kind == kind:
                groups.setdefault(t.site, []).append(t)
        for site, ts in groups.items():
            ts.sort(key=lambda x: x.su)
            for a, b in zip(ts, ts[1:]):
                m.Add(start[b.id] >= start[a.id]).WithName(f"su-order:{kind}:{site}")
    software = [t.id for t in tasks if t.kind == "software"]
    first = m.NewIntVar(0, horizon, "first_token")
    m.AddMinEquality(first, [end[i] for i in software])
    accepts = [t for t in tasks if t.kind == "accept"]
    weighted = sum(t.gpus * end[t.id] for t in accepts)
    return Built(m, start, end, first, weighted, by_id, names)


def greedy_starts(tasks: list[Task]) -> dict[str, int]:
    """A feasible schedule at mode durations: tasks in a natural priority order (site work
    first, then scalable units interleaved across sites by index), each starting when its
    predecessors and the previous task on its resource have ended.  Used as a hint."""
    kind_rank = {"grid": 0, "lead": 0, "civil": 1, "shell": 2, "fitout": 3, "energise": 4, "integrate": 5, "ship": 6, "receive": 7, "install": 8,
                 "l12": 9, "burn_in": 10, "accept": 11, "software": 12}
    by_id = {t.id: t for t in tasks}
    order = sorted(tasks, key=lambda t: (t.su if t.su is not None else -1, kind_rank.get(t.kind, 99), t.phase or 0, t.site, t.id))
    pos = {t.id: i for i, t in enumerate(order)}
    # predecessors must come first: repair the order by a topological sort that keeps the priorities
    indeg = {t.id: 0 for t in tasks}
    succ: dict[str, list[str]] = {t.id: [] for t in tasks}
    for t in tasks:
        for p in t.preds:
            indeg[t.id] += 1
            succ[p].append(t.id)
    import heapq

    ready = [(pos[t.id], t.id) for t in tasks if indeg[t.id] == 0]
    heapq.heapify(ready)
    end: dict[str, int] = {}
    start: dict[str, int] = {}
    lanes: dict[str, list[int]] = {}  # per resource: when each parallel lane is free
    while ready:
        _, tid = heapq.heappop(ready)
        t = by_id[tid]
        s0 = max([end[p] for p in t.preds], default=0)
        if t.resource:
            free = lanes.setdefault(t.resource, [0] * max(1, t.capacity))
            k = min(range(len(free)), key=free.__getitem__)
            s0 = max(s0, free[k])
        start[tid] = s0
        end[tid] = s0 + t.mode_h
        if t.resource:
            free[k] = end[tid]
        for n in succ[tid]:
            indeg[n] -= 1
            if indeg[n] == 0:
                heapq.heappush(ready, (pos[n], n))
    return start


def solve(b: Built, max_deterministic_time: float = 30.0, gap_target: float = 0.05, seed: int = 0) -> Plan:
    """Two stages; deterministic for a given seed: one search worker (measured ~4x faster than two
    interleaved workers on this model, and reproducible) under a deterministic time limit."""
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_deterministic_time = max_deterministic_time / 2
    p.num_workers = 1
    p.random_seed = seed
    p.relative_gap_limit = gap_target / 2
    for tid, s0 in greedy_starts(list(b.tasks.values())).items():
        b.model.AddHint(b.start[tid], s0)
    b.model.Minimize(b.first_token)
    st1 = solver.Solve(b.model)
    if st1 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise RuntimeError(f"rollout model infeasible ({solver.StatusName(st1)}); constraints: {', '.join(sorted(set(b.constraint_names))[:10])}")
    first_opt = st1 == cp_model.OPTIMAL
    best_first = int(solver.Value(b.first_token))
    wall = solver.WallTime()
    b.model.Add(b.first_token <= best_first).WithName("keep-first-token")
    b.model.Minimize(b.weighted_completion)  # replaces the stage-1 objective
    # warm start from stage 1
    b.model.ClearHints()
    for tid in b.start:
        b.model.AddHint(b.start[tid], solver.Value(b.start[tid]))
    st2 = solver.Solve(b.model)
    if st2 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise RuntimeError(f"rollout capacity stage failed ({solver.StatusName(st2)})")
    obj = solver.ObjectiveValue()
    bound = solver.BestObjectiveBound()
    gap = 0.0 if obj <= 0 else max(0.0, (obj - bound) / obj)
    return apply(b, solver, solver.StatusName(st2), gap, first_opt, wall + solver.WallTime())


def apply(b: Built, solver: cp_model.CpSolver, status: str, gap: float, first_opt: bool, wall: float) -> Plan:
    start = {i: int(solver.Value(v)) for i, v in b.start.items()}
    end = {i: int(solver.Value(v)) for i, v in b.end.items()}
    accepts = [t.id for t in b.tasks.values() if t.kind == "accept"]
    return Plan(start, end, int(solver.Value(b.first_token)), max((end[a] for a in accepts), default=0), status, gap, first_opt, wall)
