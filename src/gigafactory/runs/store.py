"""Run store: every `gigafactory plan` is recorded in an embedded SQLite database under the
user data directory ($GIGAFACTORY_HOME, else $XDG_DATA_HOME/gigafactory, else
~/.local/share/gigafactory), so runs can be listed, shown and compared.  Every sweep that
`gigafactory sweep run` (or an API sweep job) completes or that is interrupted is recorded in
the ``sweeps`` table: where its folder and Parquet table are, and how many points it holds.

The ``sweeps`` table came after ``runs``: writers add it to an older store inside their write
transaction; readers treat a store without it as one with no sweeps (and never add it).

Read-only commands (`runs list/show/compare`) open the store read-only (``mode=ro``) and never
create or modify it: a missing or empty (0-byte) store simply has no runs.  Anything that is not
a run store (a folder, a text file, some other SQLite database) is an :class:`InputError`.

Writers (:func:`record`, :func:`gigafactory.runs.outputs.commit_run`) call :func:`preflight_store`
first and take the write lock up front (``BEGIN IMMEDIATE``), so concurrent writers queue instead
of racing; run ids carry a random suffix and are checked under that lock, so they never collide.
"""
from __future__ import annotations

import datetime as dt

import json
import os
import secrets
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gigafactory.errors import InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    scenario_name TEXT NOT NULL,
    scenario_sha256 TEXT NOT NULL,
    seed INTEGER NOT NULL,
    catalog_version TEXT NOT NULL,
    gigafactory_version TEXT NOT NULL,
    out_dir TEXT,
    headline TEXT NOT NULL,
    scenario TEXT NOT NULL,
    result TEXT NOT NULL
)
"""
SWEEPS_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    name TEXT NOT NULL,
    spec_sha256 TEXT NOT NULL,
    folder TEXT NOT NULL,
    table_path TEXT NOT NULL,
    points_total INTEGER NOT NULL,
    points_ok INTEGER NOT NULL,
    points_failed INTEGER NOT NULL,
    status TEXT NOT NULL,
    gigafactory_version TEXT NOT NULL
)
"""
SWEEP_COLUMNS = ("id", "created", "updated", "name", "spec_sha256", "folder", "table_path", "points_total", "points_ok", "points_failed",
                 "status", "gigafactory_version")
#: a sweep's status in the store: every point recorded, or stopped (Ctrl-C, --limit) with the counts so far
SWEEP_STATUSES = ("complete", "interrupted")
COLUMNS = ("id", "created", "scenario_name", "scenario_sha256", "seed", "catalog_version", "gigafactory_version",
           "out_dir", "headline", "scenario", "result")
#: How long a writer waits for another writer's lock before giving up (seconds).
BUSY_TIMEOUT_S = 60.0
T = TypeVar("T")
_NOT_A_STORE = "not a gigafactory run store"
_STORE_FIX = "give --store a run-store file (e.g. runs.sqlite; a new path is created), or omit --store for the default"


def store_path(override: str | Path | None = None) -> Path:
    if override:
        return Path(override)
    base = os.environ.get("GIGAFACTORY_HOME")
    if base:
        return Path(base) / "runs.sqlite"
    xdg = os.environ.get("XDG_DATA_HOME")
    root = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return root / "gigafactory" / "runs.sqlite"


def headline(result: dict[str, Any]) -> dict[str, Any]:
    """The outputs that `runs list` and `runs compare` show."""
    d, r, e = result["design"], result["rollout"], result["economics"]
    out = {
        "gpus": d["gpus"], "racks": d["racks"], "it_power_mw": d["it_power_mw"], "facility_power_mw": d["facility_power_mw"], "pue": d["pue"],
        "capex_usd": d["capex_usd"], "ttft_days": r["ttft_days"], "ttft_days_p90": r["ttft_days_p90"], "full_capacity_days": r["full_capacity_days"],
        "npv_usd": e["npv_usd"], "irr": e["irr"], "payback_months": e["payback_months"], "cost_per_gpu_hour_usd": e["cost_per_gpu_hour_usd"],
    }
    for model, v in e["cost_per_mtok_usd"].items():
        out[f"cost_per_mtok_usd.{model}"] = v
    for model, v in result["serving"].items():
        out[f"tok_s_gpu.{model}"] = v["tok_s_gpu"]
    return out


# --------------------------------------------------------------------------- ids


