"""The self-contained HTML report of `gigafactory plan` (no browser: see test_report_browser.py)."""
from __future__ import annotations

import copy
import html as htmllib
import json
import re

import pytest
import yaml
from conftest import REPO
from plotly.offline import get_plotlyjs

from gigafactory.display import human
from gigafactory.plan import run_plan
from gigafactory.report.figures import FIGURE_IDS, gantt_rows, power_sankey
from gigafactory.report.html import render_report
from gigafactory.report.summary import lookup
from gigafactory.scenario import default_scenario_path, parse_scenario_text

#: one plot per required figure (tables, power flow, rollout, Pareto, latency, costs, cash, tornado, Monte Carlo)
REQUIRED_FIGURES = ["gf-fig-sites", "gf-fig-bom", "gf-fig-power", "gf-fig-rollout", "gf-fig-pareto", "gf-fig-latency", "gf-fig-capex",
                    "gf-fig-yearly", "gf-fig-cash", "gf-fig-tornado", "gf-fig-montecarlo"]
REQUIRED_HEADLINES = ["ttft_days_p50", "ttft_days_p90", "first_token_date", "full_capacity_days_p50", "gpus", "facility_power_mw", "pue",
                      "capex_usd", "npv_usd", "irr", "payback_months"]
MAX_BYTES = 6_000_000


def _plan(catalog, text: str, name: str) -> dict:
    scn = parse_scenario_text(text, name, catalog)
    result = run_plan(catalog, scn, text, name, economics_samples=500, rollout_samples=100)
    return json.loads(json.dumps(result, default=str))  # exactly what result.json holds


@pytest.fixture(scope="module")
def small(catalog):
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "one", "region": "us-virginia", "facility_power_mw": 60.0}]
    result = _plan(catalog, yaml.safe_dump(data), "small.yaml")
    return result, render_report(result)


