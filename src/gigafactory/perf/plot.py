"""Interactive HTML plot of a perf frontier (plotly, self-contained: opens offline)."""
from __future__ import annotations

from typing import Any


def frontier_html(body: dict[str, Any], result: Any) -> str:
    import plotly.graph_objects as go

    fig = go.Figure()
    for mode, symbol in (("aggregated", "circle"), ("disaggregated", "diamond")):
        pts = [p for p in result.points if p.mode == mode]
        if pts:
            fig.add_trace(go.Scatter(
                x=[p.tok_s_user for p in pts], y=[p.tok_s_gpu for p in pts], mode="markers", name=f"{mode} (all)",
                marker={"symbol": symbol, "size": 5, "opacity": 0.35},
                text=[f"{p.layout.label()} c={p.concurrency} TTFT {p.ttft_s * 1e3:.0f} ms" for p in pts],
            ))
    fr = result.frontier
    fig.add_trace(go.Scatter(x=[p.tok_s_user for p in fr], y=[p.tok_s_gpu for p in fr], mode="lines+markers", name="Pareto frontier",
                             text=[f"{p.mode} {p.layout.label()} c={p.concurrency}" for p in fr]))
    if result.best is not None:
        b = result.best
        fig.add_trace(go.Scatter(x=[b.tok_s_user], y=[b.tok_s_gpu], mode="markers", name="best under SLO", marker={"size": 14, "symbol": "star"}))
    fig.update_layout(
        title=f"{body['model']} on {body['system']} ({body['precision']}, ISL {body['isl']} / OSL {body['osl']})",
        xaxis_title="output tokens/s per user [tok/s]", yaxis_title="output tokens/s per GPU [tok/s]", template="plotly_white",
    )
    return fig.to_html(include_plotlyjs=True, full_html=True)
