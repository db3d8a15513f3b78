"""Workloads for the serving simulator: real request traces, length tables and synthetic arrivals.

A :class:`Workload` is a column store of requests (arrival time, input tokens, output tokens, model
index, optional Mooncake prefix-block hashes), sorted by arrival, with its arrays read-only.

Sources
-------
* Bundled per-request traces (gzipped copies under ``simulate/data/traces/``; each folder keeps the
  upstream ``SOURCE.md`` and license):

  - ``azure-code-2023``, ``azure-conv-2023``: Azure LLM inference trace 2023 (Splitwise, ISCA'24), CC-BY 4.0.
  - ``mooncake-conversation``, ``mooncake-synthetic``: Kimi/Mooncake FAST'25 traces with 512-token
    prefix-block hashes, Apache-2.0 (repository).

* Bundled length tables (no timestamps; use them as ``synthetic(arrivals, rng, lengths=...)``):
  ``sharegpt`` (Sarathi-Serve, Apache-2.0) and ``arxiv-summarization`` (Vidur, MIT).

* A user file (``.csv`` / ``.jsonl``, optionally ``.gz``), recognised by its columns: Azure
  (``TIMESTAMP,ContextTokens,GeneratedTokens``), Mooncake JSONL (``timestamp`` in ms, ``input_length``,
  ``output_length``, optional ``hash_ids``), or generic CSV/JSONL ``arrival_s,input_tokens,output_tokens[,model]``.

Conventions
-----------
* Arrival times are relative: the earliest arrival of a loaded trace becomes t = 0 (Azure timestamps are
  wall clock; generic ``arrival_s`` may be epoch seconds).  Unsorted rows are sorted by arrival (stable).
* ``duration_s`` of a loaded trace is its span plus one mean inter-arrival gap,
  ``last * n / (n - 1)``: the period after which the trace can be replayed back to back without two
  arrivals coinciding.  So ``mean_rate_rps = n / duration_s = (n - 1) / span``, which differs from the
  ``n / span`` figure quoted in SOURCE.md by one request (< 0.05 % for the bundled traces).
* Token counts are whole numbers >= 1; anything else in a file is an :class:`InputError` naming the line.
* All randomness comes from an injected ``numpy.random.Generator``: same seed, same arrays.
"""
from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
import gzip
import io
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gigafactory.errors import InputError

__all__ = [
    "Workload",
    "TraceInfo",
    "TRACES",
    "MOONCAKE_BLOCK_TOKENS",
    "trace_names",
    "trace_path",
    "load_trace",
    "load_lengths",
    "poisson_arrivals",
    "gamma_arrivals",
    "diurnal_arrivals",
    "diurnal_rate",
    "synthetic",
    "scale_to_rate",
    "window",
    "assign_models",
]

MOONCAKE_BLOCK_TOKENS = 512
#: peak rate / trough rate of :func:`diurnal_arrivals` unless given
DIURNAL_PEAK_TO_TROUGH = 3.0
#: CV of synthetic request lengths when only their means are given (:func:`synthetic`)
SYNTHETIC_LENGTH_CV = 0.5
MAX_REQUESTS = 50_000_000  # guard against rate * duration typos that would exhaust memory
DATA_DIR = Path(__file__).resolve().parent / "data" / "traces"

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
GENERIC_COLUMNS = ("arrival_s", "input_tokens", "output_tokens")
LENGTH_COLUMNS = ("num_prefill_tokens", "num_decode_tokens")
MOONCAKE_FIELDS = ("timestamp", "input_length", "output_length")


# --------------------------------------------------------------------------------------------- Workload


