"""Consolidation (issue 14, item 6): the bundled ServeGen client table, and the default run timed.

    python bench/bench_consolidate.py --build-data [--servegen /work/shared/data/traces/servegen]
    python bench/bench_consolidate.py [--repeat 1] [--seeds N] [--out FILE]

``--build-data`` derives the compact per-client table the package reads at run time,
``src/gigafactory/consolidate/data/servegen_clients.json.gz``, from a copy of ServeGen's
``data/`` folder (Alibaba ServeGen, Apache-2.0; the shared copy's SOURCE.md), and copies the
licence next to it.  Per client it keeps: the 10-minute request-rate and inter-arrival-CV series,
the request-weighted mean input and output length per length window (ServeGen's dataset windows,
6 h), and one quantile sketch per length (the request-weighted mixture of every window's
distribution, each value divided by its window's mean; the last point is the 99.99th percentile;
scaled so the piecewise-linear quantile function has mean 1).  The package
never reads the shared copy.

Without ``--build-data`` it times ``consolidate_scenario`` on the default scenario (the
``gigafactory consolidate`` default) and prints the figures and wall times as JSON; ``--seeds N``
reruns it under seeds 1..N for the sampling spread of the figures (docs/consolidation.md).
"""
from __future__ import annotations

import argparse
import ast
import csv
import gzip
import json
import math
import os
import platform
import re
import shutil
import time
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[1] / "src" / "gigafactory" / "consolidate" / "data"
SHARED = Path("/work/shared/data/traces/servegen")
#: ServeGen subsets bundled: (folder, model it describes, length fields)
SUBSETS = (("language/m-small", "language"), ("reason/deepseek-r1", "reason"))
#: probability levels of the quantile sketches (denser in the upper tail, where long prompts sit)
U_GRID = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8,
          0.85, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1.0)


def _sig(x: float, digits: int = 4) -> float:
    if x == 0 or not math.isfinite(x):
        return 0.0
    return float(f"{x:.{digits}g}")


def _pmf(text: str) -> tuple[np.ndarray, np.ndarray]:
    d = ast.literal_eval(text)  # never eval: the upstream generator does, we do not
    if not d:
        return np.empty(0), np.empty(0)
    v = np.array([float(k) for k in d], dtype=float)
    p = np.array([float(x) for x in d.values()], dtype=float)
    keep = p > 0
    v, p = v[keep], p[keep]
    return v, p / p.sum()


def _sketch(values: list[np.ndarray], weights: list[np.ndarray]) -> list[float]:
    """Quantiles at U_GRID of the weighted mixture (values already divided by their window's mean), mean 1."""
    v = np.concatenate(values)
    w = np.concatenate(weights)
    o = np.argsort(v, kind="stable")
    v, w = v[o], w[o]
    cw = np.cumsum(w) / w.sum()
    # the last point (u = 1) is the 99.99th percentile, not the largest value: one outlier request
    # would otherwise spread 0.1 % of the mass up to it and dominate the mean
    q = np.array([v[min(np.searchsorted(cw, min(u, 0.9999)), v.size - 1)] if u > 0 else v[0] for u in U_GRID])
    u = np.asarray(U_GRID)
    mean = float(np.sum((q[1:] + q[:-1]) / 2 * np.diff(u)))  # mean of the piecewise-linear inverse CDF
    return [_sig(x / mean, 4) for x in q]


