"""Background jobs: `plan`, `simulate` and `sweep` in worker processes the server can kill.

State lives in SQLite (``api.sqlite`` beside the run store), so a restarted server still
knows every job; jobs that were queued or running when it stopped are marked
``interrupted`` on start-up (their worker, if it outlived the server, is stopped first).

A job's outputs go to ``<store folder>/api-runs/<job id>/``; a plan's run record names that
folder, which is how a run is known to belong to the job's owner.  Whatever a job that did
not finish leaves there (hidden temp files of a killed commit) is removed, so a cancelled or
failed job leaves no run and no output folder.  A cancel that arrives after the commit
cannot undo it: the job then ends ``done`` and says so.

A sweep job works the same way: its folder is its output folder, and it counts as produced once
the run store records a sweep in that folder (the worker's last step).  Its worker starts a
private local Ray whose processes inherit the job's marker (``GIGAFACTORY_API_JOB``); Ray puts
its task workers in process groups of their own, so when a worker ends (or is killed) whatever
still carries the marker is killed too, and no Ray process outlives its job.

States: queued → running → done | failed | cancelled | interrupted.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TERMINAL = ("done", "failed", "cancelled", "interrupted")
#: how long a worker has to roll back after SIGTERM before it is killed outright [s]
KILL_GRACE_S = 10.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    scenario_name TEXT NOT NULL,
    stages TEXT NOT NULL,
    stage TEXT,
    completed INTEGER NOT NULL DEFAULT 0,
    run_id TEXT,
    out_dir TEXT NOT NULL,
    request TEXT NOT NULL,
    pid INTEGER,
    error TEXT,
    note TEXT,
    detail TEXT
)
"""
_FIELDS = ("id", "owner", "kind", "state", "created", "started", "finished", "scenario_name", "stages", "stage", "completed",
           "run_id", "out_dir", "request", "pid", "error", "note", "detail")
#: the environment variable that marks a job's worker and everything it starts
JOB_ENV = "GIGAFACTORY_API_JOB"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def new_job_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(4)


@dataclass
class Live:
    """What only the running server holds for a job: its process and its event log (for SSE)."""

    id: str
    proc: subprocess.Popen | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    cancel_requested: bool = False
    final: dict[str, Any] | None = None  # the worker's last done/error message


