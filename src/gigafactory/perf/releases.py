"""Software releases: the engine build a measured row ran, as a dimension of the efficiencies.

The same GPU, model and engine name can run very different kernels from one release to the
next: NVIDIA's MLPerf DeepSeek-R1 submissions ran TensorRT-LLM's WIDEEP MoE back end in v5.1
and its CuteDSL MoE on the feat/1.2 branch in v6.0, and the same GB300 rack went from 5,842 to
8,987 output tok/s/GPU.  Forcing both rounds onto one curve puts the difference into the
hardware's efficiencies.

A row's release is its own ``release`` cell when the table has one, else, for MLPerf rows, the
round (each round is one code drop, with the software named in the submission's system
description); rows without one (InferenceMAX, vendor documents, blogs: the public releases of
their date) are the engine's base curve, which is what a plan uses.  A release has three
multipliers on its engine's efficiencies, on the parts software changes at a fixed GPU: dense
and attention kernels (``compute``), the MoE back end (``expert``) and the runtime's per-step
host work (``step_overhead``).  Each is fitted across hardware generations on the release's own
rows and shrunk towards 1 (no change) like every other fitted parameter, so a release with few
rows, or rows that do not exercise a part (no MoE row: ``expert`` stays 1), moves little.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from gigafactory.perf.efficiency import BOUNDS, RELEASE_PREFIX, Efficiency

#: multipliers a release may apply, and their physical range (a software release does not
#: halve or double a kernel's fraction of peak more than this between two rounds)
FACTOR_BOUNDS = (0.5, 2.0)

_MLPERF_ROUND = re.compile(r"inference_results_v(\d+\.\d+)|^mlperf-v(\d+\.\d+)-")


@dataclass(frozen=True)
class ReleaseFactors:
    """Multipliers one software release applies to its engine's calibrated efficiencies [1].

    ``moe_models``: the MoE models (catalog ids) whose rows fitted ``expert``.  A submission picks
    its MoE back end per model (MLPerf v5.1: TensorRT-LLM's WIDEEP back end for DeepSeek-R1, a
    TensorRT engine's MoE plugin for Mixtral-8x7B, in the same code drop), so the expert factor is
    applied to those models only; empty: to every model (a file without the field)."""

    compute: float = 1.0
    expert: float = 1.0
    step_overhead: float = 1.0
    moe_models: tuple[str, ...] = field(default=(), compare=False)

    def apply(self, eff: Efficiency, model: str | None = None) -> Efficiency:
        """``eff`` as this release runs ``model`` (catalog id; None: any model whose back end the
        expert factor describes), each parameter kept inside its physical bounds."""
        def clip(name: str, v: float) -> float:
            lo, hi = BOUNDS[name]
            return min(max(v, lo), hi)

        expert = self.expert if not self.moe_models or model is None or model in self.moe_models else 1.0
        return replace(eff, compute=clip("compute", eff.compute * self.compute), expert=clip("expert", eff.expert * expert),
                       step_overhead_s=clip("step_overhead_s", eff.step_overhead_s * self.step_overhead))

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in FACTORS}


FACTORS = ("compute", "expert", "step_overhead")


def software_release(row: Mapping[str, Any]) -> str | None:
    """The software release a measured row ran: its ``release`` cell, else the MLPerf round
    (``mlperf-v5.1``), else None (the engine's base curve)."""
    explicit = str(row.get("release") or "").strip()
    if explicit:
        return explicit
    if (row.get("source_kind") or "") != "mlperf":
        return None
    for text in (row.get("source_url") or "", row.get("id") or ""):
        hit = _MLPERF_ROUND.search(text)
        if hit:
            return f"mlperf-v{hit.group(1) or hit.group(2)}"
    return None


def release_key(release: str, engine: str) -> tuple[str, str]:
    """The efficiency-table key of a release's factors."""
    return (RELEASE_PREFIX + release, engine)


def release_factors(table: Mapping | None, engine: str, release: str | None) -> ReleaseFactors | None:
    if not table or not release:
        return None
    f = table.get(release_key(release, engine))
    return f if isinstance(f, ReleaseFactors) else None
