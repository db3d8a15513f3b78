"""Interactive HTML plot of a perf frontier (plotly, self-contained: opens offline)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gigafactory.errors import InputError

PLOT_SUFFIXES = (".html", ".htm")


def check_plot_path(path: str | Path) -> Path:
    """Check, before any computing, that ``--plot PATH`` can be written: an .html file name in
    an existing, writable folder, and not an existing directory.  Returns the path;
    raises :class:`InputError` (exit 2) naming it otherwise.  An existing file is overwritten."""
    p = Path(path).expanduser()
    name = str(path)
    if p.exists() and p.is_dir():
        raise InputError.single("this is a directory, not a file to write the plot to", file=name, field="--plot", value=name,
                                expected="a path ending in .html", fix=f"--plot {p / 'frontier.html'}")
    if p.suffix.lower() not in PLOT_SUFFIXES:
        raise InputError.single("the plot is written as HTML", file=name, field="--plot", value=name,
                                expected="a path ending in .html", fix=f"--plot {p.with_suffix('.html')}")
    parent = p.parent
    if not parent.exists():
        raise InputError.single("the folder does not exist", file=name, field="--plot", value=str(parent),
                                expected="a path in an existing folder", fix=f"create {parent} first (mkdir -p {parent}), or choose another --plot path")
    if not parent.is_dir():
        raise InputError.single("the parent path is a file, not a folder", file=name, field="--plot", value=str(parent),
                                expected="a path in an existing folder", fix="choose another --plot path")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InputError.single("no permission to write here", file=name, field="--plot", value=name,
                                expected="a writable location", fix="choose a --plot path in a folder you can write to")
    return p


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
