"""The sweep folder: a durable record of every point, so an interrupted sweep resumes where it
stopped.

    DIR/sweep.yaml       the spec as given          DIR/base.yaml      the base scenario's text
    DIR/manifest.json    identity (spec and base hashes), columns, points, stages
    DIR/points.jsonl     one JSON row per finished point, appended and fsync'd as each arrives
    DIR/results.parquet  the table (rows deduplicated by point, with feasible / pareto), rebuilt from the log
    DIR/report.html      the analysis page

The log is the truth: a kill loses at most the points in flight, and a torn last line is
ignored.  The Parquet file is derived from it and queried with DuckDB (view ``points``).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from gigafactory.errors import InputError

LOG = "points.jsonl"
TABLE = "results.parquet"
MANIFEST = "manifest.json"
REPORT = "report.html"
FIXED_HEAD = ("point", "point_key", "status", "error", "error_check", "seed")
FIXED_TAIL = ("feasible", "pareto", "wall_s", "stages_run", "stages_cached")


def sweep_identity(spec_text: str, base_text: str) -> str:
    return hashlib.sha256((spec_text + "\0" + base_text).encode()).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SweepStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @property
    def log_path(self) -> Path:
        return self.folder / LOG

    @property
    def table_path(self) -> Path:
        return self.folder / TABLE

    def manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def prepare(self, manifest: dict[str, Any], spec_text: str, base_text: str, fresh: bool = False) -> None:
        """Create the folder, or check that it holds this very sweep (then it resumes)."""
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError.single("the sweep folder is a file", file=str(self.folder), field="--out", fix="choose a folder path", check="sweep-folder")
        old = self.manifest()
        if old is not None and not fresh and old.get("identity") != manifest["identity"]:
            raise InputError.single(
                "this folder holds another sweep (its spec or base scenario differs)", file=str(self.folder), field="--out",
                value=old.get("name"), expected="the folder of this very sweep, to resume it, or a new folder",
                fix="choose another --out folder, or add --fresh to discard the old results", check="sweep-folder")
        if old is None and self.folder.exists() and any(self.folder.iterdir()) and not fresh:
            raise InputError.single("the folder is not empty and holds no sweep", file=str(self.folder), field="--out",
                                    fix="choose an empty or new --out folder", check="sweep-folder")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if fresh:
                for name in (LOG, TABLE, MANIFEST, REPORT, "sweep.yaml", "base.yaml"):
                    (self.folder / name).unlink(missing_ok=True)
            atomic_write(self.folder / "sweep.yaml", spec_text.encode())
            atomic_write(self.folder / "base.yaml", base_text.encode())
            atomic_write(self.folder / MANIFEST, json.dumps(manifest, indent=1, default=str).encode())
        except OSError as exc:
            raise InputError.single(f"cannot write the sweep folder: {exc.strerror}", file=str(self.folder), field="--out",
                                    fix="choose a folder you can write to", check="sweep-folder") from None

    def read_log(self) -> dict[int, dict[str, Any]]:
        """Finished points by index (the last row of a point wins; a torn line is skipped)."""
        rows: dict[int, dict[str, Any]] = {}
        try:
            with self.log_path.open("r", encoding="utf-8") as fh:
                for line in fh:
                    try:
                        row = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(row, dict) and isinstance(row.get("point"), int):
                        rows[row["point"]] = row
        except FileNotFoundError:
            pass
        return rows

    def open_log(self) -> "LogWriter":
        return LogWriter(self.log_path)


class LogWriter:
    """Appends one row per line; each row is on disk (fsync) before the next point is counted."""

    def __init__(self, path: Path):
        # a torn last line (a kill mid-write) would glue onto the next row: start on a fresh line
        needs_newline = path.exists() and path.stat().st_size > 0 and path.read_bytes()[-1:] != b"\n"
        self.fh = path.open("a", encoding="utf-8")
        if needs_newline:
            self.fh.write("\n")

    def append(self, row: dict[str, Any]) -> None:
        self.fh.write(json.dumps(row, allow_nan=False, default=str, separators=(",", ":")) + "\n")
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()

    def __enter__(self) -> "LogWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- the table


def table_columns(manifest: dict[str, Any]) -> list[str]:
    return list(FIXED_HEAD) + manifest["parameters"] + manifest["metrics"] + manifest["outputs"] + list(FIXED_TAIL)


def _arrow_type(values: Iterable[Any], integer: bool | None = None) -> Any:
    import pyarrow as pa

    vals = [v for v in values if v is not None]
    if integer is True:
        return pa.int64()
    if integer is False:
        return pa.float64()
    if vals and all(isinstance(v, bool) for v in vals):
        return pa.bool_()
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return pa.int64()
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return pa.float64()
    return pa.string()


def _cell(value: Any, typ: Any) -> Any:
    import pyarrow as pa

    if value is None:
        return None
    if typ == pa.string() and not isinstance(value, str):
        return json.dumps(value, sort_keys=True, default=str)
    if typ == pa.float64():
        return float(value)
    return value


def write_table(store: SweepStore, manifest: dict[str, Any], rows: list[dict[str, Any]], flags: dict[int, tuple[bool, bool]]) -> Path:
    """results.parquet from the rows (sorted by point) with the feasible / pareto flags."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gigafactory.sweep.metrics import METRICS

    rows = sorted(rows, key=lambda r: r["point"])
    cols = table_columns(manifest)
    fixed = {"point": pa.int64(), "point_key": pa.string(), "status": pa.string(), "error": pa.string(), "error_check": pa.string(),
             "seed": pa.int64(), "feasible": pa.bool_(), "pareto": pa.bool_(), "wall_s": pa.float64(), "stages_run": pa.int32(),
             "stages_cached": pa.int32()}
    types = {}
    for c in cols:
        if c in fixed:
            types[c] = fixed[c]
        elif c in METRICS and c in manifest["metrics"]:
            types[c] = _arrow_type((), METRICS[c].integer)
        else:
            types[c] = _arrow_type(r.get(c) for r in rows)
    data = {c: [] for c in cols}
    for r in rows:
        feasible, pareto = flags.get(r["point"], (False, False))
        r = {**r, "feasible": feasible, "pareto": pareto}
        for c in cols:
            data[c].append(_cell(r.get(c), types[c]))
    table = pa.table({c: pa.array(data[c], type=types[c]) for c in cols})
    fd, tmp = tempfile.mkstemp(prefix=f".{TABLE}.", suffix=".tmp", dir=store.folder)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, store.table_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return store.table_path


def connect(table_path: Path) -> Any:
    """An in-memory DuckDB connection with the view ``points`` over the Parquet table."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE VIEW points AS SELECT * FROM read_parquet('{_sql_str(str(table_path))}')")
    return con


def _sql_str(text: str) -> str:
    return text.replace("'", "''")
