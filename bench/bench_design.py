"""Benchmark: `design` of a 1 GW, three-site programme (target <= 2 s), without and with the
candidate-system comparison.

Run: python bench/bench_design.py
"""
from __future__ import annotations

import statistics
import time

import yaml

from gigafactory.catalog import load_catalog
from gigafactory.design.choice import compare_systems
from gigafactory.design.factory import design_factory
from gigafactory.scenario import default_scenario_path, parse_scenario_text


def main() -> None:
    cat = load_catalog()
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [
        {"name": "abilene", "region": "us-texas", "facility_power_mw": 400},
        {"name": "hamina", "region": "fi-finland", "facility_power_mw": 300},
        {"name": "riyadh", "region": "sa-riyadh", "facility_power_mw": 300},
    ]
    scn = parse_scenario_text(yaml.safe_dump(data), "bench.yaml", cat)
    design_factory(cat, scn)  # warm caches
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        d = design_factory(cat, scn)
        times.append(time.perf_counter() - t0)
    print(f"design 1 GW, 3 sites ({d.total.gpus:,} GPUs): median {statistics.median(times) * 1e3:.1f} ms")
    t0 = time.perf_counter()
    compare_systems(cat, scn, design_factory)
    print(f"design choice over {1 + len(scn.systems.candidates)} systems x {len(scn.workloads)} workloads: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
