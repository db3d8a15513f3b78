"""Benchmark: rollout of the default 1 GW scenario (targets: base plan to a proven gap <= 5 %
in <= 60 s on 2 cores; 1,000 Monte Carlo samples in <= 60 s).

Run: python bench/bench_rollout.py
"""
from __future__ import annotations

import time

import numpy as np

from gigafactory.catalog import load_catalog
from gigafactory.design.factory import design_factory
from gigafactory.rollout.risk import simulate
from gigafactory.rollout.solve import build, solve
from gigafactory.rollout.tasks import build_tasks
from gigafactory.scenario import load_scenario


def main() -> None:
    cat = load_catalog()
    scn = load_scenario()
    design = design_factory(cat, scn)
    tasks = build_tasks(scn, design, cat)
    t0 = time.perf_counter()
    plan = solve(build(tasks), seed=scn.seed % 2**31)
    t_solve = time.perf_counter() - t0
    print(f"tasks {len(tasks):,}; CP-SAT {plan.status}, gap {plan.gap:.2%}, first token optimal: {plan.first_token_proven_optimal}; "
          f"{t_solve:.1f} s wall (solver {plan.wall_s:.1f} s); first token {plan.first_token_h / 24:.0f} d, full {plan.full_capacity_h / 24:.0f} d")
    t0 = time.perf_counter()
    risk = simulate(tasks, plan, 1000, np.random.default_rng(scn.seed))
    print(f"1,000 Monte Carlo samples: {time.perf_counter() - t0:.2f} s; {risk.percentiles()}")


if __name__ == "__main__":
    main()
