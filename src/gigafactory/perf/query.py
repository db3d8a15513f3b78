"""Orchestrator for `gigafactory perf`: resolve ids, check inputs, search, summarise."""
from __future__ import annotations

import math
from typing import Any

from gigafactory.catalog import Catalog
from gigafactory.errors import InputError
from gigafactory.perf.architecture import param_counts
from gigafactory.perf.efficiency import calibrated_frameworks, efficiency_for, efficiency_source, load_efficiencies
from gigafactory.perf.hardware import PRECISIONS, Hardware, hardware_from_catalog
from gigafactory.perf.load import DEFAULT_LENGTH_CV, Lengths
from gigafactory.perf.memory import memory_fit
from gigafactory.perf.search import SearchResult, candidate_layouts, search
from gigafactory.perf.serving import Speculation


def perf_query(
    cat: Catalog, model_id: str, system_id: str, isl: int, osl: int, precision: str = "fp8",
    ttft_slo_ms: float | None = None, tpot_slo_ms: float | None = None, framework: str = "trtllm",
    draft_tokens: int = 0, modes: tuple[str, ...] = ("aggregated", "disaggregated"), length_cv: float = DEFAULT_LENGTH_CV,
) -> tuple[dict[str, Any], SearchResult]:
    """Search ``model`` on ``system``.  The SLOs are p99s, judged by the queueing model
    (``perf.load``) under Poisson arrivals at each point's own rate, with lognormal request
    lengths of coefficient of variation ``length_cv``; without SLOs the best point is the
    frontier's highest tok/s/GPU."""
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
    for name, v in (("--isl", isl), ("--osl", osl)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError.single("a sequence length must be a whole number of tokens >= 1", field=name, value=v, expected="tokens >= 1", fix=f"e.g. {name} 1024")
    for name, v in (("--ttft-slo-ms", ttft_slo_ms), ("--tpot-slo-ms", tpot_slo_ms)):
        if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise InputError.single(
                "a latency limit must be a finite, positive number of milliseconds", field=name, value=v,
                expected="milliseconds > 0 (finite)", fix=f"e.g. {name} {50 if name == '--tpot-slo-ms' else 2000}; omit {name} for no limit",
            )
    if isinstance(length_cv, bool) or not isinstance(length_cv, (int, float)) or not (0 <= length_cv <= 4):
        raise InputError.single("the length CV must be a number from 0 to 4", field="--length-cv", value=length_cv,
                                expected="0 (fixed lengths) to 4; 1 is the default, 0.5-1 is typical of chat traces", fix="--length-cv 1")
    known_modes = ("aggregated", "disaggregated")
    if not modes or any(m not in known_modes for m in modes):
        raise InputError.single("unknown serving mode", field="--mode", value=list(modes), expected="aggregated, disaggregated or both", fix="--mode both")
    table = load_efficiencies()
    frameworks = calibrated_frameworks(table)
    if framework not in frameworks:
        raise InputError.single(
            f"no calibration for framework '{framework}'", field="--framework", value=framework,
            expected=f"one of {', '.join(frameworks)} (engines in the efficiency table)",
            fix=f"--framework {frameworks[0] if 'trtllm' not in frameworks else 'trtllm'}; to add an engine, "
                "fit it on measured rows with `gigafactory calibrate --measured ...`",
        )
    eff = efficiency_for(hw.generation, framework, table, accelerator=hw.accelerator_id)
    spec = Speculation(draft_tokens=draft_tokens)
    result = search(
        model, hw, eff, precision, isl, osl,
        ttft_s=ttft_slo_ms / 1e3 if ttft_slo_ms else None, tpot_s=tpot_slo_ms / 1e3 if tpot_slo_ms else None,
        spec=spec, modes=modes, pc=param_counts(model), lengths=Lengths(isl, osl, cv=float(length_cv)),
    )
    if not result.points:
        raise _nothing_fits(cat, model, hw, precision, isl, osl)
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
        "length_cv": length_cv,
        "best": result.best.as_dict() if result.best else None,
        "best_p99": ({"ttft_p99_s": result.best_load.ttft_p99_s, "tpot_p99_s": result.best_load.tpot_p99_s,
                      "prefill_utilisation": result.best_load.prefill_utilisation} if result.best_load else None),
        "notes": [
            "tok_s_gpu counts output tokens over all GPUs (prefill pools included)",
            "ttft_s is the time to first token without queueing; tpot_s is the steady decode step per token",
            "the SLOs are p99s under Poisson arrivals at the point's own rate (best_p99; gigafactory.perf.load)",
        ],
    }
    return body, result


def _fits_somewhere(m: Any, pc: Any, hw: Hardware, precision: str, tokens: int) -> bool:
    """Whether any candidate layout (one NVLink domain) holds the weights and one sequence."""
    return any(memory_fit(m, pc, hw, lay, precision, tokens).max_concurrency(tokens) >= 1 for lay in candidate_layouts(m, hw))


def _nothing_fits(cat: Catalog, m: Any, hw: Hardware, precision: str, isl: int, osl: int) -> InputError:
    """Why the search found no configuration, and what to change: a lower precision, a system
    with a larger NVLink domain, or shorter sequences."""
    pc = param_counts(m)
    tokens = isl + osl
    layouts = candidate_layouts(m, hw)
    fits = {lay: memory_fit(m, pc, hw, lay, precision, tokens) for lay in layouts}
    # the layout that leaves the most HBM free per GPU: the biggest, without replicated attention
    biggest = min(layouts, key=lambda lay: (fits[lay].weights_bytes_per_gpu + fits[lay].activation_bytes_per_gpu, -lay.gpus))
    fit = fits[biggest]
    domain_gb = hw.hbm_bytes * biggest.gpus / 1e9
    weights_gb = fit.weights_bytes_per_gpu * biggest.gpus / 1e9
    if weights_gb + fit.activation_bytes_per_gpu * biggest.gpus / 1e9 >= domain_gb:
        what = (f"{m.id}'s weights ({weights_gb:,.0f} GB at {precision}, plus activation buffers) do not fit in the largest "
                f"NVLink domain of {hw.system_id} ({biggest.gpus} x {hw.accelerator_id} = {domain_gb:,.0f} GB of HBM)")
        value, field_name = precision, "--precision"
    else:
        what = (f"{m.id} fits {hw.system_id}'s largest NVLink domain ({biggest.gpus} GPUs) at {precision}, but not with the KV cache "
                f"of even one sequence of isl + osl = {tokens:,} tokens")
        value, field_name = tokens, "--isl"
    lower = [p for p in PRECISIONS[PRECISIONS.index(precision) + 1:] if hw.supports(p) and _fits_somewhere(m, pc, hw, p, tokens)]
    systems = []
    for sid in cat.tables["systems"]:
        if sid == hw.system_id:
            continue
        other = hardware_from_catalog(cat, sid)
        if other.supports(precision) and _fits_somewhere(m, pc, other, precision, tokens):
            systems.append(sid)
    fixes = []
    if lower:
        fixes.append(f"--precision {lower[0]}")
    if systems:
        fixes.append(f"--system {systems[0]} (fits at {precision}: {', '.join(systems[:4])})")
    if field_name == "--isl":
        fixes.append("shorter --isl / --osl")
    fixes.append("a smaller model")
    return InputError.single(
        what, field=field_name, value=value,
        expected=f"weights + one {tokens:,}-token sequence within {domain_gb:,.0f} GB (one NVLink domain; the search does not span domains)",
        fix="use " + ", or ".join(fixes),
    )
