"""The step model's physics against kernels and steps measured on a lent H200 (docs/accuracy.md, "Measured on an H200").

Reads bench/results/h200_probe.json (written on the device machine by bench/device_h200_probe.py) and
reports, on this machine, without a GPU:

1. the measured ceilings against the catalog's datasheet and perf/data/gemm_rates.yaml;
2. how GEMM time depends on compute and memory time: a fixed cost per kernel plus a blended
   roofline ``(t_c^p + t_m^p)^(1/p)``, fitted to the measured GEMM sweep (the step model takes p from this
   fit and carries the fixed cost as its per-kernel step overhead; before the twelfth round it used p = 2);
3. the fixed GPU time per kernel of whole decode steps replayed from CUDA graphs;
4. the grouped (routed-expert) GEMM's rate against one dense GEMM's;
5. decode attention's share of the copy bandwidth;
6. the step model, with each Hopper engine's fitted efficiencies, against the measured decode and
   prefill steps.

Run: python bench/h200_probe_vs_model.py [--json bench/results/h200_probe_vs_model.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from unittest.mock import patch

import numpy as np
from scipy.optimize import least_squares

from gigafactory.catalog import load_catalog
from gigafactory.perf import step
from gigafactory.perf.architecture import kernels_per_step, param_counts
from gigafactory.perf.efficiency import Efficiency, efficiency_for
from gigafactory.perf.hardware import hardware_from_catalog, sustained_gemm_rates
from gigafactory.perf.layout import Layout

REPO = Path(__file__).resolve().parents[1]
PROBE = REPO / "bench" / "results" / "h200_probe.json"
BYTES = {"bf16": 2, "fp8": 1}
#: the probe's models in the catalog; the probe keeps its KV cache in BF16 for both linears' precisions
MODELS = {"decode_bf16": ("llama-3.1-8b", "bf16"), "decode_fp8": ("llama-3.1-8b", "fp8"), "decode_70b_fp8": ("llama-3.1-70b", "fp8")}


def gemm_times(rows: list[dict], peak_flop_per_s: dict[str, float], bw_bytes_per_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(compute time at the measured peak, memory time at the copy bandwidth, measured time) of each GEMM [s]:
    the memory time moves the weights and the activations in and the BF16 output out once."""
    ok = [r for r in rows if "ms" in r]
    tc = np.array([2.0 * r["m"] * r["n"] * r["k"] / peak_flop_per_s[r["dtype"]] for r in ok])
    tm = np.array([((r["n"] + r["m"]) * r["k"] * BYTES[r["dtype"]] + 2.0 * r["m"] * r["n"]) / bw_bytes_per_s for r in ok])
    return tc, tm, np.array([r["ms"] * 1e-3 for r in ok])


def blended_s(tc: np.ndarray, tm: np.ndarray, p: float, t0_s: float = 0.0, compute: float = 1.0, memory: float = 1.0) -> np.ndarray:
    """A fixed time per kernel plus the blended roofline (t_c^p + t_m^p)^(1/p) at the given shares of the two roofs [s]."""
    return t0_s + ((tc / compute) ** p + (tm / memory) ** p) ** (1.0 / p)


def fit_blend(tc: np.ndarray, tm: np.ndarray, t: np.ndarray, p: float | None = None, fixed_cost: bool = True) -> dict:
    """Least-squares fit in log time of the exponent p (unless given), the fixed cost t0 (if asked) and
    the two roofs' shares; returns them with the fit's median, p90 and worst absolute error."""
    names = (["p"] if p is None else []) + (["t0_us"] if fixed_cost else []) + ["compute", "memory"]
    x0 = {"p": 2.0, "t0_us": 5.0, "compute": 1.0, "memory": 1.0}
    lo = {"p": 1.0, "t0_us": 0.0, "compute": 0.3, "memory": 0.3}
    hi = {"p": 30.0, "t0_us": 100.0, "compute": 1.5, "memory": 1.5}

    def unpack(x):
        v = dict(zip(names, x, strict=True))
        return v.get("p", p), v.get("t0_us", 0.0), v["compute"], v["memory"]

    def resid(x):
        pp, t0, c, m = unpack(x)
        return np.log(blended_s(tc, tm, pp, t0 * 1e-6, c, m) / t)

    sol = least_squares(resid, [x0[n] for n in names], bounds=([lo[n] for n in names], [hi[n] for n in names]))
    pp, t0, c, m = unpack(sol.x)
    err = np.abs(np.expm1(resid(sol.x)))
    return {"p": float(pp), "t0_us": float(t0), "compute": float(c), "memory": float(m), "n": int(t.size),
            "median_ape": float(np.median(err)), "p90_ape": float(np.percentile(err, 90)), "max_ape": float(err.max())}


