"""Build ``mlperf_v5_1_all.csv``: every valid closed-division MLPerf Inference v5.1 LLM result that
``shared/data/measured/calibration.csv`` does not hold, from every submitter.

calibration.csv holds 28 v5.1 rows (14 of them NVIDIA's own).  The round has over 200 more valid
GPU results on the same benchmarks, most from submitters with no row in calibration.csv (Dell,
Supermicro, ASUSTeK, Azure, Google, Oracle, Quanta, GigaComputing, Lambda, AMD, ...): results the
fit never saw, on systems it knows (B200, H200, H100, GB200, GB300) and on systems it does not
(H200 NVL, AMD Instinct MI300X / MI325X, RTX PRO 6000).  ``bench/bench_mlperf_v5_1_all.py``
predicts them.

Selection, fixed before any prediction was made:

- benchmarks llama2-70b-99, llama3.1-8b, llama3.1-405b, deepseek-r1 and mixtral-8x7b; the -99.9
  accuracy variant of llama2-70b is left out (the same model and usually the same engine: it
  would count most systems twice);
- scenarios Offline, Server and Interactive; results LoadGen marks VALID;
- systems with accelerators: CPU-only results (Intel Xeon llama3.1-8b runs) are left out;
- every result whose ``performance/run_1/mlperf_log_summary.txt`` is not a ``source_url`` of
  calibration.csv.

How each cell is read (the column format of calibration.csv, see its README):

- ``tok_s_gpu``: Offline "Tokens per second", Server / Interactive "Completed tokens per second",
  divided by the accelerators of ``systems/<system>.json`` (per node x nodes);
  ``osl_mean`` = tokens per second / samples per second (completed samples for Server), both at
  the six significant digits of ``mlperf_log_detail.txt`` (the summary rounds samples per second
  to two decimals, 0.5 % on a 405B run); ``date`` is its ``test_datetime``.
- Server / Interactive: ``target_qps``, p50 / p99 TTFT and TPOT and the limits from the summary.
- ``isl_mean`` / ``isl_max`` / ``osl_max``: the benchmark datasets, as in
  ``shared/data/measured/isl_sources.md`` (mixtral-8x7b from the same source's summary file,
  see BENCHMARKS).
- ``hardware``: the catalog's id for the accelerator named in the system description, or a slug
  of that name when the catalog has no such accelerator or the system mixes two kinds (the bench
  reports it as a coverage gap).
- ``precision`` and the parallel layout: the submitter's own configuration
  (``configs/<system>/<Scenario>/<benchmark>.py``, NVIDIA's harness) where it names one value;
  otherwise the precision the harness runs on that GPU generation (FP8 on Hopper and CDNA3,
  FP4 on Blackwell) and a blank layout (searched).  The note says which.
- ``framework``: ``vllm`` / ``sglang`` where the system description names them; ``vllm`` for the
  other ROCm stacks (MangoBoost's LLMBoost), whose engine is not named; else ``trtllm``.
- ``trust`` 2: official results, read from the logs, some cells (precision, layout) inferred.

Usage: ``python bench/data/build_mlperf_v5_1.py --repo <clone of mlcommons/inference_results_v5.1>``
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "mlperf_v5_1_all.csv"
CALIBRATION = HERE.parents[2] / "shared" / "data" / "measured" / "calibration.csv"
URL = "https://github.com/mlcommons/inference_results_v5.1/blob/main/"
#: benchmark directory -> (catalog model name, config file stem, isl_mean, isl_max, osl_max)
#: (lengths: shared/data/measured/isl_sources.md; mixtral-8x7b, not tabulated there, from the same
#: per-sample summaries: openshift-psap/performance-dashboard @71007029,
#: mlperf-data/summaries/mixtral-8x7b.csv, 15,000 samples, mean output 144.84 as MLCommons states)
BENCHMARKS = {
    "llama2-70b-99": ("meta-llama/Llama-2-70b-chat-hf", "llama2-70b", "222.3", "1021", "1024"),
    "llama3.1-8b": ("meta-llama/Llama-3.1-8B-Instruct", "llama3_1-8b", "870.7", "2540", "128"),
    "llama3_1-8b": ("meta-llama/Llama-3.1-8B-Instruct", "llama3_1-8b", "870.7", "2540", "128"),
    "llama3.1-405b": ("meta-llama/Llama-3.1-405B-Instruct", "llama3_1-405b", "9428.6", "19988", "2000"),
    "llama3_1-405b": ("meta-llama/Llama-3.1-405B-Instruct", "llama3_1-405b", "9428.6", "19988", "2000"),
    "deepseek-r1": ("deepseek-ai/DeepSeek-R1", "deepseek-r1", "803.8", "3140", "20000"),
    "mixtral-8x7b": ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b", "427.4", "1948", "1024"),
}
SCENARIOS = {"Offline": "offline", "Server": "server", "Interactive": "interactive"}
#: accelerator name (system description) -> (catalog hardware id, generation precision)
HARDWARE = [
    (r"GB300", "gb300-nvl72", "fp4"), (r"GB200", "gb200-nvl72", "fp4"), (r"GH200", "gh200", "fp8"), (r"B300", "b300", "fp4"), (r"B200", "b200", "fp4"),
    (r"H200.*NVL|NVL.*H200", "h200-nvl", "fp8"), (r"H200", "h200-sxm", "fp8"), (r"H100.*NVL|NVL.*H100", "h100-nvl", "fp8"),
    (r"H100", "h100-sxm", "fp8"), (r"MI300X.*MI325X|MI325X.*MI300X", "mixed-mi300x-mi325x", ""),
    (r"MI355X", "mi355x", "fp4"), (r"MI325X", "mi325x", "fp8"), (r"MI300X", "mi300x", "fp8"),
    (r"RTX PRO 6000|RTX_PRO_6000", "rtx-pro-6000", "fp4"), (r"L40S", "l40s", "fp8"),
]
PATH = re.compile(r"^closed/([^/]+)/results/([^/]+)/([^/]+)/(Offline|Server|Interactive)/performance/run_1/mlperf_log_summary\.txt$")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def show(repo: Path, path: str) -> str | None:
    try:
        return git(repo, "show", f"HEAD:{path}")
    except subprocess.CalledProcessError:
        return None


def field(text: str, label: str) -> float | None:
    m = re.search(rf"^{re.escape(label)}\s*:\s*([0-9.eE+]+)\s*$", text, re.MULTILINE)
    return float(m.group(1)) if m else None


def logged(detail: str, key: str) -> float | None:
    """A numeric result from LoadGen's ``mlperf_log_detail.txt`` (``:::MLLOG`` JSON lines)."""
    m = re.search(rf'"key": "{re.escape(key)}", "value": ([0-9.eE+-]+)', detail)
    return float(m.group(1)) if m else None


