"""Plotly figures of a plan result, one function per figure.

Each builder takes the plan result (the content of result.json) and returns a
``plotly.graph_objects.Figure`` whose axes carry their units.  ``FIGURES`` lists them in report
order with the stable id of the div the report puts them in.  Text that comes from the scenario
(site and model names, task ids) is HTML-escaped because plotly interprets a subset of HTML in
labels.
"""
from __future__ import annotations

import functools

import html
import textwrap
from dataclasses import dataclass
from typing import Any, Callable

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from gigafactory.report.summary import date_after, fmt_days, fmt_months, fmt_usd

COLOURS = qualitative.Plotly
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
#: order of task kinds in the Gantt (site-level first, then the per-SU chain, then software)
GANTT_KINDS = ["grid", "power", "lead", "civil", "shell", "fitout", "energise", "integrate", "ship", "receive", "install", "l12", "burn_in",
               "accept", "software"]
#: one distinct colour per task kind (plotly's 10-colour cycle would repeat)
GANTT_COLOURS = dict(zip(GANTT_KINDS, ["#393b79", "#8c6d31", "#7f7f7f", "#8c564b", "#bcbd22", "#9467bd", "#d62728", "#17becf", "#aec7e8",
                                       "#98df8a", "#1f77b4", "#ff7f0e", "#ffbb78", "#2ca02c", "#e377c2"]))
CAPEX_CATEGORIES = ["gpu_systems", "network", "storage", "power", "cooling", "building", "soft_costs"]


def _t(text: Any) -> str:
    """Escape text for a plotly label (plotly renders a subset of HTML)."""
    return html.escape(str(text), quote=False)


def _wrap(text: Any, width: int = 78) -> str:
    """Escape ``text`` and break it into lines of at most ``width`` characters (plotly tables do not
    wrap long URLs)."""
    lines = textwrap.wrap(str(text), width, break_long_words=True, break_on_hyphens=False)
    return "<br>".join(_t(line) for line in lines)


def usd_scale(values: list[float]) -> tuple[float, str]:
    """(divisor, unit label) that shows ``values`` in B, M or k USD."""
    peak = max((abs(v) for v in values if v is not None), default=0.0)
    for factor, label in ((1e9, "B USD"), (1e6, "M USD"), (1e3, "k USD")):
        if peak >= factor:
            return factor, label
    return 1.0, "USD"


@functools.lru_cache(maxsize=1)
def _template() -> Any:
    """plotly_white, looked up once: naming it in every figure deep-copies it each time (~0.2 s a report)."""
    import plotly.io as pio

    return pio.templates["plotly_white"]


def _layout(fig: go.Figure, title: str, height: int = 460, **kw: Any) -> go.Figure:
    kw.setdefault("margin", {"l": 70, "r": 30, "t": 70, "b": 60})
    fig.update_layout(title={"text": title, "x": 0.01, "xanchor": "left"}, template=_template(), height=height,
                      font={"family": FONT, "size": 12}, **kw)
    return fig


def _fmt_num(v: Any, digits: int = 0) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and digits == 0 and float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.{digits}f}"


# ---------------------------------------------------------------- 1. tables

