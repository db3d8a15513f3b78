"""Results the fit never saw, most from submitters with no row in it: every MLPerf Inference v5.1 LLM
result on accelerators that calibration.csv does not hold.

Run: python bench/bench_mlperf_v5_1_all.py [--json bench/results/mlperf_v5_1_all.json]

bench/data/mlperf_v5_1_all.csv (built by bench/data/build_mlperf_v5_1.py, selection in its
docstring) holds the round's valid closed-division results on Llama-2-70B, Llama-3.1-8B,
Llama-3.1-405B, DeepSeek-R1 and Mixtral-8x7B from 25 submitters, less the 28 rows calibration.csv
has.  Each is predicted with the committed calibration, as ``gigafactory validate`` would (fixed
ratios for the latency limits, the row's layout where the submitter's configuration names one,
its v5.1 release multipliers).  Rows on hardware or models the catalog lacks are reported as
coverage, not scored.  Errors: median and p90 of |predicted / measured - 1| and the median signed
error, overall and by hardware, model, scenario and submitter.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from gigafactory.catalog import load_catalog
from gigafactory.perf.validate import predict_row, read_measured_csv

HERE = Path(__file__).resolve().parent
ROWS = HERE / "data" / "mlperf_v5_1_all.csv"


def submitter(row: dict[str, str]) -> str:
    """The submitter, as the builder's note names it ("MLPerf v5.1 closed, <submitter>, system ...")."""
    return row["notes"].split(", ")[1]


def stats(errors: list[float]) -> dict:
    if not errors:
        return {"n": 0}
    s = np.array(errors)
    a = np.abs(s)
    return {"n": int(s.size), "median_ape": round(float(np.median(a)), 4), "p90_ape": round(float(np.percentile(a, 90)), 4),
            "median_signed": round(float(np.median(s)), 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default=str(ROWS))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    cat = load_catalog()
    rows = read_measured_csv(args.rows)
    preds = [predict_row(r, cat) for r in rows]
    scored = [(r, p, p.predicted_tok_s_gpu / p.measured_tok_s_gpu - 1.0) for r, p in zip(rows, preds) if p.status == "ok"]
    out: dict = {"rows": len(rows), "scored": len(scored), "all": stats([e for _, _, e in scored]), "by": {},
                 "not_scored": dict(Counter(p.reason for p in preds if p.status != "ok").most_common())}
    keys = {"hardware": lambda r: r["hardware"], "model": lambda r: r["model"], "scenario": lambda r: r["scenario"],
            "submitter": submitter}
    for name, key in keys.items():
        groups: dict[str, list[float]] = defaultdict(list)
        for r, _, e in scored:
            groups[key(r)].append(e)
        out["by"][name] = {k: stats(v) for k, v in sorted(groups.items())}
    out["errors"] = {r["id"]: round(e, 4) for r, _, e in scored}
    out.update(seconds=round(time.perf_counter() - t0, 1), date=time.strftime("%Y-%m-%d"),
               machine=f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
               command="python bench/bench_mlperf_v5_1_all.py")
    a = out["all"]
    print(f"{out['scored']} of {out['rows']} rows scored: median APE {100 * a['median_ape']:.1f} %, p90 {100 * a['p90_ape']:.1f} %, "
          f"median signed {100 * a['median_signed']:+.1f} %")
    for name in keys:
        for k, s in out["by"][name].items():
            print(f"  {name:9s} {k:40s} n {s['n']:3d}  median {100 * s['median_ape']:5.1f} %  p90 {100 * s['p90_ape']:5.1f} %  signed {100 * s['median_signed']:+6.1f} %")
    print("not scored:")
    for reason, n in out["not_scored"].items():
        print(f"  {n:3d}  {reason}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
