"""Factory designer: power chain, sizing, capex, replication over sites, design choice, CLI."""
from __future__ import annotations

import json

import pytest
import yaml

from gigafactory.design.factory import design_factory
from gigafactory.design.power import chain_loss_fraction, units_with_redundancy
from gigafactory.design.sizing import non_compute_w_per_gpu
from gigafactory.errors import InputError
from gigafactory.scenario import default_scenario_path, parse_scenario_text

DEFAULT = yaml.safe_load(default_scenario_path().read_text())


def _scenario(catalog, **changes):
    data = yaml.safe_load(default_scenario_path().read_text())
    for key, value in changes.items():
        data[key] = value
    return parse_scenario_text(yaml.safe_dump(data), "test.yaml", catalog)


def _one_site(region="us-virginia", mw=1000.0, **site):
    return [{"name": "one", "region": region, "facility_power_mw": mw, **site}]


@pytest.mark.parametrize(("active", "mode", "installed"), [(4, "N", 4), (4, "N+1", 5), (5, "N+1", 7), (8, "N+1", 10), (3, "2N", 6), (0, "N+1", 0)])
def test_redundancy(active, mode, installed):
    assert units_with_redundancy(active, mode) == installed


def test_chain_losses_compound():
    """99 % transformer, 98.5 % eco-mode UPS, 1 % distribution: 1/(0.99*0.985*0.99) - 1 = 3.6 %."""
    assert chain_loss_fraction(0.99, 0.985, 0.01) == pytest.approx(1 / (0.99 * 0.985 * 0.99) - 1)
    assert chain_loss_fraction(0.99, 0.95) > chain_loss_fraction(0.99, 0.985)


def test_non_compute_load_from_the_gb200_su_budget(catalog):
    """DGX SuperPOD GB200 RA: an SU of 8 NVL72 racks is budgeted at 1.2 MW; with 132 kW racks the
    network, storage and management share is (1.2 MW - 8 x 132 kW) / 576 GPUs = 250 W per GPU."""
    assert non_compute_w_per_gpu(catalog) == pytest.approx((1.2e6 - 8 * 132e3) / 576)


def test_one_gigawatt_of_gb300_lands_in_published_range(catalog):
    """1 GW (facility) of GB300 NVL72: Bernstein's $35B/GW at $5.9M all-in per rack implies
    ~5,900 racks per GW (factory_facts economics.capex_all_in); 100 MW of GB200 ~ 700-800 racks
    (datacentres.com, 2025) implies 7,000-8,000 per GW of IT.  Our compute racks must fall in
    4,500-8,000 per GW of facility power, i.e. 324k-576k GPUs."""
    d = design_factory(catalog, _scenario(catalog, sites=_one_site()))
    t = d.total
    assert 4500 <= t.compute_racks <= 8000
    assert 324_000 <= t.gpus <= 576_000
    assert t.facility_power_mw <= 1000.0 + 1e-6


def test_capex_per_gw_within_published_range(catalog):
    """All-in capex of a 1 GW (facility) GB300 campus at the US-average construction cost (region
    index 1.0, us-virginia) must land in $44-60B per GW: $60B is the top of NVIDIA's $50-60B/GW
    guidance (Q2 FY2026 call, factory_facts economics.capex_all_in.nvidia_guidance); $44B is the
    issue-14 floor for recent GB200/GB300 campuses (NVIDIA's $50B low end less 12 %).  Analyst
    builds below it (Bernstein GB200 $35B/GW, Morgan Stanley GB300 ~$33B/GW, May 2026) are
    reconciled line by line in docs/economics.md; the model comes out at ~$44.6B, 1 % above the
    floor, so a cheaper rack, network or region moves it out: that is the point of the check.

    The facility, per MW of critical IT: the contractor-built part (Cushman & Wakefield scope)
    within C&W's $9.3-15M/MW US range (+ the 7-10 % AI premium and the region index); the all-in
    facility (plus owner-furnished power/cooling equipment, soft costs, contingency, commissioning,
    land) within Goldman Sachs' $15-20M/MW for AI data centres (factory_facts
    economics.construction_cost.goldman_ai_vs_traditional)."""
    d = design_factory(catalog, _scenario(catalog, sites=_one_site()))
    t = d.total
    site = d.sites[0]
    per_gw = t.capex_usd / (site.facility_power_mw / 1000.0)
    assert 44e9 <= per_gw <= 60e9, per_gw / 1e9
    contractor = sum(line.total_usd for line in site.bom if line.category in ("power", "cooling", "building") and line.item.startswith(
        ("electrical construction", "mechanical construction", "shell", "site", "white space", "back of house", "office")))
    assert 9.3e6 <= contractor / site.it_power_mw <= 15e6 * 1.1
    facility = sum(v for k, v in site.capex_breakdown_usd.items() if k in ("power", "cooling", "building", "soft_costs"))
    assert 15e6 <= facility / site.it_power_mw <= 20e6, facility / site.it_power_mw / 1e6


