"""Sweep jobs over HTTP: the spec checked exactly as `gigafactory sweep run` checks it
(:func:`gigafactory.sweep.spec.parse_sweep_text`), plus the API's own rule that the server opens
no file a caller names: the base scenario is the bundled default or comes inline in the request
(never `scenario: <path>`), and no trace file may reach a point's scenario, whether through the
base scenario, a parameter's values or the spec's run options (as `api-trace-file` for plans).
The results table is read back with DuckDB, never with the caller's SQL (DuckDB reads files).
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from gigafactory.api import scenarios
from gigafactory.errors import InputError, Problem

SPEC_LABEL = "sweep.yaml"
#: a sweep job's stages: build and check the points; run them (Ray starts first); table and page; the run-store record
STAGES = ("prepare", "points", "analysis", "record")


def max_workers() -> int:
    """The most Ray CPUs one sweep job may ask for: this server's CPUs."""
    return max(1, os.cpu_count() or 1)


@dataclasses.dataclass(frozen=True)
class CheckedSweep:
    sweep: Any  # gigafactory.sweep.spec.Sweep
    text: str  # the spec's YAML
    base_text: str | None  # the inline base scenario's YAML, None for the bundled default
    points: int


def spec_text(spec: str | dict[str, Any] | None) -> str:
    """The spec's YAML text: as given, or its JSON object written out as YAML."""
    import yaml

    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=120) if isinstance(spec, dict) else spec
    if text is None:
        raise InputError.single("a sweep job needs its spec", field="sweep", expected='{"kind": "sweep", "sweep": "<YAML text>" or {...}}',
                                fix="send the sweep spec (docs/sweeps.md) as YAML text or as a JSON object", check="request")
    if len(text.encode("utf-8", "replace")) > scenarios.MAX_SCENARIO_BYTES or "\x00" in text:
        raise InputError.single("the sweep spec is not YAML text under 1 MB", file=SPEC_LABEL, field="sweep", fix="send the spec's YAML", check="text-file")
    return text


def check_sweep(text: str, base_text: str | None) -> CheckedSweep:
    """Every check of `gigafactory sweep run` before a point runs, and the API's file rules; InputError otherwise."""
    from gigafactory.scenario.yamlsource import read_yaml_text
    from gigafactory.sweep.points import build_points
    from gigafactory.sweep.spec import parse_sweep_text

    try:
        doc = read_yaml_text(text, SPEC_LABEL)
    except RecursionError:
        raise InputError.single("the YAML is nested too deeply to be a sweep spec", file=SPEC_LABEL, check="yaml-structure") from None
    named = doc.data.get("scenario") if isinstance(doc.data, dict) else None
    if named is not None and base_text is not None:
        raise InputError.single("the base scenario is given twice: inline and as the spec's `scenario`", file=SPEC_LABEL,
                                line=doc.line(("scenario",)), field="scenario", value=named,
                                fix="drop `scenario:` from the spec (the inline scenario is the base), or send no inline scenario", check="request")
    if named is not None and named not in ("default", ""):
        raise InputError.single("the API does not open scenario files on the server", file=SPEC_LABEL, line=doc.line(("scenario",)),
                                field="scenario", value=named, expected="'default' (the bundled scenario), or the base scenario inline in the request",
                                fix='send the base scenario as "yaml" or "scenario" beside "sweep", or run `gigafactory sweep run` on your own machine',
                                check="api-scenario-file")
    if base_text is not None:
        scenarios.check(base_text)  # the API's scenario rules (trace files) and every named check, problems in scenario.yaml
    sweep = parse_sweep_text(text, file=SPEC_LABEL, base_text=base_text, base_file=scenarios.FILE_LABEL)
    problems = _trace_file_problems(sweep, doc)
    if problems:
        raise InputError(problems)
    points = len(build_points(sweep, check=False))  # raises for too many points; each point's own checks run in the worker
    return CheckedSweep(sweep, text, base_text, points)


def _trace_file_problems(sweep: Any, doc: Any) -> list[Problem]:
    """A trace file named by a parameter value (alone or inside a sub-section) or by the spec's options."""
    from gigafactory.checks import is_trace_file_name
    from gigafactory.sweep.paths import apply_values
    from gigafactory.sweep.spec import candidate_values

    out = []
    trace = sweep.spec.options.get("trace")
    if isinstance(trace, str) and is_trace_file_name(trace):
        out.append(dataclasses.replace(scenarios.trace_option_problem(trace, "options.trace"), file=SPEC_LABEL, line=doc.line(("options", "trace"))))
    for p in sweep.parameters:
        for value in candidate_values(p.spec):
            sim = apply_values(sweep.base_json, [(p.steps, value)]).get("simulation") or {}
            t = sim.get("trace") if isinstance(sim, dict) else None
            if isinstance(t, str) and is_trace_file_name(t):
                out.append(dataclasses.replace(scenarios.trace_option_problem(t, f"parameters[{p.index}].values"), file=SPEC_LABEL,
                                               line=doc.line(("parameters", p.index)) or p.line))
                break
    return out


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no NaN; a missing metric reads as null
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def results(folder: Path) -> dict[str, Any]:
    """The sweep's results table as JSON rows (every column, ordered by point), with its counts."""
    from gigafactory.sweep.store import MANIFEST, SweepStore, connect

    store = SweepStore(folder)
    manifest = store.manifest()
    if manifest is None or not store.table_path.is_file():
        raise FileNotFoundError(folder / MANIFEST)
    con = connect(store.table_path)
    try:
        cur = con.execute("SELECT * FROM points ORDER BY point")
        cols = [d[0] for d in cur.description or []]
        rows = [{c: _json_safe(v) for c, v in zip(cols, r)} for r in cur.fetchall()]
    finally:
        con.close()
    ok = sum(r["status"] == "ok" for r in rows)
    return {"name": manifest["name"], "points": manifest["points"], "recorded": len(rows), "ok": ok, "failed": len(rows) - ok,
            "feasible": sum(bool(r.get("feasible")) for r in rows), "pareto": [r["point"] for r in rows if r.get("pareto")],
            "parameters": manifest["paths"], "metrics": manifest["metrics"] + manifest["outputs"],
            "objectives": manifest["objectives"], "constraints": manifest["constraints"], "columns": cols, "rows": rows}
