"""Power is a task, not a flag (rollout/power.py, rollout/data/power_paths.yaml): a site without a
grid connection waits for the grid, builds an on-site gas plant, or bridges on rented turbines
until the grid comes; the planner schedules the chosen path and reports it per site."""
from __future__ import annotations

import math

import pytest
import yaml

from gigafactory.design.factory import design_factory
from gigafactory.errors import InputError
from gigafactory.results.rollout import RolloutResult, SitePower
from gigafactory.rollout import power
from gigafactory.rollout.listsched import schedule_fast
from gigafactory.rollout.tasks import build_tasks
from gigafactory.scenario import default_scenario_path, parse_scenario_text

DEFAULT = yaml.safe_load(default_scenario_path().read_text(encoding="utf-8"))


def _data(region="us-virginia", mw=100.0, method="gigafactory", **site) -> dict:
    data = dict(DEFAULT)
    data["sites"] = [{"name": "one", "region": region, "facility_power_mw": mw, **site}]
    data["systems"] = {"default": "gb300-nvl72"}
    data["rollout"] = {"method": method, "start_date": "2026-03-01", "monte_carlo_samples": 0}
    return data


def _plan(catalog, **kw):
    scn = parse_scenario_text(yaml.safe_dump(_data(**kw)), "t.yaml", catalog)
    design = design_factory(catalog, scn)
    tasks = build_tasks(scn, design, catalog)
    plan = schedule_fast(tasks)
    report = power.power_report(scn, design, catalog, tasks, plan)
    return scn, design, {t.id: t for t in tasks}, plan, report[0]


def test_onsite_gas_beats_waiting_for_the_grid_in_virginia(catalog):
    """A 100 MW greenfield site in Northern Virginia without a grid connection: Dominion's
    large-load queue is 4-7 years (catalog us-virginia: 5.5 y = 2,009 days, the grid task's mode;
    its P50 is 1,893 days), while an owned behind-the-meter gas plant takes 12-15-24 months
    (power_paths.yaml: Williams Socrates ~14-17 months, engines 12-18 months, El Paso McCloud
    ~1-2 years).  Waiting puts first token past day 2,009; building the plant gives first token
    after day 450 and well before the grid, with capex at the design's facility power x
    USD 2,157/kW (BNEF 2025) and, at Henry Hub USD 4.28/MMBtu x 9.56 MMBtu/MWh, fuel
    (USD 40.9/MWh) below Virginia's industrial tariff (USD 89.2/MWh)."""
    _, design, _, grid_plan, grid = _plan(catalog, grid_ready=False, power_path="grid")
    _, _, tasks, gas_plan, gas = _plan(catalog, grid_ready=False, power_path="onsite-gas")
    wait_days = catalog.region("us-virginia").grid_interconnection_wait_s / 86400
    assert grid_plan.first_token_h / 24 > wait_days > 2000
    assert 450 < gas_plan.first_token_h / 24 < 0.5 * grid_plan.first_token_h / 24
    assert grid["path"] == "grid" and grid["on_critical_path"] and grid["tasks"] == ["one/grid-connection"]
    assert grid["lead_time_days"] == pytest.approx(power.tri_median((560, wait_days, 1.5 * wait_days)))
    # the plant is on the critical path when it takes longer than fit-out and procurement (presets.py)
    ready = power.ready_days([t for t in tasks.values() if t.su is None], [p for p in tasks["one/energise-0"].preds if p != "one/power-onsite-gas"])
    assert gas["path"] == "onsite-gas" and gas["on_critical_path"] == (450 > ready) and gas["first_token_supply"] == "onsite-gas"
    assert gas["tasks"] == ["one/power-onsite-gas"] and "one/grid-connection" not in tasks
    assert gas["capex_usd"] == pytest.approx(design.sites[0].facility_power_mw * 1000 * 2157)
    assert gas["energy_premium_usd_per_mwh"] == pytest.approx(4.28 * 9.56 - 89.2, abs=0.5)
    assert gas["energy_premium_usd_per_mwh"] < 0
    assert gas["onsite_emissions_kg_co2_per_mwh"] == pytest.approx(53.07 * 9.56, rel=1e-3)
    # every energisation waits for the plant
    assert all("one/power-onsite-gas" in t.preds for t in tasks.values() if t.kind == "energise")
    SitePower.model_validate(gas)