def site_table(result: dict[str, Any]) -> go.Figure:
    """Per site and total: GPUs, racks, SUs, IT MW, facility MW, PUE, WUE, capex."""
    de = result["design"]
    rows = []
    for s in de["sites"]:
        rows.append([_t(s["name"]), _t(s.get("region", "")), _t(s.get("system", "")), _t(s.get("cooling", "")), _fmt_num(s["gpus"]),
                     _fmt_num(s["racks"]), _fmt_num(s["scalable_units"]), _fmt_num(s["it_power_mw"], 1), _fmt_num(s["facility_power_mw"], 1),
                     f"{s['pue']:.3f}", f"{s.get('pue_design', float('nan')):.3f}", f"{s.get('wue_l_per_kwh', 0.0):.2f}", fmt_usd(s["capex_usd"])])
    rows.append(["<b>total</b>", "", "", "", _fmt_num(de["gpus"]), _fmt_num(de["racks"]), _fmt_num(de["scalable_units"]),
                 _fmt_num(de["it_power_mw"], 1), _fmt_num(de["facility_power_mw"], 1), f"{de['pue']:.3f}", "",
                 f"{de.get('wue_l_per_kwh', 0.0):.2f}", fmt_usd(de["capex_usd"])])
    header = ["site", "region", "system", "cooling", "GPUs", "racks", "SUs", "IT power [MW]", "facility power [MW]", "PUE (annual) [-]",
              "PUE (design) [-]", "WUE [L/kWh]", "capex [USD]"]
    cols = [list(c) for c in zip(*rows)]
    fig = go.Figure(go.Table(
        columnwidth=[90, 90, 100, 110, 70, 60, 50, 70, 80, 70, 70, 60, 90],
        header={"values": [f"<b>{h}</b>" for h in header], "fill_color": "#e8edf5", "align": "left"},
        cells={"values": cols, "align": ["left"] * 4 + ["right"] * 9, "height": 26},
    ))
    return _layout(fig, "Sites: design summary", height=140 + 28 * len(rows), margin={"l": 10, "r": 10, "t": 50, "b": 10})


def bom_table(result: dict[str, Any]) -> go.Figure:
    """The programme bill of materials: category, item, count, unit cost, total, source."""
    bom = result["design"].get("bom") or []
    cols: list[list[str]] = [[], [], [], [], [], []]
    for line in bom:
        unit = line.get("unit_cost_usd")
        cells = [_t(line["category"]), _wrap(line["item"], 42), _fmt_num(line["count"]),
                 "—" if unit is None else f"{unit:,.2f}" if abs(unit) < 100 else f"{unit:,.0f}", f"{line['total_usd']:,.0f}", _wrap(line.get("source", ""))]
        for c, v in zip(cols, cells):
            c.append(v)
    total = sum(line["total_usd"] for line in bom)
    for c, v in zip(cols, ["<b>total</b>", "", "", "", f"<b>{total:,.0f}</b>", "bottom-up and top-down lines"]):
        c.append(v)
    fig = go.Figure(go.Table(
        columnwidth=[70, 170, 70, 80, 100, 330],
        header={"values": ["<b>category</b>", "<b>item</b>", "<b>count</b>", "<b>unit cost [USD]</b>", "<b>total [USD]</b>", "<b>source</b>"],
                "fill_color": "#e8edf5", "align": "left"},
        cells={"values": cols, "align": ["left", "left", "right", "right", "right", "left"], "font": {"size": 11}},
    ))
    height = 100 + sum(8 + 16 * max(1, c.count("<br>") + 1, a.count("<br>") + 1) for c, a in zip(cols[5], cols[1]))
    return _layout(fig, "Bill of materials (programme)", height=min(2400, height), margin={"l": 10, "r": 10, "t": 50, "b": 10})


# ---------------------------------------------------------------- 2. power flow

def _non_compute_mw(site: dict[str, Any]) -> float | None:
    """Network + storage + management IT load [MW], as the design recorded it (None in results
    written before the field existed: the Sankey then keeps IT as one node)."""
    value = site.get("non_compute_mw")
    return None if value is None else float(value)


