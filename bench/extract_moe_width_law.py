"""How fast an MoE layer's grouped GEMMs run against the width of one expert on one GPU, from
NVIDIA's measured MoE kernels.

Writes src/gigafactory/perf/data/moe_width.yaml from AIConfigurator's silicon database:

    python3 -m venv /tmp/aic-venv && /tmp/aic-venv/bin/pip install aiconfigurator==0.12.0
    python bench/extract_moe_width_law.py \
        --db /tmp/aic-venv/lib/python3.11/site-packages/aiconfigurator_core/systems/data

Each database row is one MoE layer (router output to combined output: permute, FC1, SwiGLU, FC2,
finalize) timed on one GPU with TensorRT-LLM 1.3.0rc20 kernels (bench/extract_moe_kernel_rates.py
maps each precision to the kernel TensorRT-LLM runs).  For every (shape, expert-TP degree) the
compute fraction is the layer's FLOPs (step.routed_expert_layer) over its latency and the GPU's
dense peak, at the largest token count measured, where the experts see hundreds to thousands of
tokens each.  Across shapes that fraction follows the per-GPU expert width w (the expert's
intermediate size over its TP degree: FC1's output and FC2's reduction length) as

    fraction = E x w / (w + w0)

and barely the hidden size, expert count or top-k: on an H200 in FP8, 0.04 at w = 128 (DeepSeek-R1's
experts split 16 ways), 0.28 at 2,048 (whole), 0.42 at 14,336 (Mixtral's).  Only w0 enters the
model (perf/moe_width.py), as the shape of the curve; its height stays the fitted ``expert``.
Points with fewer than MIN_ROWS_PER_EXPERT tokens per expert are left out: there the weight reads
set the time (and Blackwell's small-batch rows read faster than the HBM peak allows, see
docs/accuracy.md).
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import duckdb
import numpy as np
import yaml
from scipy.optimize import least_squares

from gigafactory.catalog import load_catalog
from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.step import routed_expert_layer

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the database's systems, the kernel TensorRT-LLM runs per precision and its version: as the fifth
# round's extraction reads them
from extract_moe_kernel_rates import KERNELS, SYSTEMS, VERSION

#: tokens per expert below which a layer is not in its large-batch regime: each expert's GEMMs
#: then have fewer rows than two 128-row tiles and stream weights more than they multiply
MIN_ROWS_PER_EXPERT = 256
OUT = Path(__file__).resolve().parents[1] / "src" / "gigafactory" / "perf" / "data" / "moe_width.yaml"


def width_points(db: Path, system: str, hw, precision: str) -> list[dict]:
    dtype, hopper_kernel, blackwell_kernel = KERNELS[precision]
    kernel = hopper_kernel if hw.generation == "hopper" else blackwell_kernel
    path = db / system / "moe" / "trtllm" / VERSION / "moe_perf.parquet"
    if kernel is None or not path.exists():
        return []
    q = f"""select hidden_size, inter_size, num_experts, topk, moe_tp_size, num_tokens, min(latency) from '{path}'
            where moe_dtype = ? and kernel_source = ? and moe_ep_size = 1 and distribution = 'balanced'
            group by 1, 2, 3, 4, 5, 6"""
    largest: dict[tuple, tuple[int, float]] = {}
    for h, i, e, k, tp, t, lat in duckdb.connect().execute(q, [dtype, kernel]).fetchall():
        key = (int(h), int(i), int(e), int(k), int(tp))
        if key not in largest or t > largest[key][0]:
            largest[key] = (int(t), float(lat) * 1e-3)
    out = []
    for (h, i, e, k, tp), (t, lat) in sorted(largest.items()):
        if t * k / e < MIN_ROWS_PER_EXPERT:
            continue
        flops, _, _ = routed_expert_layer(h, i, e, k, t, 1, float(tp), precision)
        out.append({"hidden": h, "inter": i, "experts": e, "top_k": k, "tp": tp, "tokens": t, "width": i / tp,
                    "fraction": flops / lat / hw.flop_per_s[precision]})
    return out


def fit_width_law(width: np.ndarray, fraction: np.ndarray) -> tuple[float, float, float]:
    """(E, w0, median |log error|) of fraction = E w / (w + w0), least squares in log space."""
    def residuals(p: np.ndarray) -> np.ndarray:
        return np.log(p[0] * width / (width + p[1]) / fraction)

    fit = least_squares(residuals, [0.6, 1000.0], bounds=([0.01, 1.0], [2.0, 1e5]), loss="soft_l1", f_scale=0.1)
    return float(fit.x[0]), float(fit.x[1]), float(np.median(np.abs(residuals(fit.x))))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="aiconfigurator_core/systems/data of aiconfigurator 0.12.0")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    cat = load_catalog()
    measured = []
    for system, (hw_id, _) in SYSTEMS.items():
        hw = hardware_from_catalog(cat, hw_id)
        for precision in KERNELS:
            pts = width_points(Path(args.db), system, hw, precision)
            if len(pts) < 6 or len({p["width"] for p in pts}) < 4:
                continue
            e, w0, err = fit_width_law(np.array([p["width"] for p in pts]), np.array([p["fraction"] for p in pts]))
            measured.append({"accelerator": hw.accelerator_id, "generation": hw.generation, "precision": precision, "database_system": system,
                             "width0": round(w0, 1), "height": round(e, 4), "median_abs_log_error": round(err, 4), "points": len(pts),
                             "widths": [min(p["width"] for p in pts), max(p["width"] for p in pts)]})
            print(f"{system:9} {precision:5} w0 {w0:7.1f}  E {e:.3f}  median |log err| {err:.3f}  {len(pts)} points, "
                  f"widths {min(p['width'] for p in pts):g}-{max(p['width'] for p in pts):g}")
    generations = {}
    for m in measured:
        generations.setdefault((m["generation"], m["precision"]), []).append(m["width0"])
    doc = {
        "description": "Per-GPU expert width at which an MoE layer's grouped GEMMs reach half their large-width compute "
                       "fraction (fraction = E w / (w + width0)), fitted on NVIDIA's measured MoE layers; written by "
                       "bench/extract_moe_width_law.py. Used by perf/moe_width.py.",
        "source": f"AIConfigurator 0.12.0 silicon database (PyPI aiconfigurator==0.12.0), systems/data/<system>/moe/trtllm/{VERSION}/moe_perf.parquet",
        "extracted_on": dt.date.today().isoformat(),
        "unit": "width0 [elements of the intermediate dimension per GPU]",
        "measured": measured,
        "generations": [{"generation": g, "precision": p, "width0": round(float(np.median(v)), 1)} for (g, p), v in sorted(generations.items())],
    }
    Path(args.out).write_text(yaml.safe_dump(doc, sort_keys=False, width=120))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
