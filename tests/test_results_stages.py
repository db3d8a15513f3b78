"""Typed stage results (gigafactory.results): the simulation, rollout and economics stages return
frozen models that survive the JSON round trip the stage cache and result.json make."""
from __future__ import annotations

import json

import pydantic
import pytest
import yaml

from gigafactory.design.choice import mix_tok_s_per_gpu
from gigafactory.design.factory import design_factory
from gigafactory.design.choice import serving_rates
from gigafactory.economics.run import run_economics
from gigafactory.results.economics import EconomicsResult
from gigafactory.results.rollout import RolloutResult
from gigafactory.results.simulation import Percentiles, SimulationResult
from gigafactory.rollout.plan import plan_rollout
from gigafactory.scenario import default_scenario_path, parse_scenario_text
from gigafactory.simulate.run import simulate_scenario

from conftest import keep_demand_for_workloads


@pytest.fixture(scope="module")
def small(catalog):
    """One 50 MW site serving one model: the design, serving rates and the scenario."""
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "solo", "region": "us-virginia", "facility_power_mw": 50}]
    data["workloads"] = [{"model": "llama-3.3-70b", "share": 1.0, "precision": "fp8", "isl_tokens": 2048, "osl_tokens": 512,
                          "slo": {"ttft_p99_ms": 2000, "tpot_p99_ms": 50}, "price_input_usd_per_mtok": 0.29, "price_output_usd_per_mtok": 0.60}]
    keep_demand_for_workloads(data)
    data["devices"] = {"fleets": []}
    scn = parse_scenario_text(yaml.safe_dump(data), "small.yaml", catalog)
    design = design_factory(catalog, scn)
    return scn, design, serving_rates(catalog, scn, design)


@pytest.fixture(scope="module")
def rollout(catalog, small):
    scn, design, serving = small
    return plan_rollout(catalog, scn, design, mix_tok_s_per_gpu(design, serving), samples=50)


def _round_trip(model: type[pydantic.BaseModel], m: pydantic.BaseModel) -> pydantic.BaseModel:
    """The stage returned ``model``; its JSON text (the stage cache) and its JSON form (result.json)
    both read back to an equal model."""
    assert type(m) is model
    assert model.model_validate_json(m.model_dump_json()) == m
    assert model.model_validate(json.loads(json.dumps(m.model_dump(mode="json"), allow_nan=False))) == m
    return m


def test_simulation_result(catalog, small):
    scn, design, serving = small
    m = _round_trip(SimulationResult, simulate_scenario(catalog, scn, design, serving, duration_s=60))
    d = m.model_dump(mode="json")
    assert m.conservation_ok and m.duration_s == 60.0 and len(m.pools) == 1
    pool = m.pools[0]
    assert pool.models == ["llama-3.3-70b"] and pool.units.total >= 1 and pool.timeseries
    assert isinstance(pool.ttft_s, Percentiles) and pool.ttft_s.p99 is not None
    with pytest.raises(pydantic.ValidationError):  # frozen
        m.span_s = 0.0
    with pytest.raises(pydantic.ValidationError):  # unknown keys refused, at any depth
        SimulationResult.model_validate({**d, "pools": [{**d["pools"][0], "surprise": 1}]})


def test_rollout_result(rollout):
    m = _round_trip(RolloutResult, rollout)
    d = m.model_dump(mode="json")
    assert m.monte_carlo_samples == 50 and m.ttft_days_p10 is not None and m.critical_path
    assert m.ramp[-1].gpus > 0 and m.gantt and m.solver.tasks == len(m.gantt)
    with pytest.raises(pydantic.ValidationError):  # a date is an ISO 'YYYY-MM-DD' string
        RolloutResult.model_validate({**d, "start_date": "1 March 2026"})


def test_rollout_result_without_samples(catalog, small):
    scn, design, serving = small
    m = _round_trip(RolloutResult, plan_rollout(catalog, scn, design, mix_tok_s_per_gpu(design, serving), samples=0))
    assert m.ttft_days_p90 is None and m.full_capacity_days_p10 is None and m.critical_path == []
    assert m.ttft_days == m.plan_ttft_days


@pytest.mark.parametrize("samples", [200, 0])
def test_economics_result(catalog, small, rollout, samples):
    scn, design, serving = small
    m = _round_trip(EconomicsResult, run_economics(catalog, scn, design, rollout, serving, samples))
    if samples:
        assert m.monte_carlo is not None and m.monte_carlo.samples == samples
        assert sum(m.monte_carlo.histogram.counts) == samples
    else:
        assert m.monte_carlo is None and m.model_dump(mode="json")["monte_carlo"] is None
    assert set(m.cost_per_mtok_usd) == {"llama-3.3-70b"} and len(m.tornado) == 10
    assert len(m.cumulative_cash_usd) == m.assumptions.horizon_months


def test_economics_infinite_cost_is_null_in_json_text():
    """The one non-JSON value a stage can produce: cost per GPU-hour is inf with no GPU-hour
    delivered.  model_dump(mode="json") keeps the float (as json.loads(json.dumps(...)) does);
    the JSON text has null (ser_json_inf_nan="null"), where json.dumps would write Infinity."""
    assert EconomicsResult.model_fields["cost_per_gpu_hour_usd"].annotation is float
    m = EconomicsResult.model_construct(cost_per_gpu_hour_usd=float("inf"))
    assert m.model_dump(mode="json", include={"cost_per_gpu_hour_usd"}) == {"cost_per_gpu_hour_usd": float("inf")}
    assert json.loads(m.model_dump_json(include={"cost_per_gpu_hour_usd"})) == {"cost_per_gpu_hour_usd": None}
