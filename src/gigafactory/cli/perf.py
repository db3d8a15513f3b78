"""`gigafactory perf`, `calibrate`, `validate`: the performance model."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from gigafactory.catalog import load_catalog
from gigafactory.cli.app import app
from gigafactory.cli.common import JsonOpt, err, out, print_json
from gigafactory.errors import InputError


@app.command()
def perf(
    model: str = typer.Option(..., "--model", help="Model id, alias or Hugging Face id."),
    system: str = typer.Option(..., "--system", help="System id (or GPU id such as h100-sxm)."),
    isl: int = typer.Option(..., "--isl", min=1, max=10_000_000, help="Input (prompt) length [tokens]."),
    osl: int = typer.Option(..., "--osl", min=1, max=10_000_000, help="Output length [tokens]."),
    precision: str = typer.Option("fp8", "--precision", help="bf16, fp8 or fp4."),
    ttft_slo_ms: Optional[float] = typer.Option(None, "--ttft-slo-ms", help="Limit on p99 time to first token under Poisson arrivals [ms]."),
    tpot_slo_ms: Optional[float] = typer.Option(None, "--tpot-slo-ms", help="Limit on p99 time per output token under Poisson arrivals [ms]."),
    length_cv: float = typer.Option(1.0, "--length-cv", help="Coefficient of variation of request lengths (lognormal) for the p99s; 0 = fixed lengths."),
    framework: str = typer.Option("trtllm", "--framework", help="Serving engine whose calibration to use (engines in the efficiency table, e.g. trtllm, sglang)."),
    draft_tokens: int = typer.Option(0, "--draft-tokens", min=0, max=8, help="Speculative / MTP draft tokens per step."),
    mode: str = typer.Option("both", "--mode", help="aggregated, disaggregated or both."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write the Pareto frontier as an interactive HTML plot."),
    as_json: bool = JsonOpt,
) -> None:
    """Search serving configurations: Pareto frontier of tok/s/GPU vs tok/s/user, best point under SLOs."""
    from gigafactory.perf.query import perf_query

    modes = {"both": ("aggregated", "disaggregated"), "aggregated": ("aggregated",), "disaggregated": ("disaggregated",)}
    if mode not in modes:
        raise InputError.single(f"unknown mode '{mode}'", field="--mode", value=mode, expected="aggregated, disaggregated or both", fix="--mode both")
    if plot is not None:
        from gigafactory.perf.plot import check_plot_path

        plot = check_plot_path(plot)  # before the search: a bad path fails at once
    body, result = perf_query(load_catalog(), model, system, isl, osl, precision, ttft_slo_ms, tpot_slo_ms, framework, draft_tokens, modes[mode], length_cv)
    if plot is not None:
        from gigafactory.perf.plot import frontier_html

        plot.write_text(frontier_html(body, result), encoding="utf-8")
        body["plot"] = str(plot)
    if as_json:
        print_json(body)
        return
    out.print(f"[bold]{body['model']}[/] on [bold]{body['system']}[/] ({body['precision']}, ISL {isl} / OSL {osl}) — "
              f"{body['n_evaluated']} configurations evaluated; efficiency: {body['efficiency']['source']}")
    t = Table(title="Pareto frontier (output tok/s/GPU vs tok/s/user)", title_justify="left")
    for col in ("mode", "layout", "prefill", "conc./inst.", "GPUs", "tok/s/GPU", "tok/s/user", "TTFT ms", "TPOT ms"):
        t.add_column(col, justify="left" if col in ("mode", "layout", "prefill") else "right")
    best = result.best
    for p in result.frontier:
        mark = " [bold green]◀ best under SLO[/]" if p is best else ""
        pre = f"{p.prefill_instances}×{p.prefill_layout.label()} + {p.decode_instances}×" if p.prefill_layout else ""
        t.add_row(p.mode, p.layout.label() + mark, pre, str(p.concurrency), str(p.gpus), f"{p.tok_s_gpu:,.0f}", f"{p.tok_s_user:,.1f}", f"{p.ttft_s * 1e3:,.0f}", f"{p.tpot_s * 1e3:,.1f}")
    out.print(t)
    if ttft_slo_ms or tpot_slo_ms:
        if best is None:
            out.print("[bold red]No configuration meets the SLO.[/]")
        else:
            lp = result.best_load
            pre = f"{best.prefill_instances}×{best.prefill_layout.label()} prefill + {best.decode_instances}× " if best.prefill_layout else ""
            out.print(f"Best under SLO: {best.mode} {pre}{best.layout.label()} at {best.concurrency} sequences: {best.tok_s_gpu:,.0f} tok/s/GPU, "
                      f"{best.tok_s_user:,.1f} tok/s/user; p99 under Poisson arrivals at its rate: TTFT {lp.ttft_p99_s * 1e3:,.0f} ms, TPOT {lp.tpot_p99_s * 1e3:,.1f} ms")
    if plot is not None:
        out.print(f"plot written to {plot}")


@app.command()
def calibrate(
    measured: Path = typer.Option(..., "--measured", help="Measured-results CSV (format of shared/data/measured/calibration.csv)."),
    out_path: Optional[Path] = typer.Option(None, "--out", help="Where to write the fitted parameters (default: the package's perf/data/efficiency.yaml)."),
    as_json: bool = JsonOpt,
) -> None:
    """Fit the roofline efficiency parameters per hardware generation and engine on measured rows."""
    from gigafactory.perf.calibrate import MIN_ROWS, MIN_ROWS_PARTIAL
    from gigafactory.perf.calibrate import calibrate as run_calibration
    from gigafactory.perf.calibrate import release_rows, report_rows, write_efficiency_file
    from gigafactory.perf.efficiency import efficiency_path, load_efficiencies
    from gigafactory.perf.validate import read_measured_csv

    rows = read_measured_csv(measured)
    target = out_path or efficiency_path()
    if target.parent and not target.parent.exists():
        raise InputError.single("the folder does not exist", file=str(target), fix=f"create {target.parent} first")
    with err.status("fitting efficiency parameters…"):
        reports = run_calibration(rows, load_catalog(), str(measured), progress=None if as_json else (lambda msg: err.print(msg)))
    if not reports:
        raise InputError.single("no (generation, engine) group has enough usable rows to fit", file=str(measured),
                                expected=f"at least {MIN_ROWS} usable rows (trust 1-3) of TensorRT-LLM on one hardware generation "
                                f"(another engine then needs {MIN_ROWS_PARTIAL})", fix="add measured rows")
    write_efficiency_file(reports, target, str(measured))
    load_efficiencies.cache_clear()
    table = report_rows(reports)
    releases = release_rows(reports)
    if as_json:
        print_json({"written": str(target), "groups": table, "releases": releases})
        return
    t = Table(title=f"Calibrated efficiency → {target}", title_justify="left")
    for col in ("generation", "engine", "rows", "compute", "memory", "collective µs", "step overhead ms", "expert", "median APE", "p90 APE"):
        t.add_column(col, justify="left" if col in ("generation", "engine") else "right")
    for r in table:
        t.add_row(r["generation"], r["engine"], str(r["n_rows"]), f"{r['compute']:.3f}", f"{r['memory']:.3f}", f"{r['collective_latency_s'] * 1e6:.1f}",
                  f"{r['step_overhead_s'] * 1e3:.2f}", f"{r['expert']:.3f}", f"{r['median_ape']:.1%}", f"{r['p90_ape']:.1%}")
    out.print(t)
    if releases:
        t = Table(title="Software releases: multipliers on their engine's efficiencies (1 = the engine's public releases)", title_justify="left")
        for col in ("release", "engine", "rows", "compute ×", "expert ×", "step overhead ×", "median APE", "p90 APE"):
            t.add_column(col, justify="left" if col in ("release", "engine") else "right")
        for r in releases:
            t.add_row(r["release"], r["engine"], str(r["n_rows"]), f"{r['compute']:.3f}", f"{r['expert']:.3f}", f"{r['step_overhead']:.3f}",
                      f"{r['median_ape']:.1%}", f"{r['p90_ape']:.1%}")
        out.print(t)
    out.print("[dim]APE here is in-sample (the rows the fit saw); see `gigafactory validate` and docs/accuracy.md for held-out figures.[/]")


@app.command()
def validate(
    measured: Path = typer.Option(..., "--measured", help="Measured-results CSV (format of shared/data/measured/calibration.csv)."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Write rows and summary as JSON to this file ('-' for stdout)."),
    efficiency: Optional[Path] = typer.Option(None, "--efficiency", help="Efficiency parameters file (default: the calibrated package file)."),
    latency_rule: Optional[str] = typer.Option(None, "--latency-rule",
                                               help="How server / interactive rows judge their p99 limits: 'load' (the default: the queueing "
                                                    "model's p99s, as the serving search) or 'ratios' (fixed p99/steady ratios and the slot queue)."),
) -> None:
    """Predict every row of a measured CSV by its scenario's rule and report the errors."""

    from gigafactory.perf.efficiency import load_efficiencies
    from gigafactory.perf.rows import LITTLES_LAW_TOLERANCE
    from gigafactory.perf.validate import DEFAULT_LATENCY_RULE, LATENCY_RULES, read_measured_csv, validate_rows

    latency_rule = DEFAULT_LATENCY_RULE if latency_rule is None else latency_rule
    if latency_rule not in LATENCY_RULES:
        raise InputError.single(f"unknown latency rule '{latency_rule}'", field="--latency-rule", value=latency_rule,
                                expected=" or ".join(LATENCY_RULES), fix=f"--latency-rule {DEFAULT_LATENCY_RULE}")
    rows = read_measured_csv(measured)
    if efficiency is not None and not efficiency.exists():
        raise InputError.single("no such file", file=str(efficiency), fix="give a file written by `gigafactory calibrate --out`")
    table = load_efficiencies(str(efficiency) if efficiency else None)
    preds, summary = validate_rows(rows, load_catalog(), table, latency_rule)
    body = {"rows": [p.as_dict() for p in preds], "summary": summary}
    if json_out == "-":
        print_json(body)
        return
    if json_out:
        target = Path(json_out)
        if target.parent and not target.parent.exists():
            raise InputError.single("the folder does not exist", file=json_out, fix=f"create {target.parent} first")
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(body, indent=1, default=str), encoding="utf-8")
        tmp.replace(target)
    t = Table(title=f"Predicted vs measured output tok/s/GPU — {measured}", title_justify="left")
    for col in ("id", "scenario", "measured", "predicted", "APE", "config / reason"):
        t.add_column(col, justify="right" if col in ("measured", "predicted", "APE") else "left", overflow="fold")
    for p in preds:
        if p.status == "ok":
            cfg = p.config or {}
            load = (f" at {cfg['load_fraction']:.0%} load" if "load_fraction" in cfg else "") + (
                f", p99 TTFT {cfg['ttft_p99_s'] * 1e3:,.0f} ms, TPOT {cfg['tpot_p99_s'] * 1e3:,.1f} ms" if "ttft_p99_s" in cfg else "")
            t.add_row(p.id, p.meta["scenario"], f"{p.measured_tok_s_gpu:,.0f}", f"{p.predicted_tok_s_gpu:,.0f}", f"{p.ape:.0%}",
                      f"{cfg.get('mode', '')} {cfg.get('layout', '')} c={cfg.get('concurrency_per_instance', '')}{load}")
        else:
            t.add_row(p.id, p.meta["scenario"], f"{p.measured_tok_s_gpu or 0:,.0f}", "—", "—", f"[yellow]unsupported:[/] {p.reason}")
    out.print(t)
    s = Table(title="Absolute percentage error", title_justify="left")
    for col in ("group", "value", "rows ok", "median APE", "p90 APE"):
        s.add_column(col, justify="left" if col in ("group", "value") else "right")

    def fmt(x):
        return "—" if x is None else f"{x:.1%}"

    s.add_row("all", "", str(summary["n_ok"]), fmt(summary["median_ape"]), fmt(summary["p90_ape"]))
    s.add_row("trust 1-2", "", str(summary["trust_1_2"]["n_ok"]), fmt(summary["trust_1_2"]["median_ape"]), fmt(summary["trust_1_2"]["p90_ape"]))
    for key in ("source_kind", "hardware", "model", "efficiency"):
        for value, st in summary["by"][key].items():
            if key == "efficiency" and not value:
                continue  # rows with no fit: unsupported before one was looked up
            s.add_row(key, value, str(st["n_ok"]), fmt(st["median_ape"]), fmt(st["p90_ape"]))
    out.print(s)
    out.print(f"{summary['n_rows']} rows: {summary['n_ok']} predicted, {summary['n_unsupported']} unsupported "
              + (f"({'; '.join(f'{k}: {v}' for k, v in summary['unsupported_reasons'].items())})" if summary["unsupported_reasons"] else ""))
    for p in preds:
        ratio = (p.meta or {}).get("littles_law_ratio")
        if ratio is not None and abs(ratio - 1) > LITTLES_LAW_TOLERANCE:
            why = ("the run lost time its median latencies do not show (a heavy TTFT tail, stalls, a ramp), which a step-time model "
                   "does not predict" if ratio < 1 else "more than its latencies allow: check the row's concurrency and latencies")
            out.print(f"[yellow]inconsistent:[/] {p.id}: measured tok/s/GPU is {ratio:.2f} x what its own p50 TTFT and TPOT give at its "
                      f"concurrency (Little's law); {why}")
    if json_out:
        out.print(f"JSON written to {json_out}")
