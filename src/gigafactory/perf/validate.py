"""Predict rows of a measured-results table, following each scenario's comparison rule
(../shared/data/measured/README.md), and summarise the errors.

offline: max tok/s/GPU over batch sizes up to the memory limit; server / interactive: max tok/s/GPU with p99
TTFT and TPOT under the row's limits, by one of two rules (``latency_rule``): "load" (the
default: the p99s of the queueing model, perf.load, at the largest share of saturation that
meets both limits, the serving search's rule; a row's instances share one router) or "ratios"
(steady-state latencies times P99_OVER_STEADY, fed at the share of saturation that keeps the p99
wait for a batch slot inside the TTFT limit);
fixed-concurrency: tok/s/GPU and tok/s/user at that concurrency; decode-only: steady decode tok/s per decode GPU at max batch.  The row's parallel
layout, disaggregation and MTP are honoured where given; blank layouts, and a blank
`disaggregated` on a server or interactive row, are searched.  A row under a GPU power limit
(MLPerf MaxQ: a `power_limit_w` cell, or "power_limit N W" in its notes) is predicted under it
(perf.power).
"""
from __future__ import annotations

import csv
import io
import itertools
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.errors import InputError, Problem
from gigafactory.perf.architecture import param_counts
from gigafactory.perf.efficiency import Efficiency, efficiency_for, efficiency_source
from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.load import DEFAULT_LENGTH_CV, AdpBalance, Lengths, admission_utilisation
from gigafactory.perf.memory import memory_fit
from gigafactory.perf.power import power_capped, row_power_limit_w
from gigafactory.perf.releases import software_release
from gigafactory.perf.rows import (LITTLES_LAW_TOLERANCE, cell_float, cell_int, littles_law_ratio, output_length_cv, prefill_layout,
                                   row_adp_balance, row_layouts, row_precision)
from gigafactory.perf.search import batch_sizes, sustainable_fraction
from gigafactory.perf.serving import ServingPoint, Speculation, aggregated_point, disaggregated_point

REQUIRED_COLUMNS = ("id", "hardware", "num_gpus", "model", "precision", "framework", "scenario", "isl_mean", "osl_mean", "tok_s_gpu")
#: Poisson arrivals put the p99 well above the steady-state value.  Ratios p99 / p50 in the
#: MLPerf v4.1 H100 llama2-70b server log (same table): TTFT 461/273 = 1.7, TPOT 175/156 = 1.12.
#: A server point counts as feasible when its steady-state TTFT x 1.7 and TPOT x 1.12 meet the limits.
P99_OVER_STEADY = {"ttft": 1.7, "tpot": 1.12}
#: how server / interactive rows judge their p99 limits: "load" (perf.load's p99s, as the serving
#: search judges them) or "ratios" (P99_OVER_STEADY and the slot queue: two constants from one
#: server log, kept for comparison; docs/accuracy.md "Eighteenth round" measures both)
LATENCY_RULES = ("ratios", "load")
#: the rule `validate`, `calibrate` and the cross-validation use unless told otherwise
DEFAULT_LATENCY_RULE = "load"
#: what a server / interactive prediction reports of its load, in its config: the share of the
#: saturation rate it is fed at and (rule "load") the queueing model's p99s there [1, s, s]
UNDER_LOAD_KEYS = ("load_fraction", "ttft_p99_s", "tpot_p99_s")


@dataclass(frozen=True)
class RowPrediction:
    id: str
    status: str  # "ok" | "unsupported"
    reason: str | None
    measured_tok_s_gpu: float | None
    predicted_tok_s_gpu: float | None = None
    predicted_tok_s_user: float | None = None
    measured_tok_s_user: float | None = None
    predicted_ttft_s: float | None = None
    predicted_tpot_s: float | None = None
    config: dict | None = None
    meta: dict | None = None

    @property
    def ape(self) -> float | None:
        if self.status != "ok" or not self.measured_tok_s_gpu:
            return None
        return abs(self.predicted_tok_s_gpu - self.measured_tok_s_gpu) / self.measured_tok_s_gpu

    def as_dict(self) -> dict[str, Any]:
        return _json_safe({
            "id": self.id,
            "status": self.status,
            "reason": self.reason,
            "predicted_tok_s_gpu": self.predicted_tok_s_gpu,
            "measured_tok_s_gpu": self.measured_tok_s_gpu,
            "ape": self.ape,
            "predicted_tok_s_user": self.predicted_tok_s_user,
            "measured_tok_s_user": self.measured_tok_s_user,
            "predicted_ttft_s": self.predicted_ttft_s,
            "predicted_tpot_s": self.predicted_tpot_s,
            "config": self.config,
            **(self.meta or {}),
        })