def decode_roofline_s(m, pc, hw, precision: str, eff, n: int, ctx: int) -> step.StepTime:
    """The step model's time for the probe's decode step: one GPU, no pipeline, KV cache in BF16
    (2 bytes whatever the linears' precision, as the probe keeps it)."""
    with patch.dict(step.KV_BYTES, {precision: 2.0}):
        return step.step_time(m, pc, hw, eff, Layout(), precision, n, ctx)


def analyse(probe: dict) -> dict:
    cat = load_catalog()
    hw = hardware_from_catalog(cat, "h200-sxm")
    ce = probe["ceilings"]
    bw, peak = ce["copy_bytes_per_s"], {"bf16": ce["bf16_flop_per_s"], "fp8": ce["fp8_flop_per_s"]}
    out: dict = {"meta": probe["meta"]}
    aic = sustained_gemm_rates().get("h200-sxm", {})
    out["ceilings"] = {
        "copy_tb_s": bw / 1e12, "copy_share_of_datasheet": bw / hw.hbm_bw_bytes_per_s,
        **{f"{p}_tflop_s": v / 1e12 for p, v in peak.items()},
        **{f"{p}_share_of_datasheet": v / hw.flop_per_s[p] for p, v in peak.items()},
        **{f"{p}_aiconfigurator_tflop_s": aic[p] / 1e12 for p in peak if p in aic},
    }
    if "repeat_first_call" in probe:
        r = probe["repeat_first_call"]["ceilings"]
        out["ceilings"]["first_call"] = {"copy_tb_s": r["copy_bytes_per_s"] / 1e12, "bf16_tflop_s": r["bf16_flop_per_s"] / 1e12,
                                         "fp8_tflop_s": r["fp8_flop_per_s"] / 1e12}

    tc, tm, t = gemm_times(probe["gemm"], peak, bw)
    out["gemm_blend"] = {
        "free exponent, fixed cost": fit_blend(tc, tm, t),
        "p = 2, fixed cost": fit_blend(tc, tm, t, p=2.0),
        "p = 2, no fixed cost (the step model before the twelfth round)": fit_blend(tc, tm, t, p=2.0, fixed_cost=False),
        "free exponent, no fixed cost": fit_blend(tc, tm, t, fixed_cost=False),
        "max() (p = 30), fixed cost": fit_blend(tc, tm, t, p=30.0),
    }
    held = probe.get("gemm_heldout")
    if held:
        # the fitted form, on shapes it never saw, timed on a fresh machine against that machine's ceilings
        hce = held["ceilings"]
        htc, htm, ht = gemm_times(held["rows"], {"bf16": hce["bf16_flop_per_s"], "fp8": hce["fp8_flop_per_s"]}, hce["copy_bytes_per_s"])
        out["gemm_heldout"] = {}
        for name, f in out["gemm_blend"].items():
            err = np.abs(blended_s(htc, htm, f["p"], f["t0_us"] * 1e-6, f["compute"], f["memory"]) / ht - 1)
            out["gemm_heldout"][name] = {"n": int(ht.size), "median_ape": float(np.median(err)), "p90_ape": float(np.percentile(err, 90)),
                                         "max_ape": float(err.max())}
        out["gemm_heldout_refit"] = fit_blend(htc, htm, ht)
    ridge = (tc / tm > 1 / 3) & (tc / tm < 3)
    out["gemm_ridge"] = {f"p={p:g}": float(np.median(blended_s(tc, tm, p)[ridge] / t[ridge])) for p in (1.5, 2, 3, 4, 8)}
    out["gemm_ridge"]["n"] = int(ridge.sum())

    out["launch"] = probe["launch"]
    fixed = []
    for sec, (model_id, precision) in MODELS.items():
        rows = probe.get(sec) or []
        first = rows[0] if rows else {}
        kernels = first.get("kernels_per_step")
        if not isinstance(kernels, int) or "graph_ms" not in first:
            continue
        m = cat.model(model_id)
        roof = decode_roofline_s(m, param_counts(m), hw, precision, _measured_eff(hw, bw, peak[precision], precision), first["batch"], first["ctx"])
        fixed.append({"section": sec, "model": model_id, "precision": precision, "batch": first["batch"], "ctx": first["ctx"],
                      "kernels": kernels, "graph_ms": first["graph_ms"], "roofline_ms": roof.total_s * 1e3,
                      "fixed_us_per_kernel": (first["graph_ms"] - roof.total_s * 1e3) * 1e3 / kernels,
                      "model_kernels_per_step": kernels_per_step(m)})
    out["fixed_cost_per_kernel"] = fixed

    grouped = []
    for g in probe.get("grouped", []):
        if "grouped_bf16_ms" not in g:
            continue
        flops = 2.0 * g["m"] * g["n"] * g["k"]
        weights = g["experts"] * g["n"] * g["k"]
        row = {"proj": g["proj"], "tokens_per_expert": g["tokens_per_expert"],
               "grouped_bf16_tflop_s": flops / g["grouped_bf16_ms"] / 1e9, "dense_bf16_tflop_s": flops / g["dense_bf16_ms"] / 1e9,
               "ratio_bf16": g["dense_bf16_ms"] / g["grouped_bf16_ms"],
               "weights_share_of_copy_bw_bf16": 2 * weights / (g["grouped_bf16_ms"] * 1e-3) / bw}
        if "grouped_fp8_ms" in g:
            row["grouped_fp8_share_of_peak"] = flops / (g["grouped_fp8_ms"] * 1e-3) / peak["fp8"]
            row["weights_share_of_copy_bw_fp8"] = weights / (g["grouped_fp8_ms"] * 1e-3) / bw
        grouped.append(row)
    out["grouped"] = grouped

    out["attention"] = [{"batch": a["batch"], "ctx": a["ctx"], **{f"{h}_share_of_copy_bw": a["kv_bytes"] / (a[f"{h}_ms"] * 1e-3) / bw
                                                                 for h in ("sdpa", "matmul") if f"{h}_ms" in a}}
                        for a in probe.get("attention", [])]

    steps = []
    engines = ("trtllm", "sglang")  # Hopper vLLM has no group of its own: it takes the pooled fit
    for sec, (model_id, precision) in MODELS.items():
        m = cat.model(model_id)
        pc = param_counts(m)
        for r in probe.get(sec) or []:
            if "graph_ms" not in r:
                continue
            row = {"model": model_id, "precision": precision, "batch": r["batch"], "ctx": r["ctx"], "attention": r["attention"],
                   "measured_ms": r["graph_ms"], "eager_ms": r.get("eager_ms")}
            roof = decode_roofline_s(m, pc, hw, precision, _measured_eff(hw, bw, peak[precision], precision), r["batch"], r["ctx"])
            row["roofline_at_measured_ceilings_ms"] = roof.total_s * 1e3
            for eng in engines:
                eff = efficiency_for(hw.generation, eng, accelerator=hw.accelerator_id)
                st = decode_roofline_s(m, pc, hw, precision, eff, r["batch"], r["ctx"])
                row[f"{eng}_gpu_ms"] = (st.total_s - st.overhead_s) * 1e3
                row[f"{eng}_total_ms"] = st.total_s * 1e3
            steps.append(row)
    out["decode_steps"] = steps

    prefill = []
    m = cat.model("llama-3.1-8b")
    pc = param_counts(m)
    for sec, precision in (("prefill_bf16", "bf16"), ("prefill_fp8", "fp8")):
        for r in probe.get(sec) or []:
            if "graph_ms" not in r:
                continue
            # one sequence of T tokens: causal attention spans T / 2 keys on average
            row = {"precision": precision, "tokens": r["tokens"], "measured_ms": r["graph_ms"], "eager_ms": r.get("ms")}
            roof = step.step_time(m, pc, hw, _measured_eff(hw, bw, peak[precision], precision), Layout(), precision, 0, 0, r["tokens"], r["tokens"] / 2)
            row["roofline_at_measured_ceilings_ms"] = roof.total_s * 1e3
            for eng in engines:
                st = step.step_time(m, pc, hw, efficiency_for(hw.generation, eng, accelerator=hw.accelerator_id), Layout(), precision, 0, 0,
                                    r["tokens"], r["tokens"] / 2)
                row[f"{eng}_total_ms"] = st.total_s * 1e3
            prefill.append(row)
    out["prefill_steps"] = prefill
    return out


