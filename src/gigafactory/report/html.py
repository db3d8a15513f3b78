"""Self-contained HTML report of a plan: one file that opens offline.

plotly.js is inlined once; every figure is a plotly div with a stable id (``figures.FIGURES``);
no request leaves the page (a Content-Security-Policy forbids any).  The headline numbers are
also embedded as JSON (``<script type="application/json" id="gf-summary">``) with their path in
result.json, so they can be checked against it.
"""
from __future__ import annotations

import html
import json
from typing import Any

from gigafactory.report.figures import FIGURES
from gigafactory.report.summary import (
    fmt_days,
    fmt_months,
    fmt_usd,
    fmt_usd_per_mtok,
    headlines,
    summary_json,
)

#: nothing may be fetched: scripts and styles are inline, images only data: URIs
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}

CSS = """
:root { --fg:#1d2330; --muted:#5b6475; --line:#dde2ea; --accent:#1f5fbf; --warn:#9a5b00; --bg-warn:#fff6e5; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: var(--fg);
       margin: 0; line-height: 1.45; background: #fafbfc; }
header { background: #14213d; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px 0; font-size: 24px; }
header p { margin: 2px 0; color: #cfd6e4; font-size: 13px; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); padding: 8px 28px; z-index: 10; font-size: 14px; }
nav a { margin-right: 16px; color: var(--accent); text-decoration: none; }
main { padding: 8px 28px 40px 28px; max-width: 1500px; }
section { margin-top: 26px; }
h2 { font-size: 20px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 16px; margin-bottom: 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 10px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 19px; font-weight: 600; }
table.data { border-collapse: collapse; background: #fff; font-size: 13px; margin: 6px 0 12px 0; }
table.data th, table.data td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
table.data th { background: #eef2f8; }
table.data td.num { text-align: right; font-variant-numeric: tabular-nums; }
.warnings li { background: var(--bg-warn); color: var(--warn); padding: 4px 8px; margin: 4px 0; border-radius: 4px; list-style: none; }
.figure { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 12px 0; padding: 4px; }
.muted { color: var(--muted); font-size: 13px; }
ul.sources a { word-break: break-all; }
pre { background: #fff; border: 1px solid var(--line); padding: 10px; overflow: auto; font-size: 12px; max-height: 520px; }
"""


def _e(value: Any) -> str:
    """Escape any value for HTML text or attribute content."""
    return html.escape("" if value is None else str(value), quote=True)


