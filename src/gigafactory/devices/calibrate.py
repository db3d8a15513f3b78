"""Fit the on-device model's efficiencies per backend class on measured rows, and validate them on
device/model pairs left out of the fit.

``fit_backend`` returns the :class:`BackendEfficiency` that ``perf.local_performance`` consumes:
- compute: closed form, the geometric mean of measured / predicted-at-100 % prefill rate;
- memory and token_overhead_s: least squares on log(predicted / measured) decode rate, inside BOUNDS.
Three parameters per class.  ``python -m gigafactory.devices.calibrate`` rewrites data/efficiency.yaml.
"""
from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from gigafactory.devices.catalog import DeviceCatalog, data_dir, load_device_catalog
from gigafactory.devices.perf import (
    BOUNDS,
    KV_BYTES_PER_ELEMENT,
    BackendEfficiency,
    backend_class,
    decode_s_per_token,
    efficiency_path,
    peak_compute,
    prefill_tok_s,
)

#: AI Hub model names -> device-catalog ids.  Llama-3-8B fine-tunes (SEA-LION, ELYZA, TAIDE) are left out:
#: their rows repeat the base model's figures digit for digit, so they would only re-weight it.
#: Models without a catalogued architecture (Baichuan2, Falcon3, Granite, Indus, JAIS, PLaMo, Qwen2) are
#: left out too.
QAIHUB_MODEL_IDS = {
    "llama_v3_2_1b_instruct": "llama-3.2-1b",
    "llama_v3_2_3b_instruct": "llama-3.2-3b",
    "llama_v3_1_8b_instruct": "llama-3.1-8b",
    "llama_v3_8b_instruct": "llama-3-8b",
    "llama_v2_7b_chat": "llama-2-7b",
    "qwen2_5_1_5b_instruct": "qwen2.5-1.5b",
    "qwen2_5_7b_instruct": "qwen2.5-7b",
    "phi_3_5_mini_instruct": "phi-3.5-mini",
    "mistral_7b_instruct_v0_3": "mistral-7b",
}
MIN_DECODE_ROWS = 3  # memory + overhead from fewer rows would be interpolation, not a fit


@dataclass(frozen=True)
class MeasuredRow:
    row_id: str
    device: str
    model: str  # device-catalog model id
    precision: str
    decode_context_tokens: int  # KV length read per decoded token (derived; see SOURCE.md)
    prefill_tok_s: float | None  # [tok/s]
    decode_tok_s: float | None  # [tok/s]
    source: str


def load_measured_rows(cat: DeviceCatalog | None = None, directory: str | Path | None = None) -> list[MeasuredRow]:
    """Every usable measured row: the AI Hub table (mapped ids) and the extra table."""
    cat = cat or load_device_catalog()
    d = Path(directory) if directory is not None else data_dir()
    rows: list[MeasuredRow] = []
    with open(d / "qaihub_llm_perf.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            mid = QAIHUB_MODEL_IDS.get(r["model"])
            if mid is None or r["device"] not in cat.devices:
                continue
            ctx = int(r["context_length"])
            rows.append(MeasuredRow(
                row_id=f"qaihub-{r['model']}-{r['precision']}-{r['device']}", device=r["device"], model=mid,
                precision=r["precision"], decode_context_tokens=ctx,  # static-shape NPU graphs read the whole cache
                prefill_tok_s=ctx / (float(r["ttft_max_ms"]) / 1e3), decode_tok_s=float(r["tokens_per_second"]),
                source="https://github.com/quic/ai-hub-models",
            ))
    with open(d / "device_llm_perf_extra.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append(MeasuredRow(
                row_id=r["row_id"], device=r["device"], model=r["model"], precision=r["precision"],
                decode_context_tokens=int(r["decode_context_tokens"]),
                prefill_tok_s=float(r["prefill_tok_s"]) if r["prefill_tok_s"] else None,
                decode_tok_s=float(r["decode_tok_s"]) if r["decode_tok_s"] else None, source=r["source"],
            ))
    return rows


def row_backend(row: MeasuredRow, cat: DeviceCatalog) -> str:
    return backend_class(cat.precision(row.precision), cat.soc_of(cat.device(row.device)))