def created_of(result: dict[str, Any]) -> str:
    """When the run was recorded (UTC, ISO seconds).  result.json carries no wall-clock time, so
    the same scenario and seed give byte-identical outputs; the record keeps it.  A result that
    carries ``created`` (older schema, tests) keeps its own."""
    return str(result.get("created") or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat())


def new_run_id(result: dict[str, Any], created: str | None = None) -> str:
    """``YYYYMMDD-HHMMSS-<scenario sha, 6>-<4 random hex>``, e.g. ``20250301-142233-3fa9c1-7b0e``.

    Sorts by creation time (to the second); the random suffix keeps two runs of one scenario
    finishing in the same second apart (and the writer re-draws it under the write lock on the
    rare clash).  Any unique prefix works on the command line.
    """
    stamp = (created or created_of(result))[:19].replace(":", "").replace("-", "").replace("T", "-")
    return f"{stamp}-{str(result['scenario_sha256'])[:6]}-{secrets.token_hex(2)}"


# --------------------------------------------------------------------------- checks


def _problem(message: str, path: Path, **kwargs: Any) -> InputError:
    kwargs.setdefault("field", "--store")
    kwargs.setdefault("fix", _STORE_FIX)
    return InputError.single(message, file=str(path), **kwargs)


def _check_schema(con: sqlite3.Connection, path: Path) -> bool:
    """True when the database holds a runs table of ours (and, if it has one, a sweeps table of
    ours), False when it has no tables at all."""
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if not tables:
        return False
    if "runs" not in tables:
        raise _problem(f"{_NOT_A_STORE}: a SQLite database without a 'runs' table", path, value=sorted(tables),
                       expected="a database written by `gigafactory plan` (a table named 'runs')")
    have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
    missing = [c for c in COLUMNS if c not in have]
    if missing:
        raise _problem(f"{_NOT_A_STORE}: its 'runs' table lacks columns {', '.join(missing)}", path, value=sorted(have),
                       expected=f"columns {', '.join(COLUMNS)}")
    if "sweeps" in tables:  # absent in stores written before sweeps were recorded: fine, they have none
        have = {r[1] for r in con.execute("PRAGMA table_info(sweeps)")}
        missing = [c for c in SWEEP_COLUMNS if c not in have]
        if missing:
            raise _problem(f"{_NOT_A_STORE}: its 'sweeps' table lacks columns {', '.join(missing)}", path, value=sorted(have),
                           expected=f"columns {', '.join(SWEEP_COLUMNS)}")
    return True


def _has_sweeps(con: sqlite3.Connection) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sweeps'").fetchone() is not None


def _db_error(path: Path, exc: sqlite3.Error, doing: str) -> InputError:
    text = str(exc)
    if "not a database" in text or "malformed" in text or "encrypted" in text:
        return _problem(f"{_NOT_A_STORE}: {text}", path, expected="a SQLite run store written by `gigafactory plan`")
    if "locked" in text or "busy" in text:
        return _problem(f"the run store is locked by another process ({doing}): {text}", path,
                        fix="wait for the other `gigafactory` run to finish and try again, or use another --store")
    return _problem(f"cannot use the run store ({doing}): {text}", path,
                    fix="check the file and its folder are readable and writable and the disk is not full, or use another --store")


def _regular_file_check(p: Path) -> os.stat_result | None:
    """stat of an existing store file; None when missing; InputError for folders and other non-files."""
    try:
        st = p.stat()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None  # some parent is a file: the store does not exist (writers catch this separately)
    except OSError as exc:
        raise _problem(f"cannot read the run store: {exc.strerror or exc}", p)
    if stat.S_ISDIR(st.st_mode):
        raise _problem(f"{_NOT_A_STORE}: it is a folder", p, expected="a file such as runs.sqlite",
                       fix=f"give the file inside it, e.g. --store {p / 'runs.sqlite'}")
    if not stat.S_ISREG(st.st_mode):
        raise _problem(f"{_NOT_A_STORE}: not a regular file", p, expected="a SQLite file such as runs.sqlite")
    return st


def _connect_ro(p: Path) -> sqlite3.Connection:
    uri = p.absolute().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)


