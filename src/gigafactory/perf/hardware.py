"""A flat view of one system's GPU for the performance model (SI units)."""
from __future__ import annotations

from dataclasses import dataclass

from gigafactory.catalog import Catalog

PRECISIONS = ("bf16", "fp8", "fp4")


@dataclass(frozen=True)
class Hardware:
    """Per-GPU capabilities of a system, as the roofline needs them."""

    system_id: str
    accelerator_id: str
    generation: str
    hbm_bytes: float  # [B]
    hbm_bw_bytes_per_s: float  # [B/s]
    flop_per_s: dict[str, float]  # dense peak by precision [FLOP/s]
    nvlink_bw_bytes_per_s: float  # one direction, per GPU [B/s]
    domain_gpus: int  # GPUs in one NVLink domain [count]
    scaleout_bw_bytes_per_s: float  # NIC line rate per GPU, one direction [B/s]
    tdp_w: float  # [W]

    def supports(self, precision: str) -> bool:
        return self.flop_per_s.get(precision) is not None

    def link_bw(self, gpus: int) -> float:
        """Bandwidth one GPU has to the others of a group of ``gpus`` [B/s, one direction]."""
        return self.nvlink_bw_bytes_per_s if gpus <= self.domain_gpus else self.scaleout_bw_bytes_per_s


def hardware_from_catalog(cat: Catalog, system_or_hardware_id: str) -> Hardware:
    system = cat.resolve_hardware(system_or_hardware_id)
    acc = cat.accelerator(system.accelerator)
    flops = {p: getattr(acc, f"dense_{p}_flop_per_s") for p in PRECISIONS}
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