def _measured_eff(hw, bw: float, peak: float, precision: str) -> Efficiency:
    """Efficiencies that put the step model's roofs at the probe's measured ceilings, with no overhead."""
    return Efficiency(compute=peak / hw.flop_per_s[precision], memory=bw / hw.hbm_bw_bytes_per_s, collective_latency_s=1e-6,
                      step_overhead_s=0.0, expert=1.0)


def report(out: dict) -> None:
    c = out["ceilings"]
    print(f"{out['meta']['device']}, torch {out['meta']['torch']}, {out['meta']['date_utc']}")
    print(f"copy {c['copy_tb_s']:.2f} TB/s ({c['copy_share_of_datasheet']:.1%} of the datasheet); "
          f"BF16 {c['bf16_tflop_s']:.0f} TFLOP/s ({c['bf16_share_of_datasheet']:.1%}; AIConfigurator's best shape {c['bf16_aiconfigurator_tflop_s']}); "
          f"FP8 {c['fp8_tflop_s']:.0f} ({c['fp8_share_of_datasheet']:.1%}; AIConfigurator {c['fp8_aiconfigurator_tflop_s']})")
    print("\nGEMM time against the roofs (fit in log time over the sweep):")
    print("| form | p | fixed cost [µs] | compute roof share | memory roof share | median | p90 | worst |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, f in out["gemm_blend"].items():
        print(f"| {name} | {f['p']:.1f} | {f['t0_us']:.1f} | {f['compute']:.3f} | {f['memory']:.3f} | {f['median_ape']:.1%} | {f['p90_ape']:.1%} | {f['max_ape']:.1%} |")
    if "gemm_heldout" in out:
        print("the same forms on shapes the fit did not see (TP8 shards of 70B, 405B, DeepSeek-V3; gpt-oss), another machine:")
        for name, f in out["gemm_heldout"].items():
            print(f"  {name}: median {f['median_ape']:.1%}, p90 {f['p90_ape']:.1%}, worst {f['max_ape']:.1%} ({f['n']} GEMMs)")
        r = out["gemm_heldout_refit"]
        print(f"  refitted on those shapes alone: p {r['p']:.1f}, fixed cost {r['t0_us']:.1f} µs, median {r['median_ape']:.1%}")
    print(f"near the ridge ({out['gemm_ridge']['n']} GEMMs with t_c/t_m in 1/3..3), median blended/measured: "
          + ", ".join(f"{k} {v:.2f}" for k, v in out["gemm_ridge"].items() if k != "n"))
    lau = out["launch"]
    print(f"\nkernel launch: {lau['graph_us_per_kernel']:.2f} µs per kernel replayed from a CUDA graph, {lau['eager_total_us_per_kernel']:.1f} µs eager")
    for f in out["fixed_cost_per_kernel"]:
        print(f"decode {f['model']} {f['precision']} batch {f['batch']} ctx {f['ctx']}: {f['graph_ms']:.2f} ms measured, roofline at the measured ceilings "
              f"{f['roofline_ms']:.2f} ms; {f['kernels']} kernels -> {f['fixed_us_per_kernel']:.2f} µs each (the step model counts {f['model_kernels_per_step']:.0f} kernels for an engine)")
    print("\ngrouped GEMM (32 experts, DeepSeek-V3 shapes):")
    print("| proj | tokens / expert | grouped BF16 TFLOP/s | dense BF16 TFLOP/s | ratio | BF16 weights at copy BW | FP8 share of peak |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for g in out["grouped"]:
        print(f"| {g['proj']} | {g['tokens_per_expert']} | {g['grouped_bf16_tflop_s']:.0f} | {g['dense_bf16_tflop_s']:.0f} | {g['ratio_bf16']:.2f} | "
              f"{g['weights_share_of_copy_bw_bf16']:.2f} | {g.get('grouped_fp8_share_of_peak', float('nan')):.2f} |")
    print("\ndecode attention, share of the copy bandwidth: " + "; ".join(
        f"{a['batch']}x{a['ctx']}: SDPA {a.get('sdpa_share_of_copy_bw', float('nan')):.2f}, GEMMs {a.get('matmul_share_of_copy_bw', float('nan')):.2f}"
        for a in out["attention"]))
    print("\ndecode steps, measured (CUDA graph) against the step model:")
    print("| model | linears | batch | ctx | measured [ms] | roofline at measured ceilings | TRT-LLM fit, GPU part | TRT-LLM fit, with overhead | SGLang fit, with overhead |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in out["decode_steps"]:
        print(f"| {s['model']} | {s['precision']} | {s['batch']} | {s['ctx']} | {s['measured_ms']:.2f} | {s['roofline_at_measured_ceilings_ms']:.2f} | "
              f"{s['trtllm_gpu_ms']:.2f} | {s['trtllm_total_ms']:.2f} | {s['sglang_total_ms']:.2f} |")
    for eng, label in (("trtllm", "TRT-LLM"), ("sglang", "SGLang")):
        ratios = [s[f"{eng}_total_ms"] / s["measured_ms"] for s in out["decode_steps"]]
        apes = [abs(r - 1) for r in ratios]
        print(f"{label} fit with overhead / measured: median {statistics.median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f}; "
              f"median APE {statistics.median(apes):.1%}, worst {max(apes):.1%}")


def report_prefill(out: dict) -> None:
    print("\nprefill steps of Llama-3.1-8B, one sequence (CUDA graph) against the step model:")
    print("| linears | tokens | measured [ms] | roofline at measured ceilings | TRT-LLM fit | SGLang fit |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for s in out["prefill_steps"]:
        print(f"| {s['precision']} | {s['tokens']} | {s['measured_ms']:.1f} | {s['roofline_at_measured_ceilings_ms']:.1f} | "
              f"{s['trtllm_total_ms']:.1f} | {s['sglang_total_ms']:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probe", default=str(PROBE))
    ap.add_argument("--json", help="write the analysis here")
    a = ap.parse_args()
    out = analyse(json.loads(Path(a.probe).read_text()))
    report(out)
    report_prefill(out)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