def _json_for_script(data: Any) -> str:
    """JSON that is safe inside a <script> element."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _table(header: list[str], rows: list[list[Any]], numeric: set[int] | None = None, table_id: str | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class=\"num\">{_e(c)}</td>" if i in numeric else f"<td>{_e(c)}</td>" for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    ident = f' id="{_e(table_id)}"' if table_id else ""
    return f"<table class=\"data\"{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:,.1f} ms"


def _figure_div(spec: Any, result: dict[str, Any]) -> str:
    fig = spec.build(result)
    body = fig.to_html(full_html=False, include_plotlyjs=False, div_id=spec.id, config=PLOT_CONFIG)
    return f'<div class="figure" data-figure="{_e(spec.id)}">{body}</div>'


def _headline_section(result: dict[str, Any]) -> str:
    cards = "".join(f'<div class="card" data-headline="{_e(h.id)}"><div class="label">{_e(h.label)}</div>'
                    f'<div class="value">{_e(h.text)}</div></div>' for h in headlines(result))
    return f'<section id="headline"><h2>Headline</h2><div class="cards">{cards}</div></section>'


def _warnings_section(result: dict[str, Any]) -> str:
    ec = result.get("economics") or {}
    warnings = [("economics", w) for w in ec.get("warnings") or []]
    for model, s in (result.get("serving") or {}).items():
        if not s.get("meets_slo"):
            warnings.append((f"serving {model}", s.get("reason") or "no configuration meets the SLO"))
    notes = [("economics", n) for n in ec.get("notes") or []]
    notes += [(f"site {s['name']}", n) for s in result["design"]["sites"] for n in s.get("notes") or []]
    w = "".join(f"<li><b>{_e(src)}:</b> {_e(text)}</li>" for src, text in warnings) or "<li>none</li>"
    n = "".join(f"<li><b>{_e(src)}:</b> {_e(text)}</li>" for src, text in notes) or "<li>none</li>"
    return (f'<section id="warnings"><h2>Warnings and notes</h2><h3>Warnings</h3><ul class="warnings">{w}</ul>'
            f"<h3>Notes</h3><ul>{n}</ul></section>")


def _figures(result: dict[str, Any], section: str) -> str:
    return "".join(_figure_div(spec, result) for spec in FIGURES if spec.section == section)


def _design_section(result: dict[str, Any]) -> str:
    de = result["design"]
    rows = []
    for s in de["sites"]:
        fab = ", ".join(f"{f['name']} {f['technology']} ×{f.get('count', 1)}" for f in s.get("fabrics") or [])
        rows.append([s["name"], s.get("limiting_factor", ""), f"{s.get('floor_area_m2', 0):,.0f}", f"{s.get('annual_energy_mwh', 0):,.0f}",
                     fab])
    extra = _table(["site", "limited by", "floor area [m²]", "annual energy [MWh]", "fabrics (islands)"], rows, {2, 3}, "gf-table-site-extra")
    return (f'<section id="design"><h2>Design</h2><p class="muted">{_e(len(de["sites"]))} site(s), base year {_e(de.get("base_year"))}, '
            f'{_e(de.get("currency"))}.</p>{_figures(result, "design")}{extra}</section>')


def _serving_section(result: dict[str, Any]) -> str:
    serving = result.get("serving") or {}
    cost = (result.get("economics") or {}).get("cost_per_mtok_usd") or {}
    rows = []
    for model, s in serving.items():
        cfg = s.get("config") or {}
        rows.append([model, s.get("system"), f"{s.get('share', 0):.0%}", s.get("precision"), f"{s.get('isl_tokens')} / {s.get('osl_tokens')}",
                     cfg.get("mode", "—"), cfg.get("layout", "—"), f"{s.get('tok_s_gpu') or 0:,.0f}", f"{s.get('tok_s_user') or 0:,.1f}",
                     f"{_ms(s.get('ttft_p99_s'))} / {_ms(s['slo']['ttft_p99_s'])}", f"{_ms(s.get('tpot_p99_s'))} / {_ms(s['slo']['tpot_p99_s'])}",
                     "yes" if s.get("meets_slo") else "no", fmt_usd_per_mtok(cost.get(model)), s.get("efficiency") or "—",
                     f"{_ms(s.get('ttft_p99_sim_s'))} / {_ms(s.get('tpot_p99_sim_s'))}",
                     "—" if s.get("slo_attainment_sim") is None else f"{s['slo_attainment_sim']:.1%}"])
    table = _table(["model", "system", "share", "precision", "ISL / OSL [tokens]", "mode", "layout", "tok/s/GPU", "tok/s/user",
                    "p99 TTFT est. / SLO", "p99 TPOT est. / SLO", "meets SLO", "cost [USD/Mtok]", "efficiency source",
                    "p99 TTFT / TPOT simulated", "requests within SLO (sim.)"],
                   rows, {2, 7, 8, 9, 10, 12, 14, 15}, "gf-table-serving")
    return f'<section id="serving"><h2>Serving</h2>{table}{_figures(result, "serving")}</section>'


def _rollout_section(result: dict[str, Any]) -> str:
    ro = result["rollout"]
    rows = [["deployment TTFT (first production token)", fmt_days(ro.get("plan_ttft_days")), fmt_days(ro.get("ttft_days_p10")),
             fmt_days(ro.get("ttft_days")), fmt_days(ro.get("ttft_days_p90"))],
            ["full capacity", fmt_days(ro.get("plan_full_capacity_days")), fmt_days(ro.get("full_capacity_days_p10")),
             fmt_days(ro.get("full_capacity_days")), fmt_days(ro.get("full_capacity_days_p90"))]]
    times = _table(["milestone (days since start " + str(ro.get("start_date")) + ")", "base plan", "P10", "P50", "P90"], rows, {1, 2, 3, 4},
                   "gf-table-rollout")
    cp = _table(["task on the critical path to first token", "share of samples"],
                [[c["task"], f"{c['share']:.0%}"] for c in ro.get("critical_path") or []], {1})
    labour = _table(["trade", "labour [hours]"], [[k, f"{v:,.0f}"] for k, v in (ro.get("labour_hours_by_trade") or {}).items()], {1})
    solver = ro.get("solver") or {}
    gap = "—" if solver.get("optimality_gap") is None else f"{solver['optimality_gap']:.1%}"
    headcount = "—" if ro.get("peak_headcount") is None else f"{ro['peak_headcount']:,}"
    staff = "—" if ro.get("permanent_staff_fte") is None else f"{ro['permanent_staff_fte']:,.0f}"
    info = (f"<p class=\"muted\">Method <b>{_e(ro.get('method'))}</b>, start {_e(ro.get('start_date'))}, "
            f"{_e(ro.get('monte_carlo_samples'))} Monte Carlo samples; solver {_e(solver.get('status'))} "
            f"(gap {_e(gap)}, {_e(solver.get('tasks'))} tasks); peak headcount {_e(headcount)}, "
            f"permanent staff {_e(staff)} FTE.</p>")
    sens = _table(["task durations (low → high end)", "first token [days]", "swing [days]"],
                  [[r["task"], f"{r['first_token_days_low']:,.0f} → {r['first_token_days_high']:,.0f}", f"{r['swing_days']:,.1f}"]
                   for r in ro.get("first_token_sensitivity") or []], {1, 2}, "gf-table-sensitivity")
    return (f'<section id="rollout"><h2>Rollout</h2>{info}{times}{_methods_block(result)}{_figures(result, "rollout")}'
            f'<div style="display:flex;gap:24px;flex-wrap:wrap"><div>{cp}</div><div>{sens}</div><div>{labour}</div></div></section>')


def _weeks(v: float | None) -> str:
    return "—" if v is None else f"{v:+.1f}"


def _methods_block(result: dict[str, Any]) -> str:
    """The programme's central claim: the same design under every build method."""
    m = result.get("methods")
    if not m:
        return ""
    rows = []
    for r in m["methods"]:
        p10 = fmt_days(r.get("ttft_days_p10"))
        p90 = fmt_days(r.get("ttft_days_p90"))
        rows.append([r["method"] + (" (this plan)" if r["method"] == m["chosen"] else ""), f"{p10} / {fmt_days(r['ttft_days'])} / {p90}",
                     fmt_days(r["full_capacity_days"]), f"{r['weeks_sooner_than_baseline']:+.1f}", _weeks(r.get("weeks_sooner_than_fast_track")),
                     fmt_usd(r["value_of_time_saved_usd"]), fmt_usd(r["npv_usd"]), fmt_usd(r["npv_gain_vs_baseline_usd"])])
    table = _table(["build method", "first token P10 / P50 / P90", "full capacity P50", f"weeks sooner than {m['baseline']}",
                    f"weeks sooner than {m.get('fast_track') or 'fast-track'}", "worth at the cost of delay", "NPV", f"NPV vs {m['baseline']}"],
                   rows, {1, 2, 3, 4, 5, 6, 7}, "gf-table-methods")
    return (f'<h3>Build methods on the same design</h3><p><b>{_e(m["headline"])}</b>. Cost of delay '
            f'{_e(fmt_usd(m["cost_of_delay_usd_per_week"]))} per week.</p>{table}')


