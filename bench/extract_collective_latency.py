"""Fixed cost of one all-reduce per GPU and engine, from NVIDIA's measured collectives.

Writes src/gigafactory/perf/data/collective_latency.yaml from AIConfigurator's silicon database:

    python3 -m venv /tmp/aic-venv && /tmp/aic-venv/bin/pip install aiconfigurator==0.12.0
    python bench/extract_collective_latency.py \
        --db /tmp/aic-venv/lib/python3.11/site-packages/aiconfigurator_core/systems/data

Each database row is one all-reduce of ``message_size`` BF16 elements over ``num_gpus`` GPUs of one
NVLink domain, timed with the engine's own all-reduce kernel (TensorRT-LLM's custom all-reduce;
vLLM's and SGLang's custom all-reduce, captured in a CUDA graph as their decode steps run it).
The step model charges a collective its bytes at the link rate plus a fixed latency; for messages up to 64 KiB the bytes take under 0.2 us on NVLink, so the
median latency of those rows is the fixed part.  Per GPU: the newest engine version in the
database, 8 GPUs; per generation (for GPUs not measured): the median over its GPUs.
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path
from statistics import median

import duckdb
import yaml

#: database system -> (GPU generation, catalog accelerators it stands for).  The 8-GPU HGX boards,
#: measured at TP8; the NVL72 systems' GPUs (b200-gb200, b300-gb300) take their HGX sibling's
#: values, which their own measurements within one tray (2-4 GPUs: TensorRT-LLM 3.9-4.9 us, vLLM
#: and SGLang graphs 3.6-7.9 us) agree with; across trays (8-16 GPUs) vLLM and SGLang take 14-50 us,
#: and no measured row runs those engines across NVL72 trays.
SYSTEMS = {"h100_sxm": ("hopper", ("h100-sxm",)), "h200_sxm": ("hopper", ("h200-sxm",)),
           "b200_sxm": ("blackwell", ("b200", "b200-gb200")), "b300_sxm": ("blackwell-ultra", ("b300", "b300-gb300"))}
ENGINES = ("trtllm", "vllm", "sglang")
SMALL_BYTES = 64 * 1024
OUT = Path(__file__).resolve().parents[1] / "src" / "gigafactory" / "perf" / "data" / "collective_latency.yaml"


def _version_key(v: str) -> tuple:
    return tuple(int(x) if x.isdigit() else x for x in re.findall(r"\d+|[a-z]+", v))


def measure(db: Path) -> list[dict]:
    """One entry per (database system, engine) measured."""
    con = duckdb.connect()
    out = []
    for system, (gen, accelerators) in SYSTEMS.items():
        for engine in ENGINES:
            base = db / system / "comm" / engine
            if not base.is_dir():
                continue
            versions = sorted((p.name for p in base.iterdir() if (p / "custom_allreduce_perf.parquet").exists()), key=_version_key)
            if not versions:
                continue
            f = base / versions[-1] / "custom_allreduce_perf.parquet"
            # BF16 elements: 2 bytes each.  Decode steps run as CUDA graphs: vLLM's and SGLang's eagerly launched all-reduce
            # (3-8 x slower at these sizes) is not what a serving step pays
            row = con.execute(f"select median(latency) from '{f}' where num_gpus = 8 and message_size * 2 <= {SMALL_BYTES} "
                              "and kernel_source not ilike '%eager%'").fetchone()
            if row[0] is None:
                continue
            out.append({"system": system, "generation": gen, "accelerators": list(accelerators), "engine": engine,
                        "version": versions[-1], "gpus": 8, "latency_us": round(float(row[0]) * 1e3, 2)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="aiconfigurator_core/systems/data of aiconfigurator 0.12.0")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    measured = measure(Path(args.db))
    by_gen: dict[tuple[str, str], list[float]] = {}
    for e in measured:
        by_gen.setdefault((e["generation"], e["engine"]), []).append(e["latency_us"])
    generations = [{"generation": g, "engine": eng, "latency_us": round(median(v), 2)} for (g, eng), v in sorted(by_gen.items())]
    body = {
        "description": ("Fixed latency of one collective (all-reduce; the step model charges the all-to-all the same) "
                        "per GPU and engine [us]: measured, not fitted (perf/collectives.py)."),
        "source": ("NVIDIA AIConfigurator 0.12.0 silicon database (aiconfigurator-core 0.12.0 wheel on PyPI, Apache-2.0), "
                   "systems/data/<system>/comm/<engine>/<version>/custom_allreduce_perf.parquet"),
        "statistic": (f"median latency of BF16 all-reduces of at most {SMALL_BYTES // 1024} KiB over 8 GPUs of an HGX board, newest engine "
                      "version in the database; 'generations': the median over the generation's boards, for GPUs not measured"),
        "read": dt.date.today().isoformat(),
        "command": "python bench/extract_collective_latency.py --db <aiconfigurator_core>/systems/data",
        "unit": "us",
        "measured": measured,
        "generations": generations,
    }
    Path(args.out).write_text(yaml.safe_dump(body, sort_keys=False, width=110), encoding="utf-8")
    for e in measured:
        print(e["system"], e["engine"], e["version"], e["latency_us"])


if __name__ == "__main__":
    main()