#: numeric columns of the measured-results format (shared/data/measured/README.md) and what
#: a value must be when it is not blank.
COUNT_COLUMNS = ("num_gpus", "isl_max", "osl_max", "concurrency", "prefill_gpus", "decode_gpus", "tp", "ep", "pp",
                 "adp_balancing_timeout_iters")
#: optional whole-number cells that may be 0 (perf.rows.row_adp_balance)
STEP_COLUMNS = ("adp_balancing_batching_wait_iters",)
#: the attention-DP balancing cells count engine steps; beyond this a hold would last minutes and
#: its distribution would not fit the TTFT grid (TensorRT-LLM's default timeout is 50 steps)
MAX_ADP_STEPS = 10_000
ADP_COLUMNS = ("adp_balancing_timeout_iters", "adp_balancing_batching_wait_iters")
FLAG_COLUMNS = ("disaggregated", "dp_attention", "mtp")
AMOUNT_COLUMNS = ("isl_mean", "osl_mean", "target_qps", "ttft_p99_limit_ms", "tpot_p99_limit_ms", "tok_s_gpu", "tok_s_user",
                  "ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p99_ms", "power_limit_w")
NUMERIC_COLUMNS = COUNT_COLUMNS + STEP_COLUMNS + FLAG_COLUMNS + AMOUNT_COLUMNS
#: at most this many problems are listed for one CSV (the rest are counted)
MAX_PROBLEMS = 20