def _readonly(arr: np.ndarray) -> np.ndarray:
    """A read-only array: a private copy unless ``arr`` is already read-only (never freezes the caller's array)."""
    if arr.flags.writeable:
        arr = arr.copy()
        arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class Workload:
    """Requests sorted by arrival.  Arrays are read-only; transformations return new workloads."""

    name: str
    arrival_s: np.ndarray  # float64, sorted ascending, first >= 0
    input_tokens: np.ndarray  # int64 >= 1
    output_tokens: np.ndarray  # int64 >= 1
    model: np.ndarray  # int16 index into `models`
    models: tuple[str, ...] = ("default",)
    block_hashes: tuple[tuple[int, ...], ...] | None = None
    hash_block_tokens: float = 0  # tokens per hash block (float once lengths are rescaled)
    duration_s: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        arrival = np.asarray(self.arrival_s, dtype=np.float64).reshape(-1)
        n = arrival.size
        raw_model = np.asarray(self.model).reshape(-1)
        if raw_model.size and (not np.issubdtype(raw_model.dtype, np.integer)
                               or int(raw_model.min()) < 0 or int(raw_model.max()) >= len(self.models)):
            raise InputError.single("model index out of range of `models`", field="model",
                                    value=[raw_model.min().item(), raw_model.max().item()],
                                    expected=f"whole numbers 0 .. {len(self.models) - 1}",
                                    fix="give one name in `models` per model index")
        fields = {
            "arrival_s": arrival,
            "input_tokens": np.asarray(self.input_tokens, dtype=np.int64).reshape(-1),
            "output_tokens": np.asarray(self.output_tokens, dtype=np.int64).reshape(-1),
            "model": np.asarray(self.model, dtype=np.int16).reshape(-1),
        }
        for key, arr in fields.items():
            if arr.size != n:
                raise InputError.single(f"{key} has {arr.size} entries but arrival_s has {n}", field=key,
                                        expected="one entry per request", fix="build every per-request array from the same rows")
        if n:
            if not np.all(np.isfinite(arrival)) or arrival[0] < 0 or np.any(np.diff(arrival) < 0):
                raise InputError.single("arrival times must be finite, >= 0 and sorted ascending", field="arrival_s",
                                        value=arrival[:5].tolist(), expected="sorted seconds from the workload start",
                                        fix="sort the arrivals (np.sort) and shift them so the first is >= 0")
            for key in ("input_tokens", "output_tokens"):
                low = int(fields[key].min())
                if low < 1:
                    raise InputError.single(f"{key} has a value below 1", field=key, value=low,
                                            expected="whole numbers >= 1", fix=f"clip {key} to >= 1")
        models = tuple(str(x) for x in self.models)
        if not models:
            raise InputError.single("no model names", field="models", value=self.models, expected='at least one name, e.g. ("default",)')
        if self.block_hashes is not None and len(self.block_hashes) != n:
            raise InputError.single(f"block_hashes has {len(self.block_hashes)} entries but arrival_s has {n}",
                                    field="block_hashes", expected="one tuple of hash ids per request")
        duration = float(self.duration_s)
        last = float(arrival[-1]) if n else 0.0
        if not math.isfinite(duration) or duration <= 0 or duration < last:
            raise InputError.single("duration_s must be > 0 and cover the last arrival", field="duration_s",
                                    value=duration, expected=f"a finite number >= {last:g} and > 0",
                                    fix="set duration_s to the span the workload covers")
        for key, arr in fields.items():
            object.__setattr__(self, key, _readonly(arr))
        object.__setattr__(self, "models", models)
        object.__setattr__(self, "duration_s", duration)
        object.__setattr__(self, "hash_block_tokens", float(self.hash_block_tokens) if self.block_hashes is not None else 0)

    def __len__(self) -> int:
        return int(self.arrival_s.size)

    def __repr__(self) -> str:
        return (f"Workload(name={self.name!r}, requests={len(self)}, duration_s={self.duration_s:.1f}, "
                f"mean_rate_rps={self.mean_rate_rps:.3f}, models={self.models}, hashes={self.block_hashes is not None})")

    @property
    def mean_rate_rps(self) -> float:
        """Requests per second over ``duration_s``."""
        return len(self) / self.duration_s

    def subset(self, mask_or_indices: Any) -> Workload:
        """Requests selected by a boolean mask (length n) or integer indices (kept in arrival order).

        ``duration_s``, ``models`` and the name are kept; all per-request fields stay aligned.
        """
        sel = np.asarray(mask_or_indices)
        if sel.dtype == bool:
            if sel.shape != (len(self),):
                raise InputError.single(f"boolean mask has shape {sel.shape}, workload has {len(self)} requests",
                                        field="mask_or_indices", expected=f"shape ({len(self)},)")
            idx = np.flatnonzero(sel)
        else:
            if sel.size and not np.issubdtype(sel.dtype, np.integer):
                raise InputError.single("indices must be integers or a boolean mask", field="mask_or_indices",
                                        value=str(sel.dtype), expected="a bool mask or an int array")
            idx = np.sort(sel.astype(np.int64).reshape(-1), kind="stable")  # keep arrival order
            if idx.size and (idx[0] < -len(self) or idx[-1] >= len(self)):
                raise InputError.single("index out of range", field="mask_or_indices",
                                        value=[int(idx[0]), int(idx[-1])], expected=f"0 .. {len(self) - 1}")
            if idx.size and idx[0] < 0:
                idx = np.sort(np.where(idx < 0, idx + len(self), idx), kind="stable")
        hashes = None if self.block_hashes is None else tuple(self.block_hashes[i] for i in idx.tolist())
        return dataclasses.replace(
            self,
            arrival_s=self.arrival_s[idx],
            input_tokens=self.input_tokens[idx],
            output_tokens=self.output_tokens[idx],
            model=self.model[idx],
            block_hashes=hashes,
        )


# --------------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class TraceInfo:
    """One bundled data file."""

    name: str
    folder: str
    file: str  # gzipped file name inside the folder
    kind: str  # "trace" (per-request arrivals) or "lengths" (token counts only)
    description: str
    attribution: str

    @property
    def path(self) -> Path:
        return DATA_DIR / self.folder / self.file


_AZURE = "Azure/AzurePublicDataset, CC-BY 4.0; Patel et al., Splitwise, ISCA 2024"
_MOONCAKE = "kvcache-ai/Mooncake, Apache-2.0; Qin et al., Mooncake, USENIX FAST 2025"

TRACES: dict[str, TraceInfo] = {
    t.name: t
    for t in (
        TraceInfo("azure-conv-2023", "azure_llm_2023", "AzureLLMInferenceTrace_conv.csv.gz", "trace",
                  "Azure conversation service, 2023-11-16, ~1 h, 19,366 requests (near-Poisson)", _AZURE),
        TraceInfo("azure-code-2023", "azure_llm_2023", "AzureLLMInferenceTrace_code.csv.gz", "trace",
                  "Azure code-completion service, 2023-11-16, ~1 h, 8,819 requests (very bursty)", _AZURE),
        TraceInfo("mooncake-conversation", "mooncake_fast25", "conversation_trace.jsonl.gz", "trace",
                  "Kimi conversation trace, 59 min, 12,031 requests, 512-token prefix-block hashes", _MOONCAKE),
        TraceInfo("mooncake-synthetic", "mooncake_fast25", "synthetic_trace.jsonl.gz", "trace",
                  "Mooncake synthetic (Poisson) trace, 17 min, 3,993 requests, 512-token prefix-block hashes", _MOONCAKE),
        TraceInfo("sharegpt", "sharegpt_lengths", "sharegpt_8k_filtered_stats_llama2_tokenizer.csv.gz", "lengths",
                  "ShareGPT prefill/decode token counts (Llama-2 tokenizer), 30,731 rows, lengths only",
                  "microsoft/sarathi-serve, Apache-2.0"),
        TraceInfo("arxiv-summarization", "arxiv_summarization_lengths",
                  "arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv.gz", "lengths",
                  "arXiv summarization prefill/decode token counts (Llama-2 tokenizer), 28,257 rows, lengths only",
                  "microsoft/vidur, MIT"),
    )
}