def _demand_block(result: dict[str, Any]) -> str:
    """Who buys what: utilisation as an output, unserved demand, the revenue mix, demand vs capacity by year."""
    d = result.get("demand")
    if not d:
        return ""
    rows = []
    months = d["monthly"]
    for y in range(len(months) // 12):
        ms = months[12 * y:12 * (y + 1)]
        dem, cap, srv = (sum(m[k] for m in ms) for k in ("demand_tokens", "capacity_tokens", "served_tokens"))
        rows.append([f"year {y + 1}", f"{sum(m['gpus_online'] for m in ms) / 12:,.0f}", f"{sum(m['contract_gpus'] for m in ms) / 12:,.0f}",
                     f"{dem / 1e12:,.1f}", f"{cap / 1e12:,.1f}", f"{srv / 1e12:,.1f}", f"{d['utilisation_by_year'][y]:.0%}",
                     fmt_usd(d["revenue_by_year_usd"][y])])
    table = _table(["", "GPUs in service (mean)", "under contract", "token demand [T]", "token capacity [T]", "served [T]",
                    "utilisation", "revenue"], rows, {1, 2, 3, 4, 5, 6, 7}, "gf-table-demand")
    segs = _table(["segment", "kind", "unserved", "revenue", "price", "source"],
                  [[s["name"], s["kind"], f"{s['unserved_share']:.1%}", fmt_usd(s["revenue_usd"]),
                    (f"{s['price_output_usd_per_mtok']:.2f} USD/Mtok out" if s["price_output_usd_per_mtok"] is not None
                     else f"{s['price_usd_per_gpu_hour']:.2f} USD/GPU-h"), s["price_source"]] for s in d["segments"]], {2, 3})
    mix = ", ".join(f"{k} {v:.0%}" for k, v in d["revenue_mix"].items())
    note = "".join(f"<li>{_e(n)}</li>" for n in d.get("notes") or [])
    return (f'<h3>Demand and sales ({_e(d["mode"])})</h3><p>Utilisation {d["utilisation"]:.0%} of GPU-hours in service (an output of '
            f'demand against capacity, hour by hour); {d["unserved_share"]:.1%} of token demand unserved; revenue mix {_e(mix)}; '
            f'{_e(fmt_usd(d["revenue_per_gw_year_usd"]))} per GW-year in the last year.</p>{table}{segs}'
            + (f"<ul>{note}</ul>" if note else ""))


def _operations_section(result: dict[str, Any]) -> str:
    """Failures, spares, technicians and availability: what serving at scale loses and costs."""
    ops = result.get("operations")
    if not ops:
        return ""
    t = ops["total"]
    rows = []
    for s in ops["sites"]:
        trays = next((p["spares"] for p in s["spares"] if p["fru"] == "compute_tray"), 0)
        rows.append([s["site"], f"{s['gpus']:,}", f"{s['availability']:.3%}", f"{s['lost_maintenance']:.3%}",
                     f"{s['lost_trays'] + s['lost_racks'] + s['lost_restarts']:.3%}", f"{s['technicians_on_duty']} ({s['technician_fte']:.0f} FTE)",
                     f"{trays:,}", fmt_usd(s["spares_capex_usd"])])
    table = _table(["site", "GPUs", "availability", "lost to maintenance", "lost to failures", "technicians on duty", "spare compute trays",
                    "spares"], rows, {1, 2, 3, 4, 6, 7}, "gf-table-operations")
    c = ops["llama3_check"]
    notes = "".join(f"<li>{_e(n)}</li>" for n in ops.get("notes") or [])
    return (f'<section id="operations"><h2>Operations</h2><p>Availability <b>{t["availability"]:.3%}</b> of {t["gpus"]:,} GPUs at full build-out; '
            f'{t["failures_per_day"]:,.0f} failures a day; {t["technicians_on_duty"]} technicians on duty ({t["technician_fte"]:,.0f} FTE, '
            f'{_e(fmt_usd(t["technicians_usd_per_year"]))} a year); spares {_e(fmt_usd(t["spares_capex_usd"]))} ({t["spares_share_of_it_capex"]:.2%} '
            f'of GPU-system capex); lost {t["lost_gpu_hours_per_year"] / 1e6:,.2f} M GPU-hours a year ({_e(fmt_usd(t["lost_value_usd_per_year"]))}), '
            f'{t["lost_goodput_tok_s"]:,.0f} output tokens/s of goodput. The demand stage serves from this availability month by month.</p>{table}'
            f'<p class="muted">Model check: {c["predicted_interruptions"]:.0f} interruptions predicted for Llama 3\'s 16,384 H100 in 54 days, '
            f'{c["published_interruptions"]} published.</p>' + (f"<ul>{notes}</ul>" if notes else "") + "</section>")


def _devices_section(result: dict[str, Any]) -> str:
    """Personal AI on devices: the routing's split, latency per route, energy, cost per user, the fleet-aware saving."""
    d = result.get("devices")
    if not d or not d.get("fleets"):
        return ('<section id="devices"><h2>Devices</h2><p class="muted">No device fleets in this scenario.</p></section>')
    rows = [[f["name"], f"{f['device']} / {f['local_model']} {f['precision']}", f"{f['devices']:,}", f"{f['cloud_share']:.1%}",
             f"{f['forced_local_share']:.1%}", f"{f['forced_cloud_share']:.1%}", f"{_ms(f['local']['e2e_p50_s'])} / {_ms(f['local']['e2e_p99_s'])}",
             f"{_ms(f['cloud']['ttft_p50_s'])} / {_ms(f['cloud']['ttft_p99_s'])}", f"{_ms(f['cloud']['e2e_p50_s'])} / {_ms(f['cloud']['e2e_p99_s'])}",
             f"{f['energy_device_j_per_request']:,.0f}", f"{f['energy_factory_j_per_request']:,.0f}", f"{f['cloud_cost_usd_per_user_month']:.3f}"]
            for f in d["fleets"]]
    table = _table(["fleet", "device / model", "devices", "offloaded", "kept local by rule", "too long for device", "local e2e p50/p99",
                    "cloud TTFT p50/p99", "cloud e2e p50/p99", "J on device / request", "J in factory / request", "USD / user-month"],
                   rows, {2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, "gf-table-devices")
    a = d.get("fleet_aware")
    aware = "" if not a else (
        f"<p>Fleet-aware threshold (the same tokens offloaded per week, moved out of the factory's peak hours): peak load "
        f"{a['static_peak_tok_s']:,.0f} → {a['aware_peak_tok_s']:,.0f} tokens/s; GPUs for {_e(d['offload_model'])} {a['static_gpus']:,.0f} → "
        f"{a['aware_gpus']:,.0f} (<b>{a['gpus_saved']:,.0f} saved, {a['gpus_saved_share']:.1%}</b>) at equal SLO.</p>")
    notes = "".join(f"<li>{_e(n)}</li>" for n in d.get("notes") or [])
    return (f'<section id="devices"><h2>Devices</h2><p>{d["devices"]:,} devices make {d["requests_per_day"]:,.0f} requests a day; policy '
            f'<b>{_e(d["policy"])}</b> sends {d["cloud_share"]:.1%} to {_e(d["offload_model"])} ({d["cloud_output_tokens_per_day"]:.3g} output '
            f'tokens/day, peak/mean {d["peak_to_mean"]:.2f}). Peak hour at {d["peak_utilisation"]:.0%} of the model\'s capacity under SLO; '
            f'queue wait p99 {_ms(d["queue_wait_p99_s"])}; one GW serves {d["devices_per_gw"]:,.0f} such devices at SLO.</p>{table}{aware}'
            f'<p class="muted">Round trip: {_e(d["rtt_model"])}.</p>' + (f"<ul>{notes}</ul>" if notes else "") + "</section>")


def _economics_section(result: dict[str, Any]) -> str:
    ec = result["economics"]
    mc = ec.get("market_check") or []
    market = _table(["model", "modelled cost [USD/Mtok]", "list output price [USD/Mtok]", "price / cost"],
                    [[m["model"], fmt_usd_per_mtok(m.get("cost_per_mtok_usd")), fmt_usd_per_mtok(m.get("list_price_output_usd_per_mtok")),
                      "—" if m.get("price_over_cost") is None else f"{m['price_over_cost']:.2f}"] for m in mc], {1, 2, 3}, "gf-table-market")
    totals = _table(["total over the horizon", "USD"], [[k, fmt_usd(v)] for k, v in (ec.get("totals_usd") or {}).items()], {1})
    sold = ec.get("cost_per_sold_gpu_hour_usd")
    sold_text = "—" if sold is None else f"{sold:.2f} USD"
    info = (f"<p class=\"muted\">Cost of one week of delay: {_e(fmt_usd(ec.get('cost_of_delay_usd_per_week')))}; "
            f"discounted payback {_e(fmt_months(ec.get('discounted_payback_months')))}; cost per sold GPU-hour {_e(sold_text)}.</p>")
    return (f'<section id="economics"><h2>Economics</h2>{info}{_demand_block(result)}{_figures(result, "economics")}<h3>Market check</h3>{market}'
            f"<h3>Totals</h3>{totals}</section>")


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _flatten(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v))
    return out


def _assumptions_section(result: dict[str, Any]) -> str:
    ec = result.get("economics") or {}
    econ = _table(["economics assumption", "value"], [[k, v] for k, v in _flatten(ec.get("assumptions") or {})], None, "gf-table-assumptions")
    preset = (result.get("rollout") or {}).get("preset") or {}
    items = "".join(f"<li>{_e(a)}</li>" for a in preset.get("assumptions") or [])
    eff = _table(["model", "efficiency source"], [[m, s.get("efficiency") or "—"] for m, s in (result.get("serving") or {}).items()])
    return (f'<section id="assumptions"><h2>Assumptions</h2>{econ}<h3>Rollout preset: {_e(preset.get("name"))}</h3>'
            f"<p>{_e(preset.get('description'))}</p><ul>{items}</ul><h3>Performance model efficiency per model</h3>{eff}</section>")


def _sources_section(result: dict[str, Any]) -> str:
    entries = []
    for s in result.get("sources") or []:
        links = "".join(f'<li><a href="{_e(u)}" rel="noopener noreferrer nofollow">{_e(u)}</a></li>' for u in s.get("sources") or [])
        entries.append(f"<li><b>{_e(s.get('kind'))} / {_e(s.get('id'))}</b> — {_e(s.get('name'))}<ul class=\"sources\">{links}</ul></li>")
    return (f'<section id="sources"><h2>Sources</h2><p class="muted">Catalog {_e(result.get("catalog_version"))}: the entries this plan used and '
            f'the sources of their values (links are not loaded by this page).</p><ul>{"".join(entries)}</ul></section>')


def _scenario_section(result: dict[str, Any]) -> str:
    text = json.dumps(result.get("scenario"), indent=1, default=str)
    return (f'<section id="scenario"><h2>Scenario</h2><p class="muted">file {_e(result.get("scenario_file") or "—")}, sha256 '
            f'{_e(result.get("scenario_sha256"))}, seed {_e(result.get("seed"))}</p><details><summary>resolved scenario (JSON)</summary>'
            f"<pre>{_e(text)}</pre></details></section>")


def render_report(result: dict[str, Any]) -> str:
    """The report of a plan result (the content of result.json) as one self-contained HTML page."""
    from plotly.offline import get_plotlyjs

    name = result.get("scenario_name") or "plan"
    desc = (result.get("scenario") or {}).get("description") or ""
    sections = [_headline_section(result), _warnings_section(result), _design_section(result), _serving_section(result),
                _rollout_section(result), _operations_section(result), _devices_section(result), _economics_section(result), _assumptions_section(result), _sources_section(result),
                _scenario_section(result)]
    nav = "".join(f'<a href="#{s}">{s}</a>' for s in ("headline", "warnings", "design", "serving", "rollout", "operations", "devices", "economics", "assumptions",
                                                          "sources", "scenario"))
    # no wall-clock time here: the same scenario and seed give the same report, byte for byte (the run store keeps when)
    meta = (f"scenario sha256 {_e(str(result.get('scenario_sha256') or '')[:12])} · gigafactory {_e(result.get('gigafactory_version'))} · catalog "
            f"{_e(result.get('catalog_version'))} · seed {_e(result.get('seed'))}")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>gigafactory plan — {_e(name)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<header><h1>gigafactory plan — {_e(name)}</h1><p>{_e(desc)}</p><p>{meta}</p></header><nav>{nav}</nav><main>"
        + "".join(sections)
        + f'</main><script type="application/json" id="gf-summary">{_json_for_script(summary_json(result))}</script></body></html>\n'
    )
