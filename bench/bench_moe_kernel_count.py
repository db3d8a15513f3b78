"""Sensitivity of the held-out figures to the kernels of a routed-expert block and to the expert prior.

Run: python bench/bench_moe_kernel_count.py [--variants 9:0.84,7:0.43] [--json bench/results/moe_kernel_count.json]

The step overhead is charged per kernel launched (architecture.kernels_per_step), and a
routed-expert block counts KERNELS_MOE_MLP = 9 kernels (the CUTLASS MoE pipeline).  TensorRT-LLM-Gen's
fused MoE on Blackwell runs 7 (docs/accuracy.md, eighth round).  The expert-efficiency prior
(efficiency.PRIOR.expert: 0.43 from NVIDIA's measured MoE layers since the eleventh round, 0.84 from DeepGEMM before) sets a fit's expert efficiency when no MoE row is in
it (fifth round of docs/accuracy.md).  For each variant "kernels:prior" this
recalibrates and measures, on calibration.csv's trust 1-2 rows, 5-fold CV (seed 0) with its server
rows, leave one model out and leave one hardware type out, and the 56 InferenceMAX gpt-oss rows
(bench/data/inferencemax_gpt_oss_120b.csv) predicted by a fit on every calibration row.

Each variant runs in a fresh process that sets the two values before the fit is imported (the fit
binds PRIOR as a default argument): a sensitivity study of the committed model, not a model option.
About 8-11 minutes a variant on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CALIBRATION = HERE.parents[1] / "shared" / "data" / "measured" / "calibration.csv"
GPT_OSS = HERE / "data" / "inferencemax_gpt_oss_120b.csv"


def run_variant(kernels: int, expert_prior: float) -> dict:
    """The held-out figures with ``kernels`` per routed-expert block and expert prior ``expert_prior``
    (call in a fresh process: it changes module values before the fit is imported)."""
    import dataclasses

    import gigafactory.perf.architecture as arch
    import gigafactory.perf.efficiency as eff_mod

    arch.KERNELS_MOE_MLP = kernels
    eff_mod.PRIOR = dataclasses.replace(eff_mod.PRIOR, expert=expert_prior)
    sys.path.insert(0, str(HERE))
    import bench_perf_accuracy as acc  # imports the fit, which now binds the patched PRIOR

    from gigafactory.catalog import load_catalog
    from gigafactory.perf.calibrate import calibrate, cross_validated_predictions
    from gigafactory.perf.validate import predict_row, read_measured_csv

    t0 = time.perf_counter()
    cat = load_catalog()
    rows = read_measured_csv(CALIBRATION)
    table = acc._table(calibrate(rows, cat, "cv"))
    gpt = [predict_row(r, cat, table) for r in read_measured_csv(GPT_OSS)]
    cv = list(cross_validated_predictions(rows, cat, folds=5, seed=0).values())
    model_of = {r["id"]: cat.resolve_id("models", r["model"]) or r["model"] for r in rows}
    return {
        "kernels_per_routed_expert_block": kernels, "expert_prior": expert_prior,
        "kfold5_seed0": acc._stats(cv), "server_rows_cv": acc._stats([p for p in cv if p.meta.get("scenario") == "server"]),
        "leave_one_model_out": acc._stats(acc.held_out(rows, cat, lambda r: model_of[r["id"]])),
        "leave_one_hardware_out": acc._stats(acc.held_out(rows, cat, lambda r: r["hardware"])),
        "gpt_oss_inferencemax": acc._stats(gpt, False),
        "seconds": time.perf_counter() - t0,
    }


def _child(kernels: int, expert_prior: float, queue) -> None:
    queue.put(run_variant(kernels, expert_prior))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="9:0.84,7:0.43,9:0.43,7:0.84",
                    help="comma-separated kernels:expert_prior pairs (default: committed, documented count with the measured prior, and each alone)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    out = {"machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}", "variants": []}
    for item in args.variants.split(","):
        k, prior = item.split(":")
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(int(k), float(prior), queue))
        proc.start()
        res = queue.get()
        proc.join()
        out["variants"].append(res)
        f = lambda s: f"{100 * s['median_ape']:.1f} / {100 * s['p90_ape']:.1f}"
        print(f"{k} kernels, prior {prior}: CV {f(res['kfold5_seed0'])}, server {100 * res['server_rows_cv']['median_ape']:.1f}, "
              f"LOMO {f(res['leave_one_model_out'])}, LOHO {f(res['leave_one_hardware_out'])}, "
              f"gpt-oss {f(res['gpt_oss_inferencemax'])} ({res['seconds']:.0f} s)", flush=True)
    text = json.dumps(out, indent=1)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
