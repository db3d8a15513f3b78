"""What one measured row (the columns of shared/data/measured/calibration.csv) asks the model
for: its cells as numbers, the parallel layouts it allows, the precision the GPU computes it in,
its prefill layout and its output-length spread.  Shared by ``validate`` (throughput), the
simulator's replay of server rows and the benches that check latencies, so that every one of them
reads a row the same way."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from gigafactory.perf.hardware import PRECISIONS, Hardware
from gigafactory.perf.layout import Layout
from gigafactory.perf.load import DEFAULT_LENGTH_CV, AdpBalance, cv_within_max
from gigafactory.perf.memory import memory_fit
from gigafactory.perf.search import candidate_layouts


def cell_float(row: dict, key: str) -> float | None:
    """The cell as a float; None when blank, not a number, or not finite."""
    v = (row.get(key) or "").strip()
    if not v:
        return None
    try:
        x = float(v)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def cell_int(row: dict, key: str) -> int | None:
    """The cell as an int (a float cell truncated); None as for :func:`cell_float`."""
    v = cell_float(row, key)
    return None if v is None else int(v)


#: a fixed-concurrency row whose throughput is further than this share from what its own latencies
#: give (:func:`littles_law_ratio`) is flagged as inconsistent
LITTLES_LAW_TOLERANCE = 0.15


def littles_law_ratio(row: dict) -> float | None:
    """A fixed-concurrency row's measured tok/s/GPU over what its own median latencies give by
    Little's law: concurrency x output length / (TTFT + (output - 1) x TPOT) / GPUs [1].

    The law holds for means; the table gives medians, which a run with a long TTFT tail, stalls,
    a ramp or a slow client leaves far above its throughput: a ratio well below 1 marks time its
    median latencies do not show, which a step-time model does not predict (its error on such a
    row is partly the run's).  Well above 1, the concurrency or the latencies are suspect.  None
    when the row is not fixed-concurrency or lacks a cell."""
    if (row.get("scenario") or "") != "fixed-concurrency":
        return None
    c, osl, gpus, tok = (cell_float(row, k) for k in ("concurrency", "osl_mean", "num_gpus", "tok_s_gpu"))
    ttft, tpot = cell_float(row, "ttft_p50_ms"), cell_float(row, "tpot_p50_ms")
    if not all(x is not None and x > 0 for x in (c, osl, gpus, tok, ttft, tpot)):
        return None
    return tok / (c * osl / ((ttft + (osl - 1) * tpot) / 1e3) / gpus)


def row_adp_balance(row: dict) -> AdpBalance | None:
    """The attention-DP balancing a row's engine ran (``perf.load.AdpBalance``), from its optional
    ``adp_balancing_timeout_iters`` and ``adp_balancing_batching_wait_iters`` cells (the names of
    the settings in NVIDIA's MLPerf configurations); None when the row does not state a timeout."""
    timeout = cell_int(row, "adp_balancing_timeout_iters")
    if not timeout or timeout < 1:
        return None
    return AdpBalance(timeout, max(0, cell_int(row, "adp_balancing_batching_wait_iters") or 0))


def row_layouts(row: dict, m: Any, hw: Hardware) -> list[Layout]:
    """The layouts a row allows: the one its tp / ep / pp / dp_attention cells state (both
    attention variants of an MoE row that leaves dp_attention blank), or every candidate layout
    up to its GPU count when it states none."""
    tp, ep, pp, dp = cell_int(row, "tp"), cell_int(row, "ep"), cell_int(row, "pp"), cell_int(row, "dp_attention")
    if tp is None:
        return candidate_layouts(m, hw, max_gpus=cell_int(row, "num_gpus"))
    pp = pp or 1
    if m.architecture != "moe":
        return [Layout(tp=tp, pp=pp)]
    if dp is None:
        return [Layout(tp=tp, pp=pp, ep=ep or tp), Layout(tp=tp, pp=pp, ep=tp, dp_attention=True)]
    return [Layout(tp=tp, pp=pp, ep=(ep or tp) if not dp else tp, dp_attention=bool(dp))]


@dataclass(frozen=True)
class RowPrecision:
    """The precision a row is predicted in: ``precision`` None when it cannot be (``reason``);
    ``substitution`` says so when the GPU lacks the row's own."""
    precision: str | None
    substitution: str | None = None
    reason: str | None = None


def row_precision(precision: str, hw: Hardware) -> RowPrecision:
    """The row's precision where the GPU computes it natively; else (e.g. NVFP4 asked of Hopper,
    which has no FP4 tensor cores) the next wider precision it does, stated.  An engine with a
    weight-only FP4 kernel would read fewer weight bytes: conservative when memory-bound."""
    precision = (precision or "").strip()
    if precision not in PRECISIONS:
        return RowPrecision(None, reason=f"unknown precision '{precision}' (expected one of {', '.join(PRECISIONS)})")
    if hw.supports(precision):
        return RowPrecision(precision)
    wider = [p for p in reversed(PRECISIONS[:PRECISIONS.index(precision)]) if hw.supports(p)]
    if not wider:
        return RowPrecision(None, reason=f"precision '{precision}' not supported on {hw.accelerator_id}, and no wider precision is")
    return RowPrecision(wider[0], substitution=(f"{precision} -> {wider[0]}: {hw.accelerator_id} has no {precision.upper()} tensor cores; "
                                                f"predicted with {wider[0].upper()} weights and math"))


_PREFILL_NOTE = re.compile(r"prefill\s+\d+\s*GPU\s*=\s*(\d+)\s*x\s*TP(\d+)(?:/EP(\d+))?(\s*DPattn)?", re.IGNORECASE)
#: MLPerf's Dynamo notes: "26 prefill workers x 2 GPU (TP2)", "2 prefill workers x 4 GPU (DEP4)"
#: (DEP: expert-parallel over the worker's GPUs with data-parallel attention)
_PREFILL_WORKERS_NOTE = re.compile(r"(\d+)\s*prefill\s+workers?\s*x\s*\d+\s*GPUs?\s*\((D?EP|TP)(\d+)\)", re.IGNORECASE)


def prefill_layout(m: Any, pc: Any, hw: Hardware, precision: str, prefill_gpus: int, notes: str = "") -> Layout:
    """The prefill instance layout of a disaggregated row: from the row's notes when they state
    it ("prefill 32 GPU = 2 x TP16/EP16 DPattn", "26 prefill workers x 2 GPU (TP2)"), else the smallest power-of-two instance (up to 4
    GPUs if memory allows, the common TRT-LLM / Dynamo prefill worker size) whose weights fit."""
    hit = _PREFILL_NOTE.search(notes or "")
    if hit and int(hit.group(2)) >= 1 and int(hit.group(3) or 1) >= 1:  # a note with TP0 is ignored
        tp = int(hit.group(2))
        ep = int(hit.group(3)) if hit.group(3) else 1
        return Layout(tp=tp, ep=ep, dp_attention=bool(hit.group(4)) and m.architecture == "moe")
    hit = _PREFILL_WORKERS_NOTE.search(notes or "")
    if hit and int(hit.group(3)) >= 1:
        g, kind = int(hit.group(3)), hit.group(2).upper()
        moe = m.architecture == "moe"
        return Layout(tp=g, ep=g if moe and kind != "TP" else 1, dp_attention=moe and kind == "DEP")
    g = 1
    while g <= prefill_gpus:
        lay = Layout(tp=g, ep=g, dp_attention=g > 1) if m.architecture == "moe" else Layout(tp=g)
        if (g >= 4 or g * 2 > prefill_gpus) and memory_fit(m, pc, hw, lay, precision, 8192).fits:
            return lay
        g *= 2
    return Layout(tp=g // 2 or 1)


def output_length_cv(osl_mean: float | None, osl_max: float | None) -> float:
    """The output-length CV a row implies: 0 where the lengths are fixed (mean = max, or no
    maximum published: nominal lengths), else a lognormal of the row's mean whose stated maximum
    sits at its 99.9th percentile, at most CV 1 (``load.cv_within_max``)."""
    if not osl_mean or not osl_max or osl_max <= osl_mean:
        return 0.0
    return cv_within_max(osl_mean, DEFAULT_LENGTH_CV, osl_max)
