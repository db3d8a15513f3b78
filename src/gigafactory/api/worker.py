"""One background job in its own process: ``python -m gigafactory.api.worker``.

The server writes the job (one JSON line) on stdin and keeps stdin open; the worker answers
with JSON lines on its own copy of stdout: a ``stage`` event as each stage begins (the
stages before it are then finished), then ``done``
or ``error``.  Outputs are written only through the run store's atomic commit
(:func:`gigafactory.runs.outputs.commit_run`) or, for a simulation, a temp file renamed into
place, so killing the worker (cancel) leaves either a complete run or none.

A sweep job runs :func:`gigafactory.sweep.run.run_sweep` in-process on a private local Ray
(``workers`` CPUs), with ``point`` events (done, total, failed) as points finish; its folder is
the job's output folder, and it is recorded in the run store last, so a sweep killed before
that leaves no record (the server removes its folder).

When the server goes away (stdin reaches EOF, e.g. the server was killed), the worker sends
itself SIGTERM: commit_run rolls back, and the restarted server marks the job interrupted.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

Emit = Callable[..., None]


def stage_order(kind: str) -> list[str]:
    """The stages a job of this kind runs, in the pipeline's one order, then 'outputs' (writing them)."""
    from gigafactory.pipeline.graph import Pipeline as Graph
    from gigafactory.pipeline.stages import STAGES

    if kind == "sweep":
        from gigafactory.api.sweeps import STAGES

        return list(STAGES)
    target = "plan" if kind == "plan" else "simulation"
    return [*Graph(None, None, STAGES).order([target]), "outputs"]  # type: ignore[arg-type]


def _watch_parent() -> None:
    try:
        while sys.stdin.read(65536):
            pass
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def run_sweep_job(spec: dict[str, Any], emit: Emit) -> None:
    """The sweep as `gigafactory sweep run` runs it (same spec checks, same Ray runner), recorded in the run store last."""
    from gigafactory.sweep.run import record_outcome, run_sweep
    from gigafactory.sweep.spec import parse_sweep_text

    emit(event="stage", stage="prepare")
    sweep = parse_sweep_text(spec["sweep_text"], file="sweep.yaml", base_text=spec.get("text"))
    total = 0

    def on_start(n: int, _done: int) -> None:
        nonlocal total
        total = n
        emit(event="stage", stage="points")
        emit(event="point", done=0, total=n, failed=0)

    def on_progress(done: int, n: int, failed: int) -> None:
        emit(event="point", done=done, total=n, failed=failed)
        if done == n:
            emit(event="stage", stage="analysis")

    outcome = run_sweep(sweep, Path(spec["out_dir"]), workers=int(spec["options"].get("workers", 1)), no_cache=bool(spec.get("no_cache")),
                        on_progress=on_progress, on_start=on_start)
    if total == 0:
        emit(event="stage", stage="analysis")
    emit(event="stage", stage="record")
    sweep_id = record_outcome(sweep, outcome, Path(spec["store"]))
    emit(event="done", run_id=None, sweep_id=sweep_id)


def run_job(spec: dict[str, Any], emit: Emit) -> None:
    if spec["kind"] == "sweep":
        run_sweep_job(spec, emit)
        return
    from gigafactory.catalog import load_catalog
    from gigafactory.pipeline import Pipeline, RunOptions, StageCache, cache_enabled_by_env
    from gigafactory.scenario import parse_scenario_text

    cat = load_catalog()
    scn = parse_scenario_text(spec["text"], file="scenario.yaml", catalog=cat)
    options = RunOptions(**spec["options"])
    cache = StageCache() if cache_enabled_by_env() and not spec.get("no_cache") else None
    out_dir = Path(spec["out_dir"])

    if spec["kind"] == "plan":
        from gigafactory.plan import plan_result
        from gigafactory.report.html import render_report
        from gigafactory.runs.outputs import commit_run

        typed = plan_result(cat, scn, spec["text"], None, lambda stage: emit(event="stage", stage=stage), cache=cache, options=options)
        emit(event="stage", stage="outputs")
        _files, run_id = commit_run(typed.model_dump(mode="json"), out_dir, Path(spec["store"]), render_report)
        emit(event="done", run_id=run_id)
    else:
        pipe = Pipeline(cat, scn, options=options, cache=cache, progress=lambda stage, _event: emit(event="stage", stage=stage))
        res = pipe.result("simulation")
        emit(event="stage", stage="outputs")
        _write_atomic(out_dir / "simulation.json", res.model_dump_json(indent=1))
        emit(event="done", run_id=None)


def main() -> int:
    from gigafactory.errors import InputError

    # The protocol gets its own copy of stdout; anything a library prints goes to stderr.
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)

    def emit(**kw: Any) -> None:
        proto.write(json.dumps(kw, default=str) + "\n")
        proto.flush()

    spec = json.loads(sys.stdin.readline())
    threading.Thread(target=_watch_parent, daemon=True, name="watch-parent").start()
    try:
        run_job(spec, emit)
    except InputError as exc:
        emit(event="error", problems=[p.as_dict() for p in exc.problems])
        return 2
    except Exception as exc:  # noqa: BLE001 - reported to the server as the job's failure
        emit(event="error", message=f"{type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
