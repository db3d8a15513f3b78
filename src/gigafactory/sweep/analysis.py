"""Analysis of a sweep's table: feasibility under the constraints, the Pareto front over two or
three objectives, and Sobol' indices (SALib) when the points were sampled with Saltelli's scheme.

Pure functions over arrays; :func:`analyse` applies them to the rows of a sweep.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def pareto_mask(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Rows of ``values`` (points x objectives) that no other row dominates.

    Row j dominates row i when it is at least as good in every objective and strictly better in
    one ("min": lower is better, "max": higher).  Rows with a non-finite value are never on the
    front.  O(n^2 k) comparisons, in blocks of rows to bound memory [bool per row].
    """
    y = np.asarray(values, dtype=float)
    if y.ndim != 2 or y.shape[1] != len(directions):
        raise ValueError(f"values must be points x {len(directions)} objectives, got shape {y.shape}")
    sign = np.array([1.0 if d == "min" else -1.0 if d == "max" else np.nan for d in directions])
    if np.isnan(sign).any():
        raise ValueError(f"directions must be 'min' or 'max', got {list(directions)}")
    ok = np.isfinite(y).all(axis=1)
    z = y[ok] * sign  # minimise every column
    front = np.ones(len(z), dtype=bool)
    for start in range(0, len(z), 512):
        block = z[start:start + 512]
        le = (z[None, :, :] <= block[:, None, :]).all(axis=2)  # [i, j]: j at least as good as i everywhere
        lt = (z[None, :, :] < block[:, None, :]).any(axis=2)
        front[start:start + 512] = ~(le & lt).any(axis=1)
    out = np.zeros(len(y), dtype=bool)
    out[np.flatnonzero(ok)] = front
    return out


def feasible_mask(columns: dict[str, np.ndarray], constraints: Sequence[Any], n: int | None = None) -> np.ndarray:
    """Rows (``n`` of them) meeting every constraint (``metric``, ``min``, ``max``); a missing value fails it."""
    n = n if n is not None else len(next(iter(columns.values()))) if columns else 0
    ok = np.ones(n, dtype=bool)
    for c in constraints:
        x = np.asarray(columns[c.metric], dtype=float)
        with np.errstate(invalid="ignore"):
            good = np.isfinite(x)
            if c.min is not None:
                good &= x >= c.min
            if c.max is not None:
                good &= x <= c.max
        ok &= good
    return ok


def sobol_indices(y: np.ndarray, d: int, names: list[str] | None = None, seed: int = 0) -> dict[str, Any] | None:
    """First-order and total Sobol' indices with 95 % bootstrap intervals (SALib ``sobol.analyze``)
    from outputs ``y`` in the order of :func:`gigafactory.sweep.sample.unit_samples` ("sobol").

    Saltelli's scheme evaluates each base sample in blocks of d + 2 rows; a block with a missing
    output (a failed point) is dropped whole, which keeps the estimator's structure.  None when
    fewer than 2 blocks remain or the output does not vary."""
    from SALib.analyze import sobol as salib_sobol

    from gigafactory.sweep.sample import salib_problem

    y = np.asarray(y, dtype=float)
    if len(y) % (d + 2):
        raise ValueError(f"Saltelli outputs come in blocks of d + 2 = {d + 2}; got {len(y)} values")
    blocks = y.reshape(-1, d + 2)
    blocks = blocks[np.isfinite(blocks).all(axis=1)]
    if len(blocks) < 2 or np.ptp(blocks) == 0:
        return None
    res = salib_sobol.analyze(salib_problem(d, names), blocks.ravel(), calc_second_order=False, print_to_console=False, seed=seed)
    return {"names": names or [f"x{i}" for i in range(d)], "S1": [float(v) for v in res["S1"]], "S1_conf": [float(v) for v in res["S1_conf"]],
            "ST": [float(v) for v in res["ST"]], "ST_conf": [float(v) for v in res["ST_conf"]], "blocks_used": int(len(blocks)),
            "blocks_dropped": int(len(y) // (d + 2) - len(blocks))}


def _column(rows: list[dict[str, Any]], name: str) -> np.ndarray:
    return np.array([_float(r.get(name)) for r in rows], dtype=float)


def _float(v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def analyse(spec: Any, rows: list[dict[str, Any]], parameters: list[str]) -> dict[str, Any]:
    """Flags per point (feasible, on the Pareto front) and Sobol' indices for a sweep's rows
    (sorted by point).  ``spec`` is the SweepSpec."""
    rows = sorted(rows, key=lambda r: r["point"])
    ok = np.array([r.get("status") == "ok" for r in rows], dtype=bool)
    names = {c.metric for c in spec.constraints} | {o.metric for o in spec.objectives}
    cols = {n: _column(rows, n) for n in names}
    feasible = ok & feasible_mask(cols, spec.constraints, len(rows))
    pareto = np.zeros(len(rows), dtype=bool)
    if spec.objectives and rows:
        y = np.column_stack([cols[o.metric] for o in spec.objectives])
        y[~feasible] = np.nan
        pareto = pareto_mask(y, [o.direction for o in spec.objectives])
    out: dict[str, Any] = {"flags": {r["point"]: (bool(f), bool(p)) for r, f, p in zip(rows, feasible, pareto)},
                           "points": len(rows), "ok": int(ok.sum()), "failed": int((~ok).sum()), "feasible": int(feasible.sum()),
                           "pareto": [r["point"] for r, p in zip(rows, pareto) if p], "sobol": {}}
    if spec.method == "sobol":
        d = len(parameters)
        expected = spec.samples * (d + 2)
        by_point = {r["point"]: r for r in rows}
        targets = [o.metric for o in spec.objectives] or [m for m in ("npv_usd", "ttft_days") if any(m in r for r in rows)]
        for metric in targets:
            y = np.array([_float(by_point.get(i, {}).get(metric)) if by_point.get(i, {}).get("status") == "ok" else math.nan
                          for i in range(expected)])
            res = sobol_indices(y, d, parameters, seed=0)
            if res is not None:
                out["sobol"][metric] = res
    return out
