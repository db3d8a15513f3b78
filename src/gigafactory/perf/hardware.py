"""A flat view of one system's GPU for the performance model (SI units)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from gigafactory.catalog import Catalog, load_catalog

PRECISIONS = ("bf16", "fp8", "fp4")


@dataclass(frozen=True)
class Hardware:
    """Per-GPU capabilities of a system, as the roofline needs them."""

    system_id: str
    accelerator_id: str
    generation: str
    hbm_bytes: float  # [B]
    hbm_bw_bytes_per_s: float  # [B/s]
    flop_per_s: dict[str, float]  # dense peak by precision, FP4 at the measured FP4 : FP8 ratio [FLOP/s]
    nvlink_bw_bytes_per_s: float  # one direction, per GPU [B/s]
    domain_gpus: int  # GPUs in one NVLink domain [count]
    scaleout_bw_bytes_per_s: float  # NIC line rate per GPU, one direction [B/s]
    tdp_w: float  # [W]

    def supports(self, precision: str) -> bool:
        return self.flop_per_s.get(precision) is not None

    def link_bw(self, gpus: int) -> float:
        """Bandwidth one GPU has to the others of a group of ``gpus`` [B/s, one direction]."""
        return self.nvlink_bw_bytes_per_s if gpus <= self.domain_gpus else self.scaleout_bw_bytes_per_s


@lru_cache(maxsize=1)
def sustained_gemm_rates() -> dict[str, dict[str, float]]:
    """Sustained dense-GEMM rates measured on silicon, by accelerator and precision [FLOP/s]
    (perf/data/gemm_rates.yaml, with its source)."""
    doc = yaml.safe_load(resources.files("gigafactory.perf.data").joinpath("gemm_rates.yaml").read_text())
    return {acc: {p: float(v) * 1e12 for p, v in rates.items()} for acc, rates in doc["accelerators"].items()}


def _derating(measured: dict[str, float], sheet_fp8: float, sheet_fp4: float) -> float:
    return (measured["fp4"] / measured["fp8"]) / (sheet_fp4 / sheet_fp8)


def fp4_derating(accelerator_id: str, datasheet: dict[str, float | None]) -> float:
    """How far an FP4 datasheet peak overstates FP4 against FP8 [1]: the measured FP4 : FP8 ratio
    of sustained GEMM rates over the datasheet's (0.57-0.74 on Blackwell); for an accelerator
    without measured rates, the mean over those with them."""
    mine = sustained_gemm_rates().get(accelerator_id)
    if mine and "fp4" in mine and datasheet.get("fp8") and datasheet.get("fp4"):
        return _derating(mine, datasheet["fp8"], datasheet["fp4"])
    return _mean_fp4_derating()


@lru_cache(maxsize=1)
def _mean_fp4_derating() -> float:
    cat = load_catalog()  # the measured accelerators are the bundled catalog's
    values = [_derating(measured, acc.dense_fp8_flop_per_s, acc.dense_fp4_flop_per_s)
              for acc_id, measured in sustained_gemm_rates().items()
              if "fp4" in measured and (acc := cat.accelerator(acc_id)).dense_fp4_flop_per_s and acc.dense_fp8_flop_per_s]
    return sum(values) / len(values)


def hardware_from_catalog(cat: Catalog, system_or_hardware_id: str) -> Hardware:
    system = cat.resolve_hardware(system_or_hardware_id)
    acc = cat.accelerator(system.accelerator)
    flops = {p: getattr(acc, f"dense_{p}_flop_per_s") for p in PRECISIONS}
    if flops.get("fp4"):
        # NVFP4 GEMMs reach about half of the FP4 datasheet peak, FP8 GEMMs 70-77 % of theirs: one
        # fitted compute efficiency serves every precision only with FP4 taken at the measured ratio
        flops["fp4"] *= fp4_derating(acc.id, flops)
    return Hardware(
        system_id=system.id,
        accelerator_id=acc.id,
        generation=acc.generation,
        hbm_bytes=acc.hbm_capacity_bytes,
        hbm_bw_bytes_per_s=acc.hbm_bandwidth_bytes_per_s,
        flop_per_s={p: v for p, v in flops.items() if v is not None},
        # The catalog states NVLink as both directions together.
        nvlink_bw_bytes_per_s=acc.nvlink_bandwidth_bytes_per_s / 2,
        domain_gpus=min(acc.scale_up_domain_gpus, system.nvlink_domain_gpus),
        scaleout_bw_bytes_per_s=system.scaleout_bandwidth_per_gpu_bits_per_s / 8,
        tdp_w=acc.tdp_w,
    )
