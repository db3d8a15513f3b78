"""Efficiency parameters of the roofline, per hardware generation and serving framework.

Four physically meaningful, bounded numbers; ``fit_efficiency`` in ``calibrate.py`` returns
exactly this object.  Values come from ``perf/data/efficiency.yaml`` (written by
`gigafactory calibrate`, with provenance); :data:`PRIOR` is used where no fit exists.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Efficiency:
    compute: float  # achieved / dense peak tensor FLOP/s in GEMMs and attention [1]
    memory: float  # achieved / peak HBM bandwidth in weight and KV reads [1]
    collective_latency_s: float  # fixed cost of one collective (all-reduce, all-to-all) [s]
    step_overhead_s: float  # fixed cost of one forward step: launch, scheduling, sampling [s]
    expert: float = 1.0  # routed-expert grouped GEMMs and dispatch relative to dense GEMMs (load imbalance, small per-expert batches) [1]

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: physical bounds used by the fit (and checked on load).
BOUNDS: dict[str, tuple[float, float]] = {
    "compute": (0.15, 0.95),
    "memory": (0.3, 0.95),
    "collective_latency_s": (1e-6, 100e-6),
    "step_overhead_s": (0.0, 0.05),
    "expert": (0.1, 1.0),
}
#: before calibration: typical achieved fractions (cuBLAS GEMMs ~60 % of dense peak, HBM
#: streaming ~80 %), NCCL small-message latency ~10 us, a few ms of per-step runtime overhead.
PRIOR = Efficiency(compute=0.6, memory=0.8, collective_latency_s=10e-6, step_overhead_s=2e-3, expert=1.0)
#: achieved / peak link bandwidth for large collectives (not fitted).
COMM_EFFICIENCY = 0.75

#: serving frameworks grouped by the engine that runs the kernels.
ENGINE = {"trtllm": "trtllm", "dynamo-trtllm": "trtllm", "vllm": "vllm", "sglang": "sglang", "dynamo-sglang": "sglang", "other": "trtllm"}


def efficiency_path() -> Path:
    return Path(str(resources.files("gigafactory.perf") / "data" / "efficiency.yaml"))


@lru_cache(maxsize=4)
def load_efficiencies(path: str | None = None) -> dict[tuple[str, str], Efficiency]:
    p = Path(path) if path else efficiency_path()
    if not p.exists():
        return {}
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    out: dict[tuple[str, str], Efficiency] = {}
    for item in raw.get("parameters", []):
        params = {k: float(item[k]) for k in BOUNDS if k in item}
        out[(item["generation"], item["engine"])] = Efficiency(**params)
    return out


#: a generation without measurements borrows the next older calibrated one: announced
#: hardware is assumed to reach the same fraction of its (higher) peaks as its predecessor.
OLDER_GENERATION = {"rubin": "blackwell-ultra", "blackwell-ultra": "blackwell", "blackwell": "hopper"}


def _lookup(generation: str, engine: str, table: dict) -> tuple[Efficiency | None, str]:
    gen: str | None = generation
    while gen is not None:
        for eng in dict.fromkeys((engine, "trtllm")):
            if (gen, eng) in table:
                note = "" if (gen, eng) == (generation, engine) else (
                    f"; no {engine} fit" if gen == generation else f"; applied to {generation}, which has no measurements")
                return table[(gen, eng)], f"calibrated ({gen}, {eng}{note})"
        gen = OLDER_GENERATION.get(gen)
    return None, "prior (no calibration for this generation)"


def efficiency_for(generation: str, framework: str = "trtllm", table: dict | None = None) -> Efficiency:
    """Calibrated parameters for (generation, engine), falling back to TensorRT-LLM's fit on the
    same generation, then to the next older calibrated generation, then PRIOR;
    ``efficiency_source`` says which applied."""
    table = load_efficiencies() if table is None else table
    eff, _ = _lookup(generation, ENGINE.get(framework, framework), table)
    return eff or PRIOR


def efficiency_source(generation: str, framework: str = "trtllm", table: dict | None = None) -> str:
    table = load_efficiencies() if table is None else table
    return _lookup(generation, ENGINE.get(framework, framework), table)[1]
