"""Rollout planner: list-schedule and CP-SAT base plans, Monte Carlo risk, presets, anchors, CLI."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gigafactory.design.factory import design_factory
from gigafactory.rollout.listsched import TaskGraph, lower_bounds, schedule_fast
from gigafactory.rollout.plan import plan_rollout
from gigafactory.rollout.risk import simulate
from gigafactory.rollout.solve import build, solve
from gigafactory.rollout.tasks import Task, build_tasks
from gigafactory.scenario import default_scenario_path, parse_scenario_text

from conftest import keep_demand_for_workloads


def _fixed(h: float) -> tuple[float, float, float]:
    return (h, h, h)


def test_known_optimal_first_token_and_capacity():
    """Two SUs share one integrator line (10 h and 10 h), then install (5 h each, own crews) and
    acceptance (1 h).  First token = software (2 h) after the first SU: 10 + 5 + 1 + 2 = 18 h,
    optimal.  The second SU can finish at 10 + 10 + 5 + 1 = 26 h at the earliest."""
    tasks = []
    for j in range(2):
        tasks += [
            Task(f"s/su{j}/integrate", "s", "integrate", _fixed(10), (), resource="integrator", su=j),
            Task(f"s/su{j}/install", "s", "install", _fixed(5), (f"s/su{j}/integrate",), su=j),
            Task(f"s/su{j}/accept", "s", "accept", _fixed(1), (f"s/su{j}/install",), su=j, gpus=72),
        ]
    tasks.append(Task("s/software", "s", "software", _fixed(2), ("s/su0/accept",)))
    for plan in (solve(build(tasks)), schedule_fast(tasks)):
        assert plan.first_token_h == 18 and plan.first_token_proven_optimal
        assert plan.full_capacity_h == 26 and plan.gap == pytest.approx(0.0)


@st.composite
def random_projects(draw):
    n = draw(st.integers(3, 14))
    tasks = []
    for i in range(n):
        dur = draw(st.integers(1, 20))
        preds = tuple(sorted({f"t{p}" for p in draw(st.lists(st.integers(0, max(0, i - 1)), max_size=2)) if p < i}))
        res = draw(st.sampled_from([None, "crew", "line"]))
        kind = "accept" if i == n - 1 or draw(st.booleans()) else "install"
        tasks.append(Task(f"t{i}", "s", kind, _fixed(dur), preds, resource=res, capacity=2 if res == "crew" else 1, su=i, gpus=8))
    tasks.append(Task("soft", "s", "software", _fixed(1), (tasks[-1].id,)))
    return tasks


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_projects())
def test_precedence_and_capacity_never_violated(tasks):
    plan = solve(build(tasks), max_deterministic_time=5)
    by = {t.id: t for t in tasks}
    for t in tasks:
        assert plan.end_h[t.id] - plan.start_h[t.id] == t.mode_h
        for p in t.preds:
            assert plan.start_h[t.id] >= plan.end_h[p]
    for res in ("crew", "line"):
        ids = [t.id for t in tasks if t.resource == res]
        cap = 2 if res == "crew" else 1
        for time_h in {plan.start_h[i] for i in ids}:
            running = sum(1 for i in ids if plan.start_h[i] <= time_h < plan.end_h[i] and by[i].mode_h > 0)
            assert running <= cap
    # the Monte Carlo evaluator keeps the same guarantees in every sample
    risk = simulate(tasks, plan, 50, np.random.default_rng(0))
    assert (risk.first_token_h > 0).all()


def _scenario(catalog, method="gigafactory", mw=100.0, powered_shell=False, samples=200, region="us-texas", system="gb300-nvl72", phases=None):
    data = yaml.safe_load(default_scenario_path().read_text())
    site = {"name": "one", "region": region, "facility_power_mw": mw, "powered_shell": powered_shell}
    if phases:
        site["energisation_phases_mw"] = phases
    data["sites"] = [site]
    data["systems"] = {"default": system}
    data["rollout"] = {"method": method, "start_date": "2026-03-01", "monte_carlo_samples": samples}
    if system == "dgx-h100":
        data["workloads"] = [{"model": "llama-3.1-70b", "share": 1.0, "precision": "fp8", "isl_tokens": 2048, "osl_tokens": 512,
                              "slo": {"ttft_p99_ms": 2000, "tpot_p99_ms": 100}}]
        keep_demand_for_workloads(data)
        data["devices"] = {"fleets": []}
    return parse_scenario_text(yaml.safe_dump(data), "t.yaml", catalog)


def _as_dict(result):
    """The stage result as its JSON form (a pydantic result, or the dict it used to be)."""
    return result.model_dump(mode="json") if hasattr(result, "model_dump") else result


def _plan(catalog, scn, samples=200, exact=False):
    return _as_dict(plan_rollout(catalog, scn, design_factory(catalog, scn), samples=samples, max_deterministic_time=10, exact=exact))


def test_gigafactory_reaches_first_token_before_stick_built(catalog):
    """Same site, same design: prefab skids, a modular shell, factory-tested racks and parallel
    crews must give an earlier first token and full capacity than stick-built (the difference
    comes out of the schedule, not a typed-in offset)."""
    giga = _plan(catalog, _scenario(catalog, "gigafactory"))
    stick = _plan(catalog, _scenario(catalog, "stick-built"))
    assert giga["ttft_days"] < stick["ttft_days"]
    assert giga["full_capacity_days"] < stick["full_capacity_days"]
    # stick-built greenfield: construction 18-24 months to commissioned (constructionowners.com, 2026)
    assert 365 <= stick["plan_ttft_days"] <= 900


def test_colossus_anchor(catalog):
    """xAI Colossus: 100k H100 online in ~122 days in a repurposed (powered) building
    (williamspurlock.com; newsbytesapp.com, 2024).  A powered-shell DGX H100 site sized for
    ~100k GPUs must reach full capacity (P50) within 25 % of 122 days.  The powered-shell preset
    was set with this anchor in view, so this pins behaviour rather than validating it."""
    scn = _scenario(catalog, "powered-shell", mw=216, powered_shell=True, system="dgx-h100")
    r = _plan(catalog, scn, samples=300)
    assert 90_000 <= r["ramp"][-1]["gpus"] <= 110_000
    assert r["full_capacity_days"] == pytest.approx(122, rel=0.25)


def test_risk_percentiles_and_ramp(catalog):
    r = _plan(catalog, _scenario(catalog, phases=[40, 60]))
    assert r["ttft_days_p10"] <= r["ttft_days"] <= r["ttft_days_p90"]
    assert r["full_capacity_days_p10"] <= r["full_capacity_days"] <= r["full_capacity_days_p90"]
    gpus = [w["gpus"] for w in r["ramp"]]
    assert gpus == sorted(gpus) and gpus[-1] > 0
    assert r["critical_path"] and 0 < r["critical_path"][0]["share"] <= 1
    assert r["peak_headcount"] > 0 and sum(r["labour_hours_by_trade"].values()) > 0


def test_same_seed_same_plan(catalog):
    scn = _scenario(catalog, samples=100)
    a, b = _plan(catalog, scn, 100), _plan(catalog, scn, 100)
    a["solver"].pop("wall_s", None), b["solver"].pop("wall_s", None)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_rollout_cli_json(cli, tmp_path):
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "one", "region": "fi-finland", "facility_power_mw": 60}]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    code, out, err = cli("rollout", str(path), "--samples", "100", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["ttft_days_p10"] <= body["ttft_days"] <= body["ttft_days_p90"] <= body["full_capacity_days_p90"]
    # the ramp is cumulative and ends with every GPU online; critical-path shares are frequencies
    gpus = [w["gpus"] for w in body["ramp"]]
    assert gpus == sorted(gpus) and body["ramp"][-1]["tok_s"] > 0 and body["peak_headcount"] > 0
    assert all(0 < c["share"] <= 1 for c in body["critical_path"])


def test_grid_connection_gates_a_greenfield_site(catalog):
    """A site without a ready utility connection waits for its HV substation: large power
    transformers take 80-210 weeks (DOE large power transformer report, 2024), and Texas's
    interconnection queue (~4 years, the US average) is longer still, so the first token moves
    past the queue."""
    ready = _plan(catalog, _scenario(catalog))
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "one", "region": "us-texas", "facility_power_mw": 100.0, "grid_ready": False, "power_path": "grid"}]
    data["systems"] = {"default": "gb300-nvl72"}
    data["rollout"] = {"method": "gigafactory", "start_date": "2026-03-01", "monte_carlo_samples": 100}
    waiting = _plan(catalog, parse_scenario_text(yaml.safe_dump(data), "t.yaml", catalog))
    wait_days = catalog.region("us-texas").grid_interconnection_wait_s / 86400
    assert waiting["plan_ttft_days"] > max(wait_days, 80 * 7) > ready["plan_ttft_days"]
    assert any(c["task"] == "one/grid-connection" for c in waiting["critical_path"])


# --- the list scheduler (rollout/listsched.py) --------------------------------------------------


def _check_schedule(tasks, plan):
    """Independent check of a plan against the rules of solve.build: mode durations, every
    precedence, and per resource (its last task's capacity, as build reads it) NoOverlap at
    capacity 1 (a zero-length task may not lie strictly inside another, as in CP-SAT) or
    at most k positive-length tasks at once."""
    by = {t.id: t for t in tasks}
    assert set(plan.start_h) == set(by) == set(plan.end_h)
    for t in tasks:
        assert plan.start_h[t.id] >= 0
        assert plan.end_h[t.id] - plan.start_h[t.id] == t.mode_h
        for p in t.preds:
            assert plan.start_h[t.id] >= plan.end_h[p], f"{p} -> {t.id}"
    cap: dict[str, int] = {}
    for t in tasks:
        if t.resource:
            cap[t.resource] = t.capacity
    for res, k in cap.items():
        on = [t.id for t in tasks if t.resource == res]
        busy = [i for i in on if by[i].mode_h > 0]
        if k <= 1:
            spans = sorted((plan.start_h[i], plan.end_h[i]) for i in busy)
            assert all(e0 <= s1 for (_, e0), (s1, _) in itertools.pairwise(spans)), res
            for z in (i for i in on if by[i].mode_h == 0):
                assert not any(s < plan.start_h[z] < e for s, e in spans), (res, z)
        else:
            events = sorted([(plan.end_h[i], -1) for i in busy] + [(plan.start_h[i], 1) for i in busy])  # ends before starts
            running = 0
            for _, d in events:
                running += d
                assert running <= k, res
    soft = [plan.end_h[t.id] for t in tasks if t.kind == "software"]
    assert plan.first_token_h == min(soft, default=0)
    assert plan.full_capacity_h == max((plan.end_h[t.id] for t in tasks if t.kind == "accept"), default=0)


def _weighted(tasks, plan):
    return sum(t.gpus * plan.end_h[t.id] for t in tasks if t.kind == "accept")


@st.composite
def random_graphs(draw):
    """Random task graphs with three kinds of resource (capacity 1, 2 and 3), zero-length tasks,
    several accepts with different GPU counts and one or two software tasks.  Kinds stay out of
    solve.build's SU-order symmetry breaking so that CP-SAT's optimum is the true optimum."""
    n = draw(st.integers(3, 14))
    tasks = []
    for i in range(n):
        dur = draw(st.integers(0, 20))
        preds = tuple(sorted({f"t{p}" for p in draw(st.lists(st.integers(0, max(0, i - 1)), max_size=2)) if p < i}))
        res = draw(st.sampled_from([None, "crew", "line", "dock"]))
        kind = "accept" if i == n - 1 or draw(st.booleans()) else "work"
        tasks.append(Task(f"t{i}", "s", kind, _fixed(dur), preds, resource=res, capacity={"crew": 2, "dock": 3}.get(res, 1), gpus=draw(st.sampled_from([1, 8, 72]))))
    for k in range(draw(st.integers(1, 2))):
        tasks.append(Task(f"soft{k}", "s", "software", _fixed(1), (draw(st.sampled_from([t.id for t in tasks])),)))
    return tasks


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_fast_schedule_feasible_and_bounds_valid(tasks):
    """The list schedule keeps every precedence and capacity; its bounds never exceed CP-SAT's
    proven lexicographic optimum (first token, then the capacity objective under that first
    token), and its stated gap is measured against such a bound."""
    fast = schedule_fast(tasks)
    _check_schedule(tasks, fast)
    exact = solve(build(tasks), max_deterministic_time=5, gap_target=0.0)
    _check_schedule(tasks, exact)
    ft_lb, _ = lower_bounds(TaskGraph(tasks))
    assert ft_lb <= exact.first_token_h <= fast.first_token_h
    assert fast.first_token_proven_optimal == (fast.first_token_h == ft_lb)
    assert fast.gap >= 0
    if exact.status == "OPTIMAL" and exact.first_token_proven_optimal:
        for assignment in (False, True):
            assert lower_bounds(TaskGraph(tasks), assignment=assignment, first_token_max=exact.first_token_h)[1] <= _weighted(tasks, exact)
        if fast.first_token_h == exact.first_token_h:
            assert _weighted(tasks, fast) * (1 - fast.gap) <= _weighted(tasks, exact) + 1e-6
            assert _weighted(tasks, fast) >= _weighted(tasks, exact)


def _tasks(catalog, scn):
    return build_tasks(scn, design_factory(catalog, scn), catalog)


def test_fast_schedule_of_a_phased_site_is_feasible_and_deterministic(catalog):
    """Two energisation phases, a shared integrator, a dock and parallel install teams (capacity
    > 1): feasible, and the same plan twice, start and end of every task."""
    tasks = _tasks(catalog, _scenario(catalog, mw=300, phases=[100, 200]))
    a, b = schedule_fast(tasks), schedule_fast(list(tasks))
    _check_schedule(tasks, a)
    assert a.start_h == b.start_h and a.end_h == b.end_h
    assert (a.first_token_h, a.full_capacity_h, a.status, a.gap) == (b.first_token_h, b.full_capacity_h, b.status, b.gap)
    assert list(a.start_h) == [t.id for t in tasks]


def test_fast_schedule_matches_cp_sat_on_a_small_site(catalog):
    """Tolerance from bench/bench_rollout_scheduler.py (docs/rollout.md): on all nine bench
    instances the list schedule's first token equals CP-SAT's and its critical-path bound, and
    its capacity objective is CP-SAT's or up to 3.8 % better.  So here: the same first token
    (0 h tolerance), proven, and a capacity objective no more than 1 % above CP-SAT's.  Two
    100 MW sites of ~465 tasks: gigafactory in two phases, and a powered shell."""
    for scn in (_scenario(catalog, mw=100, phases=[40, 60]), _scenario(catalog, "powered-shell", mw=100, powered_shell=True)):
        tasks = _tasks(catalog, scn)
        fast = schedule_fast(tasks)
        exact = solve(build(tasks), max_deterministic_time=10, seed=scn.seed % (2**31))
        _check_schedule(tasks, fast)
        assert fast.first_token_h == exact.first_token_h and fast.first_token_proven_optimal
        assert _weighted(tasks, fast) <= 1.01 * _weighted(tasks, exact)
        assert 0 <= fast.gap <= exact.gap + 1e-9


def test_plan_rollout_exact_uses_cp_sat(catalog):
    """`exact=True` runs the CP-SAT model (kept as the exact option); the default, the list scheduler."""
    scn = _scenario(catalog, "powered-shell", mw=20, powered_shell=True, samples=50)
    exact = _plan(catalog, scn, 50, exact=True)
    fast = _plan(catalog, scn, 50)
    assert exact["solver"]["method"] == "cp-sat" and fast["solver"]["method"] == "list-schedule"
    assert exact["plan_ttft_days"] == fast["plan_ttft_days"]
    assert exact["solver"]["first_token_proven_optimal"] and fast["solver"]["first_token_proven_optimal"]


_HASH_SEED_SCRIPT = """
import json
from gigafactory.catalog import load_catalog
from gigafactory.design.factory import design_factory
from gigafactory.rollout.plan import plan_rollout
from gigafactory.scenario import parse_scenario_text
import yaml, sys
cat = load_catalog()
scn = parse_scenario_text(sys.stdin.read(), "t.yaml", cat)
r = plan_rollout(cat, scn, design_factory(cat, scn), samples=200)
r = r.model_dump(mode="json") if hasattr(r, "model_dump") else r
r["solver"].pop("wall_s", None)
print(json.dumps(r, sort_keys=True))
"""


def test_plan_is_identical_across_hash_seeds(catalog):
    """Critical-path shares tie often (every sample through the same site works); ties were
    ordered by set iteration, i.e. by string hashing, which differs between processes.  Two
    processes with different PYTHONHASHSEED must print the same plan."""
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "one", "region": "us-texas", "facility_power_mw": 60.0, "energisation_phases_mw": [20, 40]},
                     {"name": "two", "region": "fi-finland", "facility_power_mw": 40.0}]
    text = yaml.safe_dump(data)
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        res = subprocess.run([sys.executable, "-c", _HASH_SEED_SCRIPT], check=False, input=text, capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 0, res.stderr
        outs.append(res.stdout)
    assert outs[0] == outs[1]
    body = json.loads(outs[0])
    shares = [(-c["share"], c["task"]) for c in body["critical_path"]]
    assert shares == sorted(shares)
