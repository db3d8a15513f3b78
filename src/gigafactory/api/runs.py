"""The run store as one user sees it over HTTP: list, fetch, compare, delete, report, figures.

A run belongs to the owner of the job that wrote it (its output folder is that job's); a run
recorded by the CLI has no API owner and is shown to the ``local`` user only.  Anything not
the caller's is reported as missing (404), never as forbidden, so ids of other users' runs
cannot be probed.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from gigafactory.api.auth import LOCAL_USER
from gigafactory.api.jobs import JobManager
from gigafactory.runs import store as runstore

#: the report's figures the web app shows as key figures (ids of gigafactory.report.figures.FIGURES)
KEY_FIGURES = ("gf-fig-rollout", "gf-fig-pareto", "gf-fig-cash", "gf-fig-montecarlo")


class NotFound(Exception):
    pass


def _owner(run: dict[str, Any], owned: dict[str, str]) -> str:
    return owned.get(run["out_dir"] or "", LOCAL_USER)


def list_for(jobs: JobManager, user: str, q: str | None = None) -> list[dict[str, Any]]:
    """The caller's runs, newest first; ``q`` keeps those whose id, scenario name or date contains it (any case)."""
    owned = jobs.owned_out_dirs()
    runs = [r for r in runstore.list_runs(jobs.store) if _owner(r, owned) == user]
    if q:
        needle = q.lower()
        runs = [r for r in runs if needle in r["id"].lower() or needle in r["scenario_name"].lower() or needle in r["created"].lower()]
    return [_summary(r) for r in reversed(runs)]


def _summary(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "created": r["created"], "scenario_name": r["scenario_name"], "seed": r["seed"],
            "catalog_version": r["catalog_version"], "headline": r["headline"]}


def find(jobs: JobManager, user: str, run_id: str) -> dict[str, Any]:
    """One of the caller's runs by its exact id (with scenario and stored result); NotFound otherwise."""
    owned = jobs.owned_out_dirs()
    hit = next((r for r in runstore.list_runs(jobs.store) if r["id"] == run_id), None)
    if hit is None or _owner(hit, owned) != user:
        raise NotFound(run_id)
    try:
        return runstore.get_run(run_id, jobs.store)
    except Exception as exc:  # deleted between the two reads
        raise NotFound(run_id) from exc


def full_result(run: dict[str, Any]) -> dict[str, Any] | None:
    """result.json of the run's output folder (the store keeps it without the Gantt), if it is still there."""
    if not run.get("out_dir"):
        return None
    p = Path(run["out_dir"]) / "result.json"
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def report_path(run: dict[str, Any]) -> Path | None:
    p = Path(run["out_dir"]) / "report.html" if run.get("out_dir") else None
    return p if p is not None and p.is_file() else None


def headlines(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's headline cards (label, value, displayed text, path in result.json)."""
    from gigafactory.report.summary import headlines as _headlines

    try:
        return [h.as_dict() for h in _headlines(result)]
    except (KeyError, TypeError, IndexError):
        return []


def figures(result: dict[str, Any]) -> dict[str, Any]:
    """The key figures as plotly JSON, built by the report's own figure functions."""
    from gigafactory.report.figures import FIGURES

    out = {}
    for spec in FIGURES:
        if spec.id in KEY_FIGURES:
            try:
                out[spec.id] = json.loads(spec.build(result).to_json())
            except (KeyError, TypeError, IndexError, ValueError):
                continue  # a figure the result lacks data for is left out, as the report does
    return out


def delete(jobs: JobManager, user: str, run_id: str) -> None:
    """Remove the run's record and, when the API wrote it, its output folder (a CLI run's folder is left alone)."""
    run = find(jobs, user, run_id)
    p = jobs.store
    con = runstore.connect_write(p)
    try:
        runstore.begin(con, p)
        try:
            con.execute("DELETE FROM runs WHERE id = ?", (run["id"],))
            runstore.commit(con, p)
        except BaseException:
            runstore._rollback(con)
            raise
    finally:
        con.close()
    out = Path(run["out_dir"]) if run.get("out_dir") else None
    if out is not None and out.parent == jobs.outputs:
        shutil.rmtree(out, ignore_errors=True)


def compare_many(jobs: JobManager, user: str, ids: list[str]) -> dict[str, Any]:
    """Two or more runs side by side: inputs that differ from the first run, and each headline figure's move.

    Built from :func:`gigafactory.runs.store.compare` of the first run against each other one.
    """
    runs = [find(jobs, user, i) for i in ids]
    base = runs[0]
    pairs = [runstore.compare(base, r) for r in runs[1:]]
    in_keys: dict[str, None] = {}
    out_keys: dict[str, None] = {}
    for c in pairs:
        in_keys.update(dict.fromkeys(x["key"] for x in c["inputs"]))
    for r in runs:
        out_keys.update(dict.fromkeys(r["headline"]))
    base_flat = {x["key"]: x["a"] for c in pairs for x in c["inputs"]}
    inputs = []
    for k in in_keys:
        values = [base_flat.get(k)]
        for c in pairs:
            hit = next((x for x in c["inputs"] if x["key"] == k), None)
            values.append(hit["b"] if hit else base_flat.get(k))
        inputs.append({"key": k, "values": values})
    outputs = []
    for k in out_keys:
        values = [r["headline"].get(k) for r in runs]
        changes = [None] + [next((x["change"] for x in c["outputs"] if x["key"] == k), 0.0 if values[0] == values[i + 1] else None)
                            for i, c in enumerate(pairs)]
        outputs.append({"key": k, "values": values, "change": changes})
    return {"runs": [{"id": r["id"], "created": r["created"], "scenario_name": r["scenario_name"]} for r in runs],
            "inputs": inputs, "outputs": outputs}
