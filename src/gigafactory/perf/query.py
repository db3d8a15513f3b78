"""Orchestrator for `gigafactory perf`: resolve ids, check inputs, search, summarise."""
from __future__ import annotations

from typing import Any

from gigafactory.catalog import Catalog
from gigafactory.errors import InputError
from gigafactory.perf.architecture import param_counts
from gigafactory.perf.efficiency import efficiency_for, efficiency_source, load_efficiencies
from gigafactory.perf.hardware import PRECISIONS, hardware_from_catalog
from gigafactory.perf.search import SearchResult, search
from gigafactory.perf.serving import Speculation


def perf_query(
    cat: Catalog, model_id: str, system_id: str, isl: int, osl: int, precision: str = "fp8",
    ttft_slo_ms: float | None = None, tpot_slo_ms: float | None = None, framework: str = "trtllm",
    draft_tokens: int = 0, modes: tuple[str, ...] = ("aggregated", "disaggregated"),
) -> tuple[dict[str, Any], SearchResult]:
    model = cat.get("models", model_id, field_name="--model")
    hw = hardware_from_catalog(cat, system_id)
    if precision not in PRECISIONS:
        raise InputError.single(f"unknown precision '{precision}'", field="--precision", value=precision, expected=" / ".join(PRECISIONS), fix="use bf16, fp8 or fp4")
    if not hw.supports(precision):
        raise InputError.single(
            f"{hw.accelerator_id} has no {precision.upper()} tensor cores", field="--precision", value=precision,
            expected=f"one of {', '.join(hw.flop_per_s)}", fix="use --precision fp8, or a Blackwell system for fp4",
        )
    if isl + osl > model.max_context_tokens:
        raise InputError.single(
            f"isl + osl = {isl + osl} exceeds {model.id}'s context of {model.max_context_tokens} tokens", field="--isl",
            value=isl, expected=f"isl + osl <= {model.max_context_tokens}", fix="shorten the sequences",
        )
    for name, v in (("--ttft-slo-ms", ttft_slo_ms), ("--tpot-slo-ms", tpot_slo_ms)):
        if v is not None and v <= 0:
            raise InputError.single("a latency limit must be positive", field=name, value=v, expected="milliseconds > 0", fix=f"e.g. {name} 50")
    table = load_efficiencies()
    eff = efficiency_for(hw.generation, framework, table)
    spec = Speculation(draft_tokens=draft_tokens)
    result = search(
        model, hw, eff, precision, isl, osl,
        ttft_s=ttft_slo_ms / 1e3 if ttft_slo_ms else None, tpot_s=tpot_slo_ms / 1e3 if tpot_slo_ms else None,
        spec=spec, modes=modes, pc=param_counts(model),
    )
    body = {
        "model": model.id,
        "hf_id": model.hf_id,
        "system": hw.system_id,
        "accelerator": hw.accelerator_id,
        "precision": precision,
        "framework": framework,
        "isl": isl,
        "osl": osl,
        "draft_tokens": draft_tokens,
        "slo": {"ttft_ms": ttft_slo_ms, "tpot_ms": tpot_slo_ms},
        "efficiency": {**eff.as_dict(), "source": efficiency_source(hw.generation, framework, table)},
        "n_evaluated": result.n_evaluated,
        "n_layouts_memory_infeasible": result.n_layouts_infeasible,
        "frontier": [p.as_dict() for p in result.frontier],
        "best": result.best.as_dict() if result.best else None,
        "notes": [
            "tok_s_gpu counts output tokens over all GPUs (prefill pools included)",
            "ttft_s is the time to first token without queueing; tpot_s is the steady decode step per token",
        ],
    }
    return body, result
