"""The queueing model (perf/load.py) against the latencies MLPerf servers measured (issue 21, item 2).

    python bench/bench_load_vs_measured.py [--measured CSV] [--json bench/results/load_vs_measured.json]

Every trust 1-2 MLPerf Server / Interactive row of calibration.csv with measured p50/p99 TTFT and
TPOT (LoadGen's own percentiles) and an aggregated layout is evaluated twice:

- **at the real operating point.**  The sequences an instance had in flight follow from Little's
  law: tok/s of the instance x its p50 TPOT.  The model's steady point at that concurrency, in the
  layout ``validate`` picks for the row, is loaded at the measured arrival rate
  (``perf.load.load_at``), and its p50/p99 TTFT and TPOT are compared with the measured ones.
  This checks the queue, not the step model: where the step model is off at that batch, the
  rate is scaled to the measured one.
- **at the model's own point for the measured rate.**  The smallest concurrency at which the
  model reaches the measured tok/s/GPU, loaded at that rate: what the model believes the engine
  was doing.  Rows whose measured rate the model cannot reach are listed as beyond it.

Rows whose submission configures TensorRT-LLM's attention-DP balancing (the seven v6.0 DeepSeek-R1
rows of bench/data/mlperf_v6_deepseek_configs.csv, read from the submitters' configuration files)
get its settings as the row cells ``adp_balancing_timeout_iters`` and
``adp_balancing_batching_wait_iters``: the queue then holds their prompts as the engine does
(``perf.load.AdpBalance``); ``--no-engine-settings`` leaves them out.

Ratios are model / measured; "factor" is exp(median |ln ratio|)."""
from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import time
from pathlib import Path

import numpy as np

from gigafactory.catalog import load_catalog
from gigafactory.perf import validate as V
from gigafactory.perf.architecture import param_counts
from gigafactory.perf.efficiency import efficiency_for
from gigafactory.perf.load import DEFAULT_LENGTH_CV, Lengths, load_at
from gigafactory.perf.memory import memory_fit
from gigafactory.perf.power import row_hardware
from gigafactory.perf.releases import software_release
from gigafactory.perf.rows import cell_float, cell_int, output_length_cv, row_adp_balance, row_layouts, row_precision
from gigafactory.perf.serving import Speculation, aggregated_point

REPO = Path(__file__).resolve().parents[1]
MEASURED = REPO.parent / "shared/data/measured/calibration.csv"
KEYS = ("ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p99_ms")
ENGINE_SETTINGS = REPO / "bench/data/mlperf_v6_deepseek_configs.csv"
ADP_CELLS = ("adp_balancing_timeout_iters", "adp_balancing_batching_wait_iters")


def with_engine_settings(rows: list[dict[str, str]], path: Path = ENGINE_SETTINGS) -> list[dict[str, str]]:
    """The rows, those with a published configuration that enables attention-DP balancing given
    its settings as cells (perf.rows.row_adp_balance reads them)."""
    with open(path, encoding="utf-8") as f:
        configs = {c["id"]: c for c in csv.DictReader(f) if c.get("adp_balancing_enable") == "True"}
    return [{**r, **{k: configs[r["id"]][k] for k in ADP_CELLS}} if r["id"] in configs else r for r in rows]


def _latencies_ms(lp) -> list[float]:
    return [lp.ttft_p50_s * 1e3, lp.ttft_p99_s * 1e3, lp.tpot_p50_s * 1e3, lp.tpot_p99_s * 1e3]