def build_client(folder: Path, cid: int, window_s: float) -> dict:
    with open(folder / f"chunk-{cid}-trace.csv", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    t = np.array([float(r[0]) for r in rows])
    rate = np.array([float(r[1]) for r in rows])
    cv = np.array([float(r[2]) if r[3] else 0.0 for r in rows])
    assert np.allclose(np.diff(t), window_s), "windows must be contiguous"
    with open(folder / f"chunk-{cid}-dataset.json", encoding="utf-8") as fh:
        data = json.load(fh)
    starts = sorted(int(k) for k in data)
    len_window = starts[1] - starts[0] if len(starts) > 1 else int(t[-1] + window_s)
    n_len = math.ceil((t[-1] + window_s) / len_window)
    req = rate * window_s
    block_req = np.bincount((t // len_window).astype(int), weights=req, minlength=n_len)[:n_len]
    mean_in = np.full(n_len, np.nan)
    mean_out = np.full(n_len, np.nan)
    vals: dict[str, list[np.ndarray]] = {"input_tokens": [], "output_tokens": []}
    wts: dict[str, list[np.ndarray]] = {"input_tokens": [], "output_tokens": []}
    for s in starts:
        b = s // len_window
        for key, means in (("input_tokens", mean_in), ("output_tokens", mean_out)):
            v, p = _pmf(data[str(s)][key])
            if v.size == 0:
                continue
            m = float(np.sum(v * p))
            means[b] = m
            if block_req[b] > 0:
                vals[key].append(v / m)
                wts[key].append(p * block_req[b])
    out = {"id": cid, "requests": _sig(float(req.sum()), 6)}
    for key, means, tag in (("input_tokens", mean_in, "input"), ("output_tokens", mean_out, "output")):
        ok = np.isfinite(means)
        overall = float(np.sum(means[ok] * block_req[ok]) / block_req[ok].sum()) if block_req[ok].sum() > 0 else float(np.nanmean(means))
        filled = np.where(ok, means, overall)
        out[f"mean_{tag}"] = [_sig(x, 4) for x in filled]
        out[f"{tag}_shape"] = _sketch(vals[key], wts[key]) if vals[key] else [1.0] * len(U_GRID)
    out["rate_rps"] = [_sig(x, 4) for x in rate]
    out["cv"] = [round(x, 2) for x in cv]
    return out, len_window


def build_data(servegen: Path, dest: Path = DATA_DIR) -> dict:
    dest.mkdir(parents=True, exist_ok=True)
    sets = {}
    for sub, kind in SUBSETS:
        folder = servegen / sub
        ids = sorted(int(re.search(r"chunk-(\d+)-trace", p.name).group(1)) for p in folder.glob("chunk-*-trace.csv"))
        clients = []
        len_window = None
        for cid in ids:
            c, lw = build_client(folder, cid, 600.0)
            len_window = lw
            clients.append(c)
        clients.sort(key=lambda c: -c["requests"])
        sets[sub] = {"kind": kind, "window_s": 600.0, "length_window_s": float(len_window), "windows": len(clients[0]["rate_rps"]),
                     "clients": clients}
    table = {
        "source": "Alibaba ServeGen (github.com/alibaba/ServeGen, data/, snapshot f891d1189eb32b3868dfc443800c4150548c282a), "
                  "Apache-2.0; Xiang et al., NSDI 2026 (arXiv 2505.09999). Derived by bench/bench_consolidate.py --build-data.",
        "u_grid": list(U_GRID),
        "sets": sets,
    }
    raw = json.dumps(table, separators=(",", ":")).encode("utf-8")
    path = dest / "servegen_clients.json.gz"
    with open(path, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
        gz.write(raw)  # mtime 0: the same input gives the same bytes
    shutil.copyfile(servegen / "LICENSE-APACHE-2.0.txt", dest / "LICENSE-APACHE-2.0.txt")
    return {"path": str(path), "bytes": path.stat().st_size, "json_bytes": len(raw),
            "clients": {k: len(v["clients"]) for k, v in sets.items()}}


def bench(repeat: int, seeds: int) -> dict:
    from gigafactory.catalog import load_catalog
    from gigafactory.consolidate import consolidate_scenario
    from gigafactory.pipeline import Pipeline
    from gigafactory.scenario import load_scenario

    cat = load_catalog()
    scn = load_scenario(None)
    pipe = Pipeline(cat, scn)
    t0 = time.perf_counter()
    pipe.result("economics")
    stages_s = time.perf_counter() - t0
    walls = []
    res = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = consolidate_scenario(cat, scn, pipeline=pipe)
        walls.append(time.perf_counter() - t0)
    spread = []
    for seed in range(1, seeds + 1):  # other seeds: the sampling spread of the figures
        r = consolidate_scenario(cat, scn.model_copy(update={"seed": seed}), pipeline=pipe)
        spread.append({"seed": seed, "separate_gpus": r.separate.gpus, "shared_gpus": r.shared.gpus,
                       "gpu_saving_share": r.gpu_saving_share, "shared_units": r.shared_pool.units,
                       "tenant_units": [t.units for t in r.tenants]})
    return {"machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                        "python": platform.python_version(), "numpy": np.__version__},
            "stages_s": stages_s, "wall_s": walls, "best_s": min(walls), "seed_spread": spread, "result": res.model_dump(mode="json")}


def summary(res: dict) -> dict:
    r = res["result"]
    return {"separate": r["separate"], "shared": r["shared"], "gpus_saved": r["gpus_saved"], "gpu_saving_share": r["gpu_saving_share"],
            "fluid_saving": r["fluid_saving"], "aggregate_peak_to_mean": r["aggregate_peak_to_mean"],
            "cost_per_gpu_hour_usd": r["cost_per_gpu_hour_usd"],
            "tenants": [{k: t[k] for k in ("name", "units", "gpus", "peak_to_mean", "attainment", "busy_utilisation", "token_utilisation",
                                           "cost_per_mtok_usd")} for t in [*r["tenants"], r["shared_pool"]]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-data", action="store_true", help="derive the bundled client table from a ServeGen copy")
    ap.add_argument("--servegen", type=Path, default=SHARED, help="ServeGen data/ copy (default: the shared one)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=0, help="also run the default with seeds 1..N (sampling spread)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = build_data(args.servegen) if args.build_data else bench(args.repeat, args.seeds)
    text = json.dumps(out, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text if args.build_data else json.dumps({k: v for k, v in out.items() if k != "result"} | {"summary": summary(out)}, indent=2))


if __name__ == "__main__":
    main()
