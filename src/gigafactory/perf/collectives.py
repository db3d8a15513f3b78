"""Measured fixed latency of one collective, per GPU and engine.

Not a fitted parameter: ``perf/data/collective_latency.yaml`` holds NVIDIA's measured small-message
all-reduce latencies (AIConfigurator's silicon database, written by
bench/extract_collective_latency.py): 3.5-7.8 us over 8 GPUs for TensorRT-LLM's, vLLM's and
SGLang's custom all-reduce in CUDA graphs, Hopper to Blackwell Ultra.  Fitted on serving rows,
the latency was the parameter the rows pin least: dense models at large batch barely feel it, and fits without MoE rows put it
anywhere from 2 to 30 us (docs/accuracy.md, eleventh round), which decides a held-out MoE model's
small-batch steps (two collectives a layer).
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from importlib import resources

import yaml

from gigafactory.perf.efficiency import ENGINE, Efficiency


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    doc = yaml.safe_load(resources.files("gigafactory.perf.data").joinpath("collective_latency.yaml").read_text(encoding="utf-8"))
    by_acc = {(acc, e["engine"]): float(e["latency_us"]) * 1e-6 for e in doc["measured"] for acc in e["accelerators"]}
    by_gen = {(e["generation"], e["engine"]): float(e["latency_us"]) * 1e-6 for e in doc["generations"]}
    return by_acc, by_gen


def measured_latency_s(generation: str, framework: str, accelerator: str | None = None) -> float | None:
    """The measured latency of ``framework``'s engine on ``accelerator`` (catalog id), else the
    median over ``generation``'s measured GPUs [s]; None when neither was measured."""
    engine = ENGINE.get(framework, framework)
    by_acc, by_gen = _tables()
    return by_acc.get((accelerator, engine)) if (accelerator, engine) in by_acc else by_gen.get((generation, engine))


def with_measured_latency(eff: Efficiency, generation: str, framework: str, accelerator: str | None = None) -> Efficiency:
    """``eff`` with its collective latency replaced by the measured one, where there is one."""
    lat = measured_latency_s(generation, framework, accelerator)
    return eff if lat is None or lat == eff.collective_latency_s else replace(eff, collective_latency_s=lat)
