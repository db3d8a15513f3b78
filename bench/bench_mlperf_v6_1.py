"""The next MLPerf round, predicted: MLPerf Inference v6.1 rows the calibration has never seen.

Run: python bench/bench_mlperf_v6_1.py [--json bench/results/mlperf_v6_1.json]

calibration.csv stops at MLPerf v6.0.  bench/data/mlperf_v6_1.csv holds NVIDIA's v6.1 results
that could be read (bench/data/README.md): B300 (a GPU with no calibration row) DeepSeek-R1 and
Llama-2-70B, GB200 NVL72 DeepSeek-R1, Offline and Server, and the first Vera Rubin NVL72 result
(DeepSeek-R1 Offline, predicted from the catalog's announced Rubin specs).  Each is predicted
with the committed calibration; v6.1 has no release multipliers, so the base curve is used.
The Rubin row is also set beside the same submitter's GB300 NVL72 v6.0 row, so that the
generation-to-generation ratio is checked as well as the level.
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np

from gigafactory.catalog import load_catalog
from gigafactory.perf.efficiency import load_efficiencies
from gigafactory.perf.validate import predict_row, read_measured_csv

HERE = Path(__file__).resolve().parent
ROWS = HERE / "data" / "mlperf_v6_1.csv"
CALIBRATION = HERE.parents[1] / "shared" / "data" / "measured" / "calibration.csv"
RUBIN = "mlperf-v6.1-nvidia-vr-nvl72x72-deepseek-r1-offline"
GB300 = "mlperf-v6.0-nvidia-gb300x72-deepseek-r1-offline"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--calibration", default=str(CALIBRATION), help="calibration.csv, for the GB300 NVL72 v6.0 row beside Rubin")
    args = ap.parse_args()
    cat = load_catalog()
    table = load_efficiencies()
    preds = [predict_row(r, cat, table) for r in read_measured_csv(ROWS)]
    errors = {p.id: (p.predicted_tok_s_gpu / p.measured_tok_s_gpu - 1.0 if p.status == "ok" else None) for p in preds}
    for p in preds:
        e = errors[p.id]
        how = f"{p.predicted_tok_s_gpu:9,.0f} vs {p.measured_tok_s_gpu:9,.0f} tok/s/GPU  {e:+6.1%}  {p.config['layout']}" if e is not None else p.reason
        print(f"{p.id:55s} {how}")
    a = np.array([abs(e) for e in errors.values() if e is not None])
    out = {"machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}", "rows": len(preds),
           "median_ape": float(np.median(a)), "p90_ape": float(np.percentile(a, 90)), "max_ape": float(a.max()), "errors": errors}
    print(f"{a.size} rows: median APE {100 * out['median_ape']:.1f} %, p90 {100 * out['p90_ape']:.1f} %, max {100 * out['max_ape']:.1f} %")
    gb300 = next((r for r in read_measured_csv(args.calibration) if r["id"] == GB300), None)
    rubin = next(p for p in preds if p.id == RUBIN)
    if gb300 is not None and rubin.status == "ok":
        pg = predict_row(gb300, cat, table)
        out["rubin_over_gb300"] = {"predicted": rubin.predicted_tok_s_gpu / pg.predicted_tok_s_gpu,
                                   "measured": rubin.measured_tok_s_gpu / pg.measured_tok_s_gpu, "gb300_error": errors.get(GB300) or pg.predicted_tok_s_gpu / pg.measured_tok_s_gpu - 1.0}
        r = out["rubin_over_gb300"]
        print(f"Rubin / GB300 NVL72 (DeepSeek-R1 offline, v6.1 / v6.0): predicted {r['predicted']:.2f}, measured {r['measured']:.2f} "
              f"(the GB300 row itself {r['gb300_error']:+.1%}, in-sample)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
