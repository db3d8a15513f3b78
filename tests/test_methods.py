"""The programme's central claim in every plan: the same design under each build method, against
stick-built; and which task durations move the first token most."""
from __future__ import annotations

import json

import pytest
import yaml

from gigafactory.pipeline import Pipeline, RunOptions
from gigafactory.rollout.listsched import schedule_fast
from gigafactory.rollout.presets import PRESETS
from gigafactory.rollout.risk import duration_tornado
from gigafactory.rollout.tasks import Task
from gigafactory.scenario import default_scenario_path, parse_scenario_text

OPTS = RunOptions(rollout_samples=100, economics_samples=0, duration_s=30.0)


@pytest.fixture(scope="module")
def pipe(catalog):
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "solo", "region": "us-texas", "facility_power_mw": 60}]
    data["devices"] = {"fleets": []}
    p = Pipeline(catalog, parse_scenario_text(yaml.safe_dump(data), "m.yaml", catalog), OPTS)
    p.result("methods")
    return p


def test_every_method_is_compared_with_stick_built(pipe):
    m = pipe.result("methods")
    rows = {r.method: r for r in m.methods}
    assert list(rows) == list(PRESETS) and m.baseline == "stick-built" and m.chosen == "gigafactory"
    base = rows["stick-built"]
    assert base.weeks_sooner_than_baseline == 0 and base.npv_gain_vs_baseline_usd == 0
    for r in rows.values():
        # weeks sooner is the P50 difference, worth it at the scenario's cost of delay
        assert r.weeks_sooner_than_baseline == pytest.approx((base.ttft_days - r.ttft_days) / 7)
        assert r.value_of_time_saved_usd == pytest.approx(r.weeks_sooner_than_baseline * m.cost_of_delay_usd_per_week)
        assert r.ttft_days_p10 <= r.ttft_days <= r.ttft_days_p90 and r.ttft_days < r.full_capacity_days
    # pre-integrated racks and prefab plant reach first token before a conventional build of the same design
    assert rows["gigafactory"].ttft_days < base.ttft_days
    assert "weeks sooner than stick-built" in m.headline
    # and the saving is also stated against the fastest conventional practice (fast-track: around the clock,
    # early orders, parallel buildings), which is itself sooner than the typical pace
    fast = rows["fast-track"]
    assert m.fast_track == "fast-track" and fast.ttft_days < base.ttft_days and fast.weeks_sooner_than_fast_track == 0
    for r in rows.values():
        assert r.weeks_sooner_than_fast_track == pytest.approx((fast.ttft_days - r.ttft_days) / 7)
    assert "a fast-tracked stick build" in m.headline


def test_the_scenarios_own_method_is_the_pipelines_rollout(pipe):
    """The chosen method's row is the rollout and economics stages' result, not a second computation."""
    m = pipe.result("methods")
    row = next(r for r in m.methods if r.method == m.chosen)
    assert row.ttft_days == pipe.result("rollout").ttft_days and row.npv_usd == pipe.result("economics").npv_usd


def test_plan_reports_the_comparison(pipe):
    plan = pipe.result("plan")
    assert plan.methods == pipe.result("methods")


def test_duration_tornado_on_a_chain_with_a_parallel_branch():
    """a (10-20-40 h) -> b (5-10-15 h) -> software; c (1-30-31 h) -> software.  First token at
    modes: max(20+10, 30) = 30 h.  a low: max(10+10, 30) = 30, a high: 40+10 = 50 -> swing 20 h;
    b: max(20+5, 30) = 30 .. 35 -> 5 h; c: max(30, 1) = 30 .. 31 -> 1 h."""
    tasks = [Task("s/a", "s", "civil", (10, 20, 40), ()), Task("s/b", "s", "energise", (5, 10, 15), ("s/a",)),
             Task("s/c", "s", "lead", (1, 30, 31), ()), Task("s/software", "s", "software", (0, 0, 0), ("s/b", "s/c"))]
    plan = schedule_fast(tasks)
    rows = {r["task"]: r for r in duration_tornado(tasks, plan)}
    assert rows["s/a"]["swing_days"] == pytest.approx(20 / 24) and rows["s/b"]["swing_days"] == pytest.approx(5 / 24)
    assert rows["s/c"]["swing_days"] == pytest.approx(1 / 24) and rows["s/a"]["base_days"] == pytest.approx(30 / 24)
    assert [r["task"] for r in duration_tornado(tasks, plan)] == ["s/a", "s/b", "s/c"]


def test_rollout_sensitivity_base_is_the_base_plan(pipe):
    """At mode durations the evaluator reproduces the (left-justified) base plan's first token (the
    plan rounds each duration to whole hours, hence the tolerance)."""
    ro = pipe.result("rollout")
    sens = ro.first_token_sensitivity
    assert sens and all(s.swing_days > 0 for s in sens)
    assert sens[0].base_days == pytest.approx(ro.plan_ttft_days, rel=1e-3)
    assert [s.swing_days for s in sens] == sorted((s.swing_days for s in sens), reverse=True)


