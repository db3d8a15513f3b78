"""Sourced demand and market data (gigafactory.demand): provenance, price medians, profiles, errors."""
from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest
import yaml

from gigafactory.catalog import load_catalog
from gigafactory.catalog.schema import CONFIDENCE_LEVELS
from gigafactory.demand import (
    HOURS_PER_WEEK,
    expand_profile,
    hourly_profile,
    load_market,
    load_prices,
    load_profiles,
    peak_to_mean,
    price_summary,
    profile_stats,
)
from gigafactory.demand.market import cache_hit_ratio, parse_market, parse_prices
from gigafactory.demand.profiles import expand, parse_profiles
from gigafactory.errors import CatalogDataError, InputError

DATA = Path(__file__).resolve().parents[1] / "src" / "gigafactory" / "demand" / "data"


def _raw(name: str) -> dict:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


def _numbers(node, path=""):
    """Yield (path, mapping) for every {value: ...} mapping and (path, None) for every bare number."""
    if isinstance(node, dict):
        if "value" in node:
            yield path, node
            return
        for k, v in node.items():
            yield from _numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, None


# ---------------------------------------------------------------------------------------------
# provenance


@pytest.mark.parametrize("name", ["market.yaml", "prices.yaml"])
def test_every_number_has_unit_source_date_confidence(name):
    doc = _raw(name)
    sources = doc.pop("sources", {})
    doc.pop("schema_version", None)
    found = list(_numbers(doc))
    assert len(found) > 50
    for path, item in found:
        assert item is not None, f"{name}: bare number at {path}"
        for key in ("unit", "source", "date", "confidence"):
            assert item.get(key) not in (None, "", []), f"{name}: {path} lacks {key}"
        assert item["confidence"] in CONFIDENCE_LEVELS, path
        srcs = item["source"] if isinstance(item["source"], list) else [item["source"]]
        assert all(s.startswith("http") or s in sources for s in srcs), path
        if item["confidence"] == "derived":
            assert item.get("note"), f"{name}: derived figure {path} must show its formula in note"


def test_loaders_keep_provenance():
    market = load_market()
    assert len(market.entries) > 90
    for path, fig in market:
        assert fig.unit and fig.source and fig.date and fig.confidence in CONFIDENCE_LEVELS, path
        assert all(s.startswith(("http://", "https://")) for s in fig.source), path  # keys resolved to URLs
    book = load_prices()
    for quotes in book.quotes.values():
        for q in quotes:
            assert q.input.unit == q.output.unit == "USD/Mtok"
            assert q.input.source and q.input.date


def test_priced_models_are_catalog_models():
    catalog = load_catalog()
    for model_id in load_prices().models():
        assert catalog.resolve_id("models", model_id) == model_id
    for served in ("llama-3.3-70b", "deepseek-r1", "gpt-oss-120b", "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b"):
        assert served in load_prices().quotes


# ---------------------------------------------------------------------------------------------
# prices


def test_price_medians_match_the_file():
    """Medians recomputed straight from prices.yaml with the statistics module (routers excluded)."""
    doc = _raw("prices.yaml")
    routers = {k for k, p in doc["providers"].items() if p["kind"] == "router"}
    for model_id, quotes in doc["models"].items():
        qs = [q for q in quotes if q["provider"] not in routers]
        ins = [q["input_usd_per_mtok"]["value"] for q in qs]
        outs = [q["output_usd_per_mtok"]["value"] for q in qs]
        s = price_summary(model_id)
        assert s.n_providers == len(qs)
        assert s.median_input_usd_per_mtok == pytest.approx(statistics.median(ins))
        assert s.median_output_usd_per_mtok == pytest.approx(statistics.median(outs))
        assert (s.min_input_usd_per_mtok, s.max_input_usd_per_mtok) == (min(ins), max(ins))
        assert (s.min_output_usd_per_mtok, s.max_output_usd_per_mtok) == (min(outs), max(outs))


def test_price_summary_reference_values():
    """Hand-checked medians of the served models (docs/market.md table): even counts average the two middle quotes."""
    llama = price_summary("llama-3.3-70b")
    assert (llama.n_providers, llama.median_input_usd_per_mtok, llama.median_output_usd_per_mtok) == (12, pytest.approx(0.595), pytest.approx(0.745))
    oss = price_summary("gpt-oss-120b")
    assert (oss.n_providers, oss.median_input_usd_per_mtok, oss.median_output_usd_per_mtok) == (11, pytest.approx(0.15), pytest.approx(0.60))
    r1 = price_summary("deepseek-r1")
    assert (r1.n_providers, r1.median_input_usd_per_mtok, r1.median_output_usd_per_mtok) == (8, pytest.approx(1.675), pytest.approx(3.95))
    med_in, med_out, lo, hi, n = price_summary("llama-3.3-70b")  # unpacks (blended 3:1 min / max)
    assert (med_in, med_out, n) == (llama.median_input_usd_per_mtok, llama.median_output_usd_per_mtok, 12)
    assert lo == pytest.approx(0.75 * 0.135 + 0.25 * 0.40) and hi == pytest.approx(0.75 * 0.85 + 0.25 * 1.20)  # Novita low, Cerebras high
    assert price_summary("llama-3.3-70b", include_routers=True).n_providers == 13