def power_sankey(result: dict[str, Any]) -> go.Figure:
    """Grid (facility power at design load) → power-chain losses / cooling & facility overhead → IT → compute / other."""
    sites = result["design"]["sites"]
    labels_base = ["power-chain losses", "cooling & facility overhead", "IT load", "compute (GPU systems)", "network, storage, management"]
    n_sites = len(sites)
    idx = {name: n_sites + i for i, name in enumerate(labels_base)}
    src: list[int] = []
    dst: list[int] = []
    val: list[float] = []
    totals = dict.fromkeys(labels_base, 0.0)
    site_labels = []
    for i, s in enumerate(sites):
        fac = float(s["facility_power_mw"])
        it = float(s["it_power_mw"])
        chain = s.get("power_chain") or {}
        mech = float(chain.get("mechanical_mw", fac - it))
        loss = max(0.0, fac - it - mech)
        mech = max(0.0, fac - it - loss)
        other = _non_compute_mw(s)
        flows = [(i, idx["power-chain losses"], loss), (i, idx["cooling & facility overhead"], mech), (i, idx["IT load"], it)]
        totals["power-chain losses"] += loss
        totals["cooling & facility overhead"] += mech
        totals["IT load"] += it
        if other is not None and 0 < other < it:
            flows += [(idx["IT load"], idx["compute (GPU systems)"], it - other), (idx["IT load"], idx["network, storage, management"], other)]
            totals["compute (GPU systems)"] += it - other
            totals["network, storage, management"] += other
        for a, b, v in flows:
            if v > 0:
                src.append(a)
                dst.append(b)
                val.append(v)
        site_labels.append(f"grid → {_t(s['name'])} {fac:,.1f} MW (PUE design {s.get('pue_design', fac / it):.3f})")
    labels = site_labels + [f"{name} {totals[name]:,.1f} MW" for name in labels_base]
    colours = [COLOURS[i % len(COLOURS)] for i in range(n_sites)] + ["#d62728", "#17becf", "#2ca02c", "#1f77b4", "#9467bd"]
    fig = go.Figure(go.Sankey(
        valueformat=",.1f", valuesuffix=" MW",
        node={"label": labels, "color": colours, "pad": 18, "thickness": 18},
        link={"source": src, "target": dst, "value": val, "hovertemplate": "%{source.label} → %{target.label}: %{value:,.1f} MW<extra></extra>"},
    ))
    total = sum(float(s["facility_power_mw"]) for s in sites)
    return _layout(fig, f"Power flow at design load [MW]: facility {total:,.1f} MW = IT × design PUE", height=440)


# ---------------------------------------------------------------- 3. rollout

