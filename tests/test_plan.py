"""`gigafactory plan`: result.json schema and consistency, run store, determinism."""
from __future__ import annotations

import json

import pytest
import yaml

from gigafactory.plan import run_plan
from gigafactory.runs.store import compare, get_run, list_runs, record
from gigafactory.scenario import default_scenario_path, parse_scenario_text

from conftest import REPO


def _one_site_one_model(catalog):
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "solo", "region": "us-virginia", "facility_power_mw": 50}]
    data["workloads"] = [{"model": "llama-3.3-70b", "share": 1.0, "precision": "fp8", "isl_tokens": 2048, "osl_tokens": 512,
                          "slo": {"ttft_p99_ms": 2000, "tpot_p99_ms": 50}, "price_input_usd_per_mtok": 0.29, "price_output_usd_per_mtok": 0.60}]
    data["devices"] = {"fleets": []}
    text = yaml.safe_dump(data)
    return parse_scenario_text(text, "solo.yaml", catalog), text


def _plan(catalog, scn, text):
    return run_plan(catalog, scn, text, None, rollout_samples=100, economics_samples=300)


def _check_totals(result):
    d = result["design"]
    for key in ("gpus", "racks", "scalable_units", "it_power_mw", "facility_power_mw", "capex_usd", "floor_area_m2", "annual_energy_mwh"):
        assert d[key] == pytest.approx(sum(s[key] for s in d["sites"])), key
    assert sum(d["capex_breakdown_usd"].values()) == pytest.approx(d["capex_usd"])
    assert result["rollout"]["ramp"][-1]["gpus"] == d["gpus"]


def test_one_site_one_model(catalog):
    scn, text = _one_site_one_model(catalog)
    r = _plan(catalog, scn, text)
    for key in ("gpus", "racks", "it_power_mw", "facility_power_mw", "pue", "capex_usd"):
        assert key in r["design"]
    s = r["serving"]["llama-3.3-70b"]
    for key in ("config", "tok_s_gpu", "tok_s_user", "ttft_p99_s", "tpot_p99_s"):
        assert key in s
    assert s["meets_slo"] and s["ttft_p99_s"] <= 2.0 and s["tpot_p99_s"] <= 0.05
    for key in ("ttft_days", "ttft_days_p90", "full_capacity_days"):
        assert r["rollout"][key] > 0
    for key in ("cost_per_mtok_usd", "npv_usd", "irr", "payback_months"):
        assert key in r["economics"]
    assert r["seed"] == scn.seed and r["catalog_version"] == catalog.version and r["scenario"]["name"] == scn.name
    _check_totals(r)


def test_three_site_mixed_totals(catalog):
    path = REPO / "examples" / "three-site-mixed.yaml"
    text = path.read_text()
    scn = parse_scenario_text(text, str(path), catalog)
    r = _plan(catalog, scn, text)
    assert len(r["design"]["sites"]) == 3
    assert {s["system"] for s in r["design"]["sites"]} == {"gb300-nvl72", "gb200-nvl72"}
    _check_totals(r)


def test_same_inputs_same_result(catalog):
    scn, text = _one_site_one_model(catalog)
    a, b = _plan(catalog, scn, text), _plan(catalog, scn, text)
    for x in (a, b):
        x.pop("created")
        x["rollout"]["solver"].pop("wall_s")
    assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def test_run_store_list_show_compare(catalog, tmp_path):
    store = tmp_path / "runs.sqlite"
    scn, text = _one_site_one_model(catalog)
    r1 = _plan(catalog, scn, text)
    data = yaml.safe_load(text)
    data["sites"][0]["facility_power_mw"] = 80
    text2 = yaml.safe_dump(data)
    r2 = _plan(catalog, parse_scenario_text(text2, "b.yaml", catalog), text2)
    id1, id2 = record(r1, tmp_path / "a", store), record(r2, tmp_path / "b", store)
    assert [x["id"] for x in list_runs(store)] == [id1, id2]
    diff = compare(get_run(id1, store), get_run(id2, store))
    assert any(row["key"] == "sites[0].facility_power_mw" and row["a"] == 50 and row["b"] == 80 for row in diff["inputs"])
    gpus = next(row for row in diff["outputs"] if row["key"] == "gpus")
    assert gpus["b"] > gpus["a"] and gpus["change"] > 0


def test_runs_cli_errors(cli, tmp_path):
    code, _, err = cli("runs", "show", "nope", "--store", str(tmp_path / "empty.sqlite"))
    assert code == 2 and "no run 'nope'" in err
    code, out, _ = cli("runs", "list", "--store", str(tmp_path / "empty.sqlite"))
    assert code == 0 and "no runs" in out
