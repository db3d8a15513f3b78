"""Benchmark: the fast list scheduler (rollout/listsched.py) against CP-SAT (rollout/solve.py)
on the default scenario, every example scenario and method / power variants.

Per instance: tasks; first token and full capacity [days], the capacity-objective gap each
method states against its own bound, the capacity objective (GPU-weighted completion of the
acceptances) relative to the better of the two, and wall times.  CP-SAT runs as
`plan_rollout(exact=True)` runs it (30 deterministic seconds over two stages, one worker,
seed from the scenario).

Run: python bench/bench_rollout_scheduler.py [--json PATH] [--only NAME ...] [--max-time S]

`--check-bounds N` instead checks the list scheduler's lower bounds and plan quality on N
random task graphs and N random rollout-shaped instances against CP-SAT solved to proven
optimality without symmetry breaking (the true lexicographic optimum): every bound must stay
at or under the optimum; it prints how often and by how much the list schedule is above it.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import time
from pathlib import Path

import yaml

from gigafactory.catalog import load_catalog
from gigafactory.design.factory import design_factory
from gigafactory.rollout.listsched import TaskGraph, lower_bounds, schedule_fast
from gigafactory.rollout.presets import PRESETS
from gigafactory.rollout.solve import build, solve
from gigafactory.rollout.tasks import Task, build_tasks
from gigafactory.scenario import default_scenario_path, parse_scenario_text

REPO = Path(__file__).resolve().parents[1]


def _scaled(data: dict, factor: float) -> dict:
    data = json.loads(json.dumps(data, default=str))
    for s in data["sites"]:
        for key in ("facility_power_mw", "it_power_mw"):
            if key in s:
                s[key] = s[key] * factor
        if s.get("energisation_phases_mw"):
            s["energisation_phases_mw"] = [p * factor for p in s["energisation_phases_mw"]]
    return data


def instances() -> list[tuple[str, str]]:
    """(name, scenario YAML text): the default, each distinct example, and variants."""
    default_text = default_scenario_path().read_text(encoding="utf-8")
    out = [("default", default_text)]
    for path in sorted((REPO / "examples").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if text != default_text:  # examples/default.yaml is the bundled default
            out.append((f"examples/{path.name}", text))
    base = yaml.safe_load(default_text)
    for method in sorted(PRESETS):
        if method != base["rollout"]["method"]:
            d = json.loads(json.dumps(base, default=str))
            d["rollout"]["method"] = method
            out.append((f"default, {method}", yaml.safe_dump(d)))
    for factor in (0.25, 2.0):
        out.append((f"default, power x{factor:g}", yaml.safe_dump(_scaled(base, factor))))
    three = yaml.safe_load((REPO / "examples" / "three-site-mixed.yaml").read_text(encoding="utf-8"))
    three["rollout"]["method"] = "stick-built"
    out.append(("three-site-mixed, stick-built", yaml.safe_dump(three)))
    return out


def violations(tasks, plan) -> int:
    """Broken precedences and capacities (the rules of solve.build; zero-length tasks ignored)."""
    bad = sum(plan.start_h[t.id] < plan.end_h[p] for t in tasks for p in t.preds)
    bad += sum(plan.end_h[t.id] - plan.start_h[t.id] != t.mode_h for t in tasks)
    cap: dict[str, int] = {}
    for t in tasks:
        if t.resource:
            cap[t.resource] = max(1, t.capacity)
    for res, k in cap.items():
        ev = sorted(x for t in tasks if t.resource == res and t.mode_h > 0 for x in ((plan.end_h[t.id], -1), (plan.start_h[t.id], 1)))
        running = 0
        for _, d in ev:
            running += d
            bad += running > k
    return bad


def weighted(tasks, plan) -> int:
    return sum(t.gpus * plan.end_h[t.id] for t in tasks if t.kind == "accept")


def run_one(cat, name: str, text: str, max_time: float) -> dict:
    scn = parse_scenario_text(text, name, cat)
    tasks = build_tasks(scn, design_factory(cat, scn), cat)
    t0 = time.perf_counter()
    fast = schedule_fast(tasks)
    fast_wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        exact = solve(build(tasks), max_deterministic_time=max_time, seed=scn.seed % (2**31))
    except RuntimeError as exc:  # solve() raises when a stage ends without a solution (UNKNOWN: none found in time)
        msg = str(exc).split(";")[0]
        exact, error = None, ("none found in the time limit, UNKNOWN" if "UNKNOWN" in msg else msg)
    exact_wall = time.perf_counter() - t0
    wf = weighted(tasks, fast)
    if exact is None:
        return {"instance": name, "method": scn.rollout.method, "tasks": len(tasks),
                "fast": {"first_token_days": fast.first_token_h / 24, "full_capacity_days": fast.full_capacity_h / 24, "status": fast.status,
                         "violations": violations(tasks, fast), "gap": fast.gap, "gap_vs_best_bound": fast.gap, "first_token_proven_optimal": fast.first_token_proven_optimal,
                         "weighted_completion": wf, "wall_s": fast_wall},
                "cp_sat": {"status": "NO SOLUTION", "error": error, "wall_s": exact_wall},
                "first_token_diff_days": None, "capacity_objective_fast_over_cp_sat": None}
    we = weighted(tasks, exact)
    # the better of the two proven bounds on the capacity objective
    bound = max(wf * (1 - fast.gap), we * (1 - exact.gap))
    return {
        "instance": name, "method": scn.rollout.method, "tasks": len(tasks),
        "fast": {"first_token_days": fast.first_token_h / 24, "full_capacity_days": fast.full_capacity_h / 24, "status": fast.status,
                 "violations": violations(tasks, fast), "gap": fast.gap, "gap_vs_best_bound": (wf - bound) / wf if wf else 0.0, "first_token_proven_optimal": fast.first_token_proven_optimal,
                 "weighted_completion": wf, "wall_s": fast_wall},
        "cp_sat": {"first_token_days": exact.first_token_h / 24, "full_capacity_days": exact.full_capacity_h / 24, "status": exact.status,
                   "violations": violations(tasks, exact), "gap": exact.gap, "gap_vs_best_bound": (we - bound) / we if we else 0.0, "first_token_proven_optimal": exact.first_token_proven_optimal,
                   "weighted_completion": we, "wall_s": exact_wall},
        "first_token_diff_days": (fast.first_token_h - exact.first_token_h) / 24,
        "capacity_objective_fast_over_cp_sat": wf / we - 1 if we else 0.0,
    }


def _random_graph(rng: random.Random) -> list[Task]:
    n = rng.randint(3, 16)
    tasks = []
    for i in range(n):
        d = rng.randint(0, 20)
        preds = tuple(sorted({f"t{p}" for p in rng.sample(range(i), min(i, rng.randint(0, 2)))}))
        res = rng.choice([None, "crew", "line", "dock"])
        kind = "accept" if i == n - 1 or rng.random() < 0.4 else "work"
        tasks.append(Task(f"t{i}", "s", kind, (d, d, d), preds, resource=res, capacity={"crew": 2, "dock": 3}.get(res or "", 1), gpus=rng.choice([1, 8, 72])))
    for k in range(rng.randint(1, 2)):
        tasks.append(Task(f"soft{k}", "s", "software", (1, 1, 1), (rng.choice([t.id for t in tasks]),)))
    return tasks


def _random_rollout(rng: random.Random) -> list[Task]:
    tasks = []
    for si in range(rng.randint(1, 3)):
        site = f"s{si}"
        nph = rng.randint(1, 3)
        prev: tuple[str, ...] = ()
        for k in range(nph):
            d1, d2, d3 = rng.randint(5, 40), rng.randint(5, 40), rng.randint(1, 10)
            tasks.append(Task(f"{site}/shell-{k}", site, "shell", (d1,) * 3, prev, resource=f"shell:{site}"))
            prev = (f"{site}/shell-{k}",)
            tasks.append(Task(f"{site}/fitout-{k}", site, "fitout", (d2,) * 3, prev, resource=f"fitout:{site}"))
            tasks.append(Task(f"{site}/energise-{k}", site, "energise", (d3,) * 3, (f"{site}/fitout-{k}",)))
        nsu, cap, ship, w = rng.randint(1, 6), rng.randint(1, 3), rng.randint(0, 30), rng.choice([8, 72])
        pi, pr, pin = rng.randint(1, 6), rng.randint(1, 6), rng.randint(1, 12)
        for j in range(nsu):
            su, ph = f"{site}/su{j}", min(nph - 1, j * nph // nsu)
            tasks += [Task(f"{su}/integrate", site, "integrate", (pi,) * 3, (), resource="integrator", su=j),
                      Task(f"{su}/ship", site, "ship", (ship,) * 3, (f"{su}/integrate",), su=j),
                      Task(f"{su}/receive", site, "receive", (pr,) * 3, (f"{su}/ship",), resource=f"dock:{site}", su=j),
                      Task(f"{su}/install", site, "install", (pin,) * 3, (f"{su}/receive", f"{site}/energise-{ph}"), resource=f"install:{site}",
                           capacity=cap, su=j, phase=ph),
                      Task(f"{su}/accept", site, "accept", (3, 3, 3), (f"{su}/install",), su=j, gpus=w)]
        tasks.append(Task(f"{site}/software", site, "software", (rng.randint(1, 9),) * 3, (f"{site}/su0/accept",)))
    return tasks


def _optimum(tasks: list[Task], time_limit: float = 20.0) -> tuple[int, int, bool]:
    """(first token, capacity objective, proven) of the lexicographic optimum: solve.build's
    constraints without its SU-order symmetry breaking."""
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    horizon = sum(t.mode_h for t in tasks) + 1
    start = {t.id: m.NewIntVar(0, horizon, "") for t in tasks}
    end = {t.id: m.NewIntVar(0, horizon, "") for t in tasks}
    iv = {t.id: m.NewIntervalVar(start[t.id], t.mode_h, end[t.id], "") for t in tasks}
    for t in tasks:
        for p in t.preds:
            m.Add(start[t.id] >= end[p])
    res: dict[str, list[Task]] = {}
    for t in tasks:
        if t.resource:
            res.setdefault(t.resource, []).append(t)
    for ts in res.values():
        if ts[-1].capacity <= 1:
            m.AddNoOverlap([iv[t.id] for t in ts])
        else:
            m.AddCumulative([iv[t.id] for t in ts], [1] * len(ts), ts[-1].capacity)
    first = m.NewIntVar(0, horizon, "")
    m.AddMinEquality(first, [end[t.id] for t in tasks if t.kind == "software"])
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = time_limit
    m.Minimize(first)
    proven = solver.Solve(m) == cp_model.OPTIMAL
    ft = int(solver.Value(first))
    m.Add(first <= ft)
    m.Minimize(sum(t.gpus * end[t.id] for t in tasks if t.kind == "accept"))
    proven = solver.Solve(m) == cp_model.OPTIMAL and proven
    return ft, sum(t.gpus * int(solver.Value(end[t.id])) for t in tasks if t.kind == "accept"), proven


def check_bounds(n: int) -> None:
    for label, make in (("random graphs", _random_graph), ("rollout-shaped", _random_rollout)):
        excess: list[float] = []
        ft_worse = unproven = 0
        for seed in range(n):
            tasks = make(random.Random(seed))
            fast = schedule_fast(tasks)
            assert violations(tasks, fast) == 0, (label, seed)
            ft, obj, proven = _optimum(tasks)
            if not proven:
                unproven += 1
                continue
            g = TaskGraph(tasks)
            assert lower_bounds(g)[0] <= ft, (label, seed)
            for assignment in (False, True):
                assert lower_bounds(g, assignment=assignment, first_token_max=ft)[1] <= obj, (label, seed, assignment)
            wf = weighted(tasks, fast)
            if fast.first_token_h > ft:
                ft_worse += 1
            else:
                assert wf * (1 - fast.gap) <= obj + 1e-6 and wf >= obj, (label, seed)
                excess.append((wf - obj) / obj if obj else 0.0)
        above = [x for x in excess if x > 0]
        print(f"{label}: {n} instances, {unproven} not proven in time; bounds valid on all; first token above the optimum in {ft_worse}; "
              f"capacity objective above it in {len(above)} of {len(excess)} (mean {sum(excess) / max(1, len(excess)):+.2%}, worst {max(excess, default=0):+.1%})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--only", nargs="*", help="instance names to run (substring match)")
    ap.add_argument("--max-time", type=float, default=30.0, help="CP-SAT deterministic time over both stages (plan_rollout's default)")
    ap.add_argument("--check-bounds", type=int, metavar="N", help="check the lower bounds on N random instances of each kind instead")
    args = ap.parse_args()
    if args.check_bounds:
        check_bounds(args.check_bounds)
        return
    cat = load_catalog()
    rows = []
    head = (f"{'instance':34} {'tasks':>6} | {'fast FT d':>9} {'full d':>7} {'gap':>6} {'wall s':>6} | {'CP FT d':>8} {'full d':>7} {'gap':>6} "
            f"{'wall s':>6} | {'obj fast/CP':>11}")
    print(head)
    print("-" * len(head))
    bad = 0
    for name, text in instances():
        if args.only and not any(o in name for o in args.only):
            continue
        r = run_one(cat, name, text, args.max_time)
        rows.append(r)
        f, c = r["fast"], r["cp_sat"]
        bad += f["violations"] + c.get("violations", 0)
        if c["status"] == "NO SOLUTION":
            print(f"{name:34} {r['tasks']:>6,} | {f['first_token_days']:>9.2f} {f['full_capacity_days']:>7.2f} {f['gap']:>6.2%} {f['wall_s']:>6.2f} | "
                  f"{'no solution':>23} {c['wall_s']:>6.1f} | ({c['error']})", flush=True)
            continue
        print(f"{name:34} {r['tasks']:>6,} | {f['first_token_days']:>9.2f} {f['full_capacity_days']:>7.2f} {f['gap']:>6.2%} {f['wall_s']:>6.2f} | "
              f"{c['first_token_days']:>8.2f} {c['full_capacity_days']:>7.2f} {c['gap']:>6.2%} {c['wall_s']:>6.1f} | "
              f"{r['capacity_objective_fast_over_cp_sat']:>+11.3%}", flush=True)
    print(f"precedence / capacity violations over all plans: {bad}")
    if args.json:
        meta = {"date": dt.date.today().isoformat(), "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                "python": platform.python_version(), "cp_sat_max_deterministic_time": args.max_time}
        args.json.write_text(json.dumps({"meta": meta, "instances": rows}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
