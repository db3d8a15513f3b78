"""Build ``inferencemax_gpt_oss_120b.csv`` from InferenceMAX CI results (gpt-oss-120b on B200).

InferenceMAX (SemiAnalysis, now InferenceX) runs nightly single-node sweeps and publishes each run's
aggregate results (``agg_bmk.json``) as a GitHub Actions artifact.  The artifacts are not in the
benchmark repository; copies of 35 runs (2025-12 to 2026-01) are kept in gminneci/mantile under
``reconcile/sources/inferencemax/raw/run_<id>/agg_bmk.json``.  This script reads those copies and
writes rows in the format of ``shared/data/measured/calibration.csv`` (see its README).

Selection, fixed before any prediction was made:

- gpt-oss-120b (MXFP4 experts) on B200, aggregated, one node, no speculative decoding.  Hopper runs
  are left out: vLLM runs MXFP4 weights there with BF16 math (weight-only FP4), a mode the
  performance model has no kernel rate for.
- The latest image of each engine (vLLM v0.13.0, TensorRT-LLM 1.2.0rc2); per configuration the
  latest run that measured it.
- Concurrencies 4, 32 and 128: the smallest, a middle and the largest point of InferenceMAX's
  doubling sweep (4-128), so each configuration keeps its small- and large-batch regimes without
  outweighing the other models' rows.

Usage: ``python bench/data/build_inferencemax_gpt_oss.py --raw <mantile>/reconcile/sources/inferencemax/raw``
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "inferencemax_gpt_oss_120b.csv"
MANTILE_COMMIT = "72ff84e"
CONCURRENCIES = (4, 32, 128)
ENGINES = {"b200-trt": ("trtllm", "nvcr.io#nvidia/tensorrt-llm/release:1.2.0rc2"),
           "b200": ("vllm", "vllm/vllm-openai:v0.13.0")}
# CI run dates: read from the runs' benchmark_date where the copies record it
# (gminneci/mantile reconcile/by_model/openai_GPT-OSS-120B/inferencemax.csv); otherwise the month,
# bracketed by the neighbouring run ids (GitHub run ids increase with time).
RUN_DATES = {"20308883467": "2025-12-17", "20667906037": "2026-01-02", "20764588467": "2026-01-06",
             "20786863188": "2026-01-07", "21012127808": "2026-01-14", "20286968709": "2025-12",
             "20662362255": "2026-01", "20737128080": "2026-01", "20742072203": "2026-01"}
COLUMNS = ["id", "source_kind", "source_url", "date", "trust", "hardware", "num_gpus", "model", "precision",
           "framework", "scenario", "isl_mean", "osl_mean", "isl_max", "osl_max", "concurrency", "target_qps",
           "ttft_p99_limit_ms", "tpot_p99_limit_ms", "tok_s_gpu", "tok_s_user", "ttft_p50_ms", "ttft_p99_ms",
           "tpot_p50_ms", "tpot_p99_ms", "disaggregated", "prefill_gpus", "decode_gpus", "tp", "ep", "pp",
           "dp_attention", "mtp", "notes"]


def _lengths(nominal: int) -> str:
    return f"{nominal // 1024}k"


def select(results: list[dict]) -> list[dict]:
    """The latest run of each selected configuration, in a stable order."""
    latest: dict[tuple, dict] = {}
    for r in results:
        engine = ENGINES.get(r.get("hw"))
        if (r.get("model") != "openai/gpt-oss-120b" or engine is None or r.get("image") != engine[1]
                or r.get("disagg") or r.get("is_multinode") or r.get("spec_decoding") != "none"
                or r.get("conc") not in CONCURRENCIES):
            continue
        key = (r["hw"], r["isl"], r["osl"], r["tp"], r["ep"], r["dp_attention"], r["conc"])
        if key not in latest or int(r["run"]) > int(latest[key]["run"]):
            latest[key] = r
    return [latest[k] for k in sorted(latest)]


def to_row(r: dict) -> dict:
    framework, image = ENGINES[r["hw"]]
    dep = r["dp_attention"] == "true"
    layout = f"{r['tp']}gpu" + (f"-ep{r['ep']}" if r["ep"] > 1 else "") + ("-dpa" if dep else "")
    run = r["run"]
    return {
        "id": f"imax-{RUN_DATES[run]}-b200-fp4-{framework}-gptoss-{_lengths(r['isl'])}{_lengths(r['osl'])}-{layout}-c{r['conc']}",
        "source_kind": "inferencemax",
        "source_url": f"https://github.com/SemiAnalysisAI/InferenceX/actions/runs/{run}",
        "date": RUN_DATES[run], "trust": "2", "hardware": "b200", "num_gpus": r["tp"],
        "model": "openai/gpt-oss-120b", "precision": "fp4", "framework": framework, "scenario": "fixed-concurrency",
        "isl_mean": f"{0.9 * r['isl']:.1f}", "osl_mean": f"{0.9 * r['osl']:.1f}", "isl_max": r["isl"], "osl_max": r["osl"],
        "concurrency": r["conc"], "target_qps": "", "ttft_p99_limit_ms": "", "tpot_p99_limit_ms": "",
        "tok_s_gpu": f"{r['output_tput_per_gpu']:.2f}", "tok_s_user": f"{r['median_intvty']:.2f}",
        "ttft_p50_ms": f"{1000 * r['median_ttft']:.2f}", "ttft_p99_ms": f"{1000 * r['p99_ttft']:.2f}",
        "tpot_p50_ms": f"{1000 * r['median_tpot']:.3f}", "tpot_p99_ms": f"{1000 * r['p99_tpot']:.3f}",
        "disaggregated": 0, "prefill_gpus": "", "decode_gpus": "", "tp": r["tp"], "ep": r["ep"], "pp": "",
        "dp_attention": int(dep), "mtp": 0,
        "notes": (f"single node; isl/osl_mean = 0.9 x nominal; headline in+out tok/s/GPU {r['tput_per_gpu']:.1f}; "
                  f"MXFP4 experts; image {image}; read via gminneci/mantile "
                  f"reconcile/sources/inferencemax/raw/run_{run}/agg_bmk.json @{MANTILE_COMMIT}"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, required=True, help="folder of run_<id>/agg_bmk.json copies")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    results = []
    for f in sorted(args.raw.glob("run_*/agg_bmk.json")):
        run = f.parent.name.removeprefix("run_")
        results += [{**r, "run": run} for r in json.loads(f.read_text())]
    rows = [to_row(r) for r in select(results)]
    with args.out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} rows -> {args.out}")


if __name__ == "__main__":
    main()
