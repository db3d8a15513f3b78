"""One point of a sweep, as a plain function: the point's scenario through the same pipeline
every verb runs (to the sweep's target stages only), with the stage cache, and its headline
outputs as one row.  Ray runs it as a task (:mod:`gigafactory.sweep.run`); nothing here imports
Ray, so it is tested and benchmarked without it.

A point that fails is a row too: ``status`` "failed", the error text and the named check(s).
"""
from __future__ import annotations

import math
import os
import time
import traceback
from typing import Any

from gigafactory.sweep.paths import apply_values


def evaluate_point(base_json: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    """``task``: point, point_key, values, assignments, seed, targets, options, metrics, outputs, cache_root."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"point": task["point"], "point_key": task["point_key"], "status": "ok", "error": None, "error_check": None,
                           "seed": task["seed"]}
    row.update(task["values"])
    row.update({m: None for m in task["metrics"]})
    row.update({c: None for c, _ in task["outputs"]})
    stages_run = stages_cached = 0
    try:
        from gigafactory.catalog import load_catalog
        from gigafactory.errors import InputError
        from gigafactory.pipeline import Pipeline, RunOptions, StageCache
        from gigafactory.scenario.model import Scenario

        try:
            scn = Scenario.model_validate(apply_values(base_json, [(tuple(s), v) for s, v in task["assignments"]]))
            cache = StageCache(task["cache_root"]) if task.get("cache_root") else None
            pipe = Pipeline(load_catalog(), scn, RunOptions.model_validate(task["options"]), cache=cache)
            results = pipe.run(*task["targets"])
        except InputError as exc:
            row.update(status="failed", error=exc.render(), error_check=",".join(sorted({p.check for p in exc.problems if p.check})) or "input")
            return _finish(row, t0, 0, 0)
        stages_run = sum(not r.cached for r in pipe.runs)
        stages_cached = sum(r.cached for r in pipe.runs)
        row.update(read_metrics(results, task["metrics"], task["outputs"]))
    except Exception as exc:  # noqa: BLE001 - a failed point is recorded, the sweep goes on
        detail = traceback.format_exc(limit=4) if os.environ.get("GIGAFACTORY_DEBUG") else ""
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}" + (f"\n{detail}" if detail else ""), error_check="internal")
    return _finish(row, t0, stages_run, stages_cached)


def read_metrics(results: dict[str, Any], metrics: list[str], outputs: list[tuple[str, str]]) -> dict[str, Any]:
    """Registry metrics and output paths from the stage results (numbers as numbers, anything else as text)."""
    from gigafactory.sweep.metrics import METRICS, read_output

    out: dict[str, Any] = {}
    for name in metrics:
        m = METRICS[name]
        out[name] = _number(m.read(results[m.stage]), m.integer)
    for col, path in outputs:
        out[col] = _scalar(read_output(results[path.split(".", 1)[0]], path))
    return out


def _number(value: Any, integer: bool = False) -> Any:
    if value is None:
        return None
    if integer:
        return int(value)
    x = float(value)
    return x if math.isfinite(x) else None


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return _number(value)
    import json

    from pydantic import BaseModel

    return json.dumps(value.model_dump(mode="json") if isinstance(value, BaseModel) else value, default=str, sort_keys=True)


def _finish(row: dict[str, Any], t0: float, run: int, cached: int) -> dict[str, Any]:
    row.update(wall_s=time.perf_counter() - t0, stages_run=run, stages_cached=cached)
    return row
