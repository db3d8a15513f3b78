"""Load a scenario file: read -> YAML -> schema -> named checks.  Every failure is an InputError."""
from __future__ import annotations

import difflib
import math
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from gigafactory.catalog import Catalog, load_catalog
from gigafactory.errors import InputError, Problem
from gigafactory.scenario.model import Scenario
from gigafactory.scenario.yamlsource import YamlDocument, format_path, read_yaml_text

MAX_FILE_BYTES = 5_000_000


def default_scenario_path() -> Path:
    return Path(str(resources.files("gigafactory.scenarios") / "default.yaml"))


def read_yaml_file(path: str | Path, what: str = "scenario", missing_fix: str = "check the path, or omit it to use the bundled default scenario",
                   doc: str = "docs/scenario.md", max_bytes: int = MAX_FILE_BYTES) -> str:
    """A YAML input file's text (a scenario, a sweep spec); missing, unreadable, binary or
    oversized files are InputErrors naming the file."""
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise InputError.single("no such file", file=name, fix=missing_fix, check="file-exists")
    if p.is_dir():
        raise InputError.single(f"this is a directory, not a {what} file", file=name, fix="name a .yaml file inside it", check="file-exists")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError.single(f"cannot read the file: {exc.strerror}", file=name, check="file-readable") from None
    if len(raw) > max_bytes:
        raise InputError.single(f"the file is {len(raw) / 1e6:.1f} MB; a {what} is a few kB", file=name,
                                expected=f"under {max_bytes / 1e6:g} MB", fix=f"check you named the {what}, not a trace or data file", check="file-size")
    if b"\x00" in raw[:8192]:
        raise InputError.single("this is a binary file, not YAML text", file=name, expected=f"a UTF-8 YAML {what}",
                                fix=f"name the .yaml {what} file (see {doc})", check="text-file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError.single(f"not UTF-8 text (bad byte at offset {exc.start})", file=name, expected=f"a UTF-8 YAML {what}",
                                fix="save the file as UTF-8", check="text-file") from None


def read_scenario_file(path: str | Path) -> str:
    """The scenario file's text (:func:`read_yaml_file`)."""
    return read_yaml_file(path)


def _field_names_at(loc: tuple[Any, ...]) -> list[str]:
    """Allowed keys of the section at ``loc`` (for 'did you mean' on unknown keys)."""
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = _inner_model(model.model_fields[part].annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType) or origin is typing.Annotated:
        for arg in typing.get_args(annotation):
            inner = _inner_model(arg)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
        return None
    return annotation


def _description(loc: tuple[Any, ...]) -> str | None:
    model: Any = Scenario
    for i, part in enumerate(loc):
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        if i == len(loc) - 1:
            return info.description
        model = _inner_model(info.annotation)
    return None


_EXPECTED = {
    "float_parsing": "a number",
    "float_type": "a number",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "list_type": "a list (lines starting with '- ')",
    "model_type": "a mapping of keys (key: value)",
    "model_attributes_type": "a mapping of keys (key: value)",
    "dict_type": "a mapping of keys (key: value)",
    "date_from_datetime_parsing": "a date like 2026-03-01",
    "date_parsing": "a date like 2026-03-01",
    "date_type": "a date like 2026-03-01",
    "finite_number": "a finite number (not .nan or .inf)",
    "bool_not_number": "a number, not true/false",
}