def _visible_text(page: str) -> str:
    body = re.sub(r"<script\b.*?</script>", " ", page, flags=re.S)
    body = re.sub(r"<style\b.*?</style>", " ", body, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", body))


def _summary(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="gf-summary">(.*?)</script>', page, flags=re.S)
    assert m, "gf-summary block missing"
    return json.loads(m.group(1))


def _card(page: str, headline_id: str) -> str:
    m = re.search(rf'data-headline="{re.escape(headline_id)}"><div class="label">.*?</div><div class="value">(.*?)</div>', page)
    assert m, f"headline card {headline_id} missing"
    return htmllib.unescape(m.group(1))


def test_self_contained(small):
    _, page = small
    assert len(page.encode()) < MAX_BYTES
    assert 'src="http' not in page and "src='http" not in page
    assert "<link" not in page, "no external stylesheet or font links"
    assert not re.search(r"<script[^>]*\bsrc=", page), "no external scripts"
    assert "@import" not in page and "url(http" not in page
    # the only hrefs are in-page anchors and the source links (never loaded)
    hrefs = re.findall(r'href="([^"]*)"', page.replace(get_plotlyjs(), ""))
    assert all(h.startswith("#") or h.startswith("http") for h in hrefs)
    assert all(re.search(rf'<a href="{re.escape(h)}" rel="noopener noreferrer nofollow">', page) for h in hrefs if h.startswith("http"))
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_plotly_js_inlined_exactly_once(small):
    _, page = small
    js = get_plotlyjs()
    assert page.count(js) == 1
    banner = js.lstrip()[:60]
    assert page.count(banner) == 1
    assert "cdn.plot.ly/plotly" not in page.replace(js, "")


def test_one_plot_div_per_figure(small):
    _, page = small
    assert set(REQUIRED_FIGURES) <= set(FIGURE_IDS)
    for fig_id in FIGURE_IDS:
        assert page.count(f'id="{fig_id}"') == 1, fig_id
    assert page.count('class="plotly-graph-div"') == len(FIGURE_IDS)


def test_summary_json_equals_result(small):
    result, page = small
    summary = _summary(page)
    ids = [h["id"] for h in summary["headlines"]]
    assert set(REQUIRED_HEADLINES) <= set(ids)
    assert {f"cost_per_mtok_usd:{m}" for m in result["serving"]} <= set(ids)
    text = _visible_text(page)
    for h in summary["headlines"]:
        assert lookup(result, h["path"]) == h["value"], h["id"]
        assert h["text"] in text, h["id"]
        assert _card(page, h["id"]) == h["text"]
    assert summary["sites"] == [s["name"] for s in result["design"]["sites"]]
    assert summary["models"] == list(result["serving"])
    assert summary["scenario_name"] == result["scenario_name"] and summary["seed"] == result["seed"]


def test_displayed_npv_and_ttft_match_result(small):
    result, page = small
    ro, ec = result["rollout"], result["economics"]
    assert _card(page, "npv_usd") == human(ec["npv_usd"], "USD")
    assert _card(page, "ttft_days_p50") == f"{ro['ttft_days']:.0f} days"
    assert _card(page, "ttft_days_p90") == f"{ro['ttft_days_p90']:.0f} days"
    assert _card(page, "first_token_date") == ro["first_token_date"]
    assert _card(page, "gpus") == f"{result['design']['gpus']:,}"


def test_every_site_model_and_source_appears(small):
    result, page = small
    text = _visible_text(page)
    for site in result["design"]["sites"]:
        assert site["name"] in text
    for model in result["serving"]:
        assert model in text
    for entry in result["sources"]:
        assert entry["id"] in text
        for url in entry["sources"]:
            assert f'href="{htmllib.escape(url, quote=True)}"' in page
    for warning in result["economics"]["warnings"]:
        assert warning in text
    for assumption in result["rollout"]["preset"]["assumptions"]:
        assert assumption in text


def test_text_is_escaped(small):
    result, _ = small
    evil = copy.deepcopy(result)
    evil["scenario"]["description"] = "<script>alert(1)</script>"
    evil["design"]["sites"][0]["name"] = "<b>x&y</b>"
    evil["economics"]["warnings"] = ["<img src=x onerror=alert(2)>"]
    page = render_report(evil)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<b>x&y</b>" not in page


def test_gantt_aggregates_scalable_unit_tasks(small):
    result, _ = small
    gantt = result["rollout"]["gantt"]
    rows = gantt_rows(gantt)
    site_tasks = [t for t in gantt if t["su"] is None]
    su_groups = {(t["site"], t["kind"]) for t in gantt if t["su"] is not None}
    assert len(rows) == len(site_tasks) + len(su_groups) < len(gantt)
    for r in rows:
        group = [t for t in gantt if t["site"] == r["site"] and t["kind"] == r["kind"] and t["su"] is not None]
        if r["n"] > 1 or group:
            assert r["n"] == len(group)
            assert r["start"] == min(t["start_day"] for t in group) and r["end"] == max(t["end_day"] for t in group)


def test_power_sankey_conserves_power(small):
    """Flows out of each site's grid node add up to the site's facility power, and the IT node's
    outflows to its inflow (the Sankey is a balance, not a sketch)."""
    result, _ = small
    sankey = power_sankey(result).data[0]
    src, dst, val = list(sankey.link.source), list(sankey.link.target), list(sankey.link.value)
    for i, site in enumerate(result["design"]["sites"]):
        assert sum(v for s, v in zip(src, val) if s == i) == pytest.approx(site["facility_power_mw"], rel=1e-9)
    it_node = next(j for j, label in enumerate(sankey.node.label) if label.startswith("IT load"))
    inflow = sum(v for d, v in zip(dst, val) if d == it_node)
    assert inflow == pytest.approx(result["design"]["it_power_mw"], rel=1e-9)
    assert sum(v for s, v in zip(src, val) if s == it_node) == pytest.approx(inflow, rel=1e-9)


def test_three_site_mixed_renders(catalog):
    path = REPO / "examples" / "three-site-mixed.yaml"
    result = _plan(catalog, path.read_text(), str(path))
    page = render_report(result)
    assert len(page.encode()) < MAX_BYTES
    text = _visible_text(page)
    assert [s["name"] for s in result["design"]["sites"]] == ["frankfurt", "riyadh", "iowa"]
    for name in ["frankfurt", "riyadh", "iowa", *result["serving"]]:
        assert name in text
    summary = _summary(page)
    for h in summary["headlines"]:
        assert lookup(result, h["path"]) == h["value"], h["id"]
        assert h["text"] in text
    if result["economics"]["payback_months"] is None:
        assert _card(page, "payback_months") == "not within the horizon"
    for fig_id in FIGURE_IDS:
        assert page.count(f'id="{fig_id}"') == 1


def test_yearly_bars_add_up_to_the_net_cash_flow():
    """Every cost line (insurance, property tax and licences included) is a bar, and what the lines
    do not hold (the residual value at the horizon) is its own bar: the stack equals the net line."""
    from gigafactory.report.figures import yearly_figure

    y = {"revenue": [0.0, 10.0, 10.0], "energy": [0.0, 1.0, 1.0], "staff": [0.5, 0.5, 0.5], "maintenance": [0.0, 1.0, 1.0],
         "insurance": [0.1, 0.2, 0.2], "property_tax": [0.1, 0.1, 0.1], "licences": [0.0, 0.3, 0.3], "tax": [0.0, 0.5, 0.5],
         "capex": [20.0, 0.0, 0.0], "spares": [0.5, 0.0, 0.0]}
    residual = [0.0, 0.0, 4.0]
    y["net"] = [y["revenue"][i] - sum(y[k][i] for k in ("energy", "staff", "maintenance", "insurance", "property_tax", "licences", "tax", "capex"))
                + residual[i] for i in range(3)]
    fig = yearly_figure({"economics": {"yearly_usd": y}})
    bars = [t for t in fig.data if t.type == "bar"]
    names = {t.name for t in bars}
    assert {"insurance (cost)", "property_tax (cost)", "licences (cost)", "residual value and other"} <= names
    assert "spares (cost)" not in names  # inside capex
    net = next(t for t in fig.data if t.type == "scatter")
    for i in range(3):
        assert sum(t.y[i] for t in bars) == pytest.approx(net.y[i])
