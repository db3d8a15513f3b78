"""Price decline tied to the next generation's performance per dollar (issue 14, item 2):
the formula, its monotonicity, the sourced successor map and fallback, the scenario's
"next-generation" form through the demand and economics stages, and bad input."""
from __future__ import annotations

import itertools
import math
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gigafactory.demand.decline import (
    HOURS_PER_YEAR,
    basket_ratio,
    cost_per_mtok_usd,
    decline_per_year,
    gpu_cost_usd_per_hour,
    load_generations,
    next_generation_decline,
)
from gigafactory.errors import InputError
from gigafactory.pipeline import Pipeline, RunOptions
from gigafactory.scenario import default_scenario_path, parse_scenario_text

OPTS = RunOptions(rollout_samples=0, economics_samples=0, duration_s=30.0)


def _scenario(catalog, system="gb300-nvl72", **finance):
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "solo", "region": "us-texas", "facility_power_mw": 100}]
    data["systems"] = {"default": system, "candidates": []}
    data["devices"] = {"fleets": []}
    data["finance"] = {**data["finance"], **finance}
    return parse_scenario_text(yaml.safe_dump(data), "d.yaml", catalog)


def test_formula_on_known_numbers():
    """Closed form: a token that costs half as much on a successor two years later declines by
    1 - 0.5^(1/2) = 29.29 % a year; a quarter one year later, 75 %."""
    assert decline_per_year(1.0, 0.5, 2.0) == pytest.approx(1 - math.sqrt(0.5))
    assert decline_per_year(0.4, 0.1, 1.0) == pytest.approx(0.75)
    assert decline_per_year(1.0, 1.0, 1.5) == pytest.approx(0.0)


def test_gpu_hour_and_token_cost_by_hand():
    """100k USD per GPU at a capital recovery factor of 0.25/yr, 1 kW at 12 USD/W of facility
    (CRF 0.1/yr) and 100 USD per MWh of IT energy: (25,000 + 1,200 + 876.6) / 8,766 h per GPU-hour;
    at 1,000 tokens/s (3.6 Mtok/h) a Mtok costs a 3.6th of that."""
    c = float(gpu_cost_usd_per_hour(100_000, 1_000, 12.0, 0.25, 0.10, 100.0))
    assert c == pytest.approx((25_000 + 1_200 + 1.0 * HOURS_PER_YEAR / 1e3 * 100) / HOURS_PER_YEAR)
    assert float(cost_per_mtok_usd(c, 1_000)) == pytest.approx(c / 3.6)
    assert math.isinf(float(cost_per_mtok_usd(c, 0.0)))


def test_basket_is_share_weighted_geometric_mean():
    assert basket_ratio([0.25, 1.0], [0.5, 0.5]) == pytest.approx(0.5)
    assert basket_ratio([0.5], [3.0]) == pytest.approx(0.5)


@settings(max_examples=60, deadline=None)
@given(now=st.floats(0.01, 10), better=st.floats(0.01, 0.99), years=st.floats(0.25, 4))
def test_a_better_successor_declines_faster(now, better, years):
    """Property: the cheaper the successor's token, the faster the decline; a decline stays in [0, 1)."""
    worse = min(1.0, better * 1.2)
    d_better, d_worse = float(decline_per_year(now, now * better, years)), float(decline_per_year(now, now * worse, years))
    assert 0.0 <= d_worse <= d_better < 1.0


def test_more_successor_tokens_per_gpu_declines_faster(catalog):
    cost = catalog.get("costs", "us-2025")
    shares = {"llama-3.3-70b": 1.0}
    now = {"llama-3.3-70b": 2000.0}
    slow = next_generation_decline(catalog, cost, "gb300-nvl72", now, {"llama-3.3-70b": 4000.0}, shares, 70.0)
    fast = next_generation_decline(catalog, cost, "gb300-nvl72", now, {"llama-3.3-70b": 8000.0}, shares, 70.0)
    assert slow.successor == "vera-rubin-nvl72" and 0 <= slow.per_year < fast.per_year < 1
    # a successor whose tokens cost more does not raise prices
    flat = next_generation_decline(catalog, cost, "gb300-nvl72", now, {"llama-3.3-70b": 100.0}, shares, 70.0)
    assert flat.per_year == 0.0