def _finite_or_text(value: Any) -> Any:
    """``value`` with non-finite floats spelt as YAML writes them (.nan, .inf), so every
    problem stays valid JSON (which has no NaN or Infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, (list, tuple)):
        return [_finite_or_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite_or_text(v) for k, v in value.items()}
    return value


def _problem_from_error(err: dict[str, Any], doc: YamlDocument) -> Problem:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    field = format_path(loc) if loc else None
    kind = err["type"]
    line = doc.line(loc)
    desc = _description(loc)
    value = _finite_or_text(err.get("input"))
    if kind == "extra_forbidden":
        allowed = _field_names_at(loc[:-1])
        key = str(loc[-1])
        hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5)
        return Problem(
            f"unknown key '{key}'" + (f" — did you mean '{hint[0]}'?" if hint else ""),
            file=doc.file, line=line, field=field,
            expected=f"one of: {', '.join(allowed)}" if allowed else None,
            fix=f"rename it to '{hint[0]}'" if hint else "remove it (see docs/scenario.md for the keys of each section)",
            check="schema",
        )
    if kind == "missing":
        return Problem(
            f"required key '{loc[-1]}' is missing",
            file=doc.file, line=line, field=field,
            expected=desc,
            fix=f"add `{loc[-1]}: ...` to {format_path(loc[:-1]) or 'the top level'}",
            check="schema",
        )
    expected = _EXPECTED.get(kind)
    ctx = err.get("ctx") or {}
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = next(iter(ctx.values()), None)
        sign = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        expected = f"a value {sign} {bound}"
    elif kind == "literal_error":
        expected = f"one of {ctx.get('expected')}"
    elif kind in ("too_short", "too_long"):
        expected = err["msg"].replace("List should", "a list that should").replace("String should", "text that should")
    message = err["msg"].removeprefix("Value error, ")
    if expected is not None:
        fix = f"write {expected} for {field}" + (f" ({desc})" if desc else "")
    else:
        expected = desc
        fix = f"correct {field or 'the value'}; see docs/scenario.md for its meaning and unit"
    return Problem(message, file=doc.file, line=line, field=field, value=value, expected=expected, fix=fix, check="schema")


#: the most YAML nodes a scenario may expand to once aliases (``*name``) are followed; a
#: scenario has a few hundred, an alias bomb ("billion laughs") billions.
MAX_YAML_NODES = 200_000


def _guard_yaml_structure(text: str, file: str) -> None:
    """Refuse YAML that reading would choke on: nesting deep enough to exhaust the parser's
    recursion, an anchor that contains itself, or aliases expanding to millions of nodes."""
    try:
        docs = [d for d in yaml.compose_all(text, Loader=yaml.SafeLoader) if d is not None]
    except yaml.YAMLError:
        return  # read_yaml_text reports it with its line
    except RecursionError:
        raise InputError.single("the YAML is nested too deeply to be a scenario", file=file,
                                expected="a few levels of sections, lists and mappings",
                                fix="check for unbalanced brackets; see docs/scenario.md", check="yaml-structure") from None
    sizes: dict[int, int] = {}
    for root in docs:
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        open_: set[int] = set()
        while stack:
            node, done = stack.pop()
            key = id(node)
            if done:
                open_.discard(key)
                children = _children(node)
                sizes[key] = 1 + sum(sizes[id(c)] for c in children)
                if sizes[key] > MAX_YAML_NODES:
                    raise InputError.single(
                        f"YAML aliases expand to more than {MAX_YAML_NODES:,} values", file=file, line=node.start_mark.line + 1,
                        expected="a scenario of a few hundred values", fix="remove the repeated aliases (*name)", check="yaml-structure")
                continue
            if key in sizes:
                continue
            if key in open_:
                raise InputError.single(
                    "a YAML anchor refers to itself (a recursive alias)", file=file, line=node.start_mark.line + 1,
                    expected="aliases (*name) that refer to a complete earlier value", fix="remove the alias inside its own anchor",
                    check="yaml-structure")
            open_.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _bad_scalar_problems(text: str, file: str, exc: Exception) -> list[Problem]:
    """Problems for scalars YAML recognises by shape but cannot build, e.g. the date 2026-02-30
    (PyYAML raises a bare ValueError for those, without a line)."""
    out: list[Problem] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        root = None
    constructor = yaml.SafeLoader("")

    def walk(node: yaml.Node, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                walk(v, path + (k.value,))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, path + (i,))
        elif isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:timestamp":
            try:
                constructor.construct_yaml_timestamp(node)
            except (ValueError, OverflowError) as err:
                out.append(Problem(f"{node.value} is not a real calendar date ({err})", file=file, line=node.start_mark.line + 1,
                                   field=format_path(path), value=node.value, expected="a date like 2026-03-01",
                                   fix="correct the day or month (quote it if you meant text)", check="schema"))

    if root is not None:
        walk(root, ())
    return out or [Problem(f"cannot read a value: {exc}", file=file, expected="a valid YAML scalar",
                           fix="check dates and numbers in the file", check="yaml-syntax")]


def parse_scenario_text(text: str, file: str = "<scenario>", catalog: Catalog | None = None, run_named_checks: bool = True) -> Scenario:
    """Validate scenario ``text``; raise InputError listing every problem found."""
    _guard_yaml_structure(text, file)
    try:
        doc = read_yaml_text(text, file)
    except (ValueError, OverflowError) as exc:  # a malformed date or time; InputError is not a ValueError
        raise InputError(_bad_scalar_problems(text, file, exc)) from None
    try:
        scenario = Scenario.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError([_problem_from_error(e, doc) for e in exc.errors(include_url=False)]) from None
    if run_named_checks:
        from gigafactory.checks import run_checks

        problems = run_checks(scenario, catalog or load_catalog(), doc)
        if problems:
            raise InputError(problems)
    return _with_resolved_trace(scenario, doc)


def _with_resolved_trace(scenario: Scenario, doc: YamlDocument) -> Scenario:
    """A relative trace file path is relative to the scenario file's folder (as the
    simulation-trace check reads it); store it absolute so every stage opens the same file
    whatever the working directory."""
    from gigafactory.checks import is_trace_file_name, resolve_trace_path

    trace = scenario.simulation.trace
    if not is_trace_file_name(trace) or Path(trace).expanduser().is_absolute():  # type: ignore[arg-type]
        return scenario
    resolved = str(resolve_trace_path(trace, doc))  # type: ignore[arg-type]
    return scenario.model_copy(update={"simulation": scenario.simulation.model_copy(update={"trace": resolved})})


def load_scenario(path: str | Path | None = None, catalog: Catalog | None = None) -> Scenario:
    """Load and check a scenario file (the bundled default when ``path`` is None)."""
    p = Path(path) if path is not None else default_scenario_path()
    text = read_scenario_file(p)
    return parse_scenario_text(text, file=str(path) if path is not None else "default.yaml (bundled)", catalog=catalog)