def test_temporary_then_grid_first_token_on_temporary_power(catalog):
    """Rented mobile turbines (1-2.5-6 months; Colossus 1 ran on them ~2.5 months after its
    start) carry 50 of the site's 100 MW: the first scalable units energise on them, so first
    token comes long before Virginia's 5.5-year grid connection; the scalable units beyond 50 MW
    wait for the grid, so full capacity is on the permanent path.  The premium is the rental and
    O&M (USD 141.3/MWh, from BNP's USD 175/MWh all-in) plus fuel over the grid price."""
    _, _, tasks, plan, rep = _plan(catalog, grid_ready=False, power_path="temporary-then-grid", temporary_power_mw=50)
    grid_end = plan.end_h["one/grid-connection"]
    assert plan.first_token_h < grid_end
    assert plan.full_capacity_h > grid_end
    assert "one/power-temporary" in tasks["one/energise-0"].preds and "one/grid-connection" not in tasks["one/energise-0"].preds
    installs = sorted((t for t in tasks.values() if t.kind == "install"), key=lambda t: t.su)
    on_grid = [t.su for t in installs if "one/grid-connection" in t.preds]
    assert installs[0].su not in on_grid and on_grid and len(on_grid) < len(installs)
    assert rep["path"] == "temporary-then-grid" and rep["first_token_supply"] == "temporary"
    assert rep["lead_time_days"] == pytest.approx(power.tri_median((30, 75, 180)))
    assert rep["capex_usd"] == 0 and rep["premium_mw"] == pytest.approx(50)
    assert rep["energy_premium_usd_per_mwh"] == pytest.approx(141.3 + 4.28 * 9.56 - 89.2, abs=0.5)
    assert rep["bridge_days"] == pytest.approx((grid_end - plan.end_h["one/power-temporary"]) / 24)
    assert not rep["on_critical_path"]  # fit-out and procurement take longer than the bridge's 75 days


def test_grid_ready_removes_the_grid_task(catalog):
    """grid_ready true (the default) means the connection exists: no power task gates anything
    and the report says so; grid_ready false with power_path grid restores the single
    grid-connection task that gates every energisation (the planner's previous behaviour)."""
    _, _, tasks, _, rep = _plan(catalog, mw=100.0, energisation_phases_mw=[40, 60])
    assert not [t for t in tasks.values() if t.kind in power.POWER_KINDS]
    assert rep["grid_existing"] and rep["first_token_supply"] == "existing-grid" and rep["tasks"] == [] and not rep["options"]
    assert rep["lead_time_days"] == 0 and not rep["on_critical_path"]
    _, _, tasks, _, rep = _plan(catalog, mw=100.0, energisation_phases_mw=[40, 60], grid_ready=False, power_path="grid")
    energise = [t for t in tasks.values() if t.kind == "energise"]
    assert len(energise) == 2 and all("one/grid-connection" in t.preds for t in energise)
    assert tasks["one/grid-connection"].kind == "grid" and not rep["grid_existing"]


def test_auto_takes_the_earliest_first_token_within_the_premium_limit(catalog):
    """auto: in Texas (grid 4 years) the bridge on mobile turbines gives the earliest first token
    (premium ~116 USD/MWh over ERCOT's 66, under the 200 limit); in Norway (grid 5-10 years)
    bridging on LNG-priced gas plus EU carbon costs ~209 USD/MWh over a 46 USD/MWh grid, over the
    limit, so auto builds the on-site plant, which still beats the 7.5-year queue."""
    _, _, tx_tasks, tx_plan, tx = _plan(catalog, region="us-texas", grid_ready=False)
    # the report recomputes the choice build_tasks made, from the built tasks
    assert tx["tasks"] == ["one/power-temporary", "one/grid-connection"] and all(i in tx_tasks for i in tx["tasks"])
    assert tx["requested"] == "auto" and tx["path"] == "temporary-then-grid" and tx["first_token_supply"] == "temporary"
    opts = {o["path"]: o for o in tx["options"]}
    assert set(opts) == {"grid", "onsite-gas", "temporary-then-grid"} and all(o["eligible"] for o in opts.values())
    assert opts["temporary-then-grid"]["first_power_days"] < opts["onsite-gas"]["first_power_days"] < opts["grid"]["first_power_days"]
    assert tx_plan.first_token_h / 24 < opts["grid"]["first_power_days"]
    _, _, _, _, no = _plan(catalog, region="no-norway", grid_ready=False)
    opts = {o["path"]: o for o in no["options"]}
    assert no["path"] == "onsite-gas" and not opts["temporary-then-grid"]["eligible"]
    assert opts["temporary-then-grid"]["energy_premium_usd_per_mwh"] > power.power_data().max_premium_usd_per_mwh
    assert "over the 200 limit" in no["reason"]


