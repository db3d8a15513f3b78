"""The base plan in about a second: critical path plus resource-constrained list scheduling.

A serial schedule-generation scheme: tasks are taken one at a time, always the eligible task
(every predecessor already placed) with the best priority, and each is placed at the earliest
time at or after its predecessors' ends where its resource has room for its whole duration
(insertion into gaps is allowed).  Resources follow `solve.build`: capacity 1 is CP-SAT's
NoOverlap (a zero-length task may not sit strictly inside another), capacity k a Cumulative
of unit demands (zero-length tasks ignored), the capacity being that of the resource's last
task.  Several priority rules are tried (earliest start, latest finish, slack, critical path,
the site / SU order of `solve.greedy_starts`, GPUs per hour of tail, and one rule per software
task that schedules its chain first), then, unless the best schedule already meets the lower
bounds, seeded random samples and a second stage that keeps the first-token chain in place and
reschedules the rest.  The best schedule by CP-SAT's lexicographic objective is kept: first the
earliest first production token (the smallest end of a `software` task), then the GPU-weighted
completion of the `accept` tasks.  Ties are broken by task id and the samples use a fixed seed,
so the plan is deterministic.  The SU-order symmetry breaking of the CP-SAT model is not
imposed; on every bench instance the list schedule satisfies it anyway, so it is also a
solution of the CP-SAT model.

Lower bounds (the plan's `gap` and `first_token_proven_optimal`), see `lower_bounds`:
- first token: the resource-free critical path to the earliest `software` end;
- capacity objective: per accept its resource-free earliest finish, raised for groups of
  accepts that each hang on their own task of one resource by a single-resource relaxation.
  With equal durations p on a resource of capacity k and release dates r (critical-path
  earliest starts), the m-th earliest start of any feasible schedule is at least
  s_m = max(r_(m), s_(m-k) + p) (k+1 tasks started within less than p of each other would
  overlap), so the sorted completions are bounded componentwise, and so is any non-negatively
  weighted sum of them (rearrangement inequality, or an assignment problem of slots to accepts
  that also keeps each accept's own critical-path end).  Unequal durations are relaxed to the
  shortest (the difference added back per task); resource tasks that feed no single accept are
  dropped.  Groups over disjoint sets of accepts add up.  Small capacity-1 resources (a site's
  shells and fit-outs, 2-4 tasks) are branched on: the bounds are the minimum over their task
  orders, and for the capacity objective only over orders whose first-token bound does not
  exceed the plan's first token (the objective's second stage keeps the first token).
"""
from __future__ import annotations

import heapq
import itertools
import random
import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment

from gigafactory.rollout.solve import Plan
from gigafactory.rollout.tasks import Task

#: site work first, then a scalable unit's stages in their natural order (as solve.greedy_starts)
KIND_RANK = {"grid": 0, "lead": 0, "civil": 1, "shell": 2, "fitout": 3, "energise": 4, "integrate": 5, "ship": 6, "receive": 7, "install": 8,
             "l12": 9, "burn_in": 10, "accept": 11, "software": 12}

_MANY = "\x00many"  # marker: a task feeds more than one accept


class _Profile:
    """Usage of one resource over time as a step function: usage[i] on [times[i], times[i+1]),
    zero before times[0] and after times[-1].  A capacity-1 resource also keeps its zero-length
    tasks as points: as in CP-SAT's NoOverlap, a zero-length task may not lie strictly inside
    another task (a Cumulative ignores zero-length tasks)."""

    __slots__ = ("cap", "points", "times", "usage")

    def __init__(self, cap: int) -> None:
        self.cap = max(1, cap)
        self.times: list[int] = []
        self.usage: list[int] = []
        self.points: list[int] = []

    def earliest(self, t: int, p: int) -> int:
        """Earliest start >= t at which a task of length p fits."""
        times, usage, cap = self.times, self.usage, self.cap
        n = len(times)
        if p <= 0:
            if cap > 1:
                return t
            j = bisect_right(times, t) - 1
            # inside a busy stretch (not at its start): the end of that segment is a task boundary
            return times[j + 1] if j >= 0 and usage[j] >= 1 and times[j] < t else t
        j = bisect_right(times, t) - 1  # segment holding t (-1: before the first breakpoint)
        c = t
        while True:
            seg_end = times[j + 1] if j + 1 < n else None
            if j >= 0 and usage[j] >= cap:
                c = seg_end  # type: ignore[assignment]  # the last segment always has usage 0
                j += 1
                continue
            if seg_end is None or seg_end >= c + p:
                if cap == 1 and self.points:
                    k = bisect_right(self.points, c)
                    if k < len(self.points) and self.points[k] < c + p:  # would enclose a zero-length task
                        c = self.points[k]
                        j = bisect_right(times, c) - 1
                        continue
                return c
            j += 1

    def _split(self, x: int) -> int:
        i = bisect_left(self.times, x)
        if i == len(self.times) or self.times[i] != x:
            self.times.insert(i, x)
            self.usage.insert(i, self.usage[i - 1] if i > 0 else 0)
        return i

    def add(self, s: int, e: int) -> None:
        if e <= s:
            if self.cap == 1:
                insort(self.points, s)
            return
        i = self._split(s)
        j = self._split(e)
        for k in range(i, j):
            self.usage[k] += 1


