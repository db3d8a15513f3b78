"""Benchmark: economics Monte Carlo, 10,000 samples (target <= 10 s), on the default scenario.

Run: python bench/bench_economics.py
"""
from __future__ import annotations

import time

import numpy as np

from gigafactory.catalog import load_catalog
from gigafactory.design.choice import mix_tok_s_per_gpu, serving_rates
from gigafactory.design.factory import design_factory
from gigafactory.economics.analysis import monte_carlo
from gigafactory.economics.build import build_inputs
from gigafactory.rollout.plan import plan_rollout
from gigafactory.scenario import load_scenario


def main() -> None:
    cat = load_catalog()
    scn = load_scenario()
    design = design_factory(cat, scn)
    serving = serving_rates(cat, scn, design)
    plan = plan_rollout(cat, scn, design, mix_tok_s_per_gpu(design, serving), samples=200)
    inp = build_inputs(cat, scn, design, plan, serving)
    t0 = time.perf_counter()
    mc = monte_carlo(inp, 10_000, np.random.default_rng(0), (0.8, 1.8))
    print(f"10,000 Monte Carlo samples x {inp.months} months: {time.perf_counter() - t0:.2f} s; NPV P10/P50/P90 "
          f"{mc['npv_p10_usd'] / 1e9:.1f} / {mc['npv_p50_usd'] / 1e9:.1f} / {mc['npv_p90_usd'] / 1e9:.1f} B USD")


if __name__ == "__main__":
    main()
