"""A model never fitted, at known lengths: gpt-oss-120b against InferenceMAX on B200.

Run: python bench/bench_gpt_oss_inferencemax.py [--json bench/results/gpt_oss_inferencemax.json] [--refit]

bench/data/inferencemax_gpt_oss_120b.csv holds 56 InferenceMAX fixed-concurrency results of
gpt-oss-120b (MXFP4 experts) on B200 with TensorRT-LLM 1.2.0rc2 and vLLM 0.13.0, TP1-8, with and
without attention-DP, at 1k/1k, 1k/8k and 8k/1k and 4, 32 and 128 requests in flight (selection in
bench/data/build_inferencemax_gpt_oss.py).  Unlike the MLPerf gpt-oss rows
(bench_gpt_oss_heldout.py) their prompt and output lengths are known, so nothing is inferred from
an anchor: the committed calibration, which has never seen this model, predicts every row as is.

--refit also measures the rows as fit data: the calibration rows plus these, 5-fold CV (seed 0),
leave one model out and leave one hardware type out, reported on calibration.csv's trust 1-2 rows
(the issue's targets) and on these rows (about 8 minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from gigafactory.catalog import load_catalog
from gigafactory.perf.calibrate import cross_validated_predictions
from gigafactory.perf.efficiency import load_efficiencies
from gigafactory.perf.validate import predict_row, read_measured_csv

HERE = Path(__file__).resolve().parent
ROWS = HERE / "data" / "inferencemax_gpt_oss_120b.csv"
CALIBRATION = HERE.parents[1] / "shared" / "data" / "measured" / "calibration.csv"


def lengths_of(row_id: str) -> str:
    """'1k1k', '1k8k' or '8k1k' from a row id of the data file."""
    return row_id.split("-gptoss-")[1][:4]


def stats(preds) -> dict:
    ok = [p for p in preds if p.status == "ok"]
    s = np.array([p.predicted_tok_s_gpu / p.measured_tok_s_gpu - 1.0 for p in ok])
    if not s.size:
        return {"n": 0}
    a = np.abs(s)
    return {"n": int(s.size), "median_ape": float(np.median(a)), "p90_ape": float(np.percentile(a, 90)),
            "median_signed": float(np.median(s))}


def held_out_report(preds, rows) -> dict:
    by_id = {r["id"]: r for r in rows}
    groups = {
        "framework": lambda r: r["framework"],
        "lengths": lambda r: lengths_of(r["id"]),
        "concurrency": lambda r: r["concurrency"],
        "tp": lambda r: r["tp"],
        "attention_dp": lambda r: r["dp_attention"],
    }
    return {"all": stats(preds), **{
        name: {v: stats([p for p in preds if key(by_id[p.id]) == v]) for v in sorted({key(r) for r in rows}, key=str)}
        for name, key in groups.items()}}


def refit(cat, rows) -> dict:
    """The rows as fit data: held-out figures with them added to calibration.csv."""
    import bench_perf_accuracy as acc  # the leave-one-group-out loop of the main bench

    base = read_measured_csv(CALIBRATION)
    original = {r["id"] for r in base}
    pooled = base + rows

    def split(preds) -> dict:
        trusted = [p for p in preds if p.meta.get("trust") in ("1", "2")]
        return {"calibration_trust_1_2": acc._stats([p for p in trusted if p.id in original]),
                "gpt_oss_rows": acc._stats([p for p in trusted if p.id not in original])}

    cv = list(cross_validated_predictions(pooled, cat, folds=5, seed=0).values())
    model_of = {r["id"]: cat.resolve_id("models", r["model"]) or r["model"] for r in pooled}
    out = {"kfold5_seed0": split(cv),
           "server_rows_cv": acc._stats([p for p in cv if p.meta.get("scenario") == "server"])}
    out["leave_one_model_out"] = split(acc.held_out(pooled, cat, lambda r: model_of[r["id"]]))
    out["leave_one_hardware_out"] = split(acc.held_out(pooled, cat, lambda r: r["hardware"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--refit", action="store_true", help="also measure the rows as fit data (about 8 minutes)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    cat = load_catalog()
    rows = read_measured_csv(ROWS)
    preds = [predict_row(r, cat, load_efficiencies()) for r in rows]
    out = {"machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
           "rows": len(rows), "held_out": held_out_report(preds, rows),
           "tpot_predicted_over_measured_at_4_requests": {
               fw: float(np.median([p.predicted_tpot_s * 1000.0 / float(r["tpot_p50_ms"]) for p, r in zip(preds, rows)
                                    if r["framework"] == fw and r["concurrency"] == "4" and p.status == "ok"]))
               for fw in sorted({r["framework"] for r in rows})}}
    if args.refit:
        out["refit"] = refit(cat, rows)
    out["seconds"] = time.perf_counter() - t0
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