def test_successor_map_covers_the_catalog_and_is_sourced(catalog):
    """Every catalog system has a generation; successors ship later; each date carries its source."""
    gens = load_generations()
    assert set(gens.systems) == set(catalog.kind("systems"))
    order = ["hopper", "blackwell", "blackwell-ultra", "rubin"]
    assert [g for g in order if g in gens.generations] == order
    for a, b in itertools.pairwise(order):
        assert gens.generations[a].successor == b
        assert gens.generations[a].available.value < gens.generations[b].available.value
    for g in gens.generations.values():
        assert g.available.source and g.available.source[0].startswith("http") and g.available.date
    assert gens.systems["gb300-nvl72"] == ("blackwell-ultra", "vera-rubin-nvl72")


def test_newest_system_falls_back_with_its_source_named(catalog):
    """Vera Rubin has no successor in the catalog: the historical GPU price-performance decline
    (Epoch AI: ML GPUs' FLOP/s per USD doubles every 2.07 years -> 28.5 %/yr) applies, source named."""
    cost = catalog.get("costs", "us-2025")
    d = next_generation_decline(catalog, cost, "vera-rubin-nvl72", {"llama-3.3-70b": 1.0}, {}, {"llama-3.3-70b": 1.0}, 70.0)
    assert d.successor is None and d.per_year == pytest.approx(1 - 2 ** (-1 / 2.07), abs=1e-3)
    assert "Epoch AI" in d.source and "trends-in-gpu-price-performance" in d.source


def test_numbers_still_work_and_are_reported(catalog):
    d = Pipeline(catalog, _scenario(catalog, price_decline_per_year=0.3), OPTS).result("demand")
    assert d.price_decline_per_year == 0.3 and d.price_decline_source.startswith("scenario")


def test_next_generation_is_resolved_and_reported_in_demand_and_economics(catalog):
    """GB300 -> Vera Rubin: the decline comes from the perf search on both systems and their sourced
    prices; demand and economics report the same rate and where it came from."""
    p = Pipeline(catalog, _scenario(catalog, price_decline_per_year="next-generation"), OPTS)
    d, e = p.result("demand"), p.result("economics")
    assert 0.0 < d.price_decline_per_year < 1.0
    assert "gb300-nvl72" in d.price_decline_source and "vera-rubin-nvl72" in d.price_decline_source
    assert e.assumptions.price_decline_per_year == d.price_decline_per_year
    assert e.assumptions.price_decline_source == d.price_decline_source
    assert e.totals_usd.revenue == pytest.approx(d.revenue_usd, rel=1e-9)


def test_a_rubin_factory_uses_the_fallback(catalog):
    d = Pipeline(catalog, _scenario(catalog, system="vera-rubin-nvl72", price_decline_per_year="next-generation"), OPTS).result("demand")
    assert d.price_decline_per_year == pytest.approx(0.285) and "no successor" in d.price_decline_source


@pytest.mark.parametrize("value", ["next-gen", 1.5, -0.1, True])
def test_bad_decline_is_a_named_problem(catalog, value):
    with pytest.raises(InputError) as exc:
        _scenario(catalog, price_decline_per_year=value)
    probs = exc.value.problems
    assert len(probs) == 1 and probs[0].field == "finance.price_decline_per_year"
    assert "next-generation" in probs[0].message or "boolean" in probs[0].message


def test_check_exits_2_on_an_unknown_string(tmp_path):
    import re

    text = re.sub(r"price_decline_per_year: [^\n]*", "price_decline_per_year: moores-law", default_scenario_path().read_text())
    assert "moores-law" in text
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    r = subprocess.run([sys.executable, "-m", "gigafactory.cli", "check", str(f)], capture_output=True, text=True, check=False)
    assert r.returncode == 2
    assert "finance.price_decline_per_year" in r.stdout + r.stderr and "next-generation" in r.stdout + r.stderr
