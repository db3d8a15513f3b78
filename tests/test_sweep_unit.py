"""Sweeps without Ray (issue 19): spec checks (exit 2 before any point runs), dotted paths,
samplers, seeds by name, per-point checks, Pareto front and Sobol' indices on known inputs."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from gigafactory.errors import InputError
from gigafactory.sweep.analysis import feasible_mask, pareto_mask, sobol_indices
from gigafactory.sweep.paths import PathError, apply_values, check_path, get_path, parse_path
from gigafactory.sweep.points import build_points
from gigafactory.sweep.sample import from_unit, unit_samples
from gigafactory.sweep.spec import ParameterSpec, parse_sweep_text

pytest.importorskip("SALib")

GRID = """
name: t
parameters:
  - {path: systems.default, values: [gb300-nvl72, vera-rubin-nvl72]}
  - path: finance.wacc
    range: [0.06, 0.12]
    steps: 3
objectives:
  - {metric: npv_usd, direction: max}
"""


# ----------------------------------------------------------------- paths


def test_paths_parse_get_set():
    assert parse_path("sites[0].facility_power_mw") == ("sites", 0, "facility_power_mw")
    assert parse_path("sites[*].region") == ("sites", "*", "region")
    assert parse_path("demand.contracts[0].price_usd_per_gpu_hour") == ("demand", "contracts", 0, "price_usd_per_gpu_hour")
    data = {"sites": [{"region": "a"}, {"region": "b"}], "finance": {"wacc": None}}
    out = apply_values(data, [(parse_path("sites[*].region"), "x"), (parse_path("finance.wacc"), 0.1)])
    assert get_path(out, parse_path("sites[*].region")) == ["x", "x"] and out["finance"]["wacc"] == 0.1
    assert data["sites"][0]["region"] == "a"  # the base is never changed
    check_path(data, parse_path("finance.wacc"))  # an unset optional field exists (null in the JSON form)
    with pytest.raises(PathError, match="did you mean 'wacc'"):
        check_path(data, parse_path("finance.wac"))
    with pytest.raises(PathError, match="2 entries"):
        check_path(data, parse_path("sites[2].region"))
    with pytest.raises(PathError):
        parse_path("[0].x")


# ----------------------------------------------------------------- spec checks: exit 2 before any point


def test_spec_bad_path_and_range_exit_2_before_running(tmp_path: Path, cli):
    spec = tmp_path / "bad.yaml"
    spec.write_text("""name: bad
parameters:
  - path: finance.wac
    values: [0.05]
  - path: finance.wacc
    range: [0.05, 1.5]
    steps: 2
  - path: sites[5].facility_power_mw
    values: [100]
