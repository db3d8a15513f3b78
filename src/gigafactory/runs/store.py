"""Run store: every `gigafactory plan` is recorded in an embedded SQLite database under the
user data directory ($GIGAFACTORY_HOME, else $XDG_DATA_HOME/gigafactory, else
~/.local/share/gigafactory), so runs can be listed, shown and compared."""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

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


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute(SCHEMA)
    return con


def record(result: dict[str, Any], out_dir: Path | None, path: Path | None = None) -> str:
    """Store a plan result; returns the run id."""
    p = store_path(path)
    run_id = f"{result['created'][:19].replace(':', '').replace('-', '').replace('T', '-')}-{result['scenario_sha256'][:6]}"
    slim = {k: v for k, v in result.items() if k != "rollout"}
    slim["rollout"] = {k: v for k, v in result["rollout"].items() if k != "gantt"}
    with _connect(p) as con:
        n = 0
        base = run_id
        while con.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
            n += 1
            run_id = f"{base}-{n}"
        con.execute(
            "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (run_id, result["created"], result["scenario_name"], result["scenario_sha256"], int(result["seed"]), result["catalog_version"],
             result["gigafactory_version"], str(out_dir) if out_dir else None, json.dumps(headline(result)), json.dumps(result["scenario"]),
             json.dumps(slim, default=str)),
        )
    return run_id


def list_runs(path: Path | None = None) -> list[dict[str, Any]]:
    p = store_path(path)
    if not p.exists():
        return []
    with _connect(p) as con:
        rows = con.execute("SELECT id, created, scenario_name, seed, catalog_version, out_dir, headline FROM runs ORDER BY created, id").fetchall()
    return [{"id": r[0], "created": r[1], "scenario_name": r[2], "seed": r[3], "catalog_version": r[4], "out_dir": r[5], "headline": json.loads(r[6])} for r in rows]


def get_run(run_id: str, path: Path | None = None) -> dict[str, Any]:
    p = store_path(path)
    runs = list_runs(p)
    hits = [r for r in runs if r["id"] == run_id] or [r for r in runs if r["id"].startswith(run_id)]
    if not hits:
        raise InputError.single(f"no run '{run_id}' in {p}", field="ID", value=run_id, expected="an id from `gigafactory runs list`",
                                fix="run `gigafactory runs list` to see the ids" if runs else "run `gigafactory plan` first")
    if len(hits) > 1:
        raise InputError.single(f"'{run_id}' matches {len(hits)} runs", field="ID", value=run_id, fix="give more characters of the id")
    with _connect(p) as con:
        row = con.execute("SELECT scenario, result FROM runs WHERE id = ?", (hits[0]["id"],)).fetchone()
    return {**hits[0], "scenario": json.loads(row[0]), "result": json.loads(row[1])}


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