def read_measured_csv(path: str | Path) -> list[dict[str, str]]:
    """The rows of a measured-results CSV, each numeric cell checked (see :func:`check_rows`):
    bad input raises :class:`InputError` naming the file, line, column and value."""
    p = Path(path)
    if not p.exists():
        raise InputError.single("no such file", file=str(path), fix="give the path of a measured-results CSV (e.g. ../shared/data/measured/calibration.csv)")
    if p.is_dir():
        raise InputError.single("this is a directory", file=str(path), fix="name the CSV file inside it")
    raw = p.read_bytes()
    if b"\x00" in raw[:4096]:
        raise InputError.single("this is a binary file, not a CSV", file=str(path), fix="give the measured-results CSV")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError.single("not UTF-8 text", file=str(path), fix="save the CSV as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[dict[str, str]] = []
    lines: list[int] = []
    try:
        start = 2
        for row in reader:
            rows.append(row)
            lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError.single(f"not a readable CSV: {exc}", file=str(path), line=reader.line_num, fix="fix the quoting on that line") from None
    if not rows:
        raise InputError.single("the CSV has no data rows", file=str(path), fix="add rows in the calibration.csv format")
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
    if missing:
        raise InputError.single(
            f"missing columns: {', '.join(missing)}", file=str(path), field="header", value=list(rows[0])[:12],
            expected=f"the columns of calibration.csv, at least {', '.join(REQUIRED_COLUMNS)}", fix="use the format documented in shared/data/measured/README.md",
        )
    check_rows(rows, str(path), lines)
    return rows


def cell_problem(row: dict[str, Any], column: str) -> tuple[str, str] | None:
    """What is wrong with one numeric cell, as (message, expected); None when it is blank or fine."""
    raw = row.get(column)
    if raw is None or not str(raw).strip():
        return None
    try:
        v = float(str(raw).strip())
    except ValueError:
        v = None
    if column in COUNT_COLUMNS:
        expected = "a whole number >= 1, or blank"
    elif column in STEP_COLUMNS:
        expected = "a whole number >= 0, or blank"
    elif column in FLAG_COLUMNS:
        expected = "0 or 1, or blank"
    else:
        expected = "a finite number >= 0, or blank"
    if v is None:
        return "not a number", expected
    if not math.isfinite(v):
        return "not a finite number", expected
    if column in COUNT_COLUMNS and (v < 1 or v != int(v)):
        return "not a whole number >= 1", expected
    if column in STEP_COLUMNS and (v < 0 or v != int(v)):
        return "not a whole number >= 0", expected
    if column in ADP_COLUMNS and v > MAX_ADP_STEPS:
        return f"more than {MAX_ADP_STEPS:,} steps", f"a whole number of engine steps up to {MAX_ADP_STEPS:,}, or blank"
    if column in FLAG_COLUMNS and v not in (0, 1):
        return "not 0 or 1", expected
    if column in AMOUNT_COLUMNS and v < 0:
        return "negative", expected
    if column == "power_limit_w" and v <= 0:
        return "not a positive board power", "a GPU board-power limit > 0 W, or blank"
    return None


def check_rows(rows: list[dict[str, Any]], file: str | None = None, lines: list[int] | None = None) -> None:
    """Check every numeric cell of measured rows; raise :class:`InputError` listing the bad ones
    (file, line, column, value, expected, fix).  ``lines`` are the rows' line numbers in ``file``."""
    problems: list[Problem] = []
    n_bad = 0
    for i, row in enumerate(rows):
        line = lines[i] if lines else None
        rid = row.get("id") or f"row {i + 1}"
        if row.get(None):  # type: ignore[call-overload] - csv puts surplus cells under None
            n_bad += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append(Problem(
                    f"{len(row[None])} more cells than the header has columns (row {rid})", file=file, line=line, field="row",  # type: ignore[index]
                    value=row[None], expected="one cell per header column", fix="quote cells that contain commas"))  # type: ignore[index]
        for col in NUMERIC_COLUMNS:
            bad = cell_problem(row, col)
            if bad is None:
                continue
            n_bad += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append(Problem(f"{bad[0]} (row {rid})", file=file, line=line, field=col, value=row.get(col), expected=bad[1],
                                        fix=f"write {col} as {bad[1].removesuffix(', or blank')}, or leave the cell blank if it is unknown"))
    if problems:
        if n_bad > len(problems):
            problems.append(Problem(f"{n_bad - len(problems)} more bad cells not listed", file=file, fix="fix the cells above and run again"))
        raise InputError(problems)


def _finite_point(p: ServingPoint | None) -> bool:
    return p is not None and all(math.isfinite(x) for x in (p.tok_s_gpu, p.tok_s_user, p.ttft_s, p.tpot_s)) and p.tok_s_gpu > 0


def _json_safe(x: Any) -> Any:
    """``x`` with every non-finite float replaced by None, so json.dumps(allow_nan=False) passes."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, (np.floating, np.integer)):
        return _json_safe(x.item())
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def _with_admission_headroom(p: ServingPoint, slots: float, osl: float, ttft_limit_s: float) -> ServingPoint | None:
    """The point at the share of its saturation rate that Poisson arrivals can be fed at while
    99 % of requests wait for a batch slot no longer than the TTFT budget its own (p99-scaled)
    TTFT leaves; None when none can.

    A server or interactive run caps the sequences in flight (the point's concurrency per
    instance; a router spreads requests over every instance of the row, so their slots are
    pooled), each holding its slot for ``osl`` x TPOT: an M/M/c queue
    (load.admission_utilisation).  At the saturation rate that queue grows without bound, which
    is why MLPerf server runs sustain 0.62-0.98 of the same system's offline rate."""
    budget_s = ttft_limit_s - p.ttft_s * P99_OVER_STEADY["ttft"]
    u = admission_utilisation(slots, osl * p.tpot_s, budget_s)
    if u <= 0:
        return None
    return p if u >= 1 else replace(p, tok_s_gpu=p.tok_s_gpu * u, details={**p.details, "load_fraction": u})


def _under_load(p: ServingPoint, m: Any, pc: Any, hw: Any, eff: Efficiency, precision: str, lengths: Lengths, spec: Speculation,
                instances: int, ttft_limit_s: float, tpot_limit_s: float, adp: AdpBalance | None = None) -> ServingPoint | None:
    """The point at the largest share of its saturation rate whose p99 TTFT and TPOT under Poisson
    arrivals (perf.load) meet the limits, with those p99s in its details; None when no share of
    at least search.MIN_LOAD_FRACTION does.  Aggregated instances share one router; a
    disaggregated point's own prefill and decode pools are in the point; ``adp``: the row's
    attention-DP balancing (perf.rows.row_adp_balance)."""
    if p.ttft_s > ttft_limit_s or p.tpot_s > tpot_limit_s:
        return None  # a p99 under load is never below the unloaded value
    f, lp = sustainable_fraction(p, m, pc, hw, eff, precision, lengths, ttft_limit_s, tpot_limit_s, spec,
                                 instances=instances if p.mode == "aggregated" else 1, adp=adp)
    if f <= 0:
        return None
    return replace(p, tok_s_gpu=p.tok_s_gpu * f, details={**p.details, "load_fraction": f, "ttft_p99_s": lp.ttft_p99_s, "tpot_p99_s": lp.tpot_p99_s})


def predict_row(row: dict[str, str], cat: Catalog, table: dict | None = None, eff: Efficiency | None = None,
                latency_rule: str = DEFAULT_LATENCY_RULE) -> RowPrediction:
    if latency_rule not in LATENCY_RULES:
        raise ValueError(f"latency_rule must be one of {LATENCY_RULES}, not {latency_rule!r}")
    rid = row.get("id", "?")
    measured = cell_float(row, "tok_s_gpu")
    release = software_release(row)
    meta = {
        "source_kind": row.get("source_kind"), "trust": row.get("trust"), "hardware": row.get("hardware"),
        "model": row.get("model"), "scenario": row.get("scenario"), "framework": row.get("framework"), "precision": row.get("precision"),
        "release": release,
    }
    little = littles_law_ratio(row)
    if little is not None:
        meta["littles_law_ratio"] = little  # measured tok/s over its own latencies' (perf.rows)

    def unsupported(reason: str) -> RowPrediction:
        return RowPrediction(rid, "unsupported", reason, measured, measured_tok_s_user=cell_float(row, "tok_s_user"), meta=meta)

    non_finite: list[ServingPoint] = []

    def usable(p: ServingPoint | None) -> bool:
        """A point to compare; NaN / inf predictions are set aside (and reported if nothing else is left)."""
        if p is not None and not _finite_point(p):
            non_finite.append(p)
            return False
        return p is not None

    for col in NUMERIC_COLUMNS:
        bad = cell_problem(row, col)
        if bad is not None:
            return unsupported(f"{col} = {row.get(col)!r}: {bad[0]} (expected {bad[1]})")
    if measured is None or measured <= 0:
        return unsupported("no measured tok_s_gpu")
    model_id = cat.resolve_id("models", row.get("model", ""))
    if model_id is None:
        return unsupported(f"model '{row.get('model')}' not in the catalog")
    try:
        hw = hardware_from_catalog(cat, row.get("hardware", ""))
    except InputError:
        return unsupported(f"hardware '{row.get('hardware')}' not in the catalog")
    limit_w = row_power_limit_w(row)
    if limit_w is not None and limit_w <= 0:
        return unsupported(f"power limit {limit_w:g} W in the notes is not a positive board power (expected 'power_limit N W' with N > 0)")
    if limit_w is not None and limit_w < hw.tdp_w:
        meta["power_limit_w"] = limit_w  # a MaxQ run: its GPUs' clocks are held down (perf.power)
        hw = power_capped(hw, limit_w)
    choice = row_precision(row.get("precision") or "", hw)
    if choice.precision is None:
        return unsupported(choice.reason)
    if choice.substitution:
        meta["substitution"] = choice.substitution
    precision = choice.precision
    m = cat.model(model_id)
    pc = param_counts(m)
    if eff is None:
        eff = efficiency_for(hw.generation, row.get("framework") or "trtllm", table, release=release, accelerator=hw.accelerator_id,
                             model=model_id)
        # which fit applied: another generation's where this one has no measured rows (AMD's CDNA 3
        # borrows Hopper's), so that a prediction says what it rests on
        meta["efficiency"] = efficiency_source(hw.generation, row.get("framework") or "trtllm", table)
    isl, osl = cell_float(row, "isl_mean"), cell_float(row, "osl_mean")
    n_gpus = cell_int(row, "num_gpus")
    if not isl or not osl or not n_gpus:
        return unsupported("isl_mean, osl_mean or num_gpus missing")
    osl_cv = output_length_cv(osl, cell_float(row, "osl_max"))
    spec = Speculation(draft_tokens=max(1, m.mtp_layers or 1)) if cell_int(row, "mtp") == 1 else Speculation()
    scenario = row.get("scenario", "")
    disagg = cell_int(row, "disaggregated") == 1
    layouts = [lay for lay in row_layouts(row, m, hw) if lay.gpus <= n_gpus]
    if not layouts:
        return unsupported("no layout fits the row's GPU count")

    best: ServingPoint | None = None
    if scenario == "fixed-concurrency":
        conc = cell_int(row, "concurrency")
        if not conc:
            return unsupported("fixed-concurrency row without concurrency")
        if disagg:
            pg, dg = cell_int(row, "prefill_gpus"), cell_int(row, "decode_gpus")
            if not pg or not dg:
                return unsupported("disaggregated row without prefill/decode GPU counts")
            for lay in layouts:
                n_d = dg // lay.gpus
                if n_d < 1:
                    continue
                pl = prefill_layout(m, pc, hw, precision, pg, row.get("notes", ""))
                n_p = max(1, pg // pl.gpus)
                fit = memory_fit(m, pc, hw, lay, precision, int(isl + osl))
                c_inst = min(max(1, round(conc / n_d)), fit.max_concurrency(isl + osl))
                p = disaggregated_point(m, pc, hw, eff, pl, lay, precision, isl, osl, c_inst, spec, prefill_instances=n_p, decode_instances=n_d, osl_cv=osl_cv)
                if usable(p) and (best is None or p.tok_s_gpu > best.tok_s_gpu):
                    best = p
        else:
            for lay in layouts:
                n_inst = max(1, n_gpus // lay.gpus)
                fit = memory_fit(m, pc, hw, lay, precision, int(isl + osl))
                c_inst = min(max(1, round(conc / n_inst)), fit.max_concurrency(isl + osl))
                p = aggregated_point(m, pc, hw, eff, lay, precision, isl, osl, c_inst, spec, osl_cv=osl_cv)
                if usable(p) and (best is None or p.tok_s_gpu > best.tok_s_gpu):
                    best = p
    elif scenario in ("offline", "server", "interactive", "decode-only"):
        ttft_lim = cell_float(row, "ttft_p99_limit_ms")
        tpot_lim = cell_float(row, "tpot_p99_limit_ms")
        limited = scenario in ("server", "interactive")
        if limited and (ttft_lim is None or tpot_lim is None):
            return unsupported(f"{scenario} row without latency limits")
        lengths = Lengths(isl, osl, DEFAULT_LENGTH_CV, cell_float(row, "isl_max"), cell_float(row, "osl_max"))
        adp = row_adp_balance(row)  # the engine's attention-DP balancing, when the row states it
        # a row that does not say whether it was disaggregated is searched both ways, as a blank
        # layout is: its measured rate is a lower bound of the best configuration the row allows
        modes = (False,) if scenario in ("offline", "decode-only") else (disagg,) if (row.get("disaggregated") or "").strip() else (False, True)
        loaded: list[tuple[ServingPoint, int]] = []
        for lay in layouts:
            fit = memory_fit(m, pc, hw, lay, precision, int(isl + osl))
            max_c = fit.max_concurrency(isl + osl)
            # offline is the best batch, not always the largest: past some batch, attention
            # over every sequence's KV cache costs more than the batch brings
            sizes = [max_c] if scenario == "decode-only" else batch_sizes(max_c)
            for c, as_disagg in itertools.product(sizes, modes):
                if scenario == "decode-only":
                    p = disaggregated_point(m, pc, hw, eff, lay, lay, precision, isl, osl, c, spec, prefill_instances=1, decode_instances=1, osl_cv=osl_cv)
                    if p is not None:  # decode GPUs only: the decode pool's own rate
                        p = ServingPoint("decode-only", lay, c, c / p.tpot_s / lay.gpus, p.tok_s_user, p.ttft_s, p.tpot_s, lay.gpus)
                elif as_disagg:
                    pg, dg = cell_int(row, "prefill_gpus"), cell_int(row, "decode_gpus")
                    pl = prefill_layout(m, pc, hw, precision, pg, row.get("notes", "")) if pg else lay
                    p = disaggregated_point(m, pc, hw, eff, pl, lay, precision, isl, osl, c, spec,
                                            prefill_instances=max(1, pg // pl.gpus) if pg else None,
                                            decode_instances=max(1, dg // lay.gpus) if dg else None, max_gpus=n_gpus, osl_cv=osl_cv)
                else:
                    p = aggregated_point(m, pc, hw, eff, lay, precision, isl, osl, c, spec, osl_cv=osl_cv)
                if not usable(p):
                    continue
                if limited and latency_rule == "load":
                    loaded.append((p, max(1, n_gpus // lay.gpus)))  # judged below, best first
                    continue
                if limited and (p.ttft_s * P99_OVER_STEADY["ttft"] * 1e3 > ttft_lim or p.tpot_s * P99_OVER_STEADY["tpot"] * 1e3 > tpot_lim):
                    continue
                if limited and p.mode == "aggregated":
                    p = _with_admission_headroom(p, c * max(1, n_gpus // lay.gpus), osl, ttft_lim / 1e3)
                    if p is None:
                        continue
                if best is None or p.tok_s_gpu > best.tok_s_gpu:
                    best = p
        # the queueing rule, branch and bound: points in decreasing steady rate (an upper bound
        # of what each sustains) until none left can beat the best; ties keep the search order
        for i in sorted(range(len(loaded)), key=lambda i: -loaded[i][0].tok_s_gpu):
            p, instances = loaded[i]
            if best is not None and p.tok_s_gpu <= best.tok_s_gpu:
                break
            q = _under_load(p, m, pc, hw, eff, precision, lengths, spec, instances, ttft_lim / 1e3, tpot_lim / 1e3, adp)
            if q is not None and (best is None or q.tok_s_gpu > best.tok_s_gpu):
                best = q
    else:
        return unsupported(f"unknown scenario '{scenario}'")

    if best is None:
        if non_finite:
            return unsupported(f"the model predicts no finite, positive tok/s/GPU for this row (e.g. {non_finite[0].tok_s_gpu!r}); "
                               "check the row's lengths and the efficiency parameters")
        if scenario in ("server", "interactive"):
            return unsupported("no configuration meets the row's latency limits in the model")
        return unsupported("no memory-feasible configuration")
    return RowPrediction(
        rid, "ok", None, measured, best.tok_s_gpu, best.tok_s_user, cell_float(row, "tok_s_user"), best.ttft_s, best.tpot_s,
        {**best.as_dict(), "draft_tokens": spec.draft_tokens, **{k: best.details[k] for k in UNDER_LOAD_KEYS if k in best.details}}, meta,
    )


def summarise(preds: Iterable[RowPrediction]) -> dict[str, Any]:
    preds = list(preds)
    ok = [p for p in preds if p.status == "ok"]
    apes = np.array([p.ape for p in ok]) if ok else np.array([])

    def stats(sub: list[RowPrediction]) -> dict[str, Any]:
        a = np.array([p.ape for p in sub if p.status == "ok"])
        return {"n_ok": int(a.size), "median_ape": float(np.median(a)) if a.size else None, "p90_ape": float(np.percentile(a, 90)) if a.size else None}

    groups: dict[str, dict[str, Any]] = {}
    for key in ("source_kind", "hardware", "model", "scenario", "trust", "efficiency"):
        vals = sorted({(p.meta or {}).get(key) or "" for p in preds})
        groups[key] = {v: stats([p for p in preds if (p.meta or {}).get(key) == v]) for v in vals}
    trusted = [p for p in preds if (p.meta or {}).get("trust") in ("1", "2")]
    return _json_safe({
        "n_rows": len(preds),
        "n_ok": len(ok),
        "n_unsupported": len(preds) - len(ok),
        "median_ape": float(np.median(apes)) if apes.size else None,
        "p90_ape": float(np.percentile(apes, 90)) if apes.size else None,
        "trust_1_2": stats(trusted),
        "by": groups,
        "unsupported_reasons": _count(p.reason for p in preds if p.status != "ok"),
        # rows whose throughput disagrees with their own latencies (perf.rows.littles_law_ratio)
        "inconsistent_rows": sorted(p.id for p in preds if abs((p.meta or {}).get("littles_law_ratio", 1.0) - 1) > LITTLES_LAW_TOLERANCE),
    })


def _count(items: Iterable[str | None]) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in items:
        out[it or "?"] = out.get(it or "?", 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def validate_rows(rows: list[dict[str, str]], cat: Catalog, table: dict | None = None,
                  latency_rule: str = DEFAULT_LATENCY_RULE) -> tuple[list[RowPrediction], dict[str, Any]]:
    preds = [predict_row(r, cat, table, latency_rule=latency_rule) for r in rows]
    return preds, summarise(preds)


def log_error(p: RowPrediction) -> float:
    return math.log(p.predicted_tok_s_gpu / p.measured_tok_s_gpu)