class JobManager:
    """Runs jobs, at most ``max_parallel`` at once (the rest wait in order), and records them."""

    def __init__(self, store: Path, max_parallel: int = 1, worker_cmd: list[str] | None = None) -> None:
        self.store = Path(store).expanduser().absolute()
        self.home = self.store.parent
        self.home.mkdir(parents=True, exist_ok=True)
        self.outputs = self.home / "api-runs"
        self.db_path = self.home / "api.sqlite"
        self.max_parallel = max(1, int(max_parallel))
        self.worker_cmd = worker_cmd or [sys.executable, "-m", "gigafactory.api.worker"]
        self._lock = threading.RLock()
        self._live: dict[str, Live] = {}
        self._queue: deque[str] = deque()
        self._running: set[str] = set()
        self._stopping = False
        self._stage_orders: dict[str, list[str]] = {}
        with self._db() as con:
            con.execute(SCHEMA)
            if "detail" not in {r[1] for r in con.execute("PRAGMA table_info(jobs)")}:  # a jobs table from before sweep jobs
                con.execute("ALTER TABLE jobs ADD COLUMN detail TEXT")
        self.recover()

    # ------------------------------------------------------------------ database

    @contextlib.contextmanager
    def _db(self):
        con = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            yield con
        finally:
            con.close()

    def _update(self, job_id: str, **values: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in values)
        with self._db() as con:
            con.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*values.values(), job_id))

    def row(self, job_id: str) -> dict[str, Any] | None:
        with self._db() as con:
            r = con.execute(f"SELECT {', '.join(_FIELDS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if r is None else dict(zip(_FIELDS, r))

    def public(self, row: dict[str, Any]) -> dict[str, Any]:
        """A job as the API shows it (no pid, no server paths)."""
        stages = json.loads(row["stages"])
        detail = json.loads(row["detail"]) if row.get("detail") else {}
        progress = row["completed"] / len(stages) if stages else 0.0
        points = detail.get("points")
        if points and row["stage"] == "points" and points.get("total"):
            progress += points["done"] / points["total"] / len(stages)  # a sweep moves through its points stage point by point
        out = {
            "id": row["id"], "kind": row["kind"], "state": row["state"], "created": row["created"], "started": row["started"],
            "finished": row["finished"], "scenario_name": row["scenario_name"], "stages": stages, "stage": row["stage"],
            "completed": row["completed"], "total": len(stages),
            "progress": 1.0 if row["state"] == "done" else progress,
            "run_id": row["run_id"], "error": json.loads(row["error"]) if row["error"] else None, "note": row["note"],
            "options": json.loads(row["request"]).get("options", {}),
        }
        if row["kind"] == "sweep":
            out["points"] = points
            out["sweep_id"] = detail.get("sweep_id")
        return out

    def get(self, job_id: str, owner: str) -> dict[str, Any] | None:
        r = self.row(job_id)
        return None if r is None or r["owner"] != owner else self.public(r)

    def list(self, owner: str) -> list[dict[str, Any]]:
        with self._db() as con:
            rows = con.execute(f"SELECT {', '.join(_FIELDS)} FROM jobs WHERE owner = ? ORDER BY created DESC, rowid DESC", (owner,)).fetchall()
        return [self.public(dict(zip(_FIELDS, r))) for r in rows]

    def owner_of_out_dir(self, out_dir: str | None) -> str | None:
        """The owner of the job whose output folder this is (how API runs belong to users)."""
        if not out_dir:
            return None
        with self._db() as con:
            r = con.execute("SELECT owner FROM jobs WHERE out_dir = ?", (str(out_dir),)).fetchone()
        return r[0] if r else None

    def owned_out_dirs(self) -> dict[str, str]:
        with self._db() as con:
            return dict(con.execute("SELECT out_dir, owner FROM jobs").fetchall())

    # ------------------------------------------------------------------ submit / run

    def stages(self, kind: str) -> list[str]:
        if kind == "sweep":
            from gigafactory.api.sweeps import STAGES

            return list(STAGES)
        if kind not in self._stage_orders:
            from gigafactory.api.worker import stage_order

            self._stage_orders[kind] = stage_order(kind)
        return self._stage_orders[kind]

    def submit(self, owner: str, kind: str, text: str | None, scenario_name: str, options: dict[str, Any], no_cache: bool = False,
               extra: dict[str, Any] | None = None, detail: dict[str, Any] | None = None) -> dict[str, Any]:
        """Queue a job.  ``extra``: more of the worker's request (a sweep's spec); ``detail``: the job's first progress detail."""
        job_id = new_job_id()
        out_dir = self.outputs / job_id
        request = {"kind": kind, "text": text, "options": options, "no_cache": no_cache, **(extra or {})}
        with self._lock:
            with self._db() as con:
                con.execute(f"INSERT INTO jobs ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})",
                            (job_id, owner, kind, "queued", _now(), None, None, scenario_name, json.dumps(self.stages(kind)), None, 0,
                             None, str(out_dir), json.dumps(request), None, None, None, json.dumps(detail) if detail else None))
            self._live[job_id] = Live(job_id)
            self._queue.append(job_id)
            self._event(job_id, "state")
            self._pump()
        return self.public(self.row(job_id))  # type: ignore[arg-type]

    def _event(self, job_id: str, kind: str) -> None:
        live = self._live.get(job_id)
        row = self.row(job_id)
        if live is None or row is None:
            return
        live.events.append({"seq": len(live.events), "type": kind, "job": self.public(row)})

    def events_since(self, job_id: str, seq: int) -> list[dict[str, Any]]:
        with self._lock:
            live = self._live.get(job_id)
            return list(live.events[seq:]) if live else []

    def is_live(self, job_id: str) -> bool:
        return job_id in self._live

    def _pump(self) -> None:
        with self._lock:
            while self._queue and len(self._running) < self.max_parallel and not self._stopping:
                self._start(self._queue.popleft())

    def _start(self, job_id: str) -> None:
        row = self.row(job_id)
        assert row is not None
        request = json.loads(row["request"])
        spec = {**request, "out_dir": row["out_dir"], "store": str(self.store)}
        self.outputs.mkdir(parents=True, exist_ok=True)
        log = open(self.outputs / f".{job_id}.log", "wb")  # the worker's stderr, removed with the job's outcome
        try:
            proc = subprocess.Popen(self.worker_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                    start_new_session=True, env={**os.environ, JOB_ENV: job_id})
        finally:
            log.close()
        assert proc.stdin is not None
        proc.stdin.write((json.dumps(spec) + "\n").encode())
        proc.stdin.flush()  # stdin stays open: its EOF tells the worker the server is gone
        self._live[job_id].proc = proc
        self._running.add(job_id)
        self._update(job_id, state="running", started=_now(), pid=proc.pid)
        self._event(job_id, "state")
        threading.Thread(target=self._read, args=(job_id, proc), daemon=True, name=f"job-{job_id}").start()

    def _read(self, job_id: str, proc: subprocess.Popen) -> None:
        stages = json.loads(self.row(job_id)["stages"])  # type: ignore[index]
        live = self._live[job_id]
        assert proc.stdout is not None
        for raw in proc.stdout:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            if msg.get("event") == "stage" and msg.get("stage") in stages:
                with self._lock:
                    self._update(job_id, stage=msg["stage"], completed=stages.index(msg["stage"]))
                    self._event(job_id, "progress")
            elif msg.get("event") == "point":
                points = {k: int(msg.get(k) or 0) for k in ("done", "total", "failed")}
                with self._lock:
                    self._update(job_id, detail=json.dumps({"points": points}))
                    self._event(job_id, "point")
            elif msg.get("event") in ("done", "error"):
                live.final = msg
        rc = proc.wait()
        kill_leftovers(job_id)  # Ray's workers sit in process groups of their own: the group signal may miss them
        for pipe in (proc.stdout, proc.stdin):  # stdin only now: its EOF would have told the worker to stop
            with contextlib.suppress(OSError):
                pipe.close()  # type: ignore[union-attr]
        self._finish(job_id, rc)

    def _finish(self, job_id: str, rc: int) -> None:
        from gigafactory.runs.store import list_runs

        row = self.row(job_id)
        assert row is not None
        live = self._live[job_id]
        final = live.final or {}
        out_dir = Path(row["out_dir"])
        recorded = sweep_id = None
        if row["kind"] == "plan":
            with contextlib.suppress(Exception):  # an unreadable store: no run to keep
                recorded = next((r["id"] for r in list_runs(self.store) if r["out_dir"] == str(out_dir.absolute())), None)
        elif row["kind"] == "sweep":
            sweep_id = self._recorded_sweep(out_dir)
        produced = {"plan": recorded is not None, "sweep": sweep_id is not None}.get(
            row["kind"], final.get("event") == "done" and (out_dir / "simulation.json").is_file())
        values: dict[str, Any] = {"finished": _now(), "pid": None}
        if sweep_id is not None:
            values["detail"] = json.dumps({**json.loads(row["detail"] or "{}"), "sweep_id": sweep_id})
        if produced:
            values.update(state="done", run_id=recorded, completed=len(json.loads(row["stages"])), stage=None)
            if live.cancel_requested:
                values["note"] = "the cancel arrived after the outputs were committed; the run is complete"
        else:
            shutil.rmtree(out_dir, ignore_errors=True)  # temp files of a killed commit, a half-written simulation
            if live.cancel_requested:
                values.update(state="cancelled", error=json.dumps({"message": "cancelled"}))
            elif self._stopping:
                values.update(state="interrupted", error=json.dumps({"message": "the server stopped while the job ran"}))
            elif final.get("event") == "error":
                values.update(state="failed", error=json.dumps({k: v for k, v in final.items() if k != "event"}))
            else:
                values.update(state="failed", error=json.dumps({"message": f"the worker process ended with exit status {rc}"}))
        with contextlib.suppress(OSError):
            (self.outputs / f".{job_id}.log").unlink()
        with self._lock:
            self._update(job_id, **values)
            self._running.discard(job_id)
            self._event(job_id, "state")
            live.proc = None
            self._pump()

    def _recorded_sweep(self, out_dir: Path) -> str | None:
        """The id of the sweep the run store records in this folder (the worker's last step), if any."""
        from gigafactory.runs.store import list_sweeps

        try:
            return next((s["id"] for s in list_sweeps(self.store) if s["folder"] == str(out_dir.absolute())), None)
        except Exception:  # noqa: BLE001 - an unreadable store: no sweep to keep
            return None

    # ------------------------------------------------------------------ cancel / stop / recover

    def cancel(self, job_id: str, owner: str) -> dict[str, Any] | None:
        with self._lock:
            row = self.row(job_id)
            if row is None or row["owner"] != owner:
                return None
            live = self._live.get(job_id)
            if row["state"] == "queued" and live is not None:
                with contextlib.suppress(ValueError):
                    self._queue.remove(job_id)
                live.cancel_requested = True
                self._update(job_id, state="cancelled", finished=_now(), error=json.dumps({"message": "cancelled before it started"}))
                self._event(job_id, "state")
            elif row["state"] == "running" and live is not None and live.proc is not None:
                live.cancel_requested = True
                self._signal(live.proc, signal.SIGTERM)
                threading.Timer(KILL_GRACE_S, self._kill_if_alive, args=(live.proc,)).start()
            return self.public(self.row(job_id))  # type: ignore[arg-type]

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        """Signal the worker's process group (it leads its own session), so pool processes go too."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)

    def _kill_if_alive(self, proc: subprocess.Popen) -> None:
        self._signal(proc, signal.SIGKILL)

    def wait(self, job_id: str, timeout_s: float | None = None) -> dict[str, Any] | None:
        """Block until the job ends (tests, the CLI); returns its row."""
        end = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            row = self.row(job_id)
            if row is None or row["state"] in TERMINAL and job_id not in self._running:
                return row
            if end is not None and time.monotonic() > end:
                return row
            time.sleep(0.05)

    def shutdown(self) -> None:
        """Stop every worker (their jobs end 'interrupted'; queued ones too) and wait for them."""
        with self._lock:
            self._stopping = True
            running = [(j, self._live[j].proc) for j in self._running if self._live[j].proc is not None]
            for job_id in list(self._queue):
                self._update(job_id, state="interrupted", finished=_now(), error=json.dumps({"message": "the server stopped before the job started"}))
            self._queue.clear()
        for _job_id, proc in running:
            self._signal(proc, signal.SIGTERM)
        for job_id, proc in running:
            try:
                proc.wait(KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
            self.wait(job_id, KILL_GRACE_S)

    def recover(self) -> None:
        """On start-up: jobs a previous server left queued or running become 'interrupted'.

        A worker that outlived its server (it stops itself when its stdin closes, but may be
        mid-commit) is sent SIGTERM and waited for; a plan it committed in full is kept (done).
        """
        from gigafactory.runs.store import list_runs

        with self._db() as con:
            rows = [dict(zip(_FIELDS, r)) for r in con.execute(
                f"SELECT {', '.join(_FIELDS)} FROM jobs WHERE state IN ('queued', 'running')").fetchall()]
        if not rows:
            return
        for row in rows:
            pid = row["pid"]
            if pid and _is_our_worker(pid, row["id"]):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGTERM)
                _wait_gone(pid, KILL_GRACE_S)
        try:
            recorded = {r["out_dir"]: r["id"] for r in list_runs(self.store)}
        except Exception:  # noqa: BLE001 - an unreadable store: nothing recorded to keep
            recorded = {}
        for row in rows:
            out_dir = str(Path(row["out_dir"]).absolute())
            if row["kind"] == "plan" and out_dir in recorded:
                self._update(row["id"], state="done", run_id=recorded[out_dir], finished=_now(), pid=None,
                             note="finished while the server was down")
                continue
            kill_leftovers(row["id"])
            sweep_id = self._recorded_sweep(Path(out_dir)) if row["kind"] == "sweep" else None
            if sweep_id is not None:
                self._update(row["id"], state="done", finished=_now(), pid=None, note="finished while the server was down",
                             detail=json.dumps({**json.loads(row["detail"] or "{}"), "sweep_id": sweep_id}))
                continue
            shutil.rmtree(row["out_dir"], ignore_errors=True)
            with contextlib.suppress(OSError):
                (self.outputs / f".{row['id']}.log").unlink()
            self._update(row["id"], state="interrupted", finished=_now(), pid=None,
                         error=json.dumps({"message": "the server stopped while the job was " + row["state"]}))


def _is_our_worker(pid: int, job_id: str) -> bool:
    """True when pid is still the worker of this job (not a reused pid): its environment names the job."""
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{JOB_ENV}={job_id}".encode() in env.split(b"\0")


def job_processes(job_id: str) -> list[int]:
    """Every live process that carries this job's marker in its environment: the worker and what it started
    (Ray's GCS, raylet, agents and task workers inherit it).  Empty where there is no /proc."""
    me = os.getpid()
    pids = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and int(entry.name) != me and _is_our_worker(int(entry.name), job_id):
                pids.append(int(entry.name))
    return pids


def kill_leftovers(job_id: str) -> None:
    """SIGKILL whatever of a finished or killed job is still running (its worker has ended: nothing of it may run on)."""
    for pid in job_processes(job_id):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _wait_gone(pid: int, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