def gantt_rows(gantt: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Site-level tasks as they are; scalable-unit tasks merged per (site, kind) into one bar
    from the first start to the last end (thousands of SU tasks otherwise)."""
    rows: list[dict[str, Any]] = []
    agg: dict[tuple[str, str], dict[str, Any]] = {}
    for t in gantt:
        if t.get("su") is None:
            rows.append({"site": t["site"], "kind": t["kind"], "label": t["id"], "start": float(t["start_day"]), "end": float(t["end_day"]), "n": 1})
        else:
            key = (t["site"], t["kind"])
            a = agg.setdefault(key, {"site": t["site"], "kind": t["kind"], "label": f"{t['site']}/SU {t['kind']}", "start": float("inf"),
                                     "end": float("-inf"), "n": 0})
            a["start"] = min(a["start"], float(t["start_day"]))
            a["end"] = max(a["end"], float(t["end_day"]))
            a["n"] += 1
    return rows + list(agg.values())


def rollout_figure(result: dict[str, Any]) -> go.Figure:
    """Gantt (site tasks, SU tasks aggregated) over the capacity ramp, with the first-token marker."""
    ro = result["rollout"]
    start = ro["start_date"]
    rows = gantt_rows(ro.get("gantt") or [])
    sites = list(dict.fromkeys([s["name"] for s in result["design"]["sites"]] + [r["site"] for r in rows]))
    kinds = [k for k in GANTT_KINDS if any(r["kind"] == k for r in rows)] + sorted({r["kind"] for r in rows} - set(GANTT_KINDS))
    ylabels = [f"{_t(s)} · {k}" for s in sites for k in kinds if any(r["site"] == s and r["kind"] == k for r in rows)]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.68, 0.32],
                        specs=[[{}], [{"secondary_y": True}]])
    for i, k in enumerate(kinds):
        ks = [r for r in rows if r["kind"] == k]
        fig.add_trace(go.Bar(
            orientation="h", base=[r["start"] for r in ks], x=[max(r["end"] - r["start"], 0.5) for r in ks],
            y=[f"{_t(r['site'])} · {k}" for r in ks], name=k, legendgroup="tasks", marker_color=GANTT_COLOURS.get(k, COLOURS[i % len(COLOURS)]),
            customdata=[[_t(r["label"]), r["start"], r["end"], date_after(start, r["start"]), date_after(start, r["end"]), r["n"]] for r in ks],
            hovertemplate="%{customdata[0]} (%{customdata[5]} task(s))<br>day %{customdata[1]:.0f} → %{customdata[2]:.0f}"
                          "<br>%{customdata[3]} → %{customdata[4]}<extra></extra>",
        ), row=1, col=1)
    ramp = ro.get("ramp") or []
    x = [w["week"] * 7 for w in ramp]
    fig.add_trace(go.Scatter(x=x, y=[w["gpus"] for w in ramp], name="GPUs online", mode="lines", line={"shape": "hv", "color": "#1f77b4", "width": 5},
                             opacity=0.5,
                             customdata=[w["date"] for w in ramp], hovertemplate="%{customdata}: %{y:,} GPUs<extra></extra>"),
                  row=2, col=1, secondary_y=False)
    fig.add_trace(go.Scatter(x=x, y=[w["tok_s"] for w in ramp], name="tokens/s", mode="lines", line={"shape": "hv", "color": "#ff7f0e", "dash": "dot"},
                             customdata=[w["date"] for w in ramp], hovertemplate="%{customdata}: %{y:,.3s} tok/s<extra></extra>"),
                  row=2, col=1, secondary_y=True)
    p50, p10, p90 = ro.get("ttft_days"), ro.get("ttft_days_p10"), ro.get("ttft_days_p90")
    if p10 is not None and p90 is not None:
        fig.add_vrect(x0=p10, x1=p90, fillcolor="#d62728", opacity=0.10, line_width=0, row="all", col=1)
    if p50 is not None:
        fig.add_vline(x=p50, line={"color": "#d62728", "width": 2, "dash": "dash"}, row="all", col=1)
        band = f", P10–P90 {p10:.0f}–{p90:.0f} days" if p10 is not None and p90 is not None else ""
        fig.add_annotation(x=p50, y=1.0, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                           text=f"first production token P50: {fmt_days(p50)} ({ro.get('first_token_date')}){band}", font={"color": "#d62728"})
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(ylabels)), title_text="task (site · kind)", row=1, col=1)
    fig.update_yaxes(title_text="GPUs online [GPUs]", rangemode="tozero", row=2, col=1, secondary_y=False)
    fig.update_yaxes(title_text="output tokens/s [tok/s]", rangemode="tozero", showgrid=False, row=2, col=1, secondary_y=True)
    fig.update_xaxes(title_text=f"days since start ({_t(start)}) [days]", row=2, col=1)
    height = 330 + 17 * len(ylabels)
    return _layout(fig, f"Rollout ({_t(ro.get('method', ''))}): tasks and capacity ramp", height=height, barmode="overlay",
                   legend={"orientation": "v", "x": 1.08}, margin={"l": 150, "r": 40, "t": 90, "b": 60})


# ---------------------------------------------------------------- 4. Pareto

def pareto_figure(result: dict[str, Any]) -> go.Figure:
    """Pareto frontier per model (tok/s/user vs tok/s/GPU) with the chosen configuration."""
    fr = result.get("frontiers") or {}
    serving = result.get("serving") or {}
    fig = go.Figure()
    for i, (model, pts) in enumerate((fr.get("models") or {}).items()):
        colour = COLOURS[i % len(COLOURS)]
        pts = sorted(pts, key=lambda p: p["tok_s_user"])
        fig.add_trace(go.Scatter(
            x=[p["tok_s_user"] for p in pts], y=[p["tok_s_gpu"] for p in pts], mode="lines+markers", name=_t(model), legendgroup=_t(model),
            line={"color": colour}, marker={"size": 6},
            customdata=[[_t(p["mode"]), _t(p["layout"]), p["concurrency"], p["ttft_s"] * 1e3, p["tpot_s"] * 1e3] for p in pts],
            hovertemplate=_t(model) + ": %{customdata[0]} %{customdata[1]} c=%{customdata[2]}<br>%{x:,.1f} tok/s/user, %{y:,.0f} tok/s/GPU"
                          "<br>TTFT %{customdata[3]:,.0f} ms, TPOT %{customdata[4]:,.1f} ms<extra></extra>",
        ))
        chosen = serving.get(model) or {}
        if chosen.get("tok_s_user") and chosen.get("tok_s_gpu"):
            cfg = chosen.get("config") or {}
            fig.add_trace(go.Scatter(
                x=[chosen["tok_s_user"]], y=[chosen["tok_s_gpu"]], mode="markers", name=f"{_t(model)}: chosen", legendgroup=_t(model),
                marker={"symbol": "star", "size": 17, "color": colour, "line": {"color": "black", "width": 1}},
                hovertemplate=f"{_t(model)} chosen under SLO: {_t(cfg.get('mode', ''))} {_t(cfg.get('layout', ''))}"
                              "<br>%{x:,.1f} tok/s/user, %{y:,.0f} tok/s/GPU<extra></extra>",
            ))
    fig.update_xaxes(type="log", dtick=1, title_text="output tokens/s per user [tok/s] (log)")
    fig.update_yaxes(type="log", dtick=1, title_text="output tokens/s per GPU [tok/s] (log)")
    return _layout(fig, f"Pareto frontiers on {_t(fr.get('system', ''))} (★ = configuration chosen under the SLO)", height=500)


# ---------------------------------------------------------------- 5. latency

def latency_figure(result: dict[str, Any]) -> go.Figure:
    """Estimated and simulated p99 TTFT and TPOT of the chosen configuration vs the SLO, per model [ms]."""
    serving = result.get("serving") or {}
    models = list(serving)
    fig = make_subplots(rows=1, cols=2, subplot_titles=["p99 time to first token (TTFT)", "p99 time per output token (TPOT)"])
    for col, key in ((1, "ttft_p99_s"), (2, "tpot_p99_s")):
        est = [(serving[m].get(key) or 0.0) * 1e3 for m in models]
        slo = [serving[m]["slo"][key] * 1e3 for m in models]
        colours = ["#2ca02c" if serving[m].get(key) is not None and e <= s else "#d62728" for m, e, s in zip(models, est, slo)]
        fig.add_trace(go.Bar(x=[_t(m) for m in models], y=est, name="estimated p99 (chosen config)", marker_color=colours,
                             legendgroup="est", showlegend=col == 1, hovertemplate="%{x}: %{y:,.1f} ms<extra>estimate</extra>"), row=1, col=col)
        sim_key = key.replace("_p99_s", "_p99_sim_s")
        if any(serving[m].get(sim_key) is not None for m in models):
            sim = [(serving[m].get(sim_key) or 0.0) * 1e3 for m in models]
            fig.add_trace(go.Bar(x=[_t(m) for m in models], y=sim, name="simulated p99 (trace replay)", marker_color="#1f77b4",
                                 legendgroup="sim", showlegend=col == 1, hovertemplate="%{x}: %{y:,.1f} ms<extra>simulated</extra>"), row=1, col=col)
        fig.add_trace(go.Bar(x=[_t(m) for m in models], y=slo, name="SLO (p99 limit)", marker_color="#7f7f7f", opacity=0.55,
                             legendgroup="slo", showlegend=col == 1, hovertemplate="%{x}: %{y:,.1f} ms<extra>SLO</extra>"), row=1, col=col)
        fig.update_yaxes(title_text="latency [ms]", rangemode="tozero", row=1, col=col)
        fig.update_xaxes(title_text="model", row=1, col=col)
    return _layout(fig, "Latency of the chosen configuration vs SLO [ms] (green: within SLO, red: above or none)", height=440, barmode="group")


# ---------------------------------------------------------------- 6. costs

def capex_figure(result: dict[str, Any]) -> go.Figure:
    """Capex by category, stacked per site."""
    sites = result["design"]["sites"]
    cats = list(dict.fromkeys(CAPEX_CATEGORIES + [c for s in sites for c in s.get("capex_breakdown_usd", {})]))
    factor, unit = usd_scale([s["capex_usd"] for s in sites])
    fig = go.Figure()
    for i, c in enumerate(cats):
        y = [s.get("capex_breakdown_usd", {}).get(c, 0.0) / factor for s in sites]
        if any(y):
            fig.add_trace(go.Bar(x=[_t(s["name"]) for s in sites], y=y, name=c.replace("_", " "), marker_color=COLOURS[i % len(COLOURS)],
                                 hovertemplate="%{x}: %{y:,.2f} " + unit + "<extra>" + c + "</extra>"))
    fig.update_xaxes(title_text="site")
    fig.update_yaxes(title_text=f"capex [{unit}]")
    return _layout(fig, f"Capex by category and site [{unit}]", height=440, barmode="stack")


def yearly_figure(result: dict[str, Any]) -> go.Figure:
    """Yearly revenue (positive) and costs (negative) with the net cash flow."""
    y = (result["economics"].get("yearly_usd") or {})
    years = len(y.get("net") or y.get("revenue") or [])
    # every cost line of the cash flow (spares are inside capex), so that the bars add up to the net line
    costs = [k for k in ("energy", "staff", "maintenance", "insurance", "property_tax", "licences", "tax", "capex") if k in y]
    series = (["revenue"] if "revenue" in y else []) + costs
    signed = {k: [(1 if k == "revenue" else -1) * v for v in y[k]] for k in series}
    if "net" in y:  # what the lines above do not hold: the residual value at the horizon (and any other flow)
        other = [n - sum(signed[k][i] for k in series) for i, n in enumerate(y["net"])]
        if any(abs(v) > 1e-6 * max(1.0, abs(n)) for v, n in zip(other, y["net"])):
            signed["residual value and other"] = other
            series.append("residual value and other")
    factor, unit = usd_scale([v for k in series for v in signed[k]] + list(y.get("net", [])))
    x = [f"year {i + 1}" for i in range(years)]
    fig = go.Figure()
    for i, k in enumerate(series):
        fig.add_trace(go.Bar(x=x, y=[v / factor for v in signed[k]], name=f"{k} (cost)" if k in costs else k,
                             marker_color=COLOURS[i % len(COLOURS)], hovertemplate="%{x}: %{y:,.2f} " + unit + "<extra>" + k + "</extra>"))
    if "net" in y:
        fig.add_trace(go.Scatter(x=x, y=[v / factor for v in y["net"]], name="net cash flow", mode="lines+markers", line={"color": "black"},
                                 hovertemplate="%{x}: %{y:,.2f} " + unit + "<extra>net</extra>"))
    fig.update_xaxes(title_text="year from start [years]")
    fig.update_yaxes(title_text=f"cash flow [{unit}/year]")
    return _layout(fig, f"Yearly revenue and costs [{unit}/year] (costs shown negative)", height=460, barmode="relative")


# ---------------------------------------------------------------- 7. cumulative cash

def cash_figure(result: dict[str, Any]) -> go.Figure:
    """Cumulative cash by month with the payback month marked."""
    ec = result["economics"]
    cash = ec.get("cumulative_cash_usd") or []
    factor, unit = usd_scale(cash)
    fig = go.Figure(go.Scatter(x=list(range(len(cash))), y=[c / factor for c in cash], mode="lines", name="cumulative cash",
                               line={"color": "#1f77b4"}, fill="tozeroy", hovertemplate="month %{x}: %{y:,.2f} " + unit + "<extra></extra>"))
    fig.add_hline(y=0, line={"color": "#444", "width": 1})
    pb = ec.get("payback_months")
    if pb is not None:
        fig.add_vline(x=pb, line={"color": "#2ca02c", "width": 2, "dash": "dash"})
        fig.add_annotation(x=pb, y=1, yref="paper", yanchor="bottom", showarrow=False, text=f"payback {fmt_months(pb)}", font={"color": "#2ca02c"})
    else:
        fig.add_annotation(x=0.5, y=0.95, xref="paper", yref="paper", showarrow=False, text="no payback within the horizon", font={"color": "#d62728"})
    dpb = ec.get("discounted_payback_months")
    if dpb is not None:
        fig.add_vline(x=dpb, line={"color": "#9467bd", "width": 1, "dash": "dot"})
        fig.add_annotation(x=dpb, y=0.92, yref="paper", xanchor="left", showarrow=False, text=f" discounted payback {fmt_months(dpb)}",
                           font={"color": "#9467bd"})
    fig.update_xaxes(title_text="months since start [months]")
    fig.update_yaxes(title_text=f"cumulative cash [{unit}]")
    return _layout(fig, f"Cumulative cash (monthly, undiscounted) [{unit}]", height=420)


# ---------------------------------------------------------------- 8. tornado

def tornado_figure(result: dict[str, Any]) -> go.Figure:
    """NPV at the low and high value of each input, largest swing on top."""
    ec = result["economics"]
    rows = sorted(ec.get("tornado") or [], key=lambda r: r["swing_usd"])
    base = ec.get("npv_usd") if not rows else rows[0]["base_npv_usd"]
    factor, unit = usd_scale([r["npv_low_usd"] for r in rows] + [r["npv_high_usd"] for r in rows] + [base or 0.0])
    labels = [f"{_t(r['input'])} ({r['low']:g} – {r['high']:g})" for r in rows]
    b = (base or 0.0) / factor
    fig = go.Figure()
    fig.add_trace(go.Bar(y=labels, x=[r["npv_low_usd"] / factor - b for r in rows], base=[b] * len(rows), orientation="h", name="input at low value",
                         marker_color="#1f77b4", customdata=[r["npv_low_usd"] / factor for r in rows],
                         hovertemplate="%{y}: NPV %{customdata:,.2f} " + unit + "<extra>low</extra>"))
    fig.add_trace(go.Bar(y=labels, x=[r["npv_high_usd"] / factor - b for r in rows], base=[b] * len(rows), orientation="h", name="input at high value",
                         marker_color="#ff7f0e", customdata=[r["npv_high_usd"] / factor for r in rows],
                         hovertemplate="%{y}: NPV %{customdata:,.2f} " + unit + "<extra>high</extra>"))
    fig.add_vline(x=b, line={"color": "black", "width": 1})
    fig.add_annotation(x=b, y=1, yref="paper", yanchor="bottom", showarrow=False, text=f"base NPV {fmt_usd(base)}")
    fig.update_xaxes(title_text=f"NPV [{unit}]")
    fig.update_yaxes(title_text="input (low – high)")
    return _layout(fig, f"Sensitivity of NPV [{unit}] to each input", height=160 + 36 * max(len(rows), 1), barmode="overlay",
                   margin={"l": 200, "r": 30, "t": 70, "b": 60})


# ---------------------------------------------------------------- 9. Monte Carlo

def monte_carlo_figure(result: dict[str, Any]) -> go.Figure:
    """NPV histogram of the Monte Carlo samples with P10 / P50 / P90."""
    ec = result["economics"]
    mc = ec.get("monte_carlo") or {}
    hist = mc.get("histogram") or {"edges_usd": [], "counts": []}
    edges, counts = hist["edges_usd"], hist["counts"]
    factor, unit = usd_scale(list(edges) + [mc.get("npv_p90_usd") or 0.0])
    centres = [(a + b) / 2 / factor for a, b in zip(edges[:-1], edges[1:])]
    widths = [(b - a) / factor for a, b in zip(edges[:-1], edges[1:])]
    fig = go.Figure(go.Bar(x=centres, y=counts, width=widths, name="samples", marker_color="#1f77b4", opacity=0.8,
                           hovertemplate="NPV %{x:,.1f} " + unit + ": %{y} samples<extra></extra>"))
    for key, name, colour in (("npv_p10_usd", "P10", "#d62728"), ("npv_p50_usd", "P50", "black"), ("npv_p90_usd", "P90", "#2ca02c")):
        v = mc.get(key)
        if v is not None:
            fig.add_vline(x=v / factor, line={"color": colour, "width": 2, "dash": "dash"})
            fig.add_annotation(x=v / factor, y=1, yref="paper", yanchor="bottom", showarrow=False, text=f"{name} {fmt_usd(v)}", font={"color": colour})
    if mc.get("probability_npv_negative") is not None and any(e < 0 for e in edges):
        fig.add_vline(x=0, line={"color": "#444", "width": 1})
    fig.update_xaxes(title_text=f"NPV [{unit}]")
    fig.update_yaxes(title_text="samples [count]")
    pneg = mc.get("probability_npv_negative")
    extra = f", P(NPV < 0) = {pneg:.0%}" if pneg is not None else ""
    return _layout(fig, f"Monte Carlo NPV [{unit}] ({mc.get('samples', 0):,} samples{extra})", height=420, bargap=0.02)


# ---------------------------------------------------------------- extra: monthly PUE

def pue_figure(result: dict[str, Any]) -> go.Figure:
    """Monthly PUE per site (from the region's climate)."""
    fig = go.Figure()
    for i, s in enumerate(result["design"]["sites"]):
        if s.get("pue_monthly"):
            fig.add_trace(go.Scatter(x=MONTHS[: len(s["pue_monthly"])], y=s["pue_monthly"], mode="lines+markers", name=_t(s["name"]),
                                     line={"color": COLOURS[i % len(COLOURS)]}, hovertemplate="%{x}: PUE %{y:.3f}<extra>" + _t(s["name"]) + "</extra>"))
    fig.update_xaxes(title_text="month")
    fig.update_yaxes(title_text="PUE [-] (facility energy / IT energy)")
    return _layout(fig, "Monthly PUE per site [-]", height=380)


@dataclass(frozen=True)
class FigureSpec:
    id: str
    section: str
    build: Callable[[dict[str, Any]], go.Figure]


#: every figure of the report, in order, with the stable id of its div
FIGURES: list[FigureSpec] = [
    FigureSpec("gf-fig-sites", "design", site_table),
    FigureSpec("gf-fig-bom", "design", bom_table),
    FigureSpec("gf-fig-power", "design", power_sankey),
    FigureSpec("gf-fig-pue", "design", pue_figure),
    FigureSpec("gf-fig-rollout", "rollout", rollout_figure),
    FigureSpec("gf-fig-pareto", "serving", pareto_figure),
    FigureSpec("gf-fig-latency", "serving", latency_figure),
    FigureSpec("gf-fig-capex", "economics", capex_figure),
    FigureSpec("gf-fig-yearly", "economics", yearly_figure),
    FigureSpec("gf-fig-cash", "economics", cash_figure),
    FigureSpec("gf-fig-tornado", "economics", tornado_figure),
    FigureSpec("gf-fig-montecarlo", "economics", monte_carlo_figure),
]
FIGURE_IDS = [f.id for f in FIGURES]
