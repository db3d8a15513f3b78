"""What the largest cross-validation errors are made of (issue 21): three checks on the measured
rows themselves, beside the model's 5-fold cross-validated predictions.

    python bench/bench_tail_diagnostics.py [--measured CSV] [--seed 0] [--json bench/results/tail_diagnostics.json]

1. **The submitter's operating point.**  A Server or Interactive row is the query rate its
   submitter chose, which need not be the highest its latency limits allow (MLPerf only asks that
   the run meet them).  Each trust 1-2 limited row with measured p99s is predicted twice with the
   same cross-validated parameters: at its limits (what ``validate`` does) and at the p99 TTFT and
   TPOT its run measured.  The difference between the two is the part of the error that is the
   submitter's margin, not the model's.
2. **Same system, other submitter.**  Rows that agree on every input the model reads (hardware, GPU
   count, model, precision, engine, scenario, release, limits or concurrency, and mean lengths
   within 2 %) but come from different submitters: no one prediction can miss
   both by less than (b - a) / (b + a) for the extremes a < b.
3. **Little's law.**  A fixed-concurrency run's throughput should be what its own latencies give:
   concurrency x output length / (TTFT + (output - 1) x TPOT), at the medians.  A run far below
   that lost time outside its steps (stalls, a ramp, the client), which a step-time model does not
   describe.  Rows more than 15 % off (``perf.rows.littles_law_ratio``, flagged by ``validate`` too)
   are listed with their trust and error, and the trust 1-2 rows of the CV's top 10 % with theirs.

Needs only the CPU: about 2 minutes (five calibrations)."""
from __future__ import annotations

import argparse
import json
import platform
import re
import time
from pathlib import Path

import numpy as np

from gigafactory.catalog import load_catalog
from gigafactory.perf.calibrate import cross_validation_folds
from gigafactory.perf.releases import software_release
from gigafactory.perf.rows import LITTLES_LAW_TOLERANCE, littles_law_ratio
from gigafactory.perf.validate import predict_row, read_measured_csv

REPO = Path(__file__).resolve().parents[1]
MEASURED = REPO.parent / "shared/data/measured/calibration.csv"
LIMITED = ("server", "interactive")
#: the inputs `validate` reads from a row; rows equal on all of them are the same question
INPUTS = ("hardware", "num_gpus", "model", "precision", "framework", "scenario", "concurrency", "ttft_p99_limit_ms",
          "tpot_p99_limit_ms", "disaggregated", "mtp")
#: ... and the mean lengths, which each run measures on its own outputs: equal within this share
LENGTH_TOLERANCE = 0.02


def _trusted(r: dict[str, str]) -> bool:
    return r.get("trust") in ("1", "2")


def _error(p) -> float | None:
    return p.predicted_tok_s_gpu / p.measured_tok_s_gpu - 1 if p.status == "ok" and p.measured_tok_s_gpu else None


def _at_measured_p99s(r: dict[str, str]) -> dict[str, str]:
    return {**r, "ttft_p99_limit_ms": r["ttft_p99_ms"], "tpot_p99_limit_ms": r["tpot_p99_ms"]}


def _submitter(r: dict[str, str]) -> str:
    hit = re.match(r"mlperf-v[\d.]+-([a-z0-9]+)-", r["id"])
    return hit.group(1) if hit else r.get("source_kind", "")


