"""The devices stage on the default scenario, its place in the pipeline and the plan, and bad
fleet inputs (issue 16)."""
from __future__ import annotations

import json

import pytest
import yaml

from gigafactory.pipeline import Pipeline, RunOptions
from gigafactory.scenario import default_scenario_path, load_scenario, parse_scenario_text

OPTS = RunOptions(rollout_samples=50, economics_samples=0)


@pytest.fixture(scope="module")
def default_devices(catalog):
    scn = load_scenario()
    pipe = Pipeline(catalog, scn, OPTS)
    return scn, pipe.result("devices"), pipe.result("demand")


def _variant(catalog, mutate):
    data = yaml.safe_load(default_scenario_path().read_text())
    mutate(data)
    return parse_scenario_text(yaml.safe_dump(data), "variant.yaml", catalog)


def test_default_fleets_route_to_their_targets(default_devices):
    scn, res, _ = default_devices
    assert res.offload_model == "gpt-oss-120b" and len(res.fleets) == 2
    for spec, f in zip(scn.devices.fleets, res.fleets):
        # the threshold is calibrated to the fleet's target share (sampling error of 20,000 requests)
        assert f.cloud_share == pytest.approx(spec.offload_fraction, abs=0.01)
        # privacy-local conversations and offline requests stay on the device
        assert f.forced_local_share >= spec.privacy_local_share * 0.9
        assert 0 < f.local_decode_tok_s < 200 and f.local.e2e_p50_s > f.local.ttft_p50_s
        # an offloaded request pays at least the access round trip (Ofcom: 16-24 ms) and the factory's TTFT
        assert f.cloud.ttft_p50_s > 0.016
        assert f.energy_device_j_per_request > 0 and f.energy_factory_j_per_request > 0
    assert res.cloud_output_tokens_per_day == pytest.approx(sum(f.cloud_output_tokens_per_day for f in res.fleets))
    assert len(res.hour_of_week_profile) == 168 and sum(res.hour_of_week_profile) == pytest.approx(168)


def test_fleet_aware_saves_gpus_at_equal_tokens(default_devices):
    _, res, _ = default_devices
    a = res.fleet_aware
    assert a is not None
    assert a.aware_peak_tok_s <= a.static_peak_tok_s + 1e-6
    assert a.gpus_saved >= 0 and a.gpus_saved == pytest.approx(a.static_gpus - a.aware_gpus)
    assert 0 <= a.threshold_min <= a.threshold_max <= 1


def test_offloaded_requests_are_a_demand_segment(default_devices):
    _, res, demand = default_devices
    segs = [s for s in demand.segments if s.kind == "devices"]
    assert len(segs) == 1 and segs[0].model == "gpt-oss-120b"
    assert segs[0].demand_tokens > 0 and segs[0].revenue_usd > 0
    # first-year daily demand of the segment matches the devices stage's tokens per day (no growth in the default)
    assert segs[0].demand_tokens / (demand.horizon_months / 12 * 365.25) == pytest.approx(res.cloud_output_tokens_per_day, rel=0.02)


def test_local_only_sends_nothing_and_more_offload_means_more_load(catalog):
    def policy(name):
        return lambda d: d["devices"].update(policy=name)

    local = Pipeline(catalog, _variant(catalog, policy("local-only")), OPTS).result("devices")
    assert local.cloud_share == 0 and local.cloud_output_tokens_per_day == 0
    lo = Pipeline(catalog, _variant(catalog, lambda d: [f.update(offload_fraction=0.1) for f in d["devices"]["fleets"]]), OPTS).result("devices")
    hi = Pipeline(catalog, _variant(catalog, lambda d: [f.update(offload_fraction=0.5) for f in d["devices"]["fleets"]]), OPTS).result("devices")
    assert lo.cloud_output_tokens_per_day < hi.cloud_output_tokens_per_day


def test_devices_stage_is_deterministic(catalog):
    scn = load_scenario()
    a = Pipeline(catalog, scn, OPTS).result("devices").model_dump_json()
    b = Pipeline(catalog, scn, OPTS).result("devices").model_dump_json()
    assert a == b


def test_no_fleets_gives_an_empty_section(catalog):
    res = Pipeline(catalog, _variant(catalog, lambda d: d["devices"].update(fleets=[])), OPTS).result("devices")
    assert res.fleets == [] and res.cloud_output_tokens_per_day == 0 and res.fleet_aware is None


@pytest.mark.parametrize("mutate, field, check", [
    (lambda d: d["devices"]["fleets"][0].update(device="Snapdragon X Elit CRD"), "devices.fleets[0].device", "device-known"),
    (lambda d: d["devices"]["fleets"][0].update(local_model="llama-9b"), "devices.fleets[0].local_model", "device-known"),
    (lambda d: d["devices"]["fleets"][1].update(device="Samsung Galaxy S24", local_model="llama-3.1-8b"), "devices.fleets[1].local_model",
     "device-model-fits"),
    (lambda d: d["devices"]["fleets"][0].update(count=-5), "devices.fleets[0].count", "schema"),
    (lambda d: d["devices"].update(policy="smart"), "devices.policy", "device-known"),
    (lambda d: d["devices"]["fleets"][0].update(regions={"mars": 1.0}), "devices.fleets[0].regions.mars", "device-known"),
])
def test_bad_fleet_inputs_are_named(cli, tmp_path, mutate, field, check):
    data = yaml.safe_load(default_scenario_path().read_text())
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    code, out, err = cli("check", str(path), "--json")
    assert code == 2, err
    problems = json.loads(out)["problems"]
    assert any(p["field"] == field and p["check"] == check for p in problems), problems


def test_devices_verb(cli):
    code, out, err = cli("devices", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["policy"] == "quality-threshold" and body["fleets"]
    code, out, _ = cli("devices", "--policies")
    assert code == 0 and "fleet-aware" in out
    code, _, err = cli("devices", "--policy", "nope")
    assert code == 2 and "--policy" in err


def test_peak_hour_on_the_simulator_meets_the_slo_with_the_units_it_reports(catalog, default_devices):
    from gigafactory.devices.peakcheck import TARGET_ATTAINMENT, peak_hour_check

    scn, res, _ = default_devices
    pipe = Pipeline(catalog, scn, OPTS)
    static, aware, cross = peak_hour_check(catalog, scn, pipe.result("design"), pipe.result("serving"), res, duration_s=60.0)
    assert static.slo_attainment >= TARGET_ATTAINMENT and aware.slo_attainment >= TARGET_ATTAINMENT
    # the fleet-aware peak needs no more units; its GPUs are fewer on the same configuration.  Each
    # peak's configuration is the perf search's pick for that hour's length mix, so at one unit
    # either way the GPU count is that pick's size, not a sizing result (docs/devices.md)
    assert aware.units <= static.units and cross.units == aware.units and cross.layout == aware.layout
    if aware.layout == static.layout:
        assert aware.gpus <= static.gpus
    assert aware.rate_rps < static.rate_rps  # the devices absorb part of the peak
    assert 0 < static.device_share < 1 and static.requests_simulated > 0