def _with_ro(p: Path, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run fn on a read-only connection.  A writer killed mid-transaction can leave a hot journal
    that a read-only connection cannot roll back ("attempt to write a readonly database"); then
    open it once read-write so SQLite rolls the journal back (the file is a real SQLite database
    by then: only SQLite writes such a journal), and read again."""
    for attempt in (1, 2):
        try:
            con = _connect_ro(p)
            try:
                return fn(con)
            finally:
                con.close()
        except sqlite3.OperationalError as exc:
            if attempt == 2 or "readonly" not in str(exc) or not Path(f"{p}-journal").exists():
                raise _db_error(p, exc, "reading") from None
            try:
                rw = sqlite3.connect(p, timeout=BUSY_TIMEOUT_S)
                try:
                    rw.execute("SELECT count(*) FROM sqlite_master").fetchall()
                finally:
                    rw.close()
            except sqlite3.Error as exc2:
                raise _problem(f"an interrupted write left a journal that needs write access to roll back: {exc2}", p,
                               fix="run this once as a user who can write the store and its folder") from None
        except sqlite3.Error as exc:
            raise _db_error(p, exc, "reading") from None
    raise AssertionError("unreachable")


def inspect_store(path: str | Path | None = None) -> str:
    """Look at a store without changing it: 'missing', 'empty' (0 bytes or no tables) or 'ok'.

    Raises InputError when the path is a folder, not a SQLite database, a SQLite database of
    something else, or unreadable.
    """
    p = store_path(path)
    st = _regular_file_check(p)
    if st is None:
        return "missing"
    if st.st_size == 0:
        return "empty"
    return "ok" if _with_ro(p, lambda con: _check_schema(con, p)) else "empty"


def _probe_dir(d: Path) -> OSError | None:
    """Create and delete a hidden probe file in d: the honest test (root, ACLs, read-only mounts)."""
    probe = d / f".gigafactory-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        return exc
    os.close(fd)
    try:
        probe.unlink()
    except OSError:
        pass
    return None


def _nearest_existing(p: Path) -> Path:
    for a in (p, *p.parents):
        try:
            a.stat()
            return a
        except (FileNotFoundError, NotADirectoryError):
            continue
    return Path(p.anchor or ".")


def preflight_store(path: str | Path | None = None) -> Path:
    """Check, before any work, that the run store can be written; returns its path.

    Creates the store's parent folder if needed (not the store itself).  Raises InputError when
    the path is a folder, a file that is not a run store (text, other SQLite database), a
    read-only file, under a file, or in a folder that cannot be written (SQLite needs to create
    its journal next to the store).  An existing 0-byte file is accepted: it becomes the store.
    """
    p = store_path(path)
    if _regular_file_check(p) is not None:
        inspect_store(p)  # raises for text files and foreign databases
        if not os.access(p, os.R_OK | os.W_OK):
            raise _problem("the run store is not writable", p, fix="make it writable (chmod u+rw), or use another --store")
    parent = p.parent
    top = _nearest_existing(parent)
    if not top.is_dir():
        raise _problem(f"the run store's folder cannot be created: {top} is a file", p, value=str(top),
                       fix="give a --store path that is not under a file")
    if top != parent:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _problem(f"cannot create the run store's folder {parent}: {exc.strerror or exc}", p) from None
    err = _probe_dir(parent)
    if err is not None:
        raise _problem(f"cannot write in the run store's folder {parent}: {err.strerror or err}", p,
                       fix="make the folder writable, or use another --store")
    return p


# --------------------------------------------------------------------------- writing


def connect_write(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit: BEGIN IMMEDIATE ... COMMIT)."""
    try:
        return sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise _db_error(path, exc, "opening") from None


def begin(con: sqlite3.Connection, path: Path) -> None:
    """Take the write lock now (so id checks and the insert are atomic) and make sure the tables exist
    (an older store gains the sweeps table here, under the lock, so two writers never race to add it)."""
    try:
        con.execute("BEGIN IMMEDIATE")
        if not _check_schema(con, path):  # a new or empty file; a foreign database raises instead of gaining our table
            con.execute(SCHEMA)
        con.execute(SWEEPS_SCHEMA)
    except sqlite3.Error as exc:
        _rollback(con)
        raise _db_error(path, exc, "writing") from None
    except InputError:
        _rollback(con)
        raise


def _rollback(con: sqlite3.Connection) -> None:
    try:
        if con.in_transaction:
            con.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def insert_run(con: sqlite3.Connection, result: dict[str, Any], out_dir: Path | None, path: Path) -> str:
    """Insert one run inside the transaction opened by :func:`begin`; returns its id."""
    slim = {k: v for k, v in result.items() if k != "rollout"}
    slim["rollout"] = {k: v for k, v in result["rollout"].items() if k != "gantt"}
    created = created_of(result)
    row = (created, result["scenario_name"], result["scenario_sha256"], int(result["seed"]), result["catalog_version"],
           result["gigafactory_version"], str(out_dir) if out_dir else None, json.dumps(headline(result)), json.dumps(result["scenario"]),
           json.dumps(slim, default=str))
    try:
        for _ in range(100):
            run_id = new_run_id(result, created)
            if con.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                continue  # we hold the write lock: nobody can take this id between the check and the insert
            con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)", (run_id, *row))
            return run_id
    except sqlite3.Error as exc:
        raise _db_error(path, exc, "writing") from None
    raise RuntimeError("could not draw a free run id in 100 tries")  # 65536 suffixes per scenario and second