""")
    out = tmp_path / "out"
    code, _, err = cli("sweep", "run", str(spec), "--out", str(out))
    assert code == 2
    assert "bad.yaml:3: parameters[0].path" in err and "did you mean 'wacc'" in err and "fix:      write finance.wacc" in err
    assert "parameters[1].range" in err and "1.5" in err and "a value < 1.0" in err and "check:    sweep-domain" in err
    assert "index [5] does not exist" in err
    assert not out.exists()  # nothing ran, nothing written


@pytest.mark.parametrize("text, needle", [
    ("name: x\nparameters: []\n", "parameters"),
    ("name: x\nmethod: lhs\nparameters:\n  - {path: finance.wacc, range: [0.05, 0.1]}\n", "needs samples"),
    ("name: x\nmethod: sobol\nsamples: 100\nparameters:\n  - {path: finance.wacc, range: [0.05, 0.1]}\n", "power of 2"),
    ("name: x\nparameters:\n  - {path: finance.wacc, values: [0.1], range: [0.05, 0.1]}\n", "exactly one of values"),
    ("name: x\nparameters:\n  - {path: finance.wacc, values: [0.1]}\nobjectives:\n  - {metric: npv_usd, direction: up}\n", "direction"),
    ("name: x\nparameters:\n  - {path: finance.wacc, values: [0.1]}\nstages: [rollout]\nobjectives:\n  - {metric: npv_usd, direction: max}\n",
     "economics stage"),
    ("name: x\nparameters:\n  - {path: finance.wacc, values: [0.1]}\noptions: {economics_samples: -1}\n", "options.economics_samples"),
    ("name: x\nparameters:\n  - {path: finance.wacc, values: [0.1]}\noutputs: [economics.no_such_field]\n", "not a path into a stage result"),
    ("name: x\nscenario: nowhere.yaml\nparameters:\n  - {path: finance.wacc, values: [0.1]}\n", "base scenario file does not exist"),
    ("name: x\nparameters:\n  - {path: systems.default, values: [7]}\n", "Input should be a valid string"),
])
def test_spec_problems_are_input_errors(text, needle, catalog):
    with pytest.raises(InputError) as exc:
        parse_sweep_text(text, "spec.yaml", catalog=catalog)
    assert needle in exc.value.render()


def test_targets_follow_the_metrics(catalog):
    s = parse_sweep_text(GRID, "spec.yaml", catalog=catalog)
    assert s.targets == ("economics",) and "npv_usd" in s.metrics and "ttft_p99_s" not in s.metrics
    s = parse_sweep_text(GRID.replace("npv_usd, direction: max", "ttft_p99_s, direction: min"), "spec.yaml", catalog=catalog)
    assert s.targets == ("simulation", "economics")


# ----------------------------------------------------------------- points: grid, seeds by name, per-point checks


def test_grid_points_and_values(catalog):
    s = parse_sweep_text(GRID, "spec.yaml", catalog=catalog)
    pts = build_points(s, catalog)
    assert [p.values for p in pts][:3] == [{"systems_default": "gb300-nvl72", "finance_wacc": w} for w in (0.06, 0.09, 0.12)]
    assert len(pts) == 6 and all(p.valid for p in pts) and len({p.key for p in pts}) == 6
    assert all(p.seed == s.base.seed for p in pts)  # seeds: common


def test_per_point_seeds_are_derived_by_name_not_position(catalog):
    text = GRID.replace("name: t", "name: t\nseeds: per-point")
    a = {p.key: p.seed for p in build_points(parse_sweep_text(text, "s.yaml", catalog=catalog), check=False)}
    # the same values in another order (and with more points) keep their seeds
    text2 = text.replace("[gb300-nvl72, vera-rubin-nvl72]", "[vera-rubin-nvl72, gb200-nvl72, gb300-nvl72]")
    b = {p.key: p.seed for p in build_points(parse_sweep_text(text2, "s.yaml", catalog=catalog), check=False)}
    assert all(b[k] == seed for k, seed in a.items())
    assert len(set(a.values())) == len(a)


def test_point_failing_a_named_check_is_marked_not_refused(catalog):
    # a share of 0.9 for one workload passes the field's schema, but the shares no longer sum to 1:
    # the point fails the named check "workload-shares"; the sweep is not refused
    text = "name: x\nparameters:\n  - path: workloads[0].share\n    values: [0.3, 0.9]\n"
    pts = build_points(parse_sweep_text(text, "s.yaml", catalog=catalog), catalog)
    assert pts[0].valid and not pts[1].valid
    assert {p.check for p in pts[1].problems} == {"workload-shares"}
    assert pts[1].problems[0].file == "s.yaml: point 1"


# ----------------------------------------------------------------- samplers


def test_lhs_is_stratified_and_reproducible():
    u = unit_samples("lhs", 3, 20, seed=5)
    assert u.shape == (20, 3)
    for j in range(3):  # one point in each of the 20 strata of every axis (the Latin hypercube property)
        assert sorted(np.floor(u[:, j] * 20).astype(int)) == list(range(20))
    assert np.array_equal(u, unit_samples("lhs", 3, 20, seed=5)) and not np.array_equal(u, unit_samples("lhs", 3, 20, seed=6))


def test_sobol_sampler_is_saltelli_blocks():
    u = unit_samples("sobol", 4, 16, seed=1)
    assert u.shape == (16 * (4 + 2), 4) and (u >= 0).all() and (u < 1).all()


def test_unit_to_domain_mapping():
    cat = ParameterSpec(path="x", values=["a", "b", "c"])
    assert [from_unit(cat, u) for u in (0.0, 0.34, 0.99)] == ["a", "b", "c"]
    ints = ParameterSpec(path="x", range=(1, 4), integer=True)
    assert sorted({from_unit(ints, u) for u in np.linspace(0, 0.999, 40)}) == [1, 2, 3, 4]
    log = ParameterSpec(path="x", range=(1, 100), scale="log")
    assert math.isclose(from_unit(log, 0.5), 10.0)


# ----------------------------------------------------------------- Pareto and feasibility


def test_pareto_front_known_points():
    # minimise cost, maximise value: (1, 1) and (2, 3) and (4, 4) are non-dominated; (3, 2) is dominated
    # by (2, 3); (5, 4) by (4, 4); a NaN row is never on the front
    y = np.array([[1, 1], [2, 3], [3, 2], [4, 4], [5, 4], [np.nan, 9]], dtype=float)
    assert pareto_mask(y, ["min", "max"]).tolist() == [True, True, False, True, False, False]
    # three objectives, all minimised: the corner points of a simplex are mutually non-dominated
    z = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0.5, 0.5, 0.5]])
    assert pareto_mask(z, ["min", "min", "min"]).tolist() == [True, True, True, False, True]
    # equal rows do not dominate each other
    assert pareto_mask(np.array([[1.0, 1.0], [1.0, 1.0]]), ["min", "min"]).tolist() == [True, True]


def test_pareto_matches_brute_force_on_random_points():
    rng = np.random.default_rng(3)
    y = rng.random((700, 3))  # more than one block of 512
    dirs = ["min", "max", "min"]
    z = y * np.array([1, -1, 1])
    brute = [not any((z[j] <= z[i]).all() and (z[j] < z[i]).any() for j in range(len(z))) for i in range(len(z))]
    assert pareto_mask(y, dirs).tolist() == brute


def test_feasible_mask():
    from gigafactory.sweep.spec import ConstraintSpec

    cols = {"irr": np.array([0.05, 0.2, np.nan]), "ttft_days": np.array([100.0, 400.0, 50.0])}
    assert feasible_mask(cols, [ConstraintSpec(metric="irr", min=0.1)]).tolist() == [False, True, False]
    assert feasible_mask(cols, [ConstraintSpec(metric="ttft_days", max=300)]).tolist() == [True, False, True]


# ----------------------------------------------------------------- Sobol' indices


def test_sobol_indices_ishigami():
    """Ishigami function (Ishigami & Homma 1990), a = 7, b = 0.1, inputs uniform on [-pi, pi].
    Analytical indices (Saltelli et al., "Global Sensitivity Analysis: The Primer", 2008, and SALib's
    test_functions/Ishigami.py): S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437).
    With 2^12 base samples the estimator's standard error is about 0.01-0.02 (SALib's bootstrap
    intervals below), so 0.05 is a tolerance of several standard errors, not a fudge."""
    from SALib.test_functions import Ishigami

    u = unit_samples("sobol", 3, 4096, seed=11)
    x = -math.pi + 2 * math.pi * u
    res = sobol_indices(Ishigami.evaluate(x), 3, ["x1", "x2", "x3"])
    assert np.allclose(res["S1"], [0.3139, 0.4424, 0.0], atol=0.05)
    assert np.allclose(res["ST"], [0.5576, 0.4424, 0.2437], atol=0.05)
    assert max(res["S1_conf"]) < 0.05 and res["blocks_dropped"] == 0


def test_sobol_drops_whole_blocks_with_failed_points():
    from SALib.test_functions import Ishigami

    u = unit_samples("sobol", 3, 1024, seed=2)
    y = Ishigami.evaluate(-math.pi + 2 * math.pi * u)
    y[[0, 7, 100]] = np.nan  # three failed points in blocks 0, 1 and 20 of five rows
    res = sobol_indices(y, 3)
    assert res["blocks_dropped"] == 3 and res["blocks_used"] == 1021
    assert np.allclose(res["ST"], [0.5576, 0.4424, 0.2437], atol=0.08)