class TaskGraph:
    """Tasks by id, successors, a topological order (ties by id) and the resource-free critical
    path: earliest start/finish and the longest path from a task's start to any sink."""

    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = tasks
        self.by_id = {t.id: t for t in tasks}
        if len(self.by_id) != len(tasks):
            raise ValueError("duplicate task ids")
        self.succ: dict[str, list[str]] = {t.id: [] for t in tasks}
        indeg = {t.id: 0 for t in tasks}
        for t in tasks:
            for p in t.preds:
                if p not in self.by_id:
                    raise KeyError(f"task {t.id} depends on unknown task {p}")
                self.succ[p].append(t.id)
                indeg[t.id] += 1
        for s in self.succ.values():
            s.sort()
        ready = sorted(i for i, d in indeg.items() if d == 0)
        heapq.heapify(ready)
        topo: list[str] = []
        while ready:
            i = heapq.heappop(ready)
            topo.append(i)
            for n in self.succ[i]:
                indeg[n] -= 1
                if indeg[n] == 0:
                    heapq.heappush(ready, n)
        if len(topo) != len(tasks):
            raise ValueError("rollout task graph has a cycle: " + ", ".join(sorted(i for i, d in indeg.items() if d > 0)[:10]))
        self.topo = topo
        self.p = {t.id: t.mode_h for t in tasks}
        self.capacity: dict[str, int] = {}  # as solve.build: the last task of a resource states its capacity
        for t in tasks:
            if t.resource:
                self.capacity[t.resource] = max(1, t.capacity)
        self.es: dict[str, int] = {}
        for i in topo:
            self.es[i] = max((self.es[q] + self.p[q] for q in self.by_id[i].preds), default=0)
        self.ef = {i: self.es[i] + self.p[i] for i in topo}
        self.tail: dict[str, int] = {}
        for i in reversed(topo):
            self.tail[i] = self.p[i] + max((self.tail[s] for s in self.succ[i]), default=0)


def _weighted(tasks: list[Task], end: dict[str, int]) -> int:
    return sum(t.gpus * end[t.id] for t in tasks if t.kind == "accept")


def _first_token(tasks: list[Task], end: dict[str, int]) -> int:
    return min((end[t.id] for t in tasks if t.kind == "software"), default=0)