def predict_row(row: MeasuredRow, cat: DeviceCatalog, eff: BackendEfficiency) -> tuple[float, float]:
    """(prefill tok/s, decode tok/s) predicted for a measured row's conditions (burst, no derate)."""
    dev = cat.device(row.device)
    soc = cat.soc_of(dev)
    m = cat.model(row.model)
    prec = cat.precision(row.precision)
    peak = peak_compute(eff.backend, soc) or float("nan")
    pre = prefill_tok_s(m.total_params, peak, eff.compute)
    kv = m.kv_bytes_per_token(KV_BYTES_PER_ELEMENT) * row.decode_context_tokens
    dec = 1.0 / decode_s_per_token(m.weights_bytes(prec), kv, soc.memory_bandwidth_bytes_per_s, eff.memory, eff.token_overhead_s)
    return pre, dec


@dataclass(frozen=True)
class FitReport:
    efficiency: BackendEfficiency
    rows: tuple[str, ...]
    n_prefill_rows: int
    n_decode_rows: int
    in_sample_median_ape_prefill: float
    in_sample_median_ape_decode: float


def fit_backend(rows: list[MeasuredRow], cat: DeviceCatalog, backend: str) -> FitReport:
    """Fit one backend class on ``rows`` (all of that class)."""
    from scipy.optimize import least_squares

    unit = BackendEfficiency(backend, compute=1.0, memory=1.0, token_overhead_s=0.0)
    pre_rows = [r for r in rows if r.prefill_tok_s]
    dec_rows = [r for r in rows if r.decode_tok_s]
    if pre_rows:
        logs = [math.log(r.prefill_tok_s / predict_row(r, cat, unit)[0]) for r in pre_rows]  # type: ignore[operator]
        compute = float(np.clip(math.exp(float(np.mean(logs))), *BOUNDS["compute"]))
    else:
        compute = BOUNDS["compute"][0]  # no prefill evidence: the bound, flagged by n_prefill_rows = 0
    lo = np.array([BOUNDS["memory"][0], BOUNDS["token_overhead_s"][0] * 1e3])
    hi = np.array([BOUNDS["memory"][1], BOUNDS["token_overhead_s"][1] * 1e3])

    def residuals(x: np.ndarray) -> np.ndarray:
        e = BackendEfficiency(backend, compute, float(x[0]), float(x[1]) / 1e3)
        return np.array([math.log(predict_row(r, cat, e)[1] / r.decode_tok_s) for r in dec_rows])  # type: ignore[operator]

    res = least_squares(residuals, np.array([0.6, 2.0]), bounds=(lo, hi), method="trf")
    eff = BackendEfficiency(backend, compute=compute, memory=float(res.x[0]), token_overhead_s=float(res.x[1]) / 1e3)
    ape_p = [abs(predict_row(r, cat, eff)[0] / r.prefill_tok_s - 1) for r in pre_rows]  # type: ignore[operator]
    ape_d = [abs(predict_row(r, cat, eff)[1] / r.decode_tok_s - 1) for r in dec_rows]  # type: ignore[operator]
    return FitReport(eff, tuple(r.row_id for r in rows), len(pre_rows), len(dec_rows),
                     float(np.median(ape_p)) if ape_p else float("nan"), float(np.median(ape_d)))


def group_by_backend(rows: Iterable[MeasuredRow], cat: DeviceCatalog) -> dict[str, list[MeasuredRow]]:
    out: dict[str, list[MeasuredRow]] = {}
    for r in rows:
        out.setdefault(row_backend(r, cat), []).append(r)
    return out


def calibrate(rows: list[MeasuredRow], cat: DeviceCatalog) -> dict[str, FitReport]:
    """Fit every backend class with at least MIN_DECODE_ROWS decode rows and one prefill row."""
    return {b: fit_backend(rs, cat, b) for b, rs in sorted(group_by_backend(rows, cat).items())
            if sum(r.decode_tok_s is not None for r in rs) >= MIN_DECODE_ROWS and any(r.prefill_tok_s for r in rs)}