def trace_names(kind: str | None = None) -> list[str]:
    """Names of the bundled data files; ``kind`` = "trace" or "lengths" to filter."""
    return [n for n, t in TRACES.items() if kind is None or t.kind == kind]


def trace_path(name: str) -> Path:
    """Path of a bundled file (gzipped)."""
    return _info(name, field_name="name").path


def _info(name: str, field_name: str) -> TraceInfo:
    if name in TRACES:
        return TRACES[name]
    hint = difflib.get_close_matches(name, list(TRACES), n=1, cutoff=0.5)
    raise InputError.single(
        f"unknown trace '{name}'" + (f" — did you mean '{hint[0]}'?" if hint else ""),
        field=field_name, value=name, expected=f"one of: {', '.join(TRACES)}",
        fix=f"use '{hint[0]}'" if hint else "name a bundled trace or give the path of a .csv/.jsonl file",
    )


# --------------------------------------------------------------------------------------------- reading


@dataclass
class _Table:
    """Parsed file: header + rows of strings (CSV), or records (JSONL)."""

    file: str
    kind: str  # "csv" | "jsonl"
    header: list[str]
    rows: list[Any]  # csv: list of lists of str; jsonl: list of dicts
    first_line: int  # file line number of rows[0]
    line_of: list[int] | None = None  # per-row line numbers when blank lines were skipped


def _resolve(name_or_path: str | Path, field_name: str) -> tuple[Path, str, TraceInfo | None]:
    """(path, display name, registry entry or None)."""
    key = str(name_or_path)
    if key in TRACES:
        info = TRACES[key]
        return info.path, f"{info.folder}/{info.file} (bundled '{key}')", info
    p = Path(key).expanduser()
    if p.is_file():
        return p, key, None
    if p.is_dir():
        raise InputError.single("this is a directory, not a trace file", file=key, field=field_name,
                                fix="name the .csv or .jsonl file inside it")
    looks_like_path = any(c in key for c in "/\\") or p.suffix.lower() in (".csv", ".jsonl", ".json", ".gz", ".txt")
    hint = difflib.get_close_matches(key, list(TRACES), n=1, cutoff=0.5)
    if looks_like_path and not hint:
        raise InputError.single("no such file", file=key, field=field_name,
                                fix="check the path, or name a bundled trace: " + ", ".join(TRACES))
    raise InputError.single(
        f"unknown trace '{key}' (not a bundled trace name and no such file)" + (f" — did you mean '{hint[0]}'?" if hint else ""),
        field=field_name, value=key, expected=f"one of: {', '.join(TRACES)}, or the path of a .csv/.jsonl(.gz) file",
        fix=f"use '{hint[0]}'" if hint else "check the spelling or the path",
    )


