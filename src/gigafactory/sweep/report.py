"""The sweep's analysis page: one self-contained HTML file (plotly.js inlined once, a CSP that
forbids any fetch, as the plan report): parallel coordinates of inputs and outputs, the Pareto
front over the objectives, Sobol' index bars, the front as a table, and the failed points."""
from __future__ import annotations

import html
import json
from collections import Counter
from typing import Any

from gigafactory.report.html import CSP, CSS, PLOT_CONFIG

MAX_TABLE_ROWS = 50


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return "—" if v is None else str(v)


def _div(fig: Any, ident: str) -> str:
    return f'<div class="figure" data-figure="{ident}">{fig.to_html(full_html=False, include_plotlyjs=False, div_id=ident, config=PLOT_CONFIG)}</div>'


def _numeric(values: list[Any]) -> tuple[list[float], dict[str, Any]]:
    """Numbers as they are; anything else coded 0..k-1 with its labels as ticks."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values if v is not None):
        return [float("nan") if v is None else float(v) for v in values], {}
    labels = sorted({json.dumps(v) if not isinstance(v, str) else v for v in values})
    codes = {lab: i for i, lab in enumerate(labels)}
    return [codes[json.dumps(v) if not isinstance(v, str) else v] for v in values], {"tickvals": list(range(len(labels))), "ticktext": labels}


def parallel_figure(manifest: dict[str, Any], rows: list[dict[str, Any]], spec: Any) -> Any:
    import plotly.graph_objects as go

    ok = [r for r in rows if r.get("status") == "ok"]
    outs = [o.metric for o in spec.objectives] or [m for m in ("npv_usd", "ttft_days", "cost_per_gpu_hour_usd") if m in manifest["metrics"]]
    dims = []
    for col in manifest["parameters"] + outs:
        vals, ticks = _numeric([r.get(col) for r in ok])
        dims.append({"label": col, "values": vals, **ticks})
    color = dims[len(manifest["parameters"])]["values"] if outs else None
    line = {"color": color, "colorscale": "Viridis", "showscale": True, "colorbar": {"title": outs[0]}} if color else {}
    fig = go.Figure(go.Parcoords(dimensions=dims, line=line))
    fig.update_layout(title=f"{len(ok)} points: inputs and outputs (drag on an axis to filter)", template="plotly_white", height=460)
    return fig


def pareto_figure(rows: list[dict[str, Any]], spec: Any, analysis: dict[str, Any], params: list[str]) -> Any | None:
    import plotly.graph_objects as go

    objs = spec.objectives
    if len(objs) < 2:
        return None
    flags = analysis["flags"]
    ok = [r for r in rows if r.get("status") == "ok"]
    groups = (("infeasible", [r for r in ok if not flags.get(r["point"], (False, False))[0]], "#c4c9d4"),
              ("feasible", [r for r in ok if flags.get(r["point"], (False, False))[0] and not flags[r["point"]][1]], "#1f5fbf"),
              ("Pareto front", [r for r in ok if flags.get(r["point"], (False, False))[1]], "#d62728"))
    names = [o.metric for o in objs]

    def text(r: dict[str, Any]) -> str:
        return f"point {r['point']}<br>" + "<br>".join(f"{p} = {_fmt(r.get(p))}" for p in params)

    fig = go.Figure()
    for label, pts, colour in groups:
        if not pts:
            continue
        if len(objs) == 2:
            if label == "Pareto front":
                pts = sorted(pts, key=lambda r: r[names[0]])
            fig.add_trace(go.Scatter(x=[r[names[0]] for r in pts], y=[r[names[1]] for r in pts], mode="lines+markers" if label == "Pareto front" else "markers",
                                     name=label, marker={"color": colour, "size": 9 if label == "Pareto front" else 6}, text=[text(r) for r in pts],
                                     hovertemplate="%{text}<extra></extra>"))
        else:
            fig.add_trace(go.Scatter3d(x=[r[names[0]] for r in pts], y=[r[names[1]] for r in pts], z=[r[names[2]] for r in pts], mode="markers",
                                       name=label, marker={"color": colour, "size": 5 if label == "Pareto front" else 3}, text=[text(r) for r in pts],
                                       hovertemplate="%{text}<extra></extra>"))
    arrows = {"min": "↓ better", "max": "↑ better"}
    titles = [f"{o.metric} ({arrows[o.direction]})" for o in objs]
    if len(objs) == 2:
        fig.update_layout(xaxis_title=titles[0], yaxis_title=titles[1])
    else:
        fig.update_layout(scene={"xaxis_title": titles[0], "yaxis_title": titles[1], "zaxis_title": titles[2]})
    fig.update_layout(title="Pareto front over the objectives (feasible points only)", template="plotly_white", height=520)
    return fig


def sobol_figure(analysis: dict[str, Any]) -> Any | None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    sob = analysis.get("sobol") or {}
    if not sob:
        return None
    fig = make_subplots(rows=1, cols=len(sob), subplot_titles=list(sob))
    for i, (metric, res) in enumerate(sob.items(), start=1):
        for key, colour in (("S1", "#1f5fbf"), ("ST", "#d62728")):
            fig.add_trace(go.Bar(x=res["names"], y=res[key], name="first order S1" if key == "S1" else "total ST", marker_color=colour,
                                 error_y={"type": "data", "array": res[f"{key}_conf"]}, showlegend=i == 1, legendgroup=key), row=1, col=i)
    fig.update_layout(title="Sobol' indices (SALib, 95 % bootstrap intervals)", barmode="group", template="plotly_white", height=420)
    return fig


def render_sweep_report(manifest: dict[str, Any], rows: list[dict[str, Any]], analysis: dict[str, Any], spec: Any) -> str:
    from plotly.offline import get_plotlyjs

    params = manifest["parameters"]
    ok = [r for r in rows if r.get("status") == "ok"]
    parts = [f'<section id="summary"><h2>Summary</h2><p>{len(rows)} of {manifest["points"]} points recorded: {analysis["ok"]} ok, '
             f'{analysis["failed"]} failed, {analysis["feasible"]} feasible, {len(analysis["pareto"])} on the Pareto front. Sampling: '
             f'{_e(manifest["method"])}; stages run: {_e(", ".join(manifest["targets"]))}; base scenario {_e(manifest["base_scenario"])} '
             f'(seed {_e(manifest["base_seed"])}).</p>'
             + "".join(f"<p class=\"muted\">parameter <b>{_e(c)}</b> = {_e(manifest['paths'][c])}</p>" for c in params) + "</section>"]
    if ok:
        parts.append('<section id="parallel"><h2>Inputs and outputs</h2>' + _div(parallel_figure(manifest, rows, spec), "sweep-parallel") + "</section>")
    fig = pareto_figure(rows, spec, analysis, params) if ok else None
    if fig is not None:
        parts.append('<section id="pareto"><h2>Pareto front</h2>' + _div(fig, "sweep-pareto") + "</section>")
    if spec.objectives:
        front = [r for r in rows if r["point"] in set(analysis["pareto"])]
        cols = ["point"] + params + [o.metric for o in spec.objectives]
        body = "".join("<tr>" + "".join(f"<td>{_e(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in front[:MAX_TABLE_ROWS])
        parts.append(f'<section id="front"><h3>The front ({len(front)} points{", first " + str(MAX_TABLE_ROWS) if len(front) > MAX_TABLE_ROWS else ""})</h3>'
                     f'<table class="data"><thead><tr>{"".join(f"<th>{_e(c)}</th>" for c in cols)}</tr></thead><tbody>{body}</tbody></table></section>')
    fig = sobol_figure(analysis)
    if fig is not None:
        parts.append('<section id="sensitivity"><h2>Global sensitivity</h2>' + _div(fig, "sweep-sobol") + "</section>")
    failed = [r for r in rows if r.get("status") != "ok"]
    if failed:
        kinds = Counter(r.get("error_check") or "?" for r in failed)
        items = "".join(f"<li><b>point {r['point']}</b> ({_e(r.get('error_check'))}): <pre>{_e(r.get('error'))}</pre></li>" for r in failed[:20])
        parts.append(f'<section id="failed"><h2>Failed points</h2><p>{len(failed)} failed: '
                     + ", ".join(f"{_e(k)} × {v}" for k, v in kinds.items()) + f"</p><ul>{items}</ul></section>")
    name = manifest["name"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>gigafactory sweep — {_e(name)}</title>'
            f'<style>{CSS}</style><script type="text/javascript">{get_plotlyjs()}</script></head><body>'
            f"<header><h1>gigafactory sweep — {_e(name)}</h1><p>gigafactory {_e(manifest.get('gigafactory_version'))}</p></header><main>"
            + "".join(parts) + "</main></body></html>\n")