def test_price_summary_resolves_aliases_and_rejects_unknown_models():
    assert price_summary("meta-llama/Llama-3.3-70B-Instruct").model_id == "llama-3.3-70b"
    with pytest.raises(InputError) as exc:
        price_summary("llama-3.3-70")
    problem = exc.value.problems[0]
    assert "llama-3.3-70b" in problem.message and problem.fix and problem.field == "model"


def test_cache_hit_ratio_and_key_error_contract():
    """Median of cache-hit / cache-miss input price over the providers that publish one (DeepSeek 0.14/0.55)."""
    assert cache_hit_ratio("deepseek-r1") == pytest.approx(0.14 / 0.55)
    assert cache_hit_ratio("gpt-oss-120b") == pytest.approx(statistics.median([0.075 / 0.15, 0.014 / 0.15]))
    with pytest.raises(KeyError):  # no provider publishes one: callers fall back to no discount
        cache_hit_ratio("llama-3.3-70b")
    with pytest.raises(KeyError):  # unknown model: also an InputError with a fix
        price_summary("no-such-model")
    s = price_summary("deepseek-r1")
    assert (s.median_input, s.median_output) == (s.median_input_usd_per_mtok, s.median_output_usd_per_mtok)


def test_deepseek_first_party_and_schemes():
    r1 = next(q for q in load_prices().quotes["deepseek-r1"] if q.provider == "deepseek")
    assert (r1.input.value, r1.cached_input.value, r1.output.value) == (0.55, 0.14, 2.19)
    assert r1.input.confidence == "official"
    assert load_prices().scheme("deepseek.off_peak_discount_r1").value == 0.75


# ---------------------------------------------------------------------------------------------
# market anchors


def test_deepseek_day_is_self_consistent():
    """DeepSeek day-6 post (2025-03-01): revenue = tokens x R1 list price, cost = nodes x 8 x 24 x 2 USD.
    The stated 562,027 USD/day rounds the token counts (608B, 342B, 168B), hence 0.1 % tolerance."""
    m = load_market()
    def v(path):
        return m.get(f"deepseek_day.{path}").value

    hit, total, out = v("input_tokens_cache_hit"), v("input_tokens"), v("output_tokens")
    revenue = (hit * 0.14 + (total - hit) * 0.55 + out * 2.19) / 1e6
    assert revenue == pytest.approx(v("theoretical_revenue_per_day"), rel=1e-3)
    assert v("mean_nodes") * v("gpus_per_node") * 24 * v("gpu_rental_assumed") == pytest.approx(v("cost_per_day"))
    assert v("theoretical_revenue_per_day") / v("cost_per_day") - 1 == pytest.approx(v("cost_profit_margin"), abs=0.01)
    assert hit / total == pytest.approx(v("cache_hit_fraction"), abs=1e-3)
    assert v("peak_nodes") / v("mean_nodes") == pytest.approx(v("peak_to_mean_nodes"), abs=1e-3)


def test_neocloud_revenue_per_gw_year_is_the_stated_arithmetic():
    m = load_market()
    rev = m.get("neoclouds.coreweave.revenue_q3_2025").value
    end = m.get("neoclouds.coreweave.active_power_end_q3_2025").value / 1000
    start = m.get("neoclouds.coreweave.active_power_end_q2_2025").value / 1000
    assert rev * 4 / end == pytest.approx(m.get("neoclouds.coreweave.revenue_per_gw_year_end_power").value, rel=2e-3)
    assert rev * 4 / ((start + end) / 2) == pytest.approx(m.get("neoclouds.coreweave.revenue_per_gw_year_mean_power").value, rel=2e-3)
    assert m.get("capex_per_gw.nvidia_guidance").value == (50.0, 60.0)
    assert set(m.section("gpu_hour_prices.h100")) >= {"on_demand_median", "reserved_1yr"}


# ---------------------------------------------------------------------------------------------
# profiles


def test_profiles_have_168_hours_and_mean_one():
    ps = load_profiles()
    assert {"servegen-language-tokens", "servegen-reasoning-tokens", "servegen-multimodal-tokens", "flat"} <= set(ps.profiles)
    raw = _raw("profiles.yaml")["profiles"]
    for name, p in ps.profiles.items():
        assert p.values.shape == (HOURS_PER_WEEK,)
        assert p.values.mean() == pytest.approx(1.0, abs=1e-12)
        assert (p.values >= 0).all() and not p.values.flags.writeable
        stored = np.array(raw[name]["values"], dtype=float).ravel()
        assert stored.size == HOURS_PER_WEEK and stored.mean() == pytest.approx(1.0, abs=1e-3)
        assert p.source and p.date and p.confidence in CONFIDENCE_LEVELS