def test_auto_breaks_near_ties_on_cost(catalog):
    """When construction is slower than both on-site options (stick-built: phase 0 ready after
    ~1.5 years), their first tokens tie and the cheaper over the finance horizon wins: a
    multi-year bridge at ~116 USD/MWh costs more than an owned plant whose fuel is cheaper than
    the grid."""
    _, _, _, _, rep = _plan(catalog, region="us-texas", method="stick-built", grid_ready=False)
    opts = {o["path"]: o for o in rep["options"]}
    assert opts["onsite-gas"]["first_power_days"] == pytest.approx(opts["temporary-then-grid"]["first_power_days"])
    assert rep["path"] == "onsite-gas" and opts["onsite-gas"]["horizon_cost_usd"] < opts["temporary-then-grid"]["horizon_cost_usd"]


def test_power_path_errors_are_exit_2(cli, tmp_path):
    """An unknown path is a schema error; an explicit on-site or temporary path on a site whose
    grid connection exists is refused by the named check 'power-path'; both exit 2."""
    bad = tmp_path / "unknown.yaml"
    bad.write_text(yaml.safe_dump(_data(grid_ready=False, power_path="diesel")), encoding="utf-8")
    code, out, err = cli("check", str(bad))
    assert code == 2 and "power_path" in out + err
    clash = tmp_path / "clash.yaml"
    clash.write_text(yaml.safe_dump(_data(power_path="temporary-then-grid")), encoding="utf-8")
    code, out, err = cli("check", str(clash))
    assert code == 2 and "power-path" in out + err and "grid_ready" in out + err
    big = tmp_path / "big.yaml"
    big.write_text(yaml.safe_dump(_data(grid_ready=False, temporary_power_mw=150)), encoding="utf-8")
    code, out, err = cli("check", str(big))
    assert code == 2 and "temporary_power_mw" in out + err
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump(_data(grid_ready=False, power_path="temporary-then-grid", temporary_power_mw=50)), encoding="utf-8")
    code, out, err = cli("check", str(ok))
    assert code == 0, out + err


def test_power_check_names_the_field(catalog):
    with pytest.raises(InputError) as exc:
        parse_scenario_text(yaml.safe_dump(_data(powered_shell=True, grid_ready=False, power_path="onsite-gas")), "t.yaml", catalog)
    (problem,) = [p for p in exc.value.problems if p.check == "power-path"]
    assert problem.field == "sites[0].power_path" and "powered_shell" in problem.message


def test_result_model_takes_the_power_block():
    fields = RolloutResult.model_fields
    assert "power" in fields and fields["power"].default_factory is list


def test_data_file_is_sourced():
    """Every figure in power_paths.yaml states a unit and a confidence; every one that is not a
    stated assumption or a derivation names sources and their date."""
    text = (power.resources.files("gigafactory.rollout") / "data/power_paths.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)

    def figures(node, path=()):
        if isinstance(node, dict):
            if "value" in node and "confidence" in node:
                yield path, node
            else:
                for k, v in node.items():
                    yield from figures(v, (*path, k))

    found = list(figures(data))
    assert len(found) >= 15
    for path, fig in found:
        assert fig.get("unit"), path
        assert fig["confidence"] in ("high", "medium", "low", "derived", "assumption", "official"), path
        if fig["confidence"] not in ("assumption",):
            assert fig.get("source") and fig.get("source_date"), path
            assert all(str(u).startswith("http") for u in fig["source"]), path
    d = power.power_data()
    assert d.grid_floor_days == (560, 840, 1470) and d.gas_lead_days[1] == 450 and d.temp_lead_days[1] == 75
    assert math.isclose(d.heat_rate_mmbtu_per_mwh, 9.56)
