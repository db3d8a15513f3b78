"""Side-by-side error of gigafactory and NVIDIA AIConfigurator on the measured rows both support.

Inputs: bench/results/aiconfigurator_predictions.json (written by bench/aiconfigurator_compare.py,
which runs AIConfigurator in its own virtual environment).  gigafactory's predictions are made
here: in-sample (the committed calibration) and 5-fold cross-validated (the fold that predicts
a row never saw it), the fair comparison with a tool that was not fitted to these rows.

Run: python bench/compare_with_aiconfigurator.py [--measured ../shared/data/measured/calibration.csv]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from gigafactory.catalog import load_catalog
from gigafactory.perf.calibrate import cross_validated_predictions
from gigafactory.perf.efficiency import load_efficiencies
from gigafactory.perf.validate import predict_row, read_measured_csv

HERE = Path(__file__).resolve().parent


def _stats(apes: list[float]) -> dict:
    a = np.array(apes)
    return {"n": int(a.size), "median_ape": float(np.median(a)) if a.size else None, "p90_ape": float(np.percentile(a, 90)) if a.size else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--measured", default=str(HERE.parents[1] / "shared" / "data" / "measured" / "calibration.csv"))
    ap.add_argument("--aic", default=str(HERE / "results" / "aiconfigurator_predictions.json"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    cat = load_catalog()
    rows = read_measured_csv(args.measured)
    aic = {r["id"]: r for r in json.load(open(args.aic))["rows"]}

    in_sample = {r["id"]: predict_row(r, cat, load_efficiencies()) for r in rows}
    cv = cross_validated_predictions(rows, cat, folds=5, seed=0)

    out = {}
    for subset, keep in (("all", lambda r: True), ("trust_1_2", lambda r: r["trust"] in ("1", "2"))):
        common = [r["id"] for r in rows if keep(r) and in_sample[r["id"]].status == "ok" and aic.get(r["id"], {}).get("status") == "ok"]
        out[subset] = {
            "rows_both_support": len(common),
            "aiconfigurator": _stats([aic[i]["ape"] for i in common]),
            "gigafactory_5fold_cv": _stats([cv[i].ape for i in common if cv[i].status == "ok"]),
            "gigafactory_in_sample": _stats([in_sample[i].ape for i in common]),
        }
        for scen in ("offline", "server", "interactive", "fixed-concurrency"):
            ids = [i for i in common if next(r for r in rows if r["id"] == i)["scenario"] == scen]
            out[subset][f"scenario:{scen}"] = {
                "n": len(ids),
                "aiconfigurator_median": _stats([aic[i]["ape"] for i in ids])["median_ape"],
                "gigafactory_cv_median": _stats([cv[i].ape for i in ids if cv[i].status == "ok"])["median_ape"],
            }
    out["coverage"] = {"rows": len(rows), "gigafactory_ok": sum(p.status == "ok" for p in in_sample.values()),
                       "aiconfigurator_ok": sum(1 for r in rows if aic.get(r["id"], {}).get("status") == "ok"),
                       "aiconfigurator_version": json.load(open(args.aic)).get("aiconfigurator_version")}
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
