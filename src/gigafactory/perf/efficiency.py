"""Efficiency parameters of the roofline, per hardware generation and serving framework.

Five physically meaningful, bounded numbers; ``fit_efficiency`` in ``calibrate.py`` returns
exactly this object (`calibrate` fits four of them; the collective latency is measured,
perf/collectives.py).  Values come from ``perf/data/efficiency.yaml`` (written by
`gigafactory calibrate`, with provenance); :data:`PRIOR` is used where no fit exists.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from gigafactory.errors import InputError, Problem


@dataclass(frozen=True)
class Efficiency:
    compute: float  # achieved / dense peak tensor FLOP/s in GEMMs and attention [1]
    memory: float  # achieved / peak HBM bandwidth in weight and KV reads [1]
    collective_latency_s: float  # fixed cost of one collective (all-reduce, all-to-all) [s]
    step_overhead_s: float  # fixed cost of one forward step: launch, scheduling, sampling [s]
    expert: float = 1.0  # routed-expert grouped GEMMs and all-to-all relative to dense GEMMs and link efficiency; routing traffic, tile padding of small batches and the busiest rank are modelled in step.py [1]

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: the most of its datasheet HBM bandwidth a GPU was measured to stream: a 2 GiB device-to-device
#: copy on an H200 ran at 4.20 TB/s of 4.8 (bench/results/h200_probe.json, ceilings; 2026-12-04).
#: No kernel reads weights or KV faster than a copy, so the memory efficiency stays below it.
MEMORY_CEILING = 0.875
#: physical bounds used by the fit (and checked on load).
BOUNDS: dict[str, tuple[float, float]] = {
    "compute": (0.15, 0.95),
    "memory": (0.3, MEMORY_CEILING),
    "collective_latency_s": (1e-6, 100e-6),
    "step_overhead_s": (0.0, 0.05),
    "expert": (0.1, 1.0),
}
#: before calibration: typical achieved fractions (cuBLAS GEMMs ~60 % of dense peak, HBM
#: streaming ~80 %), NCCL small-message latency ~10 us, a few ms of per-step runtime overhead.
#: The collective latency is not fitted: where measured, perf/collectives.py replaces it.
#: Expert efficiency 0.43: NVIDIA's measured MoE layers (router output to combined output,
#: TensorRT-LLM 1.3.0rc20 kernels in AIConfigurator 0.12.0's database) run their grouped GEMMs at
#: 0.31-0.35 of the dense GEMM rate in NVFP4 and on Hopper, 0.56-0.61 with DeepGEMM's FP8 on
#: Blackwell; 0.43 is the mean of the ten (GPU, precision) ratios in
#: bench/results/moe_kernel_rates.yaml (bench/extract_moe_kernel_rates.py, fifth round of
#: docs/accuracy.md).  It replaced DeepGEMM's grouped-over-dense GEMM ratio (0.84, README, Feb
#: 2025), which leaves out the routing kernels the parameter also carries.  A fit without MoE
#: rows keeps it here.
PRIOR = Efficiency(compute=0.6, memory=0.8, collective_latency_s=10e-6, step_overhead_s=2e-3, expert=0.43)
#: achieved / peak link bandwidth for large collectives (not fitted).
COMM_EFFICIENCY = 0.75

#: key prefix of software-release entries in an efficiency table (perf/releases.py); no
#: generation name starts with it.
RELEASE_PREFIX = "@"

#: serving frameworks grouped by the engine that runs the kernels.
ENGINE = {"trtllm": "trtllm", "dynamo-trtllm": "trtllm", "vllm": "vllm", "sglang": "sglang", "dynamo-sglang": "sglang", "other": "trtllm"}


def efficiency_path() -> Path:
    return Path(str(resources.files("gigafactory.perf") / "data" / "efficiency.yaml"))


@lru_cache(maxsize=4)
def load_efficiencies(path: str | None = None) -> dict[tuple[str, str], Efficiency]:
    """The (generation, engine) -> :class:`Efficiency` table of an efficiency file (default: the
    package's calibrated file; a missing package file gives an empty table, so PRIOR applies),
    with each software release's multipliers under ``releases.release_key(release, engine)``.

    A file named by the user is checked: it must exist, be UTF-8 YAML, hold a ``parameters``
    list of entries with ``generation``, ``engine`` and the efficiency numbers, each finite and
    inside :data:`BOUNDS`; otherwise :class:`InputError` names the file, entry and field."""
    if path is None:
        p = efficiency_path()
        if not p.exists():
            return {}
    else:
        p = Path(path)
    return _parse_efficiency_file(p, str(path) if path is not None else str(p))


_FIX_FILE = "give a file written by `gigafactory calibrate --out` (or omit --efficiency to use the calibrated package file)"
_REQUIRED = ("compute", "memory", "collective_latency_s", "step_overhead_s")  # ``expert`` defaults to 1.0


def _parse_efficiency_file(p: Path, name: str) -> dict[tuple[str, str], Efficiency]:
    if not p.exists():
        raise InputError.single("no such file", file=name, fix=_FIX_FILE)
    if p.is_dir():
        raise InputError.single("this is a directory, not an efficiency file", file=name, fix=_FIX_FILE)
    raw_bytes = p.read_bytes()
    if b"\x00" in raw_bytes[:4096]:
        raise InputError.single("this is a binary file, not an efficiency YAML file", file=name, fix=_FIX_FILE)
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError.single(
            f"not UTF-8 text (undecodable byte at offset {exc.start}): this is not an efficiency YAML file", file=name, fix=_FIX_FILE,
        ) from None
    try:
        raw = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError.single(
            f"not an efficiency YAML file: the YAML parser stopped here ({getattr(exc, 'problem', None) or exc})", file=name, line=mark.line + 1 if mark else None, fix=_FIX_FILE,
        ) from None
    expected = ("a mapping with a 'parameters' list; each entry has generation, engine, "
                f"{', '.join(_REQUIRED)} and optionally expert (the format `gigafactory calibrate` writes)")
    if not isinstance(raw, dict) or "parameters" not in raw:
        what = (f"a mapping with keys {', '.join(map(str, list(raw)[:8]))}" if isinstance(raw, dict)
                else "empty" if raw is None else f"a {type(raw).__name__}")
        raise InputError.single(
            f"not an efficiency file: no 'parameters' list at the top level (the file is {what})", file=name,
            field="parameters", expected=expected, fix=_FIX_FILE,
        )
    items = raw["parameters"]
    item_nodes = _parameter_nodes(root)
    if not isinstance(items, list) or not items:
        raise InputError.single(
            "'parameters' must be a non-empty list of fitted entries", file=name, line=_line(_key_node(root, "parameters")),
            field="parameters", value=items, expected=expected, fix=_FIX_FILE,
        )
    problems: list[Problem] = []
    out: dict[tuple[str, str], Efficiency] = {}
    for i, item in enumerate(items):
        node = item_nodes[i] if i < len(item_nodes) else None
        where = f"parameters[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem("an entry must be a mapping", file=name, line=_line(node), field=where, value=item, expected=expected, fix=_FIX_FILE))
            continue
        bad = False
        keys = {}
        for key in ("generation", "engine"):
            v = item.get(key)
            if not isinstance(v, str) or not v.strip():
                problems.append(Problem(f"'{key}' must be a non-empty name", file=name, line=_line(_key_node(node, key) or node),
                                        field=f"{where}.{key}", value=v, expected="e.g. generation: hopper, engine: trtllm", fix=_FIX_FILE))
                bad = True
            keys[key] = v
        params: dict[str, float] = {}
        for key, (lo, hi) in BOUNDS.items():
            if key not in item:
                if key in _REQUIRED:
                    problems.append(Problem(f"'{key}' is missing", file=name, line=_line(node), field=f"{where}.{key}",
                                            expected=f"a number in [{lo:g}, {hi:g}]", fix=f"add {key}: <a number in [{lo:g}, {hi:g}]> to the entry"))
                    bad = True
                continue
            v = item[key]
            num = _number(v)
            tol = 1e-9 * max(abs(lo), abs(hi))  # values are written with 6 significant digits
            if num is None or not math.isfinite(num) or not lo - tol <= num <= hi + tol:
                problems.append(Problem(f"'{key}' must be a finite number inside its physical bounds", file=name,
                                        line=_line(_key_node(node, key) or node), field=f"{where}.{key}", value=v,
                                        expected=f"a number in [{lo:g}, {hi:g}]", fix=f"set {key} to a number in [{lo:g}, {hi:g}], or refit with `gigafactory calibrate`"))
                bad = True
                continue
            params[key] = num
        if bad:
            continue
        k = (keys["generation"], keys["engine"])
        if k in out:
            problems.append(Problem(f"({k[0]}, {k[1]}) appears twice", file=name, line=_line(node), field=where,
                                    expected="one entry per (generation, engine)", fix="remove the duplicate entry"))
            continue
        out[k] = Efficiency(**params)
    _parse_releases(raw.get("releases"), _key_node(root, "releases"), name, out, problems)
    if problems:
        raise InputError(problems)
    return out


def _parse_releases(items: Any, seq: Any, name: str, out: dict, problems: list[Problem]) -> None:
    """The optional ``releases`` list: per (release, engine), multipliers on that engine's
    efficiencies (perf/releases.py), each inside FACTOR_BOUNDS; added to ``out`` under
    ``releases.release_key``."""
    from gigafactory.perf.releases import FACTOR_BOUNDS, FACTORS, ReleaseFactors, release_key

    if items is None:
        return
    nodes = list(seq.value) if isinstance(seq, yaml.SequenceNode) else []
    lo, hi = FACTOR_BOUNDS
    if not isinstance(items, list):
        problems.append(Problem("'releases' must be a list of release entries", file=name, line=_line(seq), field="releases", value=items,
                                expected="entries with release, engine and the multipliers " + ", ".join(FACTORS), fix=_FIX_FILE))
        return
    for i, item in enumerate(items):
        node = nodes[i] if i < len(nodes) else None
        where = f"releases[{i}]"
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and item.get(k).strip() for k in ("release", "engine")):
            problems.append(Problem("a release entry must be a mapping with non-empty 'release' and 'engine' names", file=name, line=_line(node),
                                    field=where, value=item, expected="e.g. release: mlperf-v5.1, engine: trtllm", fix=_FIX_FILE))
            continue
        factors: dict[str, float] = {}
        bad = False
        for k in FACTORS:
            if k not in item:
                continue
            v = _number(item[k])
            if v is None or not math.isfinite(v) or not lo - 1e-9 <= v <= hi + 1e-9:
                bad = True
                problems.append(Problem(f"'{k}' must be a multiplier inside its bounds", file=name, line=_line(_key_node(node, k) or node),
                                        field=f"{where}.{k}", value=item[k], expected=f"a number in [{lo:g}, {hi:g}] (1 = no change)",
                                        fix=f"set {k} to a number in [{lo:g}, {hi:g}], or refit with `gigafactory calibrate`"))
                continue
            factors[k] = v
        models = item.get("moe_models", [])
        if not isinstance(models, list) or not all(isinstance(x, str) and x.strip() for x in models):
            bad = True
            problems.append(Problem("'moe_models' must be a list of model ids", file=name, line=_line(_key_node(node, "moe_models") or node),
                                    field=f"{where}.moe_models", value=models, expected="e.g. [deepseek-r1] (the MoE models whose rows fitted 'expert')",
                                    fix="list catalog model ids, or remove the field (the expert factor then applies to every model)"))
        if bad:
            continue
        key = release_key(item["release"].strip(), item["engine"].strip())
        if key in out:
            problems.append(Problem(f"release ({item['release']}, {item['engine']}) appears twice", file=name, line=_line(node), field=where,
                                    expected="one entry per (release, engine)", fix="remove the duplicate entry"))
            continue
        out[key] = ReleaseFactors(**factors, moe_models=tuple(x.strip() for x in models))


def _number(v: Any) -> float | None:
    """A YAML number; also a numeric string, since YAML 1.1 reads ``1e-5`` (no dot) as text."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _line(node: Any) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _key_node(node: Any, key: str) -> Any:
    """The value node of ``key`` in a YAML mapping node (for line numbers), or None."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _parameter_nodes(root: Any) -> list[Any]:
    seq = _key_node(root, "parameters")
    return list(seq.value) if isinstance(seq, yaml.SequenceNode) else []


def engines(table: dict | None = None) -> list[str]:
    """Engines with at least one calibrated (generation, engine) entry in ``table``."""
    table = load_efficiencies() if table is None else table
    return sorted({eng for gen, eng in table if not gen.startswith(RELEASE_PREFIX)})


def calibrated_frameworks(table: dict | None = None) -> list[str]:
    """``--framework`` values that select a calibrated engine: each calibrated engine, then the
    front-ends that run on one (``dynamo-trtllm`` ...).  With no calibration at all, every
    known framework (all fall back to PRIOR)."""
    table = load_efficiencies() if table is None else table
    cal = engines(table)
    if not cal:
        return [f for f in ENGINE if f != "other"]
    return cal + sorted(f for f, eng in ENGINE.items() if eng in cal and f not in cal and f != "other")


#: a generation without measurements borrows the next older calibrated one: announced
#: hardware is assumed to reach the same fraction of its (higher) peaks as its predecessor.
#: Another vendor's generation without measurements borrows its contemporary's fit (AMD's
#: CDNA 3, MI300X / MI325X: the Hopper generation it was sold against, at the same FP8 precision;
#: Hopper has TensorRT-LLM and SGLang fits, so ROCm's vLLM rows get TensorRT-LLM's) rather than
#: PRIOR, which is a shrinkage centre, not a measured stack.  How far that is from ROCm's measured
#: results: docs/accuracy.md, sixteenth round.
OLDER_GENERATION = {"rubin": "blackwell-ultra", "blackwell-ultra": "blackwell", "blackwell": "hopper", "cdna3": "hopper"}


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


def efficiency_for(generation: str, framework: str = "trtllm", table: dict | None = None, release: str | None = None,
                   accelerator: str | None = None, model: str | None = None) -> Efficiency:
    """Calibrated parameters for (generation, engine), falling back to TensorRT-LLM's fit on the
    same generation, then to the next older calibrated generation, then PRIOR;
    ``efficiency_source`` says which applied.  The collective latency is the one measured for
    the engine on ``accelerator`` (catalog id) or, failing that, on ``generation``, where there is
    one (perf/collectives.py), whichever fit applied.  With a ``release`` that has calibrated factors
    for the engine (perf/releases.py), they are applied (its expert factor to ``model`` only where
    the release's MoE rows were of that model: ReleaseFactors.moe_models); without one, the
    engine's base curve (its public releases) is used."""
    from gigafactory.perf.collectives import with_measured_latency
    from gigafactory.perf.releases import release_factors

    table = load_efficiencies() if table is None else table
    engine = ENGINE.get(framework, framework)
    eff = with_measured_latency(_lookup(generation, engine, table)[0] or PRIOR, generation, engine, accelerator)
    factors = release_factors(table, engine, release)
    return factors.apply(eff, model) if factors is not None else eff


def efficiency_source(generation: str, framework: str = "trtllm", table: dict | None = None) -> str:
    table = load_efficiencies() if table is None else table
    return _lookup(generation, ENGINE.get(framework, framework), table)[1]
