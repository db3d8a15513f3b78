"""On-device LLM performance: prefill bound by compute, decode bound by memory bandwidth.

    prefill rate [tok/s]  = compute_eff x peak compute / (2 x params)            (one multiply-add per weight)
    decode time  [s/tok]  = (weight bytes + KV bytes) / (memory_eff x bandwidth) + token overhead
    sustained rate        = burst rate x thermal_derate(form factor, seconds of continuous use)
    energy per token [J]  = package power / rate

Peak compute is the NPU INT8 rate for Qualcomm Genie (w4a16, w4), the GPU FP16 rate for llama.cpp on
Metal, and a nominal 1 TFLOP/s for CPU runtimes (so their fitted ``compute`` reads as achieved TFLOP/s:
no sourced CPU peak was found).  The efficiencies are fitted per backend class on measured rows
(``devices/calibrate.py`` -> ``devices/data/efficiency.yaml``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from gigafactory.devices.catalog import (
    DeviceCatalog,
    Precision,
    Soc,
    data_dir,
    load_device_catalog,
)
from gigafactory.errors import InputError

#: nominal peak of CPU runtimes [FLOP/s]; their fitted ``compute`` is then achieved FLOP/s / 1e12.
CPU_NOMINAL_FLOP_PER_S = 1e12
#: bounds used by the fit and checked on load.
BOUNDS = {"compute": (0.01, 1.0), "memory": (0.05, 1.0), "token_overhead_s": (0.0, 0.05)}
KV_BYTES_PER_ELEMENT = 2.0  # fp16 KV cache (llama.cpp default; Genie's KV format is not published)


@dataclass(frozen=True)
class BackendEfficiency:
    """Fitted efficiencies of one backend class (``fit_backend`` in calibrate.py returns this)."""

    backend: str
    compute: float  # achieved / peak compute during prefill [1]
    memory: float  # achieved / peak DRAM bandwidth during decode [1]
    token_overhead_s: float  # fixed cost per decoded token: launch, sampling, sync [s]


# --- pure functions ---------------------------------------------------------------------------------

def prefill_tok_s(params: float, peak_ops_per_s: float, compute_eff: float) -> float:
    """Compute-bound prompt processing rate [tok/s]: 2 operations per parameter per token."""
    return compute_eff * peak_ops_per_s / (2.0 * params)


def decode_s_per_token(weight_bytes: float, kv_bytes: float, bandwidth_bytes_per_s: float,
                       memory_eff: float, token_overhead_s: float) -> float:
    """Bandwidth-bound time per output token [s]: every weight and the KV cache read once."""
    return (weight_bytes + kv_bytes) / (memory_eff * bandwidth_bytes_per_s) + token_overhead_s


def derate(sustained_fraction: float, time_constant_s: float, sustained_s: float) -> float:
    """Throughput multiplier after ``sustained_s`` of continuous use [1]: exponential approach from 1
    to the sustained fraction (first-order thermal RC model)."""
    t = max(0.0, float(sustained_s))
    return sustained_fraction + (1.0 - sustained_fraction) * math.exp(-t / time_constant_s)


def thermal_derate(form_factor: str, sustained_s: float) -> float:
    """Throughput multiplier in (0, 1] for a ``form_factor`` ("phone", "laptop", "desktop", "auto")
    after ``sustained_s`` seconds of continuous inference; non-increasing in time."""
    cat = load_device_catalog()
    ff = cat.form_factors.get(form_factor)
    if ff is None:
        raise InputError.single(f"unknown form factor '{form_factor}'", field="form_factor", value=form_factor,
                                expected=f"one of {', '.join(cat.form_factors)}")
    return derate(ff.sustained_fraction, ff.throttle_time_constant_s, sustained_s)


# --- backend classes --------------------------------------------------------------------------------

def backend_class(precision: Precision, soc: Soc) -> str:
    """The class whose fitted efficiencies apply: runtime x engine (x precision for Genie)."""
    if precision.runtime == "genie":
        if soc.vendor != "qualcomm" or soc.npu_int8_ops_per_s is None:
            raise InputError.single(f"precision '{precision.name}' runs on Qualcomm's Genie runtime, not on {soc.name}",
                                    field="precision", value=precision.name, fix="use q4_0, q8_0 or f16 (llama.cpp)")
        return f"genie-{precision.name}"
    if precision.runtime == "llama.cpp":
        return f"llama.cpp-{soc.llamacpp_backend}"
    # ExecuTorch's int8 (8da4w) and bf16 kernels differ ~4x in prefill speed: separate classes
    return f"{precision.runtime}-cpu-{precision.name}"


def peak_compute(backend: str, soc: Soc) -> float | None:
    """Peak rate the prefill efficiency refers to [op/s], or None when the SoC lacks the figure."""
    if backend.startswith("genie-"):
        return soc.npu_int8_ops_per_s
    if backend == "llama.cpp-metal":
        return soc.gpu_fp16_flop_per_s
    return CPU_NOMINAL_FLOP_PER_S


def default_precision(soc: Soc) -> str:
    """w4a16 on Qualcomm NPUs (Genie), q4_0 on llama.cpp devices."""
    return "w4a16" if soc.vendor == "qualcomm" and soc.npu_int8_ops_per_s is not None else "q4_0"


def efficiency_path() -> Path:
    return data_dir() / "efficiency.yaml"


@lru_cache(maxsize=4)
def load_efficiencies(path: str | None = None) -> Mapping[str, BackendEfficiency]:
    """backend class -> fitted efficiencies from an efficiency file (default: the package's)."""
    p = Path(path) if path is not None else efficiency_path()
    if not p.exists():
        return {}
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    out: dict[str, BackendEfficiency] = {}
    for i, e in enumerate(data.get("parameters", [])):
        try:
            eff = BackendEfficiency(backend=str(e["backend"]), compute=float(e["compute"]), memory=float(e["memory"]),
                                    token_overhead_s=float(e["token_overhead_s"]))
        except (KeyError, TypeError, ValueError):
            raise InputError.single("malformed efficiency entry", file=str(p), field=f"parameters[{i}]", value=e) from None
        for k, (lo, hi) in BOUNDS.items():
            v = getattr(eff, k)
            if not (lo <= v <= hi):
                raise InputError.single("efficiency outside its physical bounds", file=str(p),
                                        field=f"parameters[{i}].{k}", value=v, expected=f"{lo} <= x <= {hi}")
        out[eff.backend] = eff
    return out


# --- the result -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LocalPerf:
    device: str
    model: str
    precision: str
    prefill_tok_s: float  # prompt processing rate [tok/s]
    decode_tok_s: float  # output rate after the first token [tok/s]
    power_w: float  # package power while running [W]
    energy_j_per_prefill_token: float  # [J]
    energy_j_per_output_token: float  # [J]
    weights_gb: float  # weights in memory [GB, 1e9 B]
    fits: bool  # weights + KV at context_tokens fit in the app's share of RAM
    memory_needed_gb: float  # weights + KV cache at context_tokens [GB]
    memory_available_gb: float  # RAM minus the OS reserve [GB]

    def ttft_s(self, prompt_tokens: int) -> float:
        """Serving TTFT on the device: prompt processing time [s]."""
        return max(0, prompt_tokens) / self.prefill_tok_s

    def latency_s(self, prompt_tokens: int, output_tokens: int) -> float:
        """Prompt processing plus the output tokens after the first [s]."""
        return self.ttft_s(prompt_tokens) + max(0, output_tokens - 1) / self.decode_tok_s

    def energy_j(self, prompt_tokens: int, output_tokens: int) -> float:
        """Energy of one request [J]."""
        return max(0, prompt_tokens) * self.energy_j_per_prefill_token + max(0, output_tokens) * self.energy_j_per_output_token


def local_performance(device: str, model: str, precision: str | None = None, *, context_tokens: int = 4096,
                      sustained_s: float = 0.0, cat: DeviceCatalog | None = None,
                      efficiencies: Mapping[str, BackendEfficiency] | None = None) -> LocalPerf:
    """Predicted on-device performance of ``model`` on ``device``.  Decode reads the KV cache of
    ``context_tokens``; rates are derated for ``sustained_s`` seconds of continuous use.  Power scales
    with the derate (throttling lowers clocks and power together), so energy per token does not."""
    cat = cat or load_device_catalog()
    dev = cat.device(device)
    m = cat.model(model)
    soc = cat.soc_of(dev)
    prec = cat.precision(precision if precision is not None else default_precision(soc))
    if context_tokens < 1 or context_tokens > m.max_context_tokens:
        raise InputError.single("context outside the model's window", field="context_tokens", value=context_tokens,
                                expected=f"1 <= context_tokens <= {m.max_context_tokens} ({m.id})")
    backend = backend_class(prec, soc)
    table = efficiencies if efficiencies is not None else load_efficiencies()
    eff = table.get(backend)
    if eff is None:
        raise InputError.single(f"no fitted efficiencies for backend '{backend}' ({dev.name}, {prec.name})",
                                field="precision", value=prec.name,
                                expected=f"a backend with measured rows: {', '.join(sorted(table)) or 'none'}",
                                fix="run `python -m gigafactory.devices.calibrate` after adding measured rows")
    peak = peak_compute(backend, soc)
    if peak is None:
        raise InputError.single(f"{soc.name} has no sourced peak compute for backend '{backend}'", field="soc", value=soc.id)
    ff = cat.form_factors[dev.form_factor]
    d = derate(ff.sustained_fraction, ff.throttle_time_constant_s, sustained_s)
    weights = m.weights_bytes(prec)
    kv = m.kv_bytes_per_token(KV_BYTES_PER_ELEMENT) * context_tokens
    pre = prefill_tok_s(m.total_params, peak, eff.compute) * d
    dec = d / decode_s_per_token(weights, kv, soc.memory_bandwidth_bytes_per_s, eff.memory, eff.token_overhead_s)
    power = dev.llm_power_w * d
    needed = weights + kv
    return LocalPerf(
        device=dev.name, model=m.id, precision=prec.name, prefill_tok_s=pre, decode_tok_s=dec, power_w=power,
        energy_j_per_prefill_token=power / pre, energy_j_per_output_token=power / dec, weights_gb=weights / 1e9,
        fits=needed <= dev.memory_available_bytes, memory_needed_gb=needed / 1e9,
        memory_available_gb=dev.memory_available_bytes / 1e9,
    )
