"""Expert (grouped) GEMM rate over the dense GEMM rate, from NVIDIA's measured MoE kernels.

Writes bench/results/moe_kernel_rates.yaml from AIConfigurator's silicon database:

    python3 -m venv /tmp/aic-venv && /tmp/aic-venv/bin/pip install aiconfigurator==0.12.0
    python bench/extract_moe_kernel_rates.py \
        --db /tmp/aic-venv/lib/python3.11/site-packages/aiconfigurator_core/systems/data

Each database row is one MoE layer (router output to combined output: permute, FC1, SwiGLU, FC2,
finalize) timed on one GPU with TensorRT-LLM 1.3.0rc20 kernels.  For each (GPU, precision) the
rows are fitted, in the step model's own accounting (step.routed_expert_layer: busiest-rank
FLOPs and HBM bytes), to

    latency = t0 + hypot(FLOPs / (dense GEMM rate x ratio), bytes / (HBM bandwidth x memory))

with three free numbers: ``ratio`` (what the model uses), ``t0`` (the module's fixed launch and
routing cost, which the step model counts in its step overhead) and ``memory``.  The dense GEMM
rate is the sustained rate of perf/data/gemm_rates.yaml.  Rows: gated MoE shapes of large models
(hidden >= 4096, >= 64 experts), balanced routing, experts whole on each rank (moe_tp = 1).
"""
from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import yaml
from scipy.optimize import least_squares

from gigafactory.catalog import load_catalog
from gigafactory.perf.hardware import hardware_from_catalog, sustained_gemm_rates
from gigafactory.perf.step import routed_expert_layer

#: database system -> (catalog hardware, catalog accelerator)
SYSTEMS = {"h100_sxm": ("h100-sxm", "h100-sxm"), "h200_sxm": ("h200-sxm", "h200-sxm"), "b200_sxm": ("b200", "b200"),
           "b300_sxm": ("b300", "b300"), "gb200": ("gb200-nvl72", "b200-gb200"), "gb300": ("gb300-nvl72", "b300-gb300")}
#: model precision -> (database dtype, kernel on Hopper, kernel on Blackwell).  FP8 is the
#: block-scaled format of DeepSeek's checkpoints: DeepGEMM on Blackwell, CUTLASS on Hopper.
KERNELS = {"fp4": ("nvfp4", None, "moe_torch_flow_cutlass"),
           "fp8": ("fp8_block", "moe_torch_flow_cutlass", "deepgemm"),
           "bf16": ("bfloat16", "moe_torch_flow_cutlass", "moe_torch_flow_cutlass")}
VERSION = "1.3.0rc20"
OUT = Path(__file__).resolve().parent / "results" / "moe_kernel_rates.yaml"


def fit_one(rows: list[tuple], hw, dense_rate: float, precision: str) -> dict:
    comp, mem, lat = [], [], []
    for hidden, inter, experts, top_k, ep, tokens, latency_ms in rows:
        flops, nbytes, _ = routed_expert_layer(hidden, inter, experts, top_k, tokens, ep, 1.0, precision)
        comp.append(flops / dense_rate)
        mem.append(nbytes / hw.hbm_bw_bytes_per_s)
        lat.append(latency_ms * 1e-3)
    comp, mem, lat = map(np.array, (comp, mem, lat))

    def residuals(p: np.ndarray) -> np.ndarray:
        return np.log((p[0] * 1e-6 + np.hypot(comp / p[1], mem / p[2])) / lat)

    fit = least_squares(residuals, [30.0, 0.5, 0.7], bounds=([0.0, 0.01, 0.05], [500.0, 2.0, 1.2]), loss="soft_l1", f_scale=0.1)
    ape = np.abs(np.exp(fit.fun) - 1.0)
    return {"ratio": round(float(fit.x[1]), 3), "t0_us": round(float(fit.x[0]), 1), "memory": round(float(fit.x[2]), 2),
            "rows": len(rows), "median_ape": round(float(np.median(ape)), 3), "p90_ape": round(float(np.percentile(ape, 90)), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="aiconfigurator_core/systems/data of an installed aiconfigurator 0.12.0")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    cat, rates, con = load_catalog(), sustained_gemm_rates(), duckdb.connect()
    table: dict[str, dict] = {}
    for system, (hw_id, acc_id) in SYSTEMS.items():
        hw = hardware_from_catalog(cat, hw_id)
        path = Path(args.db) / system / "moe" / "trtllm" / VERSION / "moe_perf.parquet"
        for precision, (dtype, hopper_kernel, blackwell_kernel) in KERNELS.items():
            kernel = hopper_kernel if hw.generation == "hopper" else blackwell_kernel
            if kernel is None or precision not in rates.get(acc_id, {}):
                continue
            rows = con.execute(
                "select hidden_size, inter_size, num_experts, topk, moe_ep_size, num_tokens, latency from read_parquet(?) "
                "where moe_dtype = ? and kernel_source = ? and moe_tp_size = 1 and distribution = 'balanced' "
                "and num_experts >= 64 and hidden_size >= 4096 order by all", [str(path), dtype, kernel]).fetchall()
            entry = fit_one(rows, hw, rates[acc_id][precision], precision)
            table.setdefault(acc_id, {})[precision] = entry | {"kernel": f"{dtype} {kernel}"}
            print(system, precision, entry)
    doc = {
        "description": "Routed-expert (grouped) GEMM rate over the dense GEMM rate of the same GPU and precision [1], "
                       "fitted to NVIDIA-measured MoE-layer latencies in the step model's accounting (bench/extract_moe_kernel_rates.py).",
        "source": f"NVIDIA AIConfigurator 0.12.0 silicon database (aiconfigurator-core 0.12.0 wheel on PyPI, Apache-2.0), "
                  f"systems/data/<system>/moe/trtllm/{VERSION}/moe_perf.parquet; dense rates from gemm_rates.yaml",
        "read": dt.date.today().isoformat(),
        "unit": "1 (ratio); t0 in microseconds; memory is achieved / peak HBM bandwidth",
        "accelerators": table,
    }
    Path(args.out).write_text(yaml.safe_dump(doc, sort_keys=False, width=110))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