def _read_text(path: Path, display: str) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError.single(f"cannot read the file: {exc.strerror}", file=display) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError.single(f"corrupt gzip file: {exc}", file=display, fix="re-compress or un-gzip the file") from None
    if b"\x00" in raw[:8192]:
        raise InputError.single("this is a binary file, not CSV/JSONL text", file=display,
                                expected="a UTF-8 .csv or .jsonl trace (optionally gzipped)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError.single(f"not UTF-8 text (bad byte at offset {exc.start})", file=display, fix="save the file as UTF-8") from None


def _parse(path: Path, display: str) -> _Table:
    text = _read_text(path, display)
    stripped = text.lstrip()
    if not stripped:
        raise InputError.single("the file is empty", file=display,
                                expected="a header line and one row per request", fix="check you named the right file")
    if stripped.startswith("{"):
        return _parse_jsonl(text, display)
    return _parse_csv(text, display)


def _parse_csv(text: str, display: str) -> _Table:
    lines = text.splitlines()
    head_idx = next(i for i, ln in enumerate(lines) if ln.strip())
    header = [h.strip() for h in next(csv.reader([lines[head_idx]]))]
    body = lines[head_idx + 1:]
    # Fast path: plain comma-separated values without quotes (all bundled files).
    if '"' not in text:
        rows = [ln.split(",") for ln in body]
    else:
        rows = list(csv.reader(io.StringIO("\n".join(body))))
    line_of = None
    if any(not r or (len(r) == 1 and not r[0].strip()) for r in rows):
        keep = [i for i, r in enumerate(rows) if r and not (len(r) == 1 and not r[0].strip())]
        line_of = [head_idx + 2 + i for i in keep]
        rows = [rows[i] for i in keep]
    if not rows:
        raise InputError.single("the file has a header but no data rows", file=display, field="header", value=header,
                                fix="add one row per request")
    width = len(header)
    bad = next((i for i, r in enumerate(rows) if len(r) != width), None)
    if bad is not None:
        line = line_of[bad] if line_of else head_idx + 2 + bad
        raise InputError.single(f"row has {len(rows[bad])} fields, the header has {width}", file=display, line=line,
                                value=",".join(rows[bad]), expected=f"{width} comma-separated values ({', '.join(header)})",
                                fix="fix or delete that line")
    return _Table(display, "csv", header, rows, head_idx + 2, line_of)


def _parse_jsonl(text: str, display: str) -> _Table:
    lines = text.splitlines()
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
    try:
        records = json.loads("[" + ",".join(ln for _, ln in numbered) + "]")
    except json.JSONDecodeError:
        records = []
        for lineno, ln in numbered:
            try:
                records.append(json.loads(ln))
            except json.JSONDecodeError as exc:
                raise InputError.single(f"not valid JSON: {exc.msg}", file=display, line=lineno, value=ln[:80],
                                        expected="one JSON object per line", fix="fix or delete that line") from None
    for (lineno, ln), rec in zip(numbered, records):
        if not isinstance(rec, dict):
            raise InputError.single("line is not a JSON object", file=display, line=lineno, value=ln[:80],
                                    expected='one object per line, e.g. {"timestamp": 0, "input_length": 100, "output_length": 10}')
    header = list(records[0])
    return _Table(display, "jsonl", header, records, numbered[0][0], [n for n, _ in numbered])


def _line(table: _Table, row: int) -> int:
    return table.line_of[row] if table.line_of else table.first_line + row


def _column(table: _Table, name: str) -> list[Any]:
    if table.kind == "csv":
        j = table.header.index(name)
        return [r[j] for r in table.rows]
    missing = next((i for i, rec in enumerate(table.rows) if name not in rec), None)
    if missing is not None:
        raise InputError.single(f"field '{name}' is missing", file=table.file, line=_line(table, missing), field=name,
                                expected=f"every line to have '{name}'", fix="add it or delete that line")
    return [rec[name] for rec in table.rows]


def _bad_row(values: list[Any], ok) -> int:
    for i, v in enumerate(values):
        if not ok(v):
            return i
    return -1


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _tokens(table: _Table, name: str) -> np.ndarray:
    """Whole-number token column, >= 1, with the offending line named otherwise."""
    values = _column(table, name)
    arr: np.ndarray | None = None
    try:
        arr = np.array(values).astype(np.int64) if table.kind == "csv" else np.asarray(values, dtype=np.int64)
    except (ValueError, TypeError, OverflowError):
        arr = None
    if arr is None or (table.kind == "jsonl" and any(isinstance(v, (bool, str, float)) and not _integral(v) for v in values)):
        i = _bad_row(values, _integral)
        if i < 0:  # e.g. "12.0": integral floats are accepted
            arr = np.array([float(v) for v in values]).astype(np.int64)
        else:
            raise InputError.single(f"{name} is not a whole number", file=table.file, line=_line(table, i), field=name,
                                    value=values[i], expected="a whole number of tokens >= 1",
                                    fix="fix or delete that row")
    low = np.flatnonzero(arr < 1)
    if low.size:
        i = int(low[0])
        what = "negative" if arr[i] < 0 else "zero"
        raise InputError.single(
            f"{name} is {what} ({low.size} row{'s' if low.size != 1 else ''} below 1)", file=table.file,
            line=_line(table, i), field=name, value=values[i], expected="a whole number of tokens >= 1",
            fix="drop those rows (e.g. failed requests) or set them to 1",
        )
    return arr


def _integral(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return math.isfinite(f) and f == int(f)


def _seconds(table: _Table, name: str, scale: float) -> np.ndarray:
    values = _column(table, name)
    try:
        arr = np.asarray(values, dtype=np.float64) * scale if table.kind == "jsonl" else np.array(values).astype(np.float64) * scale
        ok = bool(np.all(np.isfinite(arr)))
    except (ValueError, TypeError):
        ok = False
    if not ok:
        i = _bad_row(values, _is_number)
        raise InputError.single(f"{name} is not a number", file=table.file, line=_line(table, max(i, 0)), field=name,
                                value=values[max(i, 0)], expected="a finite number" + (" of milliseconds" if scale != 1 else " of seconds"),
                                fix="fix or delete that row")
    return arr


def _timestamps(table: _Table, name: str) -> np.ndarray:
    values = [v.strip() for v in _column(table, name)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy deprecation warning for timezone suffixes
            ts = np.array(values, dtype="datetime64[ns]")
    except ValueError:
        ts = None
    if ts is None or np.any(np.isnat(ts)):
        i = 0
        for i, v in enumerate(values):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if np.isnat(np.datetime64(v, "ns")):
                        break
            except ValueError:
                break
        raise InputError.single(f"{name} is not a date-time", file=table.file, line=_line(table, i), field=name,
                                value=values[i], expected="e.g. 2023-11-16 18:17:03.9799600 (ISO 8601)",
                                fix="fix or delete that row")
    return (ts - ts.min()).astype(np.int64) / 1e9


def _finish(name: str, arrival: np.ndarray, inp: np.ndarray, out: np.ndarray, source: str,
            model: np.ndarray | None = None, models: tuple[str, ...] = ("default",),
            hashes: list[tuple[int, ...]] | None = None, block_tokens: int = 0) -> Workload:
    order = np.argsort(arrival, kind="stable")
    if np.any(order != np.arange(order.size)):
        arrival, inp, out = arrival[order], inp[order], out[order]
        model = None if model is None else model[order]
        hashes = None if hashes is None else [hashes[i] for i in order.tolist()]
    arrival = arrival - arrival[0]
    n = arrival.size
    span = float(arrival[-1])
    duration = span * n / (n - 1) if n > 1 and span > 0 else max(span, 1.0)
    return Workload(
        name=name, arrival_s=arrival, input_tokens=inp, output_tokens=out,
        model=np.zeros(n, np.int16) if model is None else model, models=models,
        block_hashes=None if hashes is None else tuple(hashes), hash_block_tokens=block_tokens,
        duration_s=duration, source=source,
    )


def _unknown_columns(table: _Table) -> InputError:
    have = table.header
    formats = {
        "Azure trace": AZURE_COLUMNS,
        "generic trace": GENERIC_COLUMNS,
        "Mooncake JSONL": MOONCAKE_FIELDS,
        "length table": LENGTH_COLUMNS,
    }
    best = max(formats.items(), key=lambda kv: sum(1 for c in kv[1] if c in have))
    missing = [c for c in best[1] if c not in have]
    hints = []
    for c in missing:
        close = difflib.get_close_matches(c, have, n=1, cutoff=0.6) or difflib.get_close_matches(
            c.lower(), [h.lower() for h in have], n=1, cutoff=0.6)
        if close:
            hints.append(f"'{close[0]}' -> '{c}'")
    return InputError.single(
        f"unrecognised columns; closest format is the {best[0]}, missing {', '.join(missing)}"
        + (f" (did you mean: {'; '.join(hints)}?)" if hints else ""),
        file=table.file, field="header", value=have[:12],
        expected=("columns arrival_s,input_tokens,output_tokens[,model] (generic CSV); "
                  "TIMESTAMP,ContextTokens,GeneratedTokens (Azure); JSONL with timestamp (ms),input_length,output_length[,hash_ids] "
                  "(Mooncake); or num_prefill_tokens,num_decode_tokens (length table, for load_lengths)"),
        fix="rename the columns to one of these formats",
    )


def _detect(table: _Table) -> str:
    have = set(table.header)
    if all(c in have for c in AZURE_COLUMNS):
        return "azure"
    if all(c in have for c in MOONCAKE_FIELDS):
        return "mooncake"
    if all(c in have for c in GENERIC_COLUMNS):
        return "generic"
    if all(c in have for c in LENGTH_COLUMNS):
        return "lengths"
    raise _unknown_columns(table)


def _workload_from_table(table: _Table, fmt: str, name: str, source: str) -> Workload:
    inp_name, out_name = {"azure": AZURE_COLUMNS[1:], "mooncake": MOONCAKE_FIELDS[1:], "generic": GENERIC_COLUMNS[1:]}[fmt]
    inp = _tokens(table, inp_name)
    out = _tokens(table, out_name)
    if fmt == "azure":
        return _finish(name, _timestamps(table, "TIMESTAMP"), inp, out, source)
    if fmt == "mooncake":
        arrival = _seconds(table, "timestamp", 1e-3)
        hashes = None
        if "hash_ids" in table.header:
            raw = _column(table, "hash_ids")
            try:
                hashes = [tuple(int(h) for h in r) for r in raw]
            except (TypeError, ValueError):
                i = next(i for i, r in enumerate(raw) if not isinstance(r, list) or not all(isinstance(h, int) for h in r))
                raise InputError.single("hash_ids is not a list of integers", file=table.file, line=_line(table, i),
                                        field="hash_ids", value=raw[i], expected="e.g. [0, 1, 2] (one id per 512-token block)",
                                        fix="fix that line or drop the hash_ids field everywhere") from None
        return _finish(name, arrival, inp, out, source, hashes=hashes,
                       block_tokens=MOONCAKE_BLOCK_TOKENS if hashes is not None else 0)
    arrival = _seconds(table, "arrival_s", 1.0)
    model = None
    models: tuple[str, ...] = ("default",)
    if "model" in table.header:
        names = [str(v).strip() for v in _column(table, "model")]
        models = tuple(dict.fromkeys(names))
        if len(models) > np.iinfo(np.int16).max:
            raise InputError.single(f"{len(models)} distinct model names", file=table.file, field="model",
                                    expected=f"at most {np.iinfo(np.int16).max}")
        index = {m: i for i, m in enumerate(models)}
        model = np.array([index[m] for m in names], dtype=np.int16)
    return _finish(name, arrival, inp, out, source, model=model, models=models)


def _load_uncached(name_or_path: str) -> Workload:
    path, display, info = _resolve(name_or_path, "name_or_path")
    table = _parse(path, display)
    fmt = _detect(table)
    if fmt == "lengths":
        raise InputError.single(
            "this is a length table (num_prefill_tokens, num_decode_tokens): it has no arrival times, so it is not a trace",
            file=display, field="header", value=table.header,
            expected="a trace with arrival times (Azure, Mooncake or arrival_s,input_tokens,output_tokens)",
            fix=f"use it for request lengths with synthetic arrivals: synthetic(poisson_arrivals(rate, duration, rng), rng, lengths='{name_or_path}')",
        )
    if info is not None:
        source = f"{info.folder}/{info.file.removesuffix('.gz')} ({info.attribution})"
        name = info.name
    else:
        source = f"{display} (user file, {fmt} format)"
        name = Path(display).name.removesuffix(".gz").rsplit(".", 1)[0]
    return _workload_from_table(table, fmt, name, source)


@functools.lru_cache(maxsize=None)
def _load_bundled(name: str) -> Workload:
    return _load_uncached(name)


def load_trace(name_or_path: str | Path) -> Workload:
    """Load a per-request trace: a bundled name (see :data:`TRACES`) or a .csv/.jsonl(.gz) path.

    The format is recognised by the columns (see the module docstring).  Bundled traces are cached:
    the same read-only :class:`Workload` object is returned on every call.  Length tables raise
    :class:`InputError` (use them as ``synthetic(..., lengths=name)``).
    """
    key = str(name_or_path)
    if key in TRACES:
        if TRACES[key].kind == "lengths":
            return _load_uncached(key)  # raises the "length table" InputError
        return _load_bundled(key)
    return _load_uncached(key)


@functools.lru_cache(maxsize=None)
def _bundled_lengths(name: str) -> tuple[np.ndarray, np.ndarray]:
    return _lengths_uncached(name)


def _lengths_uncached(name_or_path: str) -> tuple[np.ndarray, np.ndarray]:
    path, display, info = _resolve(name_or_path, "lengths")
    table = _parse(path, display)
    fmt = _detect(table)
    if fmt != "lengths":
        wl = _load_bundled(name_or_path) if info is not None else _workload_from_table(table, fmt, display, display)
        return wl.input_tokens, wl.output_tokens
    inp = _readonly(_tokens(table, LENGTH_COLUMNS[0]))
    out = _readonly(_tokens(table, LENGTH_COLUMNS[1]))
    return inp, out


def load_lengths(name_or_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(input_tokens, output_tokens) int64 arrays (read-only, file order) from a length table or any trace."""
    key = str(name_or_path)
    if key in TRACES:
        return _bundled_lengths(key)
    return _lengths_uncached(key)


#: consecutive arrivals over which :func:`peak_rate_factor` measures a trace's local rate: enough
#: that Poisson noise moves the p99 by only ~7 % (2.33 / sqrt(1000)), few enough to see how the
#: rate moves within a trace pass (Azure conversation 2023: ~3 minutes at its native rate)
PEAK_WINDOW_ARRIVALS = 1000


def peak_rate_factor(arrival_s: np.ndarray, window_arrivals: int = PEAK_WINDOW_ARRIVALS) -> float:
    """How far above its mean a trace's arrival rate runs for the busiest 1 % of its requests: the
    99th percentile over requests of the local rate (``window_arrivals`` consecutive arrivals over
    the time they span) divided by the mean rate [1].  Scale-free: a trace replayed faster or
    slower keeps it.  1 for a trace too short to measure (no more arrivals than one window)."""
    t = np.sort(np.asarray(arrival_s, dtype=float))
    n = len(t)
    if n <= window_arrivals or t[-1] <= t[0]:
        return 1.0
    span = t[window_arrivals:] - t[:-window_arrivals]
    local = window_arrivals / np.maximum(span, 1e-12)
    return float(np.percentile(local, 99) / ((n - 1) / (t[-1] - t[0])))


# --------------------------------------------------------------------------------------------- arrivals


def _positive(value: Any, field: str, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not math.isfinite(v) or v <= 0:
        raise InputError.single(f"{field} must be a positive number", field=field, value=value,
                                expected=f"{what} > 0", fix=f"give a positive, finite {field}")
    return v


def _check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


def _check_count(expected: float, field: str) -> None:
    if expected > MAX_REQUESTS:
        raise InputError.single(f"this would generate ~{expected:.3g} requests", field=field, value=expected,
                                expected=f"at most {MAX_REQUESTS:,} requests (rate_rps x duration_s)",
                                fix="lower the rate or the duration (seconds, not ms?)")


def _renewal(draw, rate: float, duration: float) -> np.ndarray:
    """Ordinary renewal process on [0, duration): cumulative sums of gaps from ``draw(size)``."""
    mean_n = rate * duration
    chunk = int(mean_n + 6.0 * math.sqrt(mean_n) + 16)
    t = np.cumsum(draw(chunk))
    parts = [t]
    while parts[-1][-1] < duration:
        parts.append(parts[-1][-1] + np.cumsum(draw(max(chunk // 4, 16))))
    t = np.concatenate(parts) if len(parts) > 1 else t
    return t[: np.searchsorted(t, duration, side="left")].astype(np.float64)


def poisson_arrivals(rate_rps: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Homogeneous Poisson arrivals (exponential gaps, mean 1/rate) in [0, duration_s), sorted float64."""
    rate = _positive(rate_rps, "rate_rps", "requests per second")
    duration = _positive(duration_s, "duration_s", "seconds")
    _check_rng(rng)
    _check_count(rate * duration, "rate_rps")
    return _renewal(lambda k: rng.exponential(1.0 / rate, k), rate, duration)


def gamma_arrivals(rate_rps: float, cv: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Renewal arrivals with Gamma inter-arrival times: mean 1/rate, coefficient of variation ``cv``.

    Shape ``k = 1/cv**2``, scale ``1/(rate*k)``.  ``cv = 1`` is Poisson; ``cv > 1`` is bursty (ServeGen
    and the Azure code trace fit CV ~ 2-13); ``cv < 1`` is more regular than Poisson.
    """
    rate = _positive(rate_rps, "rate_rps", "requests per second")
    c = _positive(cv, "cv", "coefficient of variation of inter-arrival times")
    duration = _positive(duration_s, "duration_s", "seconds")
    _check_rng(rng)
    _check_count(rate * duration, "rate_rps")
    shape = 1.0 / (c * c)
    scale = 1.0 / (rate * shape)
    return _renewal(lambda k: rng.gamma(shape, scale, k), rate, duration)


def diurnal_rate(t_s: np.ndarray | float, mean_rate_rps: float, peak_to_trough: float = 3.0,
                 peak_hour: float = 14.0, start_hour: float = 0.0) -> np.ndarray:
    """The sinusoidal rate profile used by :func:`diurnal_arrivals`, in requests per second at time ``t_s``."""
    a = (peak_to_trough - 1.0) / (peak_to_trough + 1.0)
    hour = start_hour + np.asarray(t_s, dtype=np.float64) / 3600.0
    return mean_rate_rps * (1.0 + a * np.cos(2.0 * np.pi * (hour - peak_hour) / 24.0))


def diurnal_arrivals(mean_rate_rps: float, duration_s: float, rng: np.random.Generator,
                     peak_to_trough: float = DIURNAL_PEAK_TO_TROUGH, peak_hour: float = 14.0, start_hour: float = 0.0) -> np.ndarray:
    """Non-homogeneous Poisson arrivals with a 24-hour sinusoidal rate, by thinning (Lewis-Shedler).

    Assumption: ``rate(t) = mean * (1 + a*cos(2*pi*(h(t) - peak_hour)/24))`` with ``h(t) = start_hour + t/3600``
    (hours, wrapping at 24) and ``a = (r - 1)/(r + 1)`` so that the peak rate is ``r = peak_to_trough`` times the
    trough rate (trough 12 h after the peak).  A single smooth daily cycle — no weekly pattern, no lunch dip, no
    bursts within the hour (compose with :func:`scale_to_rate` of a bursty trace for those).  ``mean_rate_rps`` is
    the average over whole days; a window that is not a whole number of days averages to a different rate
    (e.g. 1 h around the peak gives ~``mean*(1+a)``).
    """
    mean = _positive(mean_rate_rps, "mean_rate_rps", "requests per second")
    duration = _positive(duration_s, "duration_s", "seconds")
    ratio = _positive(peak_to_trough, "peak_to_trough", "peak rate / trough rate")
    if ratio < 1:
        raise InputError.single("peak_to_trough must be >= 1", field="peak_to_trough", value=peak_to_trough,
                                expected="peak rate / trough rate >= 1 (1 = flat)", fix="give the ratio the other way round")
    for key, v in (("peak_hour", peak_hour), ("start_hour", start_hour)):
        if not math.isfinite(float(v)):
            raise InputError.single(f"{key} must be a finite hour of day", field=key, value=v, expected="0 <= hour < 24")
    _check_rng(rng)
    a = (ratio - 1.0) / (ratio + 1.0)
    peak = mean * (1.0 + a)
    _check_count(peak * duration, "mean_rate_rps")
    cand = _renewal(lambda k: rng.exponential(1.0 / peak, k), peak, duration)
    accept = rng.random(cand.size) * peak < diurnal_rate(cand, mean, ratio, peak_hour, start_hour)
    return cand[accept]


# --------------------------------------------------------------------------------------------- synthetic


def _arrivals_array(arrivals: Any) -> np.ndarray:
    arr = np.asarray(arrivals, dtype=np.float64).reshape(-1) if not isinstance(arrivals, Workload) else arrivals.arrival_s
    if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0):
        raise InputError.single("arrival times must be finite and >= 0", field="arrivals",
                                value=arr[:5].tolist(), expected="seconds from the workload start",
                                fix="use poisson_arrivals / gamma_arrivals / diurnal_arrivals, or shift the times")
    return np.sort(arr, kind="stable")


def _cap(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if not _integral(value) or int(value) < 1:
        raise InputError.single(f"{field} must be a whole number >= 1", field=field, value=value,
                                expected="a token count >= 1, or None for no cap")
    return int(value)


def _lognormal_tokens(mean: float, cv: float, n: int, rng: np.random.Generator) -> np.ndarray:
    if cv == 0:
        return np.full(n, max(1, round(mean)), dtype=np.int64)
    sigma2 = math.log1p(cv * cv)
    mu = math.log(mean) - sigma2 / 2.0
    return np.maximum(np.rint(rng.lognormal(mu, math.sqrt(sigma2), n)), 1).astype(np.int64)


def synthetic(arrivals: Any, rng: np.random.Generator, lengths: Any = None, isl: float | None = None,
              osl: float | None = None, cv_len: float = SYNTHETIC_LENGTH_CV, models: Sequence[str] | None = None,
              model_shares: Sequence[float] | None = None, name: str = "synthetic", *,
              max_input: int | None = None, max_output: int | None = None,
              duration_s: float | None = None) -> Workload:
    """A workload from synthetic ``arrivals`` (seconds) and request lengths.

    Lengths, one of:

    * ``lengths``: a bundled name (``"sharegpt"``, ``"arxiv-summarization"``, or any trace), a file path, or an
      ``(input_tokens, output_tokens)`` pair of arrays.  Rows are sampled uniformly *with replacement*, input and
      output together (their correlation is kept).
    * ``isl`` / ``osl``: mean input / output tokens.  Each is drawn independently from a **lognormal** with that
      mean and coefficient of variation ``cv_len`` (default 0.5), rounded and clipped to >= 1.  ``cv_len=0``
      gives fixed lengths (exactly ``round(isl)``, ``round(osl)``).  Clipping/rounding shifts the mean slightly.

    ``max_input`` / ``max_output`` clip the sampled lengths.  ``models`` with ``model_shares`` (default equal)
    assign models as :func:`assign_models`.  ``duration_s`` defaults to the last arrival plus one mean gap;
    pass the generator's duration (recommended) to keep the exact rate.
    """
    _check_rng(rng)
    t = _arrivals_array(arrivals)
    n = t.size
    if lengths is not None and (isl is not None or osl is not None):
        raise InputError.single("give either lengths= or isl=/osl=, not both", field="lengths",
                                fix="drop lengths= to use isl/osl means, or drop isl/osl to sample the table")
    if lengths is None:
        if isl is None or osl is None:
            missing = "isl" if isl is None else "osl"
            raise InputError.single(f"{missing} is missing", field=missing,
                                    expected="lengths= (table or trace name) or both isl= and osl= (mean tokens)",
                                    fix="e.g. lengths='sharegpt', or isl=1024, osl=256")
        mi = _positive(isl, "isl", "mean input tokens")
        mo = _positive(osl, "osl", "mean output tokens")
        try:
            c = float(cv_len)
        except (TypeError, ValueError):
            c = float("nan")
        if not math.isfinite(c) or c < 0:
            raise InputError.single("cv_len must be >= 0", field="cv_len", value=cv_len,
                                    expected="coefficient of variation of the lengths, >= 0 (0 = fixed lengths)")
        inp = _lognormal_tokens(mi, c, n, rng)
        out = _lognormal_tokens(mo, c, n, rng)
        desc = f"lognormal lengths isl={mi:g} osl={mo:g} cv={c:g}"
    else:
        if isinstance(lengths, (str, Path)):
            tab_in, tab_out = load_lengths(lengths)
            desc = f"lengths sampled from {lengths}"
        else:
            try:
                tab_in, tab_out = (np.asarray(x, dtype=np.int64).reshape(-1) for x in lengths)
            except (TypeError, ValueError):
                raise InputError.single("lengths must be a name, a path or an (input_tokens, output_tokens) pair",
                                        field="lengths", value=type(lengths).__name__) from None
            if tab_in.size != tab_out.size or tab_in.size == 0 or tab_in.min() < 1 or tab_out.min() < 1:
                raise InputError.single("length arrays must be non-empty, equally long, whole numbers >= 1",
                                        field="lengths", value=[tab_in.size, tab_out.size])
            desc = f"lengths sampled from a table of {tab_in.size} rows"
        idx = rng.integers(0, tab_in.size, n)
        inp, out = tab_in[idx], tab_out[idx]
    cap_in, cap_out = _cap(max_input, "max_input"), _cap(max_output, "max_output")
    if cap_in is not None:
        inp = np.minimum(inp, cap_in)
    if cap_out is not None:
        out = np.minimum(out, cap_out)
    if duration_s is None:
        duration = float(t[-1]) * n / (n - 1) if n > 1 and t[-1] > 0 else max(float(t[-1]) if n else 0.0, 1.0)
    else:
        duration = _positive(duration_s, "duration_s", "seconds")
    wl = Workload(name=name, arrival_s=t, input_tokens=inp, output_tokens=out, model=np.zeros(n, np.int16),
                  models=("default",), block_hashes=None, hash_block_tokens=0, duration_s=duration,
                  source=f"synthetic: {desc}")
    if models is not None:
        shares = model_shares if model_shares is not None else [1.0 / max(len(models), 1)] * len(models)
        wl = assign_models(wl, models, shares, rng)
    elif model_shares is not None:
        raise InputError.single("model_shares given without models", field="models", fix="give the model names too")
    return wl


# --------------------------------------------------------------------------------------------- transforms


def scale_to_rate(wl: Workload, rate_rps: float) -> Workload:
    """Stretch/compress time so the mean rate (``len / duration_s``) is exactly ``rate_rps``.

    All inter-arrival gaps are multiplied by the same factor, so the burst shape (inter-arrival CV,
    clumps of simultaneous arrivals) is kept.
    """
    rate = _positive(rate_rps, "rate_rps", "requests per second")
    if len(wl) == 0:
        raise InputError.single("cannot scale an empty workload to a rate", field="rate_rps", value=rate_rps)
    factor = wl.mean_rate_rps / rate
    return dataclasses.replace(wl, arrival_s=wl.arrival_s * factor, duration_s=len(wl) / rate,
                               source=f"{wl.source}; time x{factor:.6g} to {rate:g} req/s")


def window(wl: Workload, duration_s: float, rehash: bool = True) -> Workload:
    """Exactly ``duration_s`` seconds of ``wl``: arrivals < duration_s.

    A workload shorter than ``duration_s`` is repeated back to back, copy k shifted by ``k * wl.duration_s``.
    With ``rehash`` (default) each copy gets fresh prefix-block hash ids (offset by copy), so a replay does not
    hit KV-cache blocks of the previous copy; within a copy, sharing is kept.  ``rehash=False`` repeats the ids.
    """
    d = _positive(duration_s, "duration_s", "seconds")
    if len(wl) == 0:
        return dataclasses.replace(wl, duration_s=d, source=f"{wl.source}; {d:g} s")
    copies = max(1, math.ceil(d / wl.duration_s - 1e-12))
    _check_count(len(wl) * copies, "duration_s")
    if copies == 1:
        keep = int(np.searchsorted(wl.arrival_s, d, side="left"))
        out = wl.subset(np.arange(keep))
        return dataclasses.replace(out, duration_s=d, source=f"{wl.source}; first {d:g} s")
    t = (wl.arrival_s[None, :] + wl.duration_s * np.arange(copies)[:, None]).reshape(-1)
    keep = int(np.searchsorted(t, d, side="left"))
    hashes = None
    if wl.block_hashes is not None:
        stride = 1 + max((max(h) for h in wl.block_hashes if h), default=-1) if rehash else 0
        hashes = []
        for k in range(copies):
            if len(hashes) >= keep:
                break
            off = k * stride
            hashes.extend(wl.block_hashes if off == 0 else (tuple(x + off for x in h) for h in wl.block_hashes))
        hashes = tuple(hashes[:keep])
    return dataclasses.replace(
        wl,
        arrival_s=t[:keep],
        input_tokens=np.tile(wl.input_tokens, copies)[:keep],
        output_tokens=np.tile(wl.output_tokens, copies)[:keep],
        model=np.tile(wl.model, copies)[:keep],
        block_hashes=hashes,
        duration_s=d,
        source=f"{wl.source}; repeated {copies}x back to back (period {wl.duration_s:g} s), first {d:g} s",
    )


def assign_models(wl: Workload, models: Sequence[str], shares: Sequence[float], rng: np.random.Generator) -> Workload:
    """Each request gets a model drawn independently with probabilities ``shares`` (must sum to 1 +- 1e-6)."""
    _check_rng(rng)
    names = tuple(str(m) for m in models) if not isinstance(models, str) else (models,)
    if not names:
        raise InputError.single("no models given", field="models", expected="one or more model names")
    if len(set(names)) != len(names):
        dup = next(m for m in names if names.count(m) > 1)
        raise InputError.single(f"model '{dup}' is listed twice", field="models", value=list(names),
                                expected="distinct names", fix="merge its shares into one entry")
    if len(names) > np.iinfo(np.int16).max:
        raise InputError.single("too many models", field="models", value=len(names), expected=f"<= {np.iinfo(np.int16).max}")
    try:
        p = np.asarray(shares, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError.single("shares must be numbers", field="shares", value=shares) from None
    if p.size != len(names):
        raise InputError.single(f"{p.size} shares for {len(names)} models", field="shares", value=p.tolist(),
                                expected="one share per model", fix="give as many shares as models")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise InputError.single("shares must be finite and >= 0", field="shares", value=p.tolist(),
                                expected="fractions in [0, 1] summing to 1")
    total = float(p.sum())
    if abs(total - 1.0) > 1e-6:
        raise InputError.single(f"shares sum to {total:.6g}, not 1", field="shares", value=p.tolist(),
                                expected="fractions summing to 1 (within 1e-6)",
                                fix="divide each share by their sum" if total > 0 else "give positive shares")
    idx = rng.choice(len(names), size=len(wl), p=p / total).astype(np.int16)
    mix = ", ".join(f"{m} {s:.3g}" for m, s in zip(names, p))
    return dataclasses.replace(wl, model=idx, models=names, source=f"{wl.source}; models {mix}")