def _summary(errors: list[float]) -> dict:
    a = np.abs(np.array(errors))
    return {"n": int(a.size), "median_ape": float(np.median(a)), "signed_median": float(np.median(errors)),
            "p90_ape": float(np.percentile(a, 90))} if a.size else {"n": 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--measured", default=str(MEASURED))
    ap.add_argument("--seed", type=int, default=0, help="fold seed of the 5-fold cross-validation")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    cat = load_catalog()
    rows = read_measured_csv(args.measured)
    t0 = time.perf_counter()

    cv: dict[str, float | None] = {}
    operating: list[dict] = []
    for held, table in cross_validation_folds(rows, cat, folds=5, seed=args.seed):
        for r in held:
            cv[r["id"]] = _error(predict_row(r, cat, table))
            if r["scenario"] in LIMITED and _trusted(r) and r.get("ttft_p99_ms") and r.get("tpot_p99_ms"):
                at_p99 = _error(predict_row(_at_measured_p99s(r), cat, table))
                if cv[r["id"]] is not None and at_p99 is not None:
                    operating.append({"id": r["id"], "scenario": r["scenario"], "at_limits": cv[r["id"]], "at_measured_p99s": at_p99})

    groups: dict[tuple, list[dict[str, str]]] = {}
    for r in rows:
        if _trusted(r):
            groups.setdefault(tuple(r.get(k, "") for k in INPUTS) + (software_release(r),), []).append(r)
    pairs = []
    for group in groups.values():
        first = group[0]
        members = [r for r in group if all(abs(float(r[k]) / float(first[k]) - 1) <= LENGTH_TOLERANCE for k in ("isl_mean", "osl_mean"))]
        if len(members) < 2 or len({_submitter(r) for r in members}) < 2:
            continue
        tok = [float(r["tok_s_gpu"]) for r in members]
        pairs.append({"ids": [r["id"] for r in members], "tok_s_gpu": tok, "max_over_min": max(tok) / min(tok),
                      "cv_errors": [cv.get(r["id"]) for r in members],
                      # the one prediction whose worse APE is least, 2 a b / (a + b) for the
                      # extremes a < b, misses both by (b - a) / (b + a)
                      "floor_ape": (max(tok) - min(tok)) / (max(tok) + min(tok))})

    little = []
    for r in rows:
        ratio = littles_law_ratio(r)
        if ratio is not None:
            little.append({"id": r["id"], "trust": r.get("trust"), "ratio": ratio, "cv_error": cv.get(r["id"])})
    off = [x for x in little if abs(x["ratio"] - 1) > LITTLES_LAW_TOLERANCE]

    trust = {r["id"]: r.get("trust") for r in rows}
    trusted_cv = sorted((abs(e), rid) for rid, e in cv.items() if e is not None and trust.get(rid) in ("1", "2"))
    tail = [{"id": rid, "cv_error": cv[rid]} for _, rid in reversed(trusted_cv[-max(1, round(0.1 * len(trusted_cv))):])]
    out = {
        "command": "python bench/bench_tail_diagnostics.py" + (f" --seed {args.seed}" if args.seed else ""),
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "seconds": round(time.perf_counter() - t0, 1), "fold_seed": args.seed,
        "operating_point": {
            "rows": operating,
            **{f"{s}_at_limits": _summary([o["at_limits"] for o in operating if o["scenario"] == s]) for s in LIMITED},
            **{f"{s}_at_measured_p99s": _summary([o["at_measured_p99s"] for o in operating if o["scenario"] == s]) for s in LIMITED},
        },
        "same_inputs_other_submitter": pairs,
        "littles_law": {"rows": len(little), "rows_trust_1_2": sum(x["trust"] in ("1", "2") for x in little),
                        "tolerance": LITTLES_LAW_TOLERANCE, "off": off},
        "cv_tail_10pct": tail,
    }
    for s in LIMITED:
        a, b = out["operating_point"][f"{s}_at_limits"], out["operating_point"][f"{s}_at_measured_p99s"]
        print(f"{s:12s} n={a['n']:2d}  at limits: median {a['median_ape']*100:5.1f} %, signed {a['signed_median']*100:+5.1f} %"
              f"   at measured p99s: median {b['median_ape']*100:5.1f} %, signed {b['signed_median']*100:+5.1f} %")
    for p in pairs:
        print(f"same inputs, {len(p['ids'])} submitters: {' / '.join(f'{t:.0f}' for t in p['tok_s_gpu'])} tok/s/GPU "
              f"(x{p['max_over_min']:.2f}: the best single prediction misses both by {p['floor_ape']*100:.1f} %); CV errors "
              + ", ".join(f"{e*100:+.0f} %" for e in p["cv_errors"] if e is not None))
    print(f"Little's law: {len(off)} of {len(little)} fixed-concurrency rows more than {LITTLES_LAW_TOLERANCE:.0%} off")
    tail_ids = {t["id"] for t in tail}
    for x in off:
        err = "no CV prediction" if x["cv_error"] is None else f"CV error {x['cv_error']*100:+.0f} %"
        print(f"  {x['id']} (trust {x['trust']}): measured / implied {x['ratio']:.2f}, {err}"
              f"{'  (in the CV top 10 %)' if x['id'] in tail_ids else ''}")
    print(f"CV top 10 % (trust 1-2, fold seed {args.seed}): " + ", ".join(f"{t['id']} {t['cv_error']*100:+.0f} %" for t in tail))
    print(f"{out['seconds']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