def commit(con: sqlite3.Connection, path: Path) -> None:
    try:
        con.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(con)
        raise _db_error(path, exc, "committing") from None


def record(result: dict[str, Any], out_dir: Path | None, path: Path | None = None) -> str:
    """Store a plan result on its own (outputs already written); returns the run id.

    Prefer :func:`gigafactory.runs.outputs.commit_run`, which writes the outputs and the record
    together or not at all.
    """
    p = preflight_store(path)
    con = connect_write(p)
    try:
        begin(con, p)
        try:
            run_id = insert_run(con, result, out_dir, p)
            commit(con, p)
        except BaseException:
            _rollback(con)
            raise
        return run_id
    finally:
        con.close()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def new_sweep_id(spec_sha256: str, created: str) -> str:
    """``sw-YYYYMMDD-HHMMSS-<spec sha, 6>-<4 random hex>``: the prefix keeps sweep ids apart from run
    ids (and from folder names on the command line); any unique prefix works, as for runs."""
    stamp = created[:19].replace(":", "").replace("-", "").replace("T", "-")
    return f"sw-{stamp}-{spec_sha256[:6]}-{secrets.token_hex(2)}"


def record_sweep(name: str, spec_sha256: str, folder: Path, table_path: Path, points_total: int, points_ok: int, points_failed: int,
                 complete: bool, path: Path | None = None) -> str:
    """Record a sweep that completed or was interrupted; returns its id.

    One record per sweep folder: a resumed sweep (same folder, same ``spec_sha256``, the folder's
    identity: spec and base scenario) updates its record in place and keeps its id; a folder that now
    holds another sweep (``--fresh`` with another spec) replaces the old record.
    """
    from gigafactory import __version__

    p = preflight_store(path)
    folder_s, table_s = str(Path(folder).absolute()), str(Path(table_path).absolute())
    status = "complete" if complete else "interrupted"
    now = _now()
    con = connect_write(p)
    try:
        begin(con, p)
        try:
            hit = con.execute("SELECT id FROM sweeps WHERE folder = ? AND spec_sha256 = ?", (folder_s, spec_sha256)).fetchone()
            if hit:
                sweep_id = hit[0]
                con.execute("UPDATE sweeps SET updated = ?, name = ?, table_path = ?, points_total = ?, points_ok = ?, points_failed = ?, "
                            "status = ?, gigafactory_version = ? WHERE id = ?",
                            (now, name, table_s, points_total, points_ok, points_failed, status, __version__, sweep_id))
            else:
                con.execute("DELETE FROM sweeps WHERE folder = ?", (folder_s,))
                for _ in range(100):
                    sweep_id = new_sweep_id(spec_sha256, now)
                    if not con.execute("SELECT 1 FROM sweeps WHERE id = ?", (sweep_id,)).fetchone():
                        break  # free, and nobody can take it: we hold the write lock
                else:
                    raise RuntimeError("could not draw a free sweep id in 100 tries")
                con.execute(f"INSERT INTO sweeps ({', '.join(SWEEP_COLUMNS)}) VALUES ({', '.join('?' * len(SWEEP_COLUMNS))})",
                            (sweep_id, now, now, name, spec_sha256, folder_s, table_s, points_total, points_ok, points_failed, status, __version__))
            commit(con, p)
        except sqlite3.Error as exc:
            _rollback(con)
            raise _db_error(p, exc, "writing") from None
        except BaseException:
            _rollback(con)
            raise
        return sweep_id
    finally:
        con.close()


