"""Parallel layout of one engine instance (one model replica)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """Tensor / pipeline / expert parallel degrees and attention data parallelism.

    An instance spans ``tp * pp`` GPUs.  For MoE models the experts of each stage are spread
    over ``ep`` GPUs (``ep`` divides ``tp``; the rest of ``tp`` splits each expert).  With
    ``dp_attention`` every GPU of a stage runs attention for its own share of the sequences
    with full attention weights (TRT-LLM 'DEP', SGLang DP-attention).
    """

    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp_attention: bool = False

    @property
    def gpus(self) -> int:
        return self.tp * self.pp

    def label(self) -> str:
        parts = [f"{'DEP' if self.dp_attention else 'TP'}{self.tp}"]
        if self.ep > 1 and not self.dp_attention:
            parts.append(f"EP{self.ep}")
        if self.pp > 1:
            parts.append(f"PP{self.pp}")
        return "-".join(parts)

    def as_dict(self) -> dict:
        return {"tp": self.tp, "pp": self.pp, "ep": self.ep, "dp_attention": self.dp_attention, "gpus": self.gpus}