def write_efficiency_file(reports: Mapping[str, FitReport], path: Path | None = None, today: str | None = None) -> None:
    path = path or efficiency_path()
    body = {
        "description": "On-device efficiencies per backend class, fitted by gigafactory.devices.calibrate.",
        "fitted_on": today or dt.date.today().isoformat(),
        "measured_sources": ["devices/data/qaihub_llm_perf.csv", "devices/data/device_llm_perf_extra.csv"],
        "bounds": {k: list(v) for k, v in BOUNDS.items()},
        "parameters": [
            {"backend": b, "compute": float(f"{r.efficiency.compute:.6g}"), "memory": float(f"{r.efficiency.memory:.6g}"),
             "token_overhead_s": float(f"{r.efficiency.token_overhead_s:.6g}"), "n_prefill_rows": r.n_prefill_rows,
             "n_decode_rows": r.n_decode_rows, "in_sample_median_ape_prefill": round(r.in_sample_median_ape_prefill, 4),
             "in_sample_median_ape_decode": round(r.in_sample_median_ape_decode, 4), "rows": list(r.rows)}
            for b, r in reports.items()
        ],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(body, sort_keys=False, width=120), encoding="utf-8")
    tmp.replace(path)


# --- held-out validation ----------------------------------------------------------------------------

@dataclass(frozen=True)
class HeldOut:
    row: MeasuredRow
    backend: str
    predicted_prefill_tok_s: float | None
    predicted_decode_tok_s: float | None

    @property
    def ape_ttft(self) -> float | None:
        """TTFT APE = |measured / predicted prefill rate - 1| (TTFT = prompt / rate)."""
        if self.row.prefill_tok_s is None or self.predicted_prefill_tok_s is None:
            return None
        return abs(self.row.prefill_tok_s / self.predicted_prefill_tok_s - 1)

    @property
    def ape_decode(self) -> float | None:
        if self.row.decode_tok_s is None or self.predicted_decode_tok_s is None:
            return None
        return abs(self.predicted_decode_tok_s / self.row.decode_tok_s - 1)


def leave_one_out(rows: list[MeasuredRow], cat: DeviceCatalog, key: Callable[[MeasuredRow], str]) -> list[HeldOut]:
    """Each row predicted by efficiencies fitted without every row sharing its ``key`` (its device, or
    its model).  A row whose backend has too few rows left is not predictable and is skipped."""
    out: list[HeldOut] = []
    for group in sorted({key(r) for r in rows}):
        held = [r for r in rows if key(r) == group]
        table = calibrate([r for r in rows if key(r) != group], cat)
        for r in held:
            b = row_backend(r, cat)
            if b not in table:
                continue
            eff = table[b].efficiency
            pre, dec = predict_row(r, cat, eff)
            out.append(HeldOut(r, b, pre if table[b].n_prefill_rows else None, dec))
    return out


def summarise(held: list[HeldOut]) -> dict[str, dict[str, float]]:
    """Per backend and overall: n, median and worst APE of TTFT and decode rate."""
    groups: dict[str, list[HeldOut]] = {}
    for h in held:
        groups.setdefault(h.backend, []).append(h)
    groups["all"] = list(held)
    out = {}
    for b, hs in groups.items():
        t = [h.ape_ttft for h in hs if h.ape_ttft is not None]
        d = [h.ape_decode for h in hs if h.ape_decode is not None]
        out[b] = {"n_ttft": len(t), "median_ttft": float(np.median(t)) if t else float("nan"), "worst_ttft": max(t, default=float("nan")),
                  "n_decode": len(d), "median_decode": float(np.median(d)) if d else float("nan"), "worst_decode": max(d, default=float("nan"))}
    return out


def main() -> None:
    cat = load_device_catalog()
    reports = calibrate(load_measured_rows(cat), cat)
    write_efficiency_file(reports)
    for b, r in reports.items():
        e = r.efficiency
        print(f"{b:22s} compute {e.compute:.3f}  memory {e.memory:.3f}  overhead {e.token_overhead_s * 1e3:.2f} ms  "
              f"rows {r.n_prefill_rows}/{r.n_decode_rows}  in-sample MdAPE {r.in_sample_median_ape_prefill:.1%} / {r.in_sample_median_ape_decode:.1%}")


if __name__ == "__main__":
    main()
