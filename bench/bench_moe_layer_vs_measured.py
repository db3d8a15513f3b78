"""The step model's routed-expert block against NVIDIA's measured MoE layers, per MoE back end.

Run (AIConfigurator's silicon database, as for bench/extract_moe_kernel_rates.py):
    python3 -m venv /tmp/aic-venv && /tmp/aic-venv/bin/pip install aiconfigurator==0.12.0
    python bench/bench_moe_layer_vs_measured.py \
        --db /tmp/aic-venv/lib/python3.11/site-packages/aiconfigurator_core/systems/data \
        [--json bench/results/moe_layer_vs_measured.json]

Each database row is one MoE layer timed on one GPU with TensorRT-LLM 1.3.0rc20: from the router's
output to the combined output.  Rows: DeepSeek-R1's shape (hidden 7,168, expert width 2,048, 256
experts, top-8), balanced routing, whole experts per rank, EP 1 and 8, 1-128 tokens, for each back
end the database holds: CUTLASS (TensorRT-LLM's default for DeepSeek-R1) and the fused
TRT-LLM-Gen kernels ("min_latency", what FlashInfer exposes as trtllm_fp4_block_scale_moe).

The model's side is the committed calibration of that generation with TensorRT-LLM: the routed-expert
work of ``step.routed_expert_layer`` on the busiest rank, through ``step.routed_experts_s``, plus the step
overhead of the kernels inside the timed span.  Of the 9 kernels the model counts per routed-expert
block, 6 are inside it (top-k, permute, FC1, SwiGLU, FC2, finalize); the norm, router GEMM and
all-reduce are not.  A check of one operator group against kernel measurements, not a fit.
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import duckdb
import numpy as np

from gigafactory.catalog import load_catalog
from gigafactory.perf.efficiency import efficiency_for, load_efficiencies
from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.step import (
    kernel_overhead_s,
    routed_expert_layer,
    routed_experts_s,
)

VERSION = "1.3.0rc20"
#: database GPU folder -> (catalog hardware id, MoE precision in the database, the model's precision)
GPUS = {"b200_sxm": ("b200", "nvfp4", "fp4"), "gb300": ("gb300-nvl72", "nvfp4", "fp4"), "h200_sxm": ("h200-sxm", "fp8_block", "fp8")}
SHAPE = {"hidden_size": 7168, "inter_size": 2048, "num_experts": 256, "topk": 8}
TOKENS = (1, 2, 4, 8, 16, 32, 64, 128)
EP_SIZES = (1, 8)
KERNELS_IN_SPAN = 6


def measured(db: Path, gpu: str, dtype: str) -> dict[tuple[str, int, int], float]:
    """(back end, EP, tokens) -> latency [s] of the MoE layer rows described above."""
    f = db / gpu / "moe" / "trtllm" / VERSION / "moe_perf.parquet"
    q = f"""select kernel_source, moe_ep_size, num_tokens, min(latency) from '{f}'
            where moe_dtype = ? and hidden_size = ? and inter_size = ? and num_experts = ? and topk = ?
              and moe_tp_size = 1 and distribution = 'balanced'
            group by 1, 2, 3"""
    rows = duckdb.connect().execute(q, [dtype, *SHAPE.values()]).fetchall()
    return {(src, int(ep), int(t)): lat * 1e-3 for src, ep, t, lat in rows if int(ep) in EP_SIZES and int(t) in TOKENS}


def model_layer_s(hw, eff, ep: int, tokens: int, precision: str) -> float:
    flops, bytes_, _ = routed_expert_layer(SHAPE["hidden_size"], SHAPE["inter_size"], SHAPE["num_experts"], SHAPE["topk"],
                                           tokens, ep, 1.0, precision)
    return routed_experts_s(flops, bytes_, hw, eff, precision) + kernel_overhead_s(eff, KERNELS_IN_SPAN)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="aiconfigurator_core/systems/data of aiconfigurator 0.12.0")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    cat = load_catalog()
    table = load_efficiencies()
    out = {"machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
           "database": f"aiconfigurator 0.12.0, TensorRT-LLM {VERSION}", "gpus": {}}
    for gpu, (hw_id, dtype, precision) in GPUS.items():
        hw = hardware_from_catalog(cat, hw_id)
        eff = efficiency_for(hw.generation, "trtllm", table)
        meas = measured(Path(args.db), gpu, dtype)
        backends = sorted({k[0] for k in meas})
        res = {"hardware": hw_id, "precision": dtype, "backends": {}}
        for src in backends:
            points = []
            for ep in EP_SIZES:
                for t in TOKENS:
                    if (src, ep, t) in meas:
                        m = model_layer_s(hw, eff, ep, t, precision)
                        points.append({"ep": ep, "tokens": t, "measured_us": 1e6 * meas[(src, ep, t)], "model_us": 1e6 * m,
                                       "ratio": m / meas[(src, ep, t)]})
            ratios = np.array([p["ratio"] for p in points])
            res["backends"][src] = {
                "points": points,
                "median_ratio": float(np.median(ratios)),
                "error_factor": float(np.exp(np.median(np.abs(np.log(ratios))))),
                "median_ratio_ep8": float(np.median([p["ratio"] for p in points if p["ep"] == 8])),
            }
            print(f"{gpu:9} {src:28} model / measured: median {res['backends'][src]['median_ratio']:.2f} "
                  f"(EP8 {res['backends'][src]['median_ratio_ep8']:.2f}), error factor {res['backends'][src]['error_factor']:.2f}, "
                  f"{len(points)} points")
        out["gpus"][gpu] = res
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
