"""The points of a sweep: sampled values set into the base scenario, each point checked with the
scenario's schema and named checks before anything runs (a point that fails is recorded as
failed with the named problem and not run), each with its seed.

Seeds are derived by name: under ``seeds: per-point`` a point's scenario seed is the named stream
``sweep.point.<its values as canonical JSON>`` of the base seed, so the same values get the same
seed whatever their position, and adding points never changes another point's numbers.
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from gigafactory.errors import InputError, Problem
from gigafactory.pipeline.cache import canonical_json
from gigafactory.pipeline.streams import stream_seed
from gigafactory.sweep.paths import Step, apply_values
from gigafactory.sweep.sample import grid_size, sample_points
from gigafactory.sweep.spec import MAX_POINTS, Sweep


@dataclasses.dataclass(frozen=True)
class Point:
    index: int
    key: str  # hash of the values: the same values, the same key
    values: dict[str, Any]  # column -> value
    assignments: tuple[tuple[tuple[Step, ...], Any], ...]  # (path steps, value), seed included under per-point
    seed: int
    problems: tuple[Problem, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.problems


def point_key(values: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(values).encode()).hexdigest()[:16]


def build_points(sweep: Sweep, catalog: Any = None, check: bool = True) -> list[Point]:
    """Every point of the sweep, in sampling order, each checked (unless ``check`` is false)."""
    specs = [p.spec for p in sweep.parameters]
    if sweep.spec.method == "grid":
        n = grid_size(specs)
    else:
        n = sweep.spec.samples * (len(specs) + 2 if sweep.spec.method == "sobol" else 1)  # type: ignore[operator]
    if n > MAX_POINTS:
        raise InputError.single(f"the sweep has {n:,} points", file=sweep.file, field="parameters", value=n, expected=f"at most {MAX_POINTS:,}",
                                fix="use fewer grid values, or random / lhs sampling with a set number of samples", check="sweep-size")
    rows = sample_points(specs, sweep.spec.method, sweep.spec.samples, sweep.sampling_seed)
    base_seed = int(sweep.base.seed)
    points = []
    for i, row in enumerate(rows):
        values = {p.column: v for p, v in zip(sweep.parameters, row)}
        key = point_key(values)
        assigns = [(p.steps, v) for p, v in zip(sweep.parameters, row)]
        seed = base_seed
        if sweep.spec.seeds == "per-point":
            seed = stream_seed(base_seed, "sweep.point." + canonical_json(values))
            assigns.append((("seed",), seed))
        points.append(Point(i, key, values, tuple(assigns), seed))
    if check:
        from gigafactory.catalog import load_catalog

        cat = catalog or load_catalog()
        points = [dataclasses.replace(p, problems=tuple(point_problems(sweep, p, cat))) for p in points]
    return points


def point_scenario_json(sweep: Sweep, point: Point) -> dict[str, Any]:
    return apply_values(sweep.base_json, list(point.assignments))


def point_problems(sweep: Sweep, point: Point, cat: Any) -> list[Problem]:
    """The point's scenario through the scenario schema and the named checks; [] when it passes."""
    from pydantic import ValidationError

    from gigafactory.checks import run_checks
    from gigafactory.scenario.load import _problem_from_error
    from gigafactory.scenario.model import Scenario
    from gigafactory.scenario.yamlsource import YamlDocument

    where = f"{sweep.file}: point {point.index}"
    data = point_scenario_json(sweep, point)
    try:
        scn = Scenario.model_validate(data)
    except ValidationError as exc:
        shadow = YamlDocument(data=None, lines={}, file=where)
        return [_problem_from_error(e, shadow) for e in exc.errors(include_url=False)]
    return [dataclasses.replace(p, file=where) for p in run_checks(scn, cat, None)]