def serial_sgs(g: TaskGraph, key: Callable[[str], tuple], pinned: dict[str, int] | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """Serial schedule generation: the eligible task with the smallest key (then id) is placed at
    its earliest precedence- and resource-feasible start; `pinned` tasks (closed under
    predecessors, from a feasible schedule) keep their starts and are booked on their
    resources first.  Returns (start, end) by task id."""
    succ, p, by_id = g.succ, g.p, g.by_id
    pinned = pinned or {}
    indeg = {t.id: len(t.preds) for t in g.tasks}
    ready = [(key(i), i) for i, d in indeg.items() if d == 0]
    heapq.heapify(ready)
    start: dict[str, int] = {}
    end: dict[str, int] = {}
    profiles: dict[str, _Profile] = {}

    def profile(res: str) -> _Profile:
        prof = profiles.get(res)
        if prof is None:
            prof = profiles[res] = _Profile(g.capacity[res])
        return prof

    for i in sorted(pinned, key=lambda x: (pinned[x], x)):
        if by_id[i].resource:
            profile(by_id[i].resource).add(pinned[i], pinned[i] + p[i])
    while ready:
        _, i = heapq.heappop(ready)
        t = by_id[i]
        if i in pinned:
            s = pinned[i]
        else:
            s = max((end[q] for q in t.preds), default=0)
            if t.resource:
                prof = profile(t.resource)
                s = prof.earliest(s, p[i])
                prof.add(s, s + p[i])
        start[i] = s
        end[i] = s + p[i]
        for n in succ[i]:
            indeg[n] -= 1
            if indeg[n] == 0:
                heapq.heappush(ready, (key(n), n))
    return start, end


def _latest_finish(g: TaskGraph, due_first: str | None) -> dict[str, int]:
    """Latest finish per task when the software task `due_first` is due at its critical-path end
    and every other sink at the resource-free makespan."""
    p = g.p
    horizon = max(g.ef.values(), default=0)
    lf: dict[str, int] = {}
    for i in reversed(g.topo):
        d = g.ef[i] if i == due_first else horizon
        lf[i] = min([d] + [lf[s] - p[s] for s in g.succ[i]])
    return lf


def priority_rules(g: TaskGraph, first_token: bool = True) -> dict[str, Callable[[str], tuple]]:
    """Priority keys (smaller first).  With `first_token`, the latest-finish rules put the
    software task that can end first due at its critical-path end (the first-token bound), and
    one more rule per software task schedules that task's ancestors before every other task;
    without, every sink is due at the resource-free makespan (for the capacity stage)."""
    by_id, es, tail, p = g.by_id, g.es, g.tail, g.p
    soft = sorted((g.ef[t.id], t.id) for t in g.tasks if t.kind == "software") if first_token else []
    lf = _latest_finish(g, soft[0][1] if soft else None)

    def natural(i: str) -> tuple:
        t = by_id[i]
        return (t.su if t.su is not None else -1, KIND_RANK.get(t.kind, 99), t.phase or 0, t.site)

    # GPUs a task brings online (those of the accepts it leads to) per hour of its tail, as the
    # weighted-shortest-processing-time rule
    gpus = _downstream_gpus(g)
    ratio = {i: gpus[i] / max(1, tail[i]) for i in g.topo}
    rules: dict[str, Callable[[str], tuple]] = {
        "earliest-start": lambda i: (es[i], -tail[i], i),
        "latest-finish": lambda i: (lf[i], es[i], i),
        "min-slack": lambda i: (lf[i] - p[i] - es[i], es[i], i),
        "critical-path": lambda i: (-tail[i], es[i], i),
        "site-su-order": lambda i: (*natural(i), i),
        "release-then-su": lambda i: (es[i], *natural(i), i),
        "weighted-tail": lambda i: (-ratio[i], es[i], i),
        "release-then-weighted": lambda i: (es[i], -ratio[i], i),
    }
    for _, sid in soft:
        # the chain to this software task before anything else (the first token is the first objective)
        anc = _ancestors(g, sid)
        lfs = _latest_finish(g, sid)
        rules[f"first-token-first:{sid}"] = lambda i, anc=anc, lfs=lfs: (0 if i in anc else 1, lfs[i], es[i], i)
    return rules


def _downstream_gpus(g: TaskGraph) -> dict[str, int]:
    """GPUs of the accept tasks each task leads to (itself included), each accept counted once."""
    accepts = [t for t in g.tasks if t.kind == "accept"]
    bit = {t.id: 1 << k for k, t in enumerate(accepts)}
    by_weight: dict[int, int] = {}
    for t in accepts:
        by_weight[t.gpus] = by_weight.get(t.gpus, 0) | bit[t.id]
    mask: dict[str, int] = {}
    out: dict[str, int] = {}
    for i in reversed(g.topo):
        m = bit.get(i, 0)
        for s in g.succ[i]:
            m |= mask[s]
        mask[i] = m
        out[i] = sum(w * (m & bm).bit_count() for w, bm in by_weight.items()) if m else 0
    return out


def _ancestors(g: TaskGraph, tid: str) -> set[str]:
    out = {tid}
    stack = [tid]
    while stack:
        for q in g.by_id[stack.pop()].preds:
            if q not in out:
                out.add(q)
                stack.append(q)
    return out


def _heads(g: TaskGraph, extra: dict[str, list[str]]) -> dict[str, int] | None:
    """Resource-free earliest starts with `extra` precedences (task -> its added predecessors);
    None when they close a cycle."""
    p = g.p
    succ = {i: list(s) for i, s in g.succ.items()}
    indeg = {t.id: len(t.preds) for t in g.tasks}
    for i, qs in extra.items():
        for q in qs:
            succ[q].append(i)
            indeg[i] += 1
    es = {i: 0 for i in indeg}
    stack = [i for i, d in indeg.items() if d == 0]
    done = 0
    while stack:
        i = stack.pop()
        done += 1
        e = es[i] + p[i]
        for n in succ[i]:
            es[n] = max(es[n], e)
            indeg[n] -= 1
            if indeg[n] == 0:
                stack.append(n)
    return es if done == len(indeg) else None


def lower_bounds(g: TaskGraph, max_orders: int = 64, assignment: bool = False, first_token_max: int | None = None) -> tuple[int, int]:
    """(first-token bound, capacity-objective bound), valid for every feasible schedule; with
    `first_token_max`, the capacity bound holds for schedules whose first token is at most that
    (the second stage of the lexicographic objective), and orders whose first-token bound
    exceeds it are left out of the minimum.

    The tasks of a capacity-1 resource with 2-4 tasks (a site's shells and fit-outs) run in one
    of at most 24 orders; the bounds are the minimum over those orders (their product kept to
    `max_orders`, resources taken by name) of the critical path with the order added, raised
    by the single-resource relaxations of the module docstring.  With `assignment`, each
    relaxation pairs the bounding completion slots with the accepts by an assignment problem
    (scipy's linear_sum_assignment) whose cost also counts each accept's own critical-path end:
    sum_a w_a * max(EF_a, slot + tail_a) over the best pairing; tighter, and slower (n^2 memory
    per resource, resources over 3,000 tasks keep the sorted pairing)."""
    tasks, p, succ = g.tasks, g.p, g.succ
    accepts = {t.id: t.gpus for t in tasks if t.kind == "accept"}
    # the single accept each task feeds (itself included), None when none, _MANY when several
    feeds: dict[str, str | None] = {}
    to_acc: dict[str, int] = {}  # longest path from a task's end to the end of that accept
    for i in reversed(g.topo):
        v: str | None = i if i in accepts else None
        for s in succ[i]:
            fs = feeds[s]
            if fs is None:
                continue
            v = fs if v in (None, fs) else _MANY
        feeds[i] = v
        if v is not None and v != _MANY:
            to_acc[i] = 0 if v == i else max(p[s] + to_acc[s] for s in succ[i] if feeds[s] == v)
    by_res: dict[str, list[Task]] = {}
    for t in tasks:
        if t.resource and p[t.id] > 0:
            by_res.setdefault(t.resource, []).append(t)
    # per resource, one task per accept it alone feeds (the longest to that accept; others dropped)
    relax: list[tuple[str, int, list[tuple[str, Task]]]] = []
    for res in sorted(by_res):
        chosen: dict[str, Task] = {}
        for t in by_res[res]:
            a = feeds[t.id]
            if a is None or a == _MANY:
                continue
            c = chosen.get(a)
            if c is None or (p[t.id] + to_acc[t.id], t.id) > (p[c.id] + to_acc[c.id], c.id):
                chosen[a] = t
        if chosen:
            relax.append((res, g.capacity[res], sorted(chosen.items())))
    # the orders of the small capacity-1 resources
    choices: list[list[tuple[str, ...]]] = [[]]
    for res in sorted(by_res):
        ids = [t.id for t in by_res[res]]
        if g.capacity[res] == 1 and 2 <= len(ids) <= 4:
            perms = list(itertools.permutations(ids))
            if len(choices) * len(perms) <= max_orders:
                choices = [c + [perm] for c in choices for perm in perms]

    def capacity_bound(es: dict[str, int]) -> int:
        ef = {i: es[i] + p[i] for i in es}
        lb = sum(w * ef[a] for a, w in accepts.items())
        groups: list[tuple[int, str, frozenset[str]]] = []
        for res, cap, jobs in relax:
            pmin = min(p[t.id] for _, t in jobs)
            releases = sorted(es[t.id] for _, t in jobs)
            starts: list[int] = []
            for m, r in enumerate(releases):
                starts.append(max(r, starts[m - cap] + pmin) if m >= cap else r)
            if assignment and len(jobs) <= 3000:
                w = np.array([accepts[a] for a, _ in jobs], dtype=float)
                e = np.array([ef[a] for a, _ in jobs], dtype=float)
                q = np.array([p[t.id] - pmin + to_acc[t.id] for _, t in jobs], dtype=float)
                cost = w[:, None] * np.maximum(e[:, None], np.asarray(starts, dtype=float)[None, :] + pmin + q[:, None])
                rows, cols = linear_sum_assignment(cost)
                bound = round(float(cost[rows, cols].sum()))
            else:
                weights = sorted((accepts[a] for a, _ in jobs), reverse=True)
                bound = sum(w * (s + pmin) for w, s in zip(weights, starts))
                bound += sum(accepts[a] * (p[t.id] - pmin + to_acc[t.id]) for a, t in jobs)
            cpm = sum(accepts[a] * ef[a] for a, _ in jobs)
            if bound > cpm:
                groups.append((bound - cpm, res, frozenset(a for a, _ in jobs)))
        used: set[str] = set()
        for delta, _, accs in sorted(groups, key=lambda x: (-x[0], x[1])):
            if used.isdisjoint(accs):  # bounds over disjoint sets of accepts add up
                used |= accs
                lb += delta
        return lb

    ft_lb: int | None = None
    cap_lb: int | None = None
    for combo in choices:
        extra: dict[str, list[str]] = {}
        for order in combo:
            for a, b in itertools.pairwise(order):
                extra.setdefault(b, []).append(a)
        es = _heads(g, extra)
        if es is None:  # this order contradicts the precedences
            continue
        ft = min((es[t.id] + p[t.id] for t in tasks if t.kind == "software"), default=0)
        ft_lb = ft if ft_lb is None else min(ft_lb, ft)
        if first_token_max is None or ft <= first_token_max:
            cb = capacity_bound(es)
            cap_lb = cb if cap_lb is None else min(cap_lb, cb)
    # the orders of any feasible schedule are acyclic, and that schedule's first token is at least its order's bound
    assert ft_lb is not None and cap_lb is not None, "first_token_max below the first-token bound"
    return ft_lb, cap_lb


def schedule_fast(tasks: list[Task], rules: list[str] | None = None, samples: int = 30) -> Plan:
    """The best schedule by (first token, GPU-weighted completion; ties: the first found).

    Stage 1: every priority rule (or those named in `rules`).  Unless the best meets both lower
    bounds: biased random samples (fixed seed) around the rule that puts the chain to the
    first-token software task first; then stage 2 keeps that chain where the best schedule has
    it (so the first token cannot get worse) and schedules everything else again by the
    capacity-stage rules and samples.  `samples` caps the samples of each stage (fewer on large
    instances: 20,000 / tasks, at least 2)."""
    t0 = time.perf_counter()
    g = TaskGraph(tasks)
    best: tuple[tuple[int, int], str, dict[str, int], dict[str, int]] | None = None

    def consider(name: str, start: dict[str, int], end: dict[str, int]) -> None:
        nonlocal best
        score = (_first_token(tasks, end), _weighted(tasks, end))
        if best is None or score < best[0]:
            best = (score, name, start, end)

    stage1 = priority_rules(g)
    for name in rules or list(stage1):
        consider(name, *serial_sgs(g, stage1[name]))
    assert best is not None
    ft_lb, cap_lb = lower_bounds(g, first_token_max=best[0][0])
    proven = best[0][0] <= ft_lb and best[0][1] <= cap_lb
    if not proven:
        n_samples = min(samples, max(2, 20_000 // max(1, len(tasks))))
        spread = max(1, max(g.ef.values(), default=1)) * 0.2  # noise: up to 20 % of the critical path
        rng = random.Random(0)

        def ft_chain() -> tuple[str | None, set[str]]:
            assert best is not None
            ft_task = min(((best[3][t.id], t.id) for t in tasks if t.kind == "software"), default=(0, None))[1]
            return ft_task, (_ancestors(g, ft_task) if ft_task else set())

        ft_task, anc = ft_chain()
        lf = _latest_finish(g, ft_task)
        for k in range(n_samples):
            noise = {i: rng.random() * spread for i in g.topo}
            consider(f"sampled-{k}", *serial_sgs(g, lambda i, noise=noise: (0 if i in anc else 1, lf[i] + noise[i], i)))
        ft_task, anc = ft_chain()
        pins = {i: best[2][i] for i in anc}
        stage2 = priority_rules(g, first_token=False)
        for name in stage2:
            consider(f"pinned-{name}", *serial_sgs(g, stage2[name], pins))
        lf = _latest_finish(g, None)
        for k in range(n_samples):
            noise = {i: rng.random() * spread for i in g.topo}
            consider(f"pinned-sampled-{k}", *serial_sgs(g, lambda i, noise=noise: (lf[i] + noise[i], i), pins))
    (first, weighted), _, start, end = best
    if not proven and weighted > cap_lb:
        cap_lb = max(cap_lb, lower_bounds(g, assignment=True, first_token_max=first)[1])
    gap = 0.0 if weighted <= 0 else max(0.0, (weighted - cap_lb) / weighted)
    first_opt = first <= ft_lb
    status = "OPTIMAL" if first_opt and weighted <= cap_lb else "HEURISTIC"
    accepts = [t.id for t in tasks if t.kind == "accept"]
    return Plan({t.id: start[t.id] for t in tasks}, {t.id: end[t.id] for t in tasks}, first, max((end[a] for a in accepts), default=0),
                status, gap, first_opt, time.perf_counter() - t0)
