"""Running a sweep on Ray: every point a task that runs the pipeline (gigafactory.sweep.worker),
results appended to the sweep folder as they arrive (gigafactory.sweep.store), then the table,
the analysis and the HTML page.

Local Ray by default (``ray.init(address="local", num_cpus=workers)``: a private cluster on this
machine, nothing to set up), or an existing cluster with ``address`` ("127.0.0.1:6379",
"ray://head:10001" through Ray Client, "auto"; docs/sweeps.md covers KubeRay).  The stage cache
is a folder: points that share upstream inputs on one machine reuse each other's stages.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

from gigafactory.errors import InputError
from gigafactory.sweep.points import Point, build_points
from gigafactory.sweep.spec import Sweep
from gigafactory.sweep.store import REPORT, TABLE, SweepStore, sweep_identity, write_table

#: object store of a local Ray: tasks carry small dicts, so a small store spares a shared machine's /dev/shm
LOCAL_OBJECT_STORE_BYTES = 128 * 1024**2


def require_sweep_extra() -> None:
    """Ray, DuckDB, PyArrow and SALib come with the `sweep` extra; say how to get them (exit 2)."""
    import importlib.util

    missing = [m for m in ("ray", "duckdb", "pyarrow", "SALib") if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError.single(f"sweeps need {', '.join(missing)}, which are not installed", field="gigafactory sweep",
                                expected="the sweep extra (Ray, DuckDB, PyArrow, SALib)", fix="pip install 'gigafactory[sweep]'", check="sweep-extra")


@dataclasses.dataclass
class Outcome:
    folder: Path
    points: int
    ran: int  # points run this time
    skipped: int  # already in the folder (resumed)
    failed: int  # failed points in the whole table
    wall_s: float  # of the points run this time, Ray start-up excluded
    startup_s: float
    analysis: dict[str, Any]
    interrupted: bool = False

    @property
    def points_per_minute(self) -> float | None:
        return 60.0 * self.ran / self.wall_s if self.ran and self.wall_s > 0 else None


def manifest_for(sweep: Sweep, n: int) -> dict[str, Any]:
    from gigafactory import __version__

    return {"name": sweep.spec.name, "identity": sweep_identity(sweep.text, sweep.base_text), "points": n, "method": sweep.spec.method,
            "samples": sweep.spec.samples, "targets": list(sweep.targets), "options": sweep.options.model_dump(mode="json"),
            "parameters": [p.column for p in sweep.parameters], "paths": {p.column: p.spec.path for p in sweep.parameters},
            "metrics": list(sweep.metrics), "outputs": [c for c, _ in sweep.outputs],
            "objectives": [o.model_dump() for o in sweep.spec.objectives], "constraints": [c.model_dump() for c in sweep.spec.constraints],
            "base_scenario": "inline" if sweep.base_inline else sweep.spec.scenario, "base_seed": int(sweep.base.seed), "gigafactory_version": __version__}


def invalid_row(sweep: Sweep, p: Point) -> dict[str, Any]:
    """The row of a point whose scenario fails the scenario checks: recorded, never run."""
    from gigafactory.errors import InputError as _IE

    row: dict[str, Any] = {"point": p.index, "point_key": p.key, "status": "failed", "error": _IE(list(p.problems)).render(),
                           "error_check": ",".join(sorted({q.check or "schema" for q in p.problems})), "seed": p.seed}
    row.update(p.values)
    row.update({m: None for m in sweep.metric_columns()})
    row.update(wall_s=0.0, stages_run=0, stages_cached=0)
    return row


def task_for(sweep: Sweep, p: Point, cache_root: str | None) -> dict[str, Any]:
    return {"point": p.index, "point_key": p.key, "values": p.values, "assignments": [(list(s), v) for s, v in p.assignments], "seed": p.seed,
            "targets": list(sweep.targets), "options": sweep.options.model_dump(mode="json"), "metrics": list(sweep.metrics),
            "outputs": list(sweep.outputs), "cache_root": cache_root}


def run_sweep(sweep: Sweep, out: Path, workers: int | None = None, address: str | None = None, no_cache: bool = False, fresh: bool = False,
              retry_failed: bool = False, limit: int | None = None, on_progress: Callable[[int, int, int], None] | None = None,
              on_start: Callable[[int, int], None] | None = None, catalog: Any = None) -> Outcome:
    """Run (or resume) ``sweep`` into folder ``out``.  ``workers``: CPUs of the local Ray (this
    machine's when None), or points in flight on a cluster (its CPUs when None).  Points already in
    the folder are skipped (``retry_failed``: failed ones are run again); ``limit`` caps the points
    run this time.  ``on_start(total_to_run, already_done)`` and ``on_progress(done, total_to_run,
    failed)`` drive a progress display."""
    from gigafactory.pipeline.cache import cache_enabled_by_env, default_cache_dir

    require_sweep_extra()
    points = build_points(sweep, catalog)
    manifest = manifest_for(sweep, len(points))
    store = SweepStore(out)
    store.prepare(manifest, sweep.text, sweep.base_text, fresh=fresh)
    done = store.read_log()
    todo = [p for p in points if p.index not in done or (retry_failed and done[p.index].get("status") != "ok")]
    skipped = len(points) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    cache_root = None if no_cache or not cache_enabled_by_env() else str(default_cache_dir())
    if on_start:
        on_start(len(todo), skipped)
    finished = failed = 0
    startup_s = wall_s = 0.0
    interrupted = False
    with store.open_log() as log:
        def record(row: dict[str, Any]) -> None:
            nonlocal finished, failed
            log.append(row)
            finished += 1
            failed += row.get("status") != "ok"
            if on_progress:
                on_progress(finished, len(todo), failed)

        for p in todo:
            if not p.valid:
                record(invalid_row(sweep, p))
        runnable = [p for p in todo if p.valid]
        if runnable:
            try:
                startup_s, wall_s = _run_on_ray(sweep, runnable, record, workers, address, cache_root)
            except KeyboardInterrupt:
                interrupted = True
    rows = list(store.read_log().values())
    analysis = finish(store, sweep.spec, manifest, rows)
    outcome = Outcome(Path(out), len(points), finished, skipped, analysis["failed"], wall_s, startup_s, analysis, interrupted)
    if interrupted:
        raise SweepInterrupted(outcome)
    return outcome


def record_outcome(sweep: Sweep, outcome: Outcome, store: Path | None = None) -> str:
    """Record the sweep in the run store (``sweeps`` table): complete when every point is in the
    table, interrupted (Ctrl-C, ``--limit``) with the counts so far.  Returns its id."""
    from gigafactory.runs.store import record_sweep

    a = outcome.analysis
    complete = not outcome.interrupted and a["ok"] + a["failed"] >= outcome.points
    return record_sweep(sweep.spec.name, sweep_identity(sweep.text, sweep.base_text), outcome.folder, outcome.folder / TABLE, outcome.points,
                        a["ok"], a["failed"], complete, store)


class SweepInterrupted(KeyboardInterrupt):
    def __init__(self, outcome: Outcome):
        super().__init__("sweep interrupted")
        self.outcome = outcome


def finish(store: SweepStore, spec: Any, manifest: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The table with its feasible / pareto flags, and the analysis page, from the rows in the log."""
    from gigafactory.sweep.analysis import analyse
    from gigafactory.sweep.report import render_sweep_report
    from gigafactory.sweep.store import atomic_write

    rows = sorted((r for r in rows if 0 <= r["point"] < manifest["points"]), key=lambda r: r["point"])
    analysis = analyse(spec, rows, manifest["parameters"])
    write_table(store, manifest, rows, analysis["flags"])
    atomic_write(store.folder / REPORT, render_sweep_report(manifest, rows, analysis, spec).encode())
    return analysis


def refresh(folder: Path) -> tuple[SweepStore, dict[str, Any], dict[str, Any]]:
    """Rebuild the table and page of a sweep folder from its log (after a kill, the log is ahead of
    the table); returns the store, the manifest and the analysis."""
    import yaml

    from gigafactory.sweep.spec import SweepSpec

    store = SweepStore(folder)
    manifest = store.manifest()
    if manifest is None:
        raise InputError.single("no sweep here (manifest.json is missing)", file=str(folder), field="DIR",
                                fix="name the folder a `gigafactory sweep run` wrote (its --out)", check="sweep-folder")
    spec = SweepSpec.model_validate(yaml.safe_load((store.folder / "sweep.yaml").read_text(encoding="utf-8")))
    analysis = finish(store, spec, manifest, list(store.read_log().values()))
    return store, manifest, analysis


def _ray_init(workers: int | None, address: str | None) -> tuple[Any, bool]:
    """Ray, connected; and whether this call started it (then it is shut down afterwards)."""
    import ray

    if ray.is_initialized():
        return ray, False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a twin run offline does not report usage
    if address:
        _check_reachable(address)
    try:
        if address:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        else:
            ray.init(address="local", num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES)
    except ConnectionError as exc:
        raise InputError.single(f"cannot reach the Ray cluster: {exc}", field="--address", value=address,
                                expected="the address of a running Ray head, e.g. 10.0.0.5:6379 or ray://head:10001",
                                fix="start one with `ray start --head`, or omit --address for a local Ray", check="ray-address") from None
    return ray, True


def _check_reachable(address: str) -> None:
    """Refuse a host:port with nothing listening at once: Ray itself keeps retrying a missing GCS."""
    import socket

    if "://" in address or address in ("auto", "local") or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            return
    except (OSError, ValueError) as exc:
        raise InputError.single(f"nothing answers at {address} ({exc})", field="--address", value=address,
                                expected="the host:port of a running Ray head (its GCS port, 6379 by default)",
                                fix="start one with `ray start --head`, check the address, or omit --address for a local Ray",
                                check="ray-address") from None


def _run_on_ray(sweep: Sweep, points: list[Point], record: Callable[[dict[str, Any]], None], workers: int | None, address: str | None,
                cache_root: str | None) -> tuple[float, float]:
    """Submit the points as Ray tasks, at most two per worker slot in flight (the queue stays full, the
    driver stays responsive), and record each as it finishes."""
    from gigafactory.sweep.worker import evaluate_point

    t0 = time.perf_counter()
    ray, started = _ray_init(workers, address)
    try:
        startup_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        # local: the CPUs given to Ray; a cluster (or a Ray the caller started): its CPUs unless capped
        slots = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=1, max_retries=0)(evaluate_point)
        base = ray.put(sweep.base_json)
        queue = list(points)
        pending: dict[Any, Point] = {}
        try:
            while queue or pending:
                while queue and len(pending) < 2 * slots:
                    p = queue.pop(0)
                    pending[remote.remote(base, task_for(sweep, p, cache_root))] = p
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    p = pending.pop(ref)
                    try:
                        row = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - a worker that died: the point fails, the sweep goes on
                        row = _ray_failure(sweep, p, exc)
                    record(row)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return startup_s, time.perf_counter() - t1
    finally:
        if started:
            ray.shutdown()


def _ray_failure(sweep: Sweep, p: Point, exc: BaseException) -> dict[str, Any]:
    row: dict[str, Any] = {"point": p.index, "point_key": p.key, "status": "failed", "error": f"{type(exc).__name__}: {exc}"[:4000],
                           "error_check": "ray", "seed": p.seed}
    row.update(p.values)
    row.update({m: None for m in sweep.metric_columns()})
    row.update(wall_s=None, stages_run=0, stages_cached=0)
    return row
