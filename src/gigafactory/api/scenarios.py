"""Scenario input over HTTP: YAML text or a JSON object in, the answer of `gigafactory check --json` out.

The problems are the same :class:`gigafactory.errors.Problem` records the CLI prints (same
loader, same named checks, same line numbers for YAML text).  A JSON object is written out as
YAML first, so its problems carry lines of that YAML (returned as ``input.yaml``).

One rule is the API's own: a scenario may not name a trace *file* (the server would open a path
on its own disk for whoever calls); bundled traces and synthetic arrivals are accepted.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from gigafactory.errors import InputError, Problem

#: the largest scenario text accepted over HTTP [bytes] (a scenario is a few kB)
MAX_SCENARIO_BYTES = 1_000_000
FILE_LABEL = "scenario.yaml"


@dataclass(frozen=True)
class Checked:
    """A scenario that passed every check, with the text it came from."""

    scenario: Any  # gigafactory.scenario.model.Scenario
    text: str


def _jsonable(value: Any) -> Any:
    """YAML data as JSON (dates as ISO text, non-finite floats as YAML spells them)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def to_text(yaml_text: str | None, data: Any | None) -> str:
    """The scenario text of a request: its YAML, or its JSON object written as YAML."""
    import yaml

    if yaml_text is not None and data is not None:
        raise InputError.single("give either yaml or scenario, not both", field="body", fix="send one of the two keys", check="request")
    if yaml_text is None and data is None:
        raise InputError.single("no scenario given", field="body", expected='{"yaml": "<text>"} or {"scenario": {...}}',
                                fix="send the scenario as YAML text or as a JSON object", check="request")
    if yaml_text is None:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    else:
        text = yaml_text
    size = len(text.encode("utf-8", "replace"))
    if size > MAX_SCENARIO_BYTES:
        raise InputError.single(f"the scenario is {size / 1e6:.1f} MB; a scenario is a few kB", file=FILE_LABEL, field="body",
                                expected=f"under {MAX_SCENARIO_BYTES / 1e6:g} MB", fix="send the scenario, not a trace or data file", check="file-size")
    if "\x00" in text:
        raise InputError.single("the text holds a NUL character", file=FILE_LABEL, expected="YAML text", fix="send plain UTF-8 YAML", check="text-file")
    return text


def _read(text: str) -> Any:
    """The YAML document (data and line map), or None when it cannot be read (the loader says why)."""
    from gigafactory.scenario.yamlsource import read_yaml_text

    try:
        return read_yaml_text(text, FILE_LABEL)
    except (InputError, ValueError, OverflowError, RecursionError):
        return None


def raw_data(text: str, doc: Any = False) -> Any:
    """The YAML document as JSON-safe data, or None when it cannot be read (the problems say why)."""
    doc = _read(text) if doc is False else doc
    return None if doc is None else _jsonable(doc.data)


def _trace_file_problem(doc: Any) -> Problem | None:
    from gigafactory.checks import is_trace_file_name

    if doc is None:
        return None  # the loader reports it
    sim = doc.data.get("simulation") if isinstance(doc.data, dict) else None
    trace = sim.get("trace") if isinstance(sim, dict) else None
    if isinstance(trace, str) and is_trace_file_name(trace):
        return trace_option_problem(trace, "simulation.trace", doc.line(("simulation", "trace")))
    return None


def trace_option_problem(trace: str, field: str, line: int | None = None) -> Problem:
    from gigafactory.simulate.workload import TRACES

    return Problem("the API does not open trace files on the server", file=FILE_LABEL if line else None, line=line, field=field, value=trace,
                   expected=f"a bundled trace ({', '.join(TRACES)}), poisson, diurnal or gamma-cv<X>",
                   fix="use a bundled trace, or run `gigafactory simulate --trace FILE` on your own machine", check="api-trace-file")


def check(text: str, doc: Any = False) -> Checked:
    """Validate like `gigafactory check`; raises InputError with every problem (``doc``: the text already read, if it was)."""
    from gigafactory.catalog import load_catalog
    from gigafactory.scenario import parse_scenario_text

    guard = _trace_file_problem(_read(text) if doc is False else doc)
    if guard is not None:
        raise InputError([guard])  # before the named checks, which would open the file
    try:
        scn = parse_scenario_text(text, file=FILE_LABEL, catalog=load_catalog())
    except RecursionError:
        raise InputError.single("the YAML is nested too deeply to be a scenario", file=FILE_LABEL, check="yaml-structure") from None
    return Checked(scn, text)


def check_json(text: str) -> tuple[bool, dict[str, Any]]:
    """(valid, the body `gigafactory check --json` prints) plus ``input``: the text and its data, for the editor."""
    from gigafactory.catalog import load_catalog
    from gigafactory.summary import scenario_summary

    doc = _read(text)  # read once for the editor's data and the trace-file rule
    extra = {"input": {"yaml": text, "scenario": raw_data(text, doc)}}
    try:
        checked = check(text, doc)
    except InputError as exc:
        return False, {"valid": False, "file": FILE_LABEL, "problems": [p.as_dict() for p in exc.problems], **extra}
    summary = scenario_summary(checked.scenario, load_catalog())
    body = {"valid": True, "file": FILE_LABEL, **summary, **extra}
    return True, json.loads(json.dumps(body, default=str))  # dates and numpy scalars as JSON
