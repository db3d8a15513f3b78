"""Wall time of `gigafactory plan` on the bundled default scenario, as a user runs it.

1. cold: every stage computed (``--no-cache``), fresh process each time;
2. cached re-run with one price changed: the stage cache holds design, serving, simulation
   and rollout, so only economics and the plan's assembly run (plus loading and writing);
3. per-stage wall time of one cold pipeline run in-process.

    python bench/bench_plan.py [--repeat 3] [--json PATH]

Targets (issue 13): cold ≤ 30 s, cached with one price changed ≤ 3 s, on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gigafactory.cli", *args], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    from gigafactory.scenario import default_scenario_path

    work = Path(tempfile.mkdtemp(prefix="bench-plan-"))
    env = {**os.environ, "GIGAFACTORY_HOME": str(work / "home")}
    base = default_scenario_path().read_text(encoding="utf-8")
    s1 = work / "default.yaml"
    s1.write_text(base, encoding="utf-8")
    s2 = work / "price.yaml"
    changed = base.replace("price_output_usd_per_mtok: 0.60", "price_output_usd_per_mtok: 0.50", 1)
    assert changed != base, "the default scenario's Llama output price moved: update the bench"
    s2.write_text(changed, encoding="utf-8")

    cold = [_run(["plan", str(s1), "--no-cache", "--no-store", "--out", str(work / f"cold{i}")], env) for i in range(a.repeat)]
    _run(["plan", str(s1), "--no-store", "--out", str(work / "warm")], env)  # fills the cache
    priced = []
    for i in range(a.repeat):
        # a distinct price each time, so economics really reruns
        s = work / f"price{i}.yaml"
        s.write_text(base.replace("price_output_usd_per_mtok: 0.60", f"price_output_usd_per_mtok: 0.5{i}", 1), encoding="utf-8")
        priced.append(_run(["plan", str(s), "--no-store", "--out", str(work / f"price{i}")], env))

    from gigafactory.catalog import load_catalog
    from gigafactory.pipeline import Pipeline, RunOptions
    from gigafactory.scenario import load_scenario

    cat = load_catalog()
    pipe = Pipeline(cat, load_scenario(None), RunOptions(sim_workers=2))
    pipe.result("plan")
    stages = {r.name: round(r.wall_s, 3) for r in pipe.runs}

    out = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "cold_s": [round(x, 2) for x in cold], "cold_median_s": round(statistics.median(cold), 2),
        "price_changed_s": [round(x, 2) for x in priced], "price_changed_median_s": round(statistics.median(priced), 2),
        "stages_s": stages,
    }
    print(json.dumps(out, indent=1))
    if a.json:
        a.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
