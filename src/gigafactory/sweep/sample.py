"""Sampling the parameter space: a full grid, or points in the unit cube mapped onto each
parameter's domain — uniform random (numpy), Latin hypercube (``scipy.stats.qmc``), or Saltelli's
scheme on a scrambled Sobol' sequence (``SALib.sample.sobol``) so that Sobol' indices can be
estimated from the same points (:func:`gigafactory.sweep.analysis.sobol_indices`).

Randomness comes from the named stream ``sweep.sample.<method>`` of the spec's seed.
"""
from __future__ import annotations

import inspect
import itertools
import math
from typing import Any

import numpy as np

from gigafactory.pipeline.streams import stream, stream_seed
from gigafactory.sweep.spec import ParameterSpec


def grid_values(p: ParameterSpec) -> list[Any]:
    """The values of one parameter on a grid: its list, or ``steps`` points over its range (ends included)."""
    if p.values is not None:
        return list(p.values)
    lo, hi = p.range  # type: ignore[misc]
    xs = np.geomspace(lo, hi, p.steps) if p.scale == "log" else np.linspace(lo, hi, p.steps)  # type: ignore[arg-type]
    if p.integer:
        return list(dict.fromkeys(int(round(x)) for x in xs))
    return [float(x) for x in xs]


def from_unit(p: ParameterSpec, u: float) -> Any:
    """Map ``u`` in [0, 1) onto the parameter's domain (equal shares for each listed value or whole number)."""
    if p.values is not None:
        k = len(p.values)
        return p.values[min(int(u * k), k - 1)]
    lo, hi = p.range  # type: ignore[misc]
    if p.integer:
        a, b = math.ceil(lo), math.floor(hi)
        if p.scale == "log":  # log-uniform, then to the nearest whole number within the range
            return int(min(b, max(a, round(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))))))
        n = b - a + 1
        return int(a + min(int(u * n), n - 1))
    if p.scale == "log":
        return float(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))))
    return float(lo + u * (hi - lo))


def unit_samples(method: str, d: int, samples: int, seed: int) -> np.ndarray:
    """Points in [0, 1)^d: ``samples`` of them (random, lhs) or ``samples x (d + 2)`` in Saltelli order (sobol)."""
    if method == "random":
        return stream(seed, "sweep.sample.random").random((samples, d))
    if method == "lhs":
        from scipy.stats import qmc

        gen = stream(seed, "sweep.sample.lhs")
        # scipy >= 1.15 names the generator argument rng; older releases call it seed
        kw = "rng" if "rng" in inspect.signature(qmc.LatinHypercube).parameters else "seed"
        return qmc.LatinHypercube(d=d, **{kw: gen}).random(samples)
    if method == "sobol":
        from SALib.sample import sobol as salib_sobol

        problem = salib_problem(d)
        return salib_sobol.sample(problem, samples, calc_second_order=False, scramble=True, seed=stream_seed(seed, "sweep.sample.sobol"))
    raise ValueError(f"unknown sampling method {method!r}")


def salib_problem(d: int, names: list[str] | None = None) -> dict[str, Any]:
    """SALib's problem over the unit cube (the indices do not depend on how each input is mapped onto its domain)."""
    return {"num_vars": d, "names": names or [f"x{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}


def sample_points(params: list[ParameterSpec], method: str, samples: int | None, seed: int) -> list[list[Any]]:
    """Every point's values, one per parameter, in sampling order (the grid varies the last parameter fastest)."""
    if method == "grid":
        return [list(v) for v in itertools.product(*(grid_values(p) for p in params))]
    u = unit_samples(method, len(params), int(samples or 0), seed)
    return [[from_unit(p, float(x)) for p, x in zip(params, row)] for row in u]


def grid_size(params: list[ParameterSpec]) -> int:
    return math.prod(len(grid_values(p)) for p in params)
