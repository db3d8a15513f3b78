"""Server and interactive rows under validate's two latency rules (issue 21, item 2).

    python bench/bench_latency_rules.py [--measured CSV] [--folds 5] [--seed 0] [--json bench/results/latency_rules.json]

Every trust 1-2 MLPerf Server / Interactive row of calibration.csv is predicted twice:

- ``ratios``: a point is feasible when its steady-state TTFT x 1.7 and TPOT x 1.12 meet the
  row's p99 limits, fed at the share of saturation whose p99 wait for a batch slot fits the TTFT
  budget (validate.P99_OVER_STEADY, load.admission_utilisation);
- ``load``: the p99 TTFT and TPOT of the queueing model (perf.load) at the largest share of
  saturation that meets both limits (search.sustainable_fraction, the serving search's rule).

Both in-sample (the committed efficiency file) and in k-fold cross-validation (each fold fitted
once, without its rows, under the default rule; both rules predict from that fit).  Median and p90 APE and the median
signed error per scenario.

Beside them, the spread no latency rule can remove: rows of the same system, model, scenario and
MLPerf round from different submitters (measured tok/s/GPU, larger / smaller)."""
from __future__ import annotations

import argparse
import json
import platform
import time
from itertools import combinations
from pathlib import Path

import numpy as np

from gigafactory.catalog import load_catalog
from gigafactory.perf.calibrate import cross_validation_folds
from gigafactory.perf.releases import software_release
from gigafactory.perf.validate import LATENCY_RULES, predict_row, read_measured_csv

REPO = Path(__file__).resolve().parents[1]
MEASURED = REPO.parent / "shared/data/measured/calibration.csv"
LIMITED = ("server", "interactive")


def _stats(preds: list, rows: list[dict[str, str]]) -> dict:
    out = {}
    for sc in (*LIMITED, "both"):
        sub = [p for p, r in zip(preds, rows) if p.status == "ok" and (sc == "both" or r["scenario"] == sc)]
        if not sub:
            continue
        ape = np.array([p.ape for p in sub])
        signed = np.array([p.predicted_tok_s_gpu / p.measured_tok_s_gpu - 1 for p in sub])
        out[sc] = {"n": len(sub), "median_ape": round(float(np.median(ape)), 4), "p90_ape": round(float(np.percentile(ape, 90)), 4),
                   "median_signed": round(float(np.median(signed)), 4)}
    return out


def submitter_spread(rows: list[dict[str, str]]) -> list[dict]:
    """Pairs of limited rows on the same hardware, model, scenario and round (the id's 'mlperf-vX.Y')."""
    def key(r):
        return r["hardware"], r["model"], r["scenario"], r["id"].split("-")[1], software_release(r)

    out = []
    for a, b in combinations(rows, 2):
        if key(a) == key(b):
            hi, lo = (a, b) if float(a["tok_s_gpu"]) >= float(b["tok_s_gpu"]) else (b, a)
            out.append({"higher": hi["id"], "lower": lo["id"], "ratio": round(float(hi["tok_s_gpu"]) / float(lo["tok_s_gpu"]), 3)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--measured", default=str(MEASURED))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    cat = load_catalog()
    all_rows = read_measured_csv(args.measured)
    rows = [r for r in all_rows if r["scenario"] in LIMITED and r["trust"] in ("1", "2")]
    res: dict = {"in_sample": {}, "cv": {}}
    limited = {r["id"] for r in rows}
    cv: dict[str, dict] = {rule: {} for rule in LATENCY_RULES}
    for held, table in cross_validation_folds(all_rows, cat, folds=args.folds, seed=args.seed):  # each fold fitted once
        for r in held:
            if r["id"] in limited:
                for rule in LATENCY_RULES:
                    cv[rule][r["id"]] = predict_row(r, cat, table, latency_rule=rule)
    for rule in LATENCY_RULES:
        res["in_sample"][rule] = _stats([predict_row(r, cat, latency_rule=rule) for r in rows], rows)
        res["cv"][rule] = _stats([cv[rule][r["id"]] for r in rows], rows)
        print(rule, "in-sample", json.dumps(res["in_sample"][rule]), "\n", rule, "cv", json.dumps(res["cv"][rule]), flush=True)
    res["submitter_spread"] = submitter_spread(rows)
    for x in res["submitter_spread"]:
        print(f"same system, model, scenario and round: {x['higher']} / {x['lower']} = {x['ratio']}")
    res.update(wall_s=round(time.perf_counter() - t0, 1), date=time.strftime("%Y-%m-%d"),
               machine=f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
               command=f"python bench/bench_latency_rules.py --folds {args.folds} --seed {args.seed}")
    print(f"{res['wall_s']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
