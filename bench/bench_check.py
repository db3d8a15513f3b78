"""Benchmark: catalog load and `gigafactory check` on the bundled scenarios.

Run: python bench/bench_check.py   (records median wall times; paste into docs/benchmarks.md)
"""
from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _time(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    from gigafactory.catalog.loader import load_catalog
    from gigafactory.scenario import load_scenario

    cold = _time(lambda: (load_catalog.cache_clear(), load_catalog()), 5)
    load_catalog()
    checks = _time(lambda: load_scenario(REPO / "examples" / "three-site-mixed.yaml"), 20)
    cli = _time(lambda: subprocess.run([sys.executable, "-m", "gigafactory", "check", "--json"], check=True, capture_output=True), 5)
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"catalog load (cold, parse+convert all kinds): median {statistics.median(cold) * 1e3:.0f} ms")
    print(f"load+check three-site scenario (warm catalog): median {statistics.median(checks) * 1e3:.1f} ms")
    print(f"`gigafactory check --json` end to end (new process): median {statistics.median(cli):.2f} s")


if __name__ == "__main__":
    main()