def evaluate(rows: list[dict[str, str]], cat) -> list[dict]:
    """One record per evaluable row: the measured latencies and the model's at both points."""
    out = []
    for r in rows:
        if r["scenario"] not in ("server", "interactive") or r["trust"] not in ("1", "2") or not all(r.get(k) for k in KEYS):
            continue
        if cell_int(r, "disaggregated") == 1:
            continue  # the model's disaggregated TTFT is not separable from the row's pool split
        pred = V.predict_row(r, cat)
        if pred.status != "ok":
            continue
        m = cat.model(cat.resolve_id("models", r["model"]))
        pc, hw = param_counts(m), row_hardware(cat, r)
        prec = row_precision(r["precision"], hw).precision  # predicted (and so here) in what the GPU computes
        eff = efficiency_for(hw.generation, r.get("framework") or "trtllm", None, release=software_release(r))
        isl, osl, n_gpus = float(r["isl_mean"]), float(r["osl_mean"]), int(r["num_gpus"])
        spec = Speculation(draft_tokens=max(1, m.mtp_layers or 1)) if r.get("mtp") == "1" else Speculation()
        osl_cv = output_length_cv(osl, cell_float(r, "osl_max"))
        lengths = Lengths(isl, osl, DEFAULT_LENGTH_CV, cell_float(r, "isl_max"), cell_float(r, "osl_max"))
        lay = next(x for x in row_layouts(r, m, hw) if x.label() == pred.config["layout"])
        instances = max(1, n_gpus // lay.gpus)
        max_c = memory_fit(m, pc, hw, lay, prec, int(isl + osl)).max_concurrency(isl + osl)
        measured = float(r["tok_s_gpu"])

        def point(c: int):
            return aggregated_point(m, pc, hw, eff, lay, prec, isl, osl, c, spec, osl_cv=osl_cv)

        # the real operating point: sequences in flight per instance by Little's law
        c_real = max(1, round(measured * lay.gpus * float(r["tpot_p50_ms"]) / 1e3))
        p = point(min(c_real, max_c))
        adp = row_adp_balance(r)
        real = load_at(p, m, pc, hw, eff, prec, lengths, spec, instances=instances, rate_scale=measured / p.tok_s_gpu, adp=adp)
        rec = {"id": r["id"], "scenario": r["scenario"], "layout": lay.label(), "adp_balance": adp.__dict__ if adp else None, "measured": [float(r[k]) for k in KEYS],
               "limits_ms": [float(r["ttft_p99_limit_ms"]), float(r["tpot_p99_limit_ms"])],
               "concurrency_real": c_real, "max_concurrency": max_c, "steady_tok_s_gpu_at_real": p.tok_s_gpu,
               "at_real_point": _latencies_ms(real), "ratio_prediction_tok_s_gpu": pred.predicted_tok_s_gpu, "measured_tok_s_gpu": measured}
        # the model's own point for the measured rate (bisection on the concurrency)
        top = point(max_c)
        if top is None or top.tok_s_gpu < measured:
            rec["at_model_point"] = None
        else:
            lo, hi = 0, max_c
            while hi - lo > 1:
                mid = (lo + hi) // 2
                q = point(mid)
                lo, hi = (lo, mid) if q is not None and q.tok_s_gpu >= measured else (mid, hi)
            q = point(hi)
            own = load_at(q, m, pc, hw, eff, prec, lengths, spec, instances=instances, rate_scale=measured / q.tok_s_gpu, adp=adp)
            rec["concurrency_model"] = hi
            rec["at_model_point"] = _latencies_ms(own)
        out.append(rec)
    return out


def summary(records: list[dict], key: str) -> dict:
    """Median ratio model / measured and the median error factor, per latency."""
    logs = np.array([[math.log(x[key][i] / x["measured"][i]) for i in range(4)] for x in records
                     if x.get(key) and all(map(math.isfinite, x[key]))])
    if not logs.size:
        return {"n": 0}
    return {"n": int(len(logs)),
            "median_ratio": dict(zip(KEYS, np.exp(np.median(logs, 0)).round(3).tolist())),
            "error_factor": dict(zip(KEYS, np.exp(np.median(np.abs(logs), 0)).round(3).tolist()))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--measured", default=str(MEASURED))
    ap.add_argument("--json", default=str(REPO / "bench/results/load_vs_measured.json"))
    ap.add_argument("--no-engine-settings", action="store_true", help="leave out the attention-DP balancing the configurations name")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = V.read_measured_csv(args.measured)
    recs = evaluate(rows if args.no_engine_settings else with_engine_settings(rows), load_catalog())
    for x in recs:
        a, mm = x["at_real_point"], x["measured"]
        print(f"{x['id'][:54]:54} {x['layout']:6} c {x['concurrency_real']:5d}  TTFT p50 {a[0]:6.0f}/{mm[0]:6.0f}  p99 {a[1]:6.0f}/{mm[1]:6.0f}"
              f"  TPOT p50 {a[2]:6.1f}/{mm[2]:6.1f}  p99 {a[3]:6.1f}/{mm[3]:6.1f} ms")
    res = {"at_real_point": summary(recs, "at_real_point"), "at_model_point": summary(recs, "at_model_point"),
           "beyond_model": [x["id"] for x in recs if x["at_model_point"] is None],
           "wall_s": round(time.perf_counter() - t0, 1), "date": time.strftime("%Y-%m-%d"),
           "machine": f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
           "command": "python bench/bench_load_vs_measured.py" + (" --no-engine-settings" if args.no_engine_settings else "")}
    print(json.dumps(res, indent=1))
    Path(args.json).write_text(json.dumps({"summary": res, "rows": recs}, indent=1))


if __name__ == "__main__":
    main()
