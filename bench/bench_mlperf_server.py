"""Replay MLPerf Server / Interactive rows in the serving simulator (issue 7 target: the
throughput at the latency limit within 20 % of the measured row for at least three systems).

    python bench/bench_mlperf_server.py [--measured CSV] [--trust 2] [--requests 2000] [--only-disaggregated] [--out bench/results/mlperf_server_replay.json]

For each row: Poisson arrivals on the row's system and layout, bisection on the rate for the
highest one whose simulated p99 TTFT and TPOT meet the row's limits (batch limit searched),
predicted tok/s/GPU = rate x osl_mean / num_gpus (see gigafactory.simulate.replay)."""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from gigafactory.catalog import load_catalog
from gigafactory.perf.validate import read_measured_csv
from gigafactory.simulate.replay import replay_server_row

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--measured", default=str(REPO.parent / "shared/data/measured/calibration.csv"))
    ap.add_argument("--trust", type=int, default=2)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--only-disaggregated", action="store_true", help="replay only the rows with a prefill / decode split")
    ap.add_argument("--out", default=str(REPO / "bench/results/mlperf_server_replay.json"))
    args = ap.parse_args()
    cat = load_catalog()
    rows = [r for r in read_measured_csv(args.measured) if r["scenario"] in ("server", "interactive") and int(r["trust"]) <= args.trust
            and (not args.only_disaggregated or r.get("disaggregated") == "1")]
    results = []
    t0 = time.perf_counter()
    for r in rows:
        t = time.perf_counter()
        res = replay_server_row(r, cat, n_requests=args.requests)
        d = res.as_dict() | {"hardware": r["hardware"], "model": r["model"], "scenario": r["scenario"], "wall_s": time.perf_counter() - t,
                             "measured": {k: r[k] for k in ("target_qps", "ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p99_ms")}}
        results.append(d)
        msg = f"{r['id']:<70} {res.status:<11}"
        if res.status == "ok":
            msg += f" pred {res.predicted_tok_s_gpu:9.1f} meas {res.measured_tok_s_gpu:9.1f} APE {res.ape:6.1%} ({res.layout}, max_seqs {res.max_seqs})"
        else:
            msg += f" {res.reason}"
        print(msg, flush=True)
    ok = [r for r in results if r["status"] == "ok"]
    apes = [r["ape"] for r in ok]
    within = sorted({r["hardware"] for r in ok if r["ape"] <= 0.2})
    summary = {"n_rows": len(results), "n_ok": len(ok), "median_ape": statistics.median(apes) if apes else None,
               "within_20pct_rows": sum(a <= 0.2 for a in apes), "systems_within_20pct": within, "wall_s": time.perf_counter() - t0,
               "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}", "date": time.strftime("%Y-%m-%d"),
               "command": f"python bench/bench_mlperf_server.py --trust {args.trust} --requests {args.requests}"
                          + (" --only-disaggregated" if args.only_disaggregated else "")}
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": results}, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