def test_profiles_match_the_bench_summary_statistics():
    """bench/demand_profiles.py wrote stats computed from the rounded values; recompute them here."""
    for name, p in load_profiles().profiles.items():
        stats = profile_stats(p.values)
        for key, value in stats.items():
            assert p.stats[key] == pytest.approx(value, abs=2e-3), (name, key)
        assert peak_to_mean(name) == pytest.approx(p.stats["peak_to_mean"], abs=2e-3)
        assert 1.0 <= stats["peak_to_mean"] < 3.0 and 0.0 < stats["trough_to_mean"] <= 1.0
        if name != "flat":
            assert 0 < p.stats["cv_10min"] < 1 and p.stats["p99_10min_to_mean"] > 1
    one_day = load_profiles()["servegen-reasoning-tokens"]
    assert one_day.stats["weekday_to_weekend"] == pytest.approx(1.0)  # 1-day trace tiled: no weekly shape
    assert load_profiles()["flat"].stats["peak_to_mean"] == 1.0
    assert set(load_profiles().burstiness) == {"azure-2023-conversation", "azure-2023-code"}


def test_expand_profile_wraps_the_week_from_a_start_weekday():
    assert np.array_equal(hourly_profile("servegen-language"), hourly_profile("servegen-language-tokens"))
    week = hourly_profile("chat")
    assert week.shape == (168,) and np.array_equal(week, load_profiles()["servegen-language-tokens"].values)
    two_weeks = expand_profile("chat", 2 * 168)
    assert np.array_equal(two_weeks[:168], week) and np.array_equal(two_weeks[168:], week)
    sunday_late = expand_profile("chat", 4, start_weekday="sunday", start_hour=22)
    assert np.array_equal(sunday_late, week[[166, 167, 0, 1]])
    assert np.array_equal(expand_profile("chat", 3, start_weekday=2, start_hour=5), week[53:56])
    assert expand(np.ones(168), 0).shape == (0,)
    with pytest.raises(ValueError):
        expand(np.ones(168), 5, start_weekday=7)
    with pytest.raises(InputError):
        expand_profile("chat", 5, start_weekday="someday")
    with pytest.raises(InputError) as exc:
        hourly_profile("chatt")
    assert "chat" in exc.value.problems[0].message


# ---------------------------------------------------------------------------------------------
# malformed data gives a clear error


def test_malformed_user_market_file_names_file_field_and_fix(tmp_path):
    bad = tmp_path / "market.yaml"
    bad.write_text(yaml.safe_dump({
        "schema_version": 1,
        "neoclouds": {"acme": {
            "revenue": 5,                                                            # bare number
            "power": {"value": 100, "source": "https://example.com", "date": "2025", "confidence": "official"},  # no unit
            "backlog": {"value": 1, "unit": "USD", "source": "nowhere", "date": "2025", "confidence": "official"},
            "arr": {"value": 1, "unit": "USD", "source": "https://example.com", "date": "May 2025", "confidence": "sure"},
        }},
    }))
    with pytest.raises(InputError) as exc:
        load_market(bad)
    problems = {p.field: p for p in exc.value.problems}
    assert set(problems) == {"neoclouds.acme.revenue", "neoclouds.acme.power.unit", "neoclouds.acme.backlog.source", "neoclouds.acme.arr.date"}
    assert all(p.file == str(bad) for p in problems.values())
    assert "unit" in problems["neoclouds.acme.revenue"].fix and problems["neoclouds.acme.power.unit"].fix
    text = str(exc.value)
    assert str(bad) in text and "fix:" in text


def test_malformed_bundled_data_is_a_catalog_error():
    doc = _raw("market.yaml")
    doc["capex_per_gw"]["bernstein_gb200"]["confidence"] = "very high"
    with pytest.raises(CatalogDataError, match=r"demand/data/market.yaml: capex_per_gw.bernstein_gb200.confidence"):
        parse_market(doc, "demand/data/market.yaml", bundled=True)
    prices = _raw("prices.yaml")
    prices["models"]["llama-3.3-70b"][1]["provider"] = "groq"  # duplicate provider
    prices["models"]["deepseek-r1"][0]["output_usd_per_mtok"]["unit"] = "USD/ktok"
    with pytest.raises(CatalogDataError) as exc:
        parse_prices(prices, "demand/data/prices.yaml", bundled=True)
    message = str(exc.value)
    assert "models.llama-3.3-70b[1].provider" in message and "one quote per provider" in message
    assert "models.deepseek-r1[0].output_usd_per_mtok.unit" in message and "USD/Mtok" in message


def test_malformed_profiles_file(tmp_path):
    doc = _raw("profiles.yaml")
    doc["profiles"]["flat"]["values"] = [1.0] * 167
    with pytest.raises(CatalogDataError, match="profiles.flat.values"):
        parse_profiles(doc, "demand/data/profiles.yaml", bundled=True)
    doc["profiles"]["flat"]["values"] = [2.0] * 168
    bad = tmp_path / "profiles.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError) as exc:
        load_profiles(bad)
    assert exc.value.problems[0].field == "profiles.flat.values" and "mean" in exc.value.problems[0].fix