def test_totals_equal_the_sum_of_sites(catalog):
    d = design_factory(catalog, _scenario(catalog))
    for key in ("gpus", "racks", "scalable_units", "it_power_mw", "facility_power_mw", "capex_usd", "floor_area_m2", "annual_energy_mwh"):
        assert getattr(d.total, key) == pytest.approx(sum(getattr(s, key) for s in d.sites)), key
    assert sum(d.total.capex_breakdown_usd.values()) == pytest.approx(d.total.capex_usd)
    assert sum(line.total_usd for line in d.total.bom) == pytest.approx(d.total.capex_usd)


def test_whole_scalable_units_and_power_envelope(catalog):
    d = design_factory(catalog, _scenario(catalog))
    for site, spec in zip(d.sites, DEFAULT["sites"]):
        assert site.gpus == site.scalable_units * 576
        assert site.facility_power_mw <= spec["facility_power_mw"] + 1e-6
        # the annual PUE is an energy-weighted mean of months no hotter than the design hour
        assert 1.0 < site.pue <= site.pue_design + 1e-9


def test_replication_uses_site_climate_and_costs(catalog):
    """The same reference design in Riyadh and Finland: the hot site has the higher PUE and the
    region index changes the facility cost per MW."""
    sites = [{"name": "hot", "region": "sa-riyadh", "facility_power_mw": 300}, {"name": "cold", "region": "fi-finland", "facility_power_mw": 300}]
    d = design_factory(catalog, _scenario(catalog, sites=sites))
    hot, cold = d.sites
    assert hot.pue > cold.pue
    assert hot.system == cold.system


def test_too_little_power_for_one_su(catalog):
    with pytest.raises(InputError, match="cannot power one scalable unit"):
        design_factory(catalog, _scenario(catalog, sites=_one_site(mw=1.0)))


def test_floor_too_small(catalog):
    with pytest.raises(InputError, match="cannot hold one scalable unit"):
        design_factory(catalog, _scenario(catalog, sites=_one_site(mw=100, floor_area_m2=50)))


def test_floor_limits_the_design(catalog):
    d = design_factory(catalog, _scenario(catalog, sites=_one_site(mw=100, floor_area_m2=1500)))
    assert d.sites[0].limiting_factor == "floor"


def test_air_cooling_cannot_cool_gb300_racks(catalog):
    with pytest.raises(InputError) as exc:
        design_factory(catalog, _scenario(catalog, sites=_one_site(mw=100, cooling="air-crah-chiller-economizer")))
    assert "142" in exc.value.render()


def test_design_cli_json(cli, catalog):
    """`design --json` prints the design stage's result; its BOM prices come with their sources
    and every line's total is its count times its unit cost."""
    from gigafactory.results.design import DesignResult
    from gigafactory.scenario import load_scenario

    code, out, err = cli("design", "--no-compare", "--json")
    assert code == 0, err
    body = DesignResult.model_validate(json.loads(out))
    assert body == design_factory(catalog, load_scenario(None))
    for line in body.total.bom:
        assert line.total_usd == pytest.approx(line.count * (line.unit_cost_usd or 0.0)), line.item
        assert line.unit_cost_usd is None or line.source, line.item


def test_design_cli_bad_inputs(cli, tmp_path):
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = _one_site(mw=1.0)
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(data))
    code, _, err = cli("design", str(path))
    assert code == 2 and "scalable unit" in err and "Traceback" not in err
    data["sites"] = _one_site(mw=100, cooling="air-crah-chiller-economizer")
    path.write_text(yaml.safe_dump(data))
    code, _, err = cli("design", str(path))
    assert code == 2 and "Traceback" not in err
    data["sites"] = _one_site(mw=100)
    data["fabric"] = {"compute": "infiniband", "switch": "quantum-x900"}
    path.write_text(yaml.safe_dump(data))
    code, _, err = cli("design", str(path))
    assert code == 2 and "unknown network" in err


def test_design_choice_ranks_candidates(catalog):
    from gigafactory.design.choice import compare_systems

    scn = _scenario(catalog, sites=_one_site(mw=200), systems={"default": "gb300-nvl72", "candidates": ["gb200-nvl72"]})
    dc = compare_systems(catalog, scn, design_factory)
    systems = {r.system: r for r in dc.candidates}
    assert set(systems) == {"gb300-nvl72", "gb200-nvl72"}
    assert all(r.tok_s > 0 for r in systems.values())
    # the winner per MW is the candidate with the most tokens/s per MW
    assert dc.winner_per_mw == max(systems.values(), key=lambda r: r.tok_s_per_mw).system and dc.why
