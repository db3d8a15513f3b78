"""The sweep spec: a YAML file naming a base scenario, the parameters to vary (dotted paths
into the scenario), how to sample them, and the objectives and constraints to analyse.

It is checked like a scenario, before any point runs: the schema (pydantic), then every path
against the base scenario, then every value a parameter can take against the scenario field's
own schema (a WACC of 1.5 is refused by the rule that refuses it in a scenario).  Each failure is
an :class:`~gigafactory.errors.InputError` naming the file, line, field, value and fix (exit 2).
Problems that only a combination of values causes (workload shares that no longer sum to 1, a
site too small for one scalable unit) are left to the point: it is recorded as failed with the
named check, and the sweep goes on.

Example (docs/sweeps.md)::

    name: gb300-vs-rubin
    scenario: default                 # or a path, relative to this file
    method: grid                      # grid | random | lhs | sobol
    stages: [economics]               # run the pipeline to these stages only
    options: {economics_samples: 0}   # RunOptions fields
    parameters:
      - {path: systems.default, values: [gb300-nvl72, vera-rubin-nvl72]}
      - {path: demand.contracts[0].price_usd_per_gpu_hour, name: contract_price, range: [2.5, 5.0], steps: 3}
    objectives:
      - {metric: npv_usd, direction: max}
      - {metric: ttft_days, direction: min}
    constraints:
      - {metric: irr, min: 0.10}
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gigafactory.errors import InputError, Problem
from gigafactory.pipeline.options import RunOptions
from gigafactory.sweep.metrics import METRICS, column_name, output_path_exists
from gigafactory.sweep.paths import PathError, Step, check_path, format_steps, parse_path

MAX_POINTS = 1_000_000
MAX_SPEC_BYTES = 1_000_000
RESERVED_COLUMNS = ("point", "point_key", "status", "error", "error_check", "seed", "feasible", "pareto", "wall_s", "stages_run", "stages_cached")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


class ParameterSpec(_Section):
    """One input varied over the sweep."""

    path: str = Field(min_length=1, description="Dotted path into the scenario, e.g. sites[0].facility_power_mw, sites[*].region, finance.wacc.")
    name: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
                             description="Column name in the results; the path with non-word characters as '_' when absent.")
    values: list[Any] | None = Field(None, min_length=1, max_length=10_000, description="The values it takes (any scenario value: numbers, ids, ...).")
    range: tuple[float, float] | None = Field(None, description="[low, high] of a continuous parameter, in the scenario field's unit.")
    steps: int | None = Field(None, ge=2, le=10_000, description="Grid points over the range (grid only), ends included.")
    scale: Literal["linear", "log"] = Field("linear", description="Sample the range uniformly in the value or in its logarithm.")
    integer: bool = Field(False, description="Round sampled values to whole numbers.")

    @model_validator(mode="after")
    def _one_domain(self) -> "ParameterSpec":
        if (self.values is None) == (self.range is None):
            raise ValueError("give exactly one of values (a list) or range ([low, high])")
        if self.range is not None:
            lo, hi = self.range
            if not lo < hi:
                raise ValueError(f"range must be [low, high] with low < high, got [{lo:g}, {hi:g}]")
            if self.scale == "log" and lo <= 0:
                raise ValueError(f"a log-scale range needs low > 0, got {lo:g}")
        elif self.steps is not None:
            raise ValueError("steps applies to a range; a values list is used as it is")
        return self

    @property
    def column(self) -> str:
        return self.name or column_name(self.path)


class ObjectiveSpec(_Section):
    metric: str = Field(description="A metric name (docs/sweeps.md) or an output column.")
    direction: Literal["min", "max"] = Field(description="Whether lower or higher is better.")


class ConstraintSpec(_Section):
    metric: str = Field(description="A metric name or an output column.")
    min: float | None = Field(None, description="Feasible when the metric is >= min.")
    max: float | None = Field(None, description="Feasible when the metric is <= max.")

    @model_validator(mode="after")
    def _a_bound(self) -> "ConstraintSpec":
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self


class SweepSpec(_Section):
    """A sweep: base scenario, parameters, sampling, what to compute and how to judge it."""

    name: str = Field(min_length=1, max_length=120, description="Sweep name.")
    description: str = Field("", description="Free text.")
    scenario: str = Field("default", description="Base scenario: 'default' (bundled) or a YAML path, relative to the spec file.")
    method: Literal["grid", "random", "lhs", "sobol"] = Field("grid", description="Sampling: full grid, uniform random, Latin hypercube, "
                                                                                     "or Saltelli's Sobol' scheme (SALib) for global sensitivity.")
    samples: int | None = Field(None, ge=1, le=MAX_POINTS, description="random/lhs: points; sobol: base samples N, a power of 2 "
                                                                       "(points = N x (parameters + 2)).")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Seed of the sampling stream; the base scenario's seed when absent.")
    seeds: Literal["common", "per-point"] = Field("common", description="common: every point keeps the base scenario's seed (common random "
                                                  "numbers, shared cache entries); per-point: a seed derived from the point's values by name.")
    stages: list[str] | None = Field(None, min_length=1, description="Pipeline stages to run to; the stages the metrics need when absent.")
    options: dict[str, Any] = Field(default_factory=dict, description="Run options (RunOptions fields, e.g. economics_samples, rollout_samples).")
    parameters: list[ParameterSpec] = Field(min_length=1, max_length=64, description="The inputs varied.")
    objectives: list[ObjectiveSpec] = Field(default_factory=list, max_length=3, description="Up to three objectives for the Pareto front.")
    constraints: list[ConstraintSpec] = Field(default_factory=list, description="Bounds a feasible point meets.")
    outputs: list[str] = Field(default_factory=list, description="Extra outputs: paths into stage results, e.g. economics.monte_carlo.npv_p90_usd.")

    @model_validator(mode="after")
    def _samples(self) -> "SweepSpec":
        if self.method == "grid":
            if self.samples is not None:
                raise ValueError("samples applies to random, lhs and sobol; a grid has one point per combination")
            for i, p in enumerate(self.parameters):
                if p.range is not None and p.steps is None:
                    raise ValueError(f"parameters[{i}] ({p.path}): a grid over a range needs steps")
        else:
            if self.samples is None:
                raise ValueError(f"method {self.method} needs samples")
            if any(p.steps is not None for p in self.parameters):
                raise ValueError(f"steps applies to a grid; method {self.method} samples the range")
            if self.method == "sobol" and self.samples & (self.samples - 1):
                raise ValueError(f"sobol needs samples = a power of 2 (Sobol' sequence balance), got {self.samples}; "
                                 f"e.g. {1 << max(0, self.samples.bit_length() - 1)} or {1 << self.samples.bit_length()}")
        return self


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A parameter resolved against the base scenario."""

    index: int
    spec: ParameterSpec
    steps: tuple[Step, ...]
    line: int | None

    @property
    def column(self) -> str:
        return self.spec.column

    @property
    def categorical(self) -> bool:
        return self.spec.values is not None


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A checked spec: its base scenario, resolved parameters, stages, options and columns."""

    spec: SweepSpec
    file: str
    text: str
    base: Any  # the base Scenario
    base_json: dict[str, Any]
    base_text: str
    parameters: tuple[Parameter, ...]
    targets: tuple[str, ...]
    options: RunOptions
    metrics: tuple[str, ...]  # registry metrics recorded (those whose stage runs)
    outputs: tuple[tuple[str, str], ...]  # (column, path)
    base_inline: bool = False  # the base scenario came as text (the API), not from `scenario:`

    @property
    def sampling_seed(self) -> int:
        return self.spec.seed if self.spec.seed is not None else int(self.base.seed)

    def metric_columns(self) -> list[str]:
        return list(self.metrics) + [c for c, _ in self.outputs]


# --------------------------------------------------------------------------- loading


def read_spec_text(path: str | Path) -> str:
    from gigafactory.scenario.load import read_yaml_file

    return read_yaml_file(path, "sweep spec", "check the path of the sweep spec (docs/sweeps.md has an example)", "docs/sweeps.md", MAX_SPEC_BYTES)


def load_sweep(path: str | Path, catalog: Any = None) -> Sweep:
    """Read, validate and resolve a sweep spec file; every problem is an InputError (exit 2)."""
    return parse_sweep_text(read_spec_text(path), str(path), Path(path).resolve().parent, catalog)


def parse_sweep_text(text: str, file: str = "<sweep>", folder: Path | None = None, catalog: Any = None, base_text: str | None = None,
                     base_file: str = "scenario.yaml") -> Sweep:
    """Validate and resolve a sweep spec's text.  ``base_text``: the base scenario's YAML given
    alongside (the API, which never opens a scenario file on the server); it replaces ``scenario:``."""
    from gigafactory.catalog import load_catalog
    from gigafactory.scenario.yamlsource import read_yaml_text

    doc = read_yaml_text(text, file)
    try:
        spec = SweepSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError([_schema_problem(e, doc) for e in exc.errors(include_url=False)]) from None
    cat = catalog or load_catalog()
    inline = base_text is not None
    if base_text is not None:
        from gigafactory.scenario import parse_scenario_text

        base = parse_scenario_text(base_text, file=base_file, catalog=cat)
    else:
        base, base_text, _ = _base_scenario(spec, doc, folder or Path.cwd(), cat)
    base_json = base.model_dump(mode="json")
    problems: list[Problem] = []
    params: list[Parameter] = []
    for i, p in enumerate(spec.parameters):
        line = doc.line(("parameters", i, "path"))
        try:
            steps = parse_path(p.path)
            check_path(base_json, steps)
        except PathError as exc:
            problems.append(Problem(f"parameter path: {exc}", file=file, line=line, field=f"parameters[{i}].path", value=p.path,
                                    expected=exc.expected, fix=exc.fix, check="sweep-path"))
            continue
        params.append(Parameter(i, p, steps, line))
    problems += _duplicate_columns(spec, doc, file)
    problems += _domain_problems(params, base_json, file, doc)
    options = _options(spec, doc, file, problems)
    targets, metrics, outputs = _targets_and_metrics(spec, doc, file, problems)
    if problems:
        raise InputError(problems)
    return Sweep(spec, file, text, base, base_json, base_text, tuple(params), targets, options, metrics, outputs, base_inline=inline)


def _base_scenario(spec: SweepSpec, doc: Any, folder: Path, cat: Any) -> tuple[Any, str, str]:
    from gigafactory.scenario import default_scenario_path, load_scenario

    if spec.scenario in ("default", ""):
        path = default_scenario_path()
        return load_scenario(None, catalog=cat), path.read_text(encoding="utf-8"), "default"
    path = Path(spec.scenario).expanduser()
    if not path.is_absolute():
        path = folder / path
    if not path.is_file():
        raise InputError.single("the base scenario file does not exist", file=doc.file, line=doc.line(("scenario",)), field="scenario",
                                value=spec.scenario, expected="'default' or a scenario YAML path relative to the spec file",
                                fix=f"check the path (looked for {path})", check="sweep-scenario")
    return load_scenario(path, catalog=cat), path.read_text(encoding="utf-8"), str(path)


def _schema_problem(err: dict[str, Any], doc: Any) -> Problem:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    field = format_steps(loc) if loc else None
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = f"unknown key '{loc[-1]}'"
        allowed = _allowed_keys(loc[:-1])
        return Problem(msg, file=doc.file, line=doc.line(loc), field=field, expected=f"one of: {', '.join(allowed)}" if allowed else None,
                       fix="remove or rename it (docs/sweeps.md lists the keys)", check="sweep-schema")
    value = err.get("input") if err["type"] != "missing" else None
    kw: dict[str, Any] = {} if err["type"] == "missing" or isinstance(value, dict) else {"value": value}
    return Problem(msg, file=doc.file, line=doc.line(loc), field=field, fix="see docs/sweeps.md for the sweep spec's keys", check="sweep-schema", **kw)


def _allowed_keys(loc: tuple) -> list[str]:
    models = {(): SweepSpec, ("parameters",): ParameterSpec, ("objectives",): ObjectiveSpec, ("constraints",): ConstraintSpec}
    key = tuple(p for p in loc if not isinstance(p, int))
    model = models.get(key)
    return list(model.model_fields) if model else []


def _duplicate_columns(spec: SweepSpec, doc: Any, file: str) -> list[Problem]:
    out, seen = [], {}
    for i, p in enumerate(spec.parameters):
        col = p.column
        if col in seen or col in RESERVED_COLUMNS or col in METRICS:
            why = f"is also parameters[{seen[col]}]" if col in seen else "is a column the results already have"
            out.append(Problem(f"column name {col!r} {why}", file=file, line=doc.line(("parameters", i)), field=f"parameters[{i}].name", value=col,
                               fix="give the parameter a distinct name", check="sweep-columns"))
        seen.setdefault(col, i)
    return out


def candidate_values(p: ParameterSpec) -> list[Any]:
    """Every value the parameter can take, or the ends of its range (the field checks are bounds)."""
    if p.values is not None:
        return list(p.values)
    lo, hi = p.range  # type: ignore[misc]
    if p.integer:
        lo, hi = math.ceil(lo), math.floor(hi)
    return [lo, hi]


def _domain_problems(params: list[Parameter], base_json: dict[str, Any], file: str, doc: Any) -> list[Problem]:
    """Each value (or range end) set alone in the base scenario must pass the scenario's schema."""
    from gigafactory.scenario.load import _problem_from_error
    from gigafactory.scenario.model import Scenario
    from gigafactory.scenario.yamlsource import YamlDocument
    from gigafactory.sweep.paths import apply_values

    out: list[Problem] = []
    shadow = YamlDocument(data=None, lines={}, file=file)
    for p in params:
        if p.spec.range is not None and p.spec.integer and math.ceil(p.spec.range[0]) > math.floor(p.spec.range[1]):
            out.append(Problem("an integer range with no whole number in it", file=file, line=p.line, field=f"parameters[{p.index}].range",
                               value=list(p.spec.range), fix="widen the range", check="sweep-domain"))
            continue
        for value in candidate_values(p.spec):
            try:
                Scenario.model_validate(apply_values(base_json, [(p.steps, value)]))
            except ValidationError as exc:
                for e in exc.errors(include_url=False):
                    prob = _problem_from_error(e, shadow)
                    where = "range" if p.spec.range is not None else "values"
                    out.append(dataclasses.replace(
                        prob, message=f"parameter {p.spec.path} = {value!r}: the scenario refuses it at {prob.field}: {prob.message}",
                        line=doc.line(("parameters", p.index, where)) or p.line, field=f"parameters[{p.index}].{where}", value=value,
                        fix=f"keep {p.spec.path} within what the scenario accepts" + (f" ({prob.expected})" if prob.expected else ""),
                        check="sweep-domain"))
                break  # one problem per parameter is enough to fix it
    return out


