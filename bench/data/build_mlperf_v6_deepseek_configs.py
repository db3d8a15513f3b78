"""Build ``mlperf_v6_deepseek_configs.csv``: the serving settings behind calibration.csv's MLPerf v6.0
DeepSeek-R1 rows, read from each submission's configuration file.

MLPerf Inference v6.0 submissions publish the TensorRT-LLM settings they ran with in
``closed/<submitter>/configs/<system>/<Scenario>/deepseek-r1.py``.  Two of them bear on what the
step model cannot see (docs/accuracy.md, ninth round): the MoE back end (its kernels per routed-expert
block) and attention-DP balancing, which holds new context requests for ``adp_balancing_batching_wait_iters``
to ``adp_balancing_timeout_iters`` iterations (a TTFT delay).  The files are Python; they are read
as text (regular expressions on literal settings), never executed.

Usage: ``python bench/data/build_mlperf_v6_deepseek_configs.py --repo <git dir of inference_results_v6.0>
[--measured ../shared/data/measured/calibration.csv]`` (the mirror used: gbeezybez/inference_results_v6.0
@232fbf9, a copy of mlcommons/inference_results_v6.0).  ``--round v5.1 --repo <git dir of
inference_results_v5.1>`` adds that round's rows (mlcommons/inference_results_v5.1); each run
replaces its own round's rows and keeps the others.
"""
from __future__ import annotations

import argparse
import csv
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "mlperf_v6_deepseek_configs.csv"
#: setting -> regular expression of its literal value in a config file
SETTINGS = {
    "moe_backend": r"'moe_backend':\s*'([A-Za-z_]+)'",
    "adp_balancing_enable": r"\"adp_balancing_enable\":\s*(True|False)",
    "adp_balancing_batching_wait_iters": r"\"adp_balancing_batching_wait_iters\":\s*(\d+)",
    "adp_balancing_timeout_iters": r"\"adp_balancing_timeout_iters\":\s*(\d+)",
    "enable_attention_dp": r"'enable_attention_dp':\s*(True|False)",
    "enable_chunked_context": r"'enable_chunked_context':\s*(True|False)",
    "runtime_max_num_tokens": r"trtllm_runtime_flags:\s*\{[^}]*?'max_num_tokens':\s*(\d+)",
    "max_concurrency": r"'max_concurrency':\s*(\d+)",
    "gpu_batch_size": r"gpu_batch_size:\s*\{\s*'deepseek-r1':\s*(\d+)",
    "server_target_qps": r"server_target_qps:\s*([\d.]+)",
    "tensor_parallelism": r"tensor_parallelism:\s*(\d+)",
    "moe_expert_parallelism": r"moe_expert_parallelism:\s*(\d+)",
}
COLUMNS = ["id", "config_path", "source_url", *SETTINGS]


def parse_config(text: str) -> dict[str, str]:
    """The first literal value of each setting in SETTINGS ('' where the file does not set it)."""
    out = {}
    for name, pattern in SETTINGS.items():
        m = re.search(pattern, text, flags=re.DOTALL)
        out[name] = m.group(1) if m else ""
    return out


def config_path(source_url: str) -> str | None:
    """``closed/<submitter>/configs/<system>/<Scenario>/deepseek-r1.py`` for a row's results URL
    (``.../closed/<submitter>/results/<system>[_TRT]/deepseek-r1/<Scenario>/...``)."""
    m = re.search(r"/(closed/[^/]+)/results/([^/]+?)(?:_TRT)?/deepseek-r1(?:-[^/]+)?/([A-Za-z]+)/", source_url)
    return f"{m.group(1)}/configs/{m.group(2)}/{m.group(3)}/deepseek-r1.py" if m else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True, help="git directory of a copy of mlcommons/inference_results_<round>")
    ap.add_argument("--round", default="v6.0", help="the MLPerf round whose DeepSeek-R1 rows to read (v6.0, v5.1)")
    ap.add_argument("--measured", default=str(HERE.parents[2] / "shared" / "data" / "measured" / "calibration.csv"))
    args = ap.parse_args()
    with open(args.measured, encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["id"].startswith(f"mlperf-{args.round}-") and "deepseek" in r["model"].lower()]
    out = []
    if OUT.exists():  # keep the other rounds' rows
        with open(OUT, encoding="utf-8") as f:
            out = [c for c in csv.DictReader(f) if not c["id"].startswith(f"mlperf-{args.round}-")]
    for r in rows:
        path = config_path(r["source_url"])
        if path is None:
            continue
        shown = subprocess.run(["git", f"--git-dir={args.repo}", "show", f"HEAD:{path}"], capture_output=True, text=True, check=False)
        if shown.returncode != 0:  # some systems keep the _TRT suffix in their configs folder too (v5.1 GB300 NVL72)
            trt = path.replace("/Offline/", "_TRT/Offline/").replace("/Server/", "_TRT/Server/").replace("/Interactive/", "_TRT/Interactive/")
            shown = subprocess.run(["git", f"--git-dir={args.repo}", "show", f"HEAD:{trt}"], capture_output=True, text=True, check=False)
            path = trt if shown.returncode == 0 else path
        if shown.returncode != 0:
            print(f"skip {r['id']}: {path} not in the copy")
            continue
        settings = parse_config(shown.stdout)
        if not settings["moe_backend"]:  # disaggregated submissions keep their engine settings in other files
            print(f"skip {r['id']}: {path} sets no moe_backend (disaggregated: settings live elsewhere)")
            continue
        out.append({"id": r["id"], "config_path": path,
                    "source_url": f"https://github.com/mlcommons/inference_results_{args.round}/blob/main/{path}", **settings})
    with open(OUT, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(sorted(out, key=lambda d: d["id"]))
    print(f"wrote {len(out)} rows to {OUT}")


if __name__ == "__main__":
    main()