def hardware_of(name: str) -> tuple[str, str]:
    for pattern, hw, precision in HARDWARE:
        if re.search(pattern, name, re.IGNORECASE):
            return hw, precision
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"), ""


def config_values(text: str | None) -> dict[str, set[str]]:
    """Values the submitter's configuration file gives for the precision and the layout."""
    if not text:
        return {}
    pats = {"precision": r"model_fields\.precision\s*:\s*['\"](\w+)['\"]", "tp": r"tensor_parallelism\s*:\s*(\d+)",
            "pp": r"pipeline_parallelism\s*:\s*(\d+)", "ep": r"moe_expert_parallelism\s*:\s*(\d+)",
            "dp_attention": r"['\"]enable_attention_dp['\"]\s*:\s*(True|False)"}
    return {k: set(re.findall(p, text)) for k, p in pats.items()}


def one(values: dict[str, set[str]], key: str) -> str:
    v = values.get(key) or set()
    return next(iter(v)) if len(v) == 1 else ""


def build(repo: Path) -> tuple[list[str], list[dict[str, str]]]:
    known = set()
    with CALIBRATION.open() as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames  # the rows are written in calibration.csv's format
        for r in reader:
            if r["source_url"].startswith(URL):  # this round's: other rounds reuse the same paths
                known.add(r["source_url"].removeprefix(URL))
    files = git(repo, "ls-tree", "-r", "--name-only", "HEAD", "closed/").splitlines()
    rows = []
    for path in files:
        m = PATH.match(path)
        if not m or path in known:
            continue
        submitter, system, bench, scen = m.groups()
        if bench not in BENCHMARKS:
            continue
        text = show(repo, path) or ""
        if not re.search(r"Result is\s*:\s*VALID", text):
            continue
        desc = json.loads(show(repo, f"closed/{submitter}/systems/{system}.json") or "{}")
        gpus = int(desc.get("accelerators_per_node") or 0) * int(desc.get("number_of_nodes") or 1)
        if gpus <= 0:
            continue
        model, stem, isl, isl_max, osl_max = BENCHMARKS[bench]
        acc = str(desc.get("accelerator_model_name", ""))
        hw, gen_precision = hardware_of(f"{acc} {system}")
        stack = f"{desc.get('framework', '')} {desc.get('other_software_stack', '')}"
        framework = ("vllm" if re.search(r"vllm", stack, re.IGNORECASE) else "sglang" if re.search(r"sglang", stack, re.IGNORECASE)
                     else "vllm" if re.search(r"rocm|llmboost", stack, re.IGNORECASE) else "trtllm")
        cfg_dir = system.removesuffix("_TRT")
        cfg = config_values(show(repo, f"closed/{submitter}/configs/{cfg_dir}/{scen}/{stem}.py"))
        precision = one(cfg, "precision")
        notes = [f"MLPerf v5.1 closed, {submitter}, system {system} ({acc}; sw: {desc.get('framework', '')})",
                 "read from mlcommons/inference_results_v5.1 by bench/data/build_mlperf_v5_1.py"]
        if precision:
            notes.append(f"precision from configs/{cfg_dir}/{scen}/{stem}.py")
        else:
            precision = gen_precision
            notes.append(f"precision {precision or 'unknown'}: the harness default on this GPU generation (no single value in a configuration)")
        tp, pp, ep = one(cfg, "tp"), one(cfg, "pp"), one(cfg, "ep")
        dp = {"True": "1", "False": "0"}.get(one(cfg, "dp_attention"), "")
        if tp:
            notes.append("layout from the configuration")
        else:
            tp = pp = ep = dp = ""
            notes.append("layout not read (searched)")
        detail = show(repo, path.replace("mlperf_log_summary.txt", "mlperf_log_detail.txt")) or ""
        keys = ("result_tokens_per_second", "result_samples_per_second") if scen == "Offline" else \
            ("result_completed_tokens_per_second", "result_completed_samples_per_sec")
        tok, samples = (logged(detail, k) for k in keys)
        if not tok or not samples:  # no detail log: the summary's rounded figures
            if scen == "Offline":
                tok, samples = field(text, "Tokens per second"), field(text, "Samples per second")
            else:
                tok, samples = field(text, "Completed tokens per second"), field(text, "Completed samples per second")
        when = re.search(r'"key": "test_datetime", "value": "(\d{4}-\d{2}-\d{2})', detail)
        if not tok or not samples:
            continue
        row = dict.fromkeys(columns, "")
        sub = submitter.lower().replace("_", "-")
        tag = re.sub(r"[^a-z0-9]+", "-", system.lower()).strip("-")
        row.update(id=f"mlperf-v5.1-{sub}-{tag}-{bench.replace('_', '.').replace('-99', '')}-{SCENARIOS[scen]}",
                   source_kind="mlperf", source_url=URL + path, date=when.group(1) if when else "2025-09", trust="2", hardware=hw, num_gpus=str(gpus),
                   model=model, precision=precision, framework=framework, scenario=SCENARIOS[scen], isl_mean=isl,
                   osl_mean=f"{tok / samples:.1f}", isl_max=isl_max, osl_max=osl_max, tok_s_gpu=f"{tok / gpus:.2f}",
                   disaggregated="0", tp=tp, ep=ep, pp=pp, dp_attention=dp, mtp="0")
        if scen != "Offline":
            ns = {k: field(text, k) for k in ("50.00 percentile first token latency (ns)", "99.00 percentile first token latency (ns)",
                                              "50.00 percentile time to output token (ns)", "99.00 percentile time to output token (ns)",
                                              "ttft_latency (ns)", "tpot_latency (ns)", "target_qps")}
            ms = {k: (v / 1e6 if v is not None else None) for k, v in ns.items()}
            row.update(target_qps=f"{ns['target_qps']:g}" if ns["target_qps"] else "",
                       ttft_p99_limit_ms=f"{ms['ttft_latency (ns)']:g}" if ms["ttft_latency (ns)"] else "",
                       tpot_p99_limit_ms=f"{ms['tpot_latency (ns)']:g}" if ms["tpot_latency (ns)"] else "",
                       ttft_p50_ms=f"{ms['50.00 percentile first token latency (ns)']:.2f}",
                       ttft_p99_ms=f"{ms['99.00 percentile first token latency (ns)']:.2f}",
                       tpot_p50_ms=f"{ms['50.00 percentile time to output token (ns)']:.2f}",
                       tpot_p99_ms=f"{ms['99.00 percentile time to output token (ns)']:.2f}",
                       tok_s_user=f"{1e3 / ms['50.00 percentile time to output token (ns)']:.2f}")
        row["notes"] = "; ".join(notes)
        rows.append(row)
    rows.sort(key=lambda r: r["id"])
    return columns, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True, help="a clone of mlcommons/inference_results_v5.1")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    repo = Path(args.repo)
    columns, rows = build(repo)
    commit = git(repo, "rev-parse", "HEAD").strip()
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} rows from mlcommons/inference_results_v5.1 @ {commit[:8]} -> {args.out}")


if __name__ == "__main__":
    main()