def test_rollout_cli_compare_methods(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("GIGAFACTORY_HOME", str(tmp_path / "home"))
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "solo", "region": "us-texas", "facility_power_mw": 60}]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data))
    code, out, err = cli("rollout", str(path), "--samples", "50", "--compare-methods", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert [r["method"] for r in body["methods"]["methods"]] == list(PRESETS)
    code, out, err = cli("rollout", str(path), "--samples", "50", "--compare-methods")
    assert code == 0 and "weeks sooner than stick-built" in out.replace("\n", " ")


def _solo(tmp_path, rollout: dict) -> str:
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "solo", "region": "us-texas", "facility_power_mw": 60}]
    data["rollout"].update(rollout)
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_a_scenarios_own_method_is_compared_and_selectable(cli, tmp_path, monkeypatch):
    """rollout.methods: a bundled preset with changes joins the comparison after the bundled ones,
    and rollout.method may name it.  A prefab shell on the stick-built preset (shells of the
    gigafactory preset's length) reaches first token sooner than stick-built and no sooner than
    the plant lead times allow; a method based on powered-shell keeps the powered shell's grid."""
    monkeypatch.setenv("GIGAFACTORY_HOME", str(tmp_path / "home"))
    own = [{"name": "prefab-shell", "based_on": "stick-built", "shell_weeks": [12, 16, 24], "shell_next_phase_weeks": [8, 10, 16],
            "description": "stick-built with a modular shell"},
           {"name": "shell-two-shifts", "based_on": "powered-shell", "crews_per_100mw": 80}]
    path = _solo(tmp_path, {"methods": own})
    code, out, err = cli("rollout", path, "--samples", "50", "--compare-methods", "--json")
    assert code == 0, err
    rows = {r["method"]: r for r in json.loads(out)["methods"]["methods"]}
    assert list(rows) == [*PRESETS, "prefab-shell", "shell-two-shifts"]
    assert rows["prefab-shell"]["description"] == "stick-built with a modular shell"
    assert rows["fast-track"]["ttft_days"] < rows["prefab-shell"]["ttft_days"] < rows["stick-built"]["ttft_days"]
    assert rows["shell-two-shifts"]["full_capacity_days"] <= rows["powered-shell"]["full_capacity_days"]
    assert rows["shell-two-shifts"]["ttft_days"] == pytest.approx(rows["powered-shell"]["ttft_days"], rel=0.1)
    # the scenario's own method as the plan's method
    code, out, err = cli("rollout", _solo(tmp_path, {"methods": own, "method": "prefab-shell"}), "--samples", "50", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["method"] == "prefab-shell" and "rollout.methods" in body["preset"]["assumptions"][-1]


@pytest.mark.parametrize("rollout,needle", [
    ({"method": "prefab"}, "neither a bundled method"),
    ({"methods": [{"name": "stick-built", "based_on": "gigafactory"}]}, "clash with a bundled method"),
    ({"methods": [{"name": "a-b", "based_on": "gigafactory"}, {"name": "a-b", "based_on": "stick-built"}]}, "clash"),
    ({"methods": [{"name": "odd", "based_on": "stick-built", "shell_weeks": [20, 10, 30]}]}, "low <= mode <= high"),
    ({"methods": [{"name": "odd", "based_on": "modular"}]}, "based_on"),
    ({"construction_hours_per_week": 200}, "construction_hours_per_week"),
])
def test_bad_build_methods_are_named_problems(cli, tmp_path, rollout, needle):
    code, out, err = cli("check", _solo(tmp_path, rollout))
    assert code == 2 and needle in err, err


def test_fast_track_pays_for_its_extra_labour(pipe):
    """Around the clock (140 h/week) the facility's labour share (45 %, Cortex Construct 2026)
    costs 1 / 0.83 more hours (Hanna et al. 2008) and a 10 % shift premium on the 64 % of hours
    beyond the day shift: facility capex x 1.127.  Methods at their own pattern pay nothing extra."""
    from gigafactory.rollout import presets as P

    ro = pipe.result("method_rollouts").rollouts
    extra = (140 - 50) / 140
    expected = 1 + 0.45 * ((1 + 0.10 * extra) / 0.83 - 1)
    assert ro["fast-track"].facility_cost_factor == pytest.approx(expected) == pytest.approx(1.127, abs=5e-4)
    assert ro["stick-built"].facility_cost_factor == 1.0 and pipe.result("rollout").facility_cost_factor == 1.0
    assert P.construction_cost_factor(50.0) == 1.0 and P.construction_cost_factor(40.0) == 1.0