# --------------------------------------------------------------------------- reading


def _read(p: Path, query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    def run(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
        _check_schema(con, p)
        return con.execute(query, args).fetchall()

    return _with_ro(p, run)


def list_runs(path: Path | None = None) -> list[dict[str, Any]]:
    """Every recorded run, oldest first.  A missing or empty store has none (and is not created)."""
    p = store_path(path)
    if inspect_store(p) != "ok":
        return []
    rows = _read(p, "SELECT id, created, scenario_name, seed, catalog_version, out_dir, headline FROM runs ORDER BY created, rowid")
    return [{"id": r[0], "created": r[1], "scenario_name": r[2], "seed": r[3], "catalog_version": r[4], "out_dir": r[5], "headline": json.loads(r[6])} for r in rows]


def list_sweeps(path: Path | None = None) -> list[dict[str, Any]]:
    """Every recorded sweep, oldest first.  A missing or empty store, or one written before sweeps
    were recorded, has none (and is not created or upgraded)."""
    p = store_path(path)
    if inspect_store(p) != "ok":
        return []

    def run(con: sqlite3.Connection) -> list[tuple[Any, ...]]:
        _check_schema(con, p)
        if not _has_sweeps(con):
            return []
        return con.execute(f"SELECT {', '.join(SWEEP_COLUMNS)} FROM sweeps ORDER BY created, rowid").fetchall()

    return [dict(zip(SWEEP_COLUMNS, r)) for r in _with_ro(p, run)]


def get_sweep(sweep_id: str, path: Path | None = None) -> dict[str, Any]:
    """One recorded sweep by its id or a unique prefix of it; InputError when none or several match."""
    p = store_path(path)
    sweeps = list_sweeps(p)
    hits = [s for s in sweeps if s["id"] == sweep_id] or [s for s in sweeps if s["id"].startswith(sweep_id)]
    if not hits:
        raise InputError.single(f"no sweep '{sweep_id}' in {p}", field="ID", value=sweep_id, expected="a sweep id from `gigafactory runs list`",
                                fix="run `gigafactory runs list` to see the sweeps" if sweeps else "run `gigafactory sweep run` first")
    if len(hits) > 1:
        raise InputError.single(f"'{sweep_id}' matches {len(hits)} sweeps", field="ID", value=sweep_id, fix="give more characters of the id")
    return hits[0]


def get_run(run_id: str, path: Path | None = None) -> dict[str, Any]:
    p = store_path(path)
    runs = list_runs(p)
    hits = [r for r in runs if r["id"] == run_id] or [r for r in runs if r["id"].startswith(run_id)]
    if not hits:
        raise InputError.single(f"no run '{run_id}' in {p}", field="ID", value=run_id, expected="an id from `gigafactory runs list`",
                                fix="run `gigafactory runs list` to see the ids" if runs else "run `gigafactory plan` first")
    if len(hits) > 1:
        raise InputError.single(f"'{run_id}' matches {len(hits)} runs", field="ID", value=run_id, fix="give more characters of the id")
    rows = _read(p, "SELECT scenario, result FROM runs WHERE id = ?", (hits[0]["id"],))
    if not rows:  # deleted between the two reads
        raise InputError.single(f"no run '{run_id}' in {p}", field="ID", value=run_id, fix="run `gigafactory runs list` to see the ids")
    return {**hits[0], "scenario": json.loads(rows[0][0]), "result": json.loads(rows[0][1])}


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: obj}


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What changed in inputs (scenario, seed, catalog version) and outputs (headline)."""
    fa, fb = _flatten(a["scenario"]), _flatten(b["scenario"])
    inputs = [{"key": k, "a": fa.get(k), "b": fb.get(k)} for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
    for key in ("seed", "catalog_version"):
        if a[key] != b[key]:
            inputs.append({"key": key, "a": a[key], "b": b[key]})
    outputs = []
    for k in sorted(set(a["headline"]) | set(b["headline"])):
        va, vb = a["headline"].get(k), b["headline"].get(k)
        if va != vb:
            rel = (vb - va) / abs(va) if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and va else None
            outputs.append({"key": k, "a": va, "b": vb, "change": rel})
    return {"a": a["id"], "b": b["id"], "inputs": inputs, "outputs": outputs}