def _options(spec: SweepSpec, doc: Any, file: str, problems: list[Problem]) -> RunOptions:
    from gigafactory.pipeline.options import run_options

    try:
        return run_options({k: f"options.{k}" for k in spec.options} | {k: f"options.{k}" for k in RunOptions.model_fields}, **spec.options)
    except InputError as exc:
        problems += [dataclasses.replace(p, file=file, line=doc.line(("options",))) for p in exc.problems]
        return RunOptions()
    except TypeError as exc:  # pragma: no cover - pydantic reports unknown keys as errors, not TypeErrors
        problems.append(Problem(str(exc), file=file, field="options", check="sweep-options"))
        return RunOptions()


def _targets_and_metrics(spec: SweepSpec, doc: Any, file: str, problems: list[Problem]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]]:
    from gigafactory.pipeline.graph import Pipeline as Graph
    from gigafactory.pipeline.stages import STAGES

    result_stages = [s for s in STAGES if s != "design_choice"]
    outputs: list[tuple[str, str]] = []
    for i, path in enumerate(spec.outputs):
        stage = path.split(".", 1)[0]
        if stage not in result_stages or "." not in path or not output_path_exists(STAGES[stage].result, path):
            problems.append(Problem(f"output {path!r} is not a path into a stage result", file=file, line=doc.line(("outputs", i)), field=f"outputs[{i}]",
                                    value=path, expected=f"<stage>.<field>[.<field>...], stage one of {', '.join(result_stages)}",
                                    fix="see docs/result.md for the fields of each stage result", check="sweep-outputs"))
            continue
        outputs.append((column_name(path), path))
    named = [(o.metric, ("objectives", i, "metric")) for i, o in enumerate(spec.objectives)]
    named += [(c.metric, ("constraints", i, "metric")) for i, c in enumerate(spec.constraints)]
    known = set(METRICS) | {c for c, _ in outputs}
    for metric, loc in named:
        if metric not in known:
            import difflib

            close = difflib.get_close_matches(metric, sorted(known), n=1, cutoff=0.5)
            problems.append(Problem(f"unknown metric {metric!r}" + (f" — did you mean {close[0]!r}?" if close else ""), file=file, line=doc.line(loc),
                                    field=format_steps(loc), value=metric, expected=f"one of: {', '.join(METRICS)}, or a column of outputs",
                                    fix="name a metric, or add its result path to outputs", check="sweep-metrics"))
    if spec.stages is not None:
        targets = tuple(spec.stages)
        for i, s in enumerate(targets):
            if s not in STAGES or s == "design_choice":
                problems.append(Problem(f"unknown stage {s!r}", file=file, line=doc.line(("stages", i)), field=f"stages[{i}]", value=s,
                                        expected=f"one of: {', '.join(n for n in STAGES if n != 'design_choice')}", check="sweep-stages"))
    else:
        needed = {METRICS[m].stage for m, _ in named if m in METRICS} | {p.split(".", 1)[0] for _, p in outputs}
        targets = tuple(sorted(needed | {"economics"}, key=list(STAGES).index))
    if problems:
        return targets, (), tuple(outputs)
    ran = set(Graph(None, None, STAGES).order(list(targets)))  # type: ignore[arg-type]
    for metric, loc in named:
        stage = METRICS[metric].stage if metric in METRICS else metric
        if metric in METRICS and stage not in ran:
            problems.append(Problem(f"metric {metric!r} comes from the {stage} stage, which stages {list(targets)} do not run", file=file,
                                    line=doc.line(loc), field=format_steps(loc), value=metric, fix=f"add {stage} to stages, or drop stages",
                                    check="sweep-stages"))
    for _, path in outputs:
        if path.split(".", 1)[0] not in ran:
            problems.append(Problem(f"output {path!r} needs a stage that stages {list(targets)} do not run", file=file, field="outputs", value=path,
                                    fix=f"add {path.split('.', 1)[0]} to stages", check="sweep-stages"))
    metrics = tuple(m for m, spec_m in METRICS.items() if spec_m.stage in ran)
    return targets, metrics, tuple(outputs)

