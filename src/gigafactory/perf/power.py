"""GPUs run under a power limit below their TDP: the clocks, and with them the math, slow down.

MLPerf's MaxQ (power-measured) submissions cap each GPU's board power and run the same system,
software and workload as the MaxP ones: NVIDIA's v4.1 H200-SXM-141GBx8 pairs measure the cost.
Throughput under a cap, as a share of the uncapped, follows (cap / TDP) ^ POWER_CAP_EXPONENT for
the transformer LLM pairs (H200 TDP 700 W; results/H200-SXM-141GBx8_TRT{,_MaxQ}/<benchmark>/
<scenario>/performance/run_1/mlperf_log_summary.txt, power limits in configs/<benchmark>/
<scenario>/__init__.py, class H200_SXM_141GBx8_MaxQ):

    Mixtral-8x7B at 500 W   Offline 335.674 / 404.431 samples/s = 0.830   Server 311.75 / 391.79 = 0.796
    GPT-J at 350 W          Offline 189.806 / 291.103 = 0.652             Server 169.58 / 278.89 = 0.608

log(ratio) / log(cap / TDP) is 0.554, 0.679, 0.617, 0.718: mean 0.642.  Held out, the
Llama-2-70B pair at 500 W is predicted at 0.714 ^ 0.642 = 0.806 against 0.807 Offline
(86.7369 / 107.477 samples/s) and 0.791 Server (79.36 / 100.35).

The model applies the factor to the math (``Hardware.flop_per_s``): a power limit lowers the SM
clock, and these runs are compute-bound at their batch, while HBM keeps its clock, so memory-bound
decode at small batches loses less (not measured here: no memory-bound MaxQ pair).
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from gigafactory.perf.hardware import Hardware, hardware_from_catalog
from gigafactory.perf.rows import cell_float

#: throughput under a power limit / uncapped = (limit / TDP) ^ this [1] (module docstring)
POWER_CAP_EXPONENT = 0.642
#: how a measured row states its GPUs' power limit in its notes (MLPerf MaxQ configs' power_limit)
_NOTES_LIMIT = re.compile(r"power_limit\s*(\d+(?:\.\d+)?)\s*W", re.IGNORECASE)


def throughput_factor(limit_w: float, tdp_w: float) -> float:
    """Share of the uncapped compute throughput a GPU keeps under a board-power limit [1];
    1 at or above its TDP."""
    if limit_w <= 0 or tdp_w <= 0:
        raise ValueError(f"power limit and TDP must be positive, not {limit_w!r} W and {tdp_w!r} W")
    return min(1.0, limit_w / tdp_w) ** POWER_CAP_EXPONENT


def power_capped(hw: Hardware, limit_w: float | None) -> Hardware:
    """``hw`` with its GPUs held to ``limit_w`` of board power (None or >= TDP: unchanged); the
    dense peaks scale by :func:`throughput_factor`, bandwidths do not."""
    if limit_w is None or limit_w >= hw.tdp_w:
        return hw
    f = throughput_factor(limit_w, hw.tdp_w)
    return replace(hw, flop_per_s={p: (v * f if v is not None else None) for p, v in hw.flop_per_s.items()}, tdp_w=float(limit_w))


def row_power_limit_w(row: dict[str, Any]) -> float | None:
    """A measured row's GPU power limit [W]: its ``power_limit_w`` cell, else "power_limit N W"
    in its notes (how calibration.csv records MLPerf MaxQ runs); None when it states none.  A
    value of 0 is returned as stated: `validate` rejects it (the cell in its checks, the notes'
    value as an unsupported row)."""
    cell = cell_float(row, "power_limit_w")
    if cell is not None:
        return cell
    hit = _NOTES_LIMIT.search(str(row.get("notes") or ""))
    return float(hit.group(1)) if hit else None


def row_hardware(cat: Any, row: dict[str, Any]) -> Hardware:
    """The per-GPU view of a measured row's system, held to the row's power limit if it states a
    positive one (:func:`row_power_limit_w`); `validate` rejects a non-positive one first."""
    limit = row_power_limit_w(row)
    return power_capped(hardware_from_catalog(cat, row["hardware"]), limit if limit and limit > 0 else None)
