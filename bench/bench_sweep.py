"""Benchmark of `gigafactory sweep` (issue 19): an economics-and-rollout sweep of the bundled
default scenario on a local Ray; points per minute with 1 and 2 workers, and the speed-up from
the stage cache.

    python bench/bench_sweep.py                      # 1,000 points with the cache at 1 and 2 workers,
                                                     # 40 points without it (extrapolated)
    python bench/bench_sweep.py --points 200 --no-cache-points 20 --json out.json

The sweep: Latin hypercube over the build method (3 presets: three distinct rollouts), the WACC,
the anchor contract's price and DeepSeek-R1's output-token price; each point runs design ->
serving -> rollout (1,000 risk samples) -> devices -> demand -> economics (1,000 Monte Carlo
samples).  Each timed run starts from an empty stage cache of its own, so the cached runs pay
for their first rollouts too.  Points per minute exclude Ray's start-up, reported apart.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """name: bench-sweep
scenario: default
method: lhs
samples: {n}
seed: 19
stages: [economics]
options: {{economics_samples: 1000}}
parameters:
  - path: rollout.method
    name: method
    values: [gigafactory, stick-built, powered-shell]
  - path: finance.wacc
    name: wacc
    range: [0.06, 0.12]
  - path: demand.contracts[0].price_usd_per_gpu_hour
    name: contract_price
    range: [2.5, 5.0]
  - path: workloads[1].price_output_usd_per_mtok
    name: r1_output_price
    range: [1.0, 3.0]
objectives:
  - {{metric: npv_usd, direction: max}}
  - {{metric: ttft_days, direction: min}}
"""


def one_run(n: int, workers: int, no_cache: bool, root: Path) -> dict:
    from gigafactory.sweep.run import run_sweep
    from gigafactory.sweep.spec import load_sweep

    tag = f"n{n}-w{workers}-{'nocache' if no_cache else 'cache'}"
    home = root / f"home-{tag}"
    os.environ["GIGAFACTORY_HOME"] = str(home)  # an empty stage cache for each run
    spec = root / f"{tag}.yaml"
    spec.write_text(SPEC.format(n=n))
    t0 = time.perf_counter()
    res = run_sweep(load_sweep(spec), root / f"out-{tag}", workers=workers, no_cache=no_cache)
    total = time.perf_counter() - t0
    out = {"points": n, "workers": workers, "cache": not no_cache, "ok": res.analysis["ok"], "failed": res.analysis["failed"],
           "wall_s": round(res.wall_s, 2), "ray_startup_s": round(res.startup_s, 2), "total_s": round(total, 2),
           "points_per_minute": round(res.points_per_minute or 0, 1)}
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--no-cache-points", type=int, default=40, help="points of the run without the stage cache (extrapolated to --points)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        root = Path(tmp)
        runs = [one_run(args.points, w, False, root) for w in args.workers]
        nocache = one_run(args.no_cache_points, max(args.workers), True, root)
    cached = next(r for r in runs if r["workers"] == max(args.workers))
    body = {
        "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "runs": runs + [nocache],
        "no_cache_extrapolated_wall_s": round(nocache["wall_s"] * args.points / args.no_cache_points, 1),
        "cache_speedup": round(cached["points_per_minute"] / nocache["points_per_minute"], 1) if nocache["points_per_minute"] else None,
    }
    print(json.dumps(body, indent=1))
    if args.json:
        args.json.write_text(json.dumps(body, indent=1))


if __name__ == "__main__":
    main()
