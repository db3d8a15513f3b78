"""Bench: 1,000 concurrent streaming clients against `gigafactory serve` on loopback.

The server runs in its own process (so its peak RSS and CPU time are its own): one pool of
llama-3.3-70b on gb300-nvl72, TP2 FP8, ``--replicas`` engine instances of 256 sequences, in
real time (speedup 1).  The client (gigafactory.emulator.loadgen, raw asyncio) opens all
streams at once, each a 512-token prompt (token ids) and 128 output tokens (ignore_eos).

Reports: errors, tokens streamed, peak RSS of the server (VmHWM), the server's CPU time per
streamed token (its overhead: HTTP, JSON, SSE, engine and driver), client TTFT/TPOT
percentiles x the speedup, and the engine's own figures for comparison.

    python bench/bench_emulator.py [--clients 1000] [--replicas 4] [--osl 128]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np


def serve(port: int, replicas: int, speedup: float) -> None:
    from gigafactory.catalog import load_catalog
    from gigafactory.emulator import build_pool, explicit_spec
    from gigafactory.emulator.app import Settings, create_app
    from gigafactory.emulator.server import uvicorn_config
    import uvicorn

    pool = build_pool(load_catalog(), explicit_spec("llama-3.3-70b", "gb300-nvl72", tp=2, max_seqs=256, replicas=replicas))
    app = create_app([pool], Settings(speedup=speedup, max_waiting=0))
    uvicorn.Server(uvicorn_config(app, "127.0.0.1", port)).run()


def _proc_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak RSS bytes) of process ``pid`` from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    cpu = (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        hwm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))
    return cpu, hwm


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--replicas", type=int, default=4)
    ap.add_argument("--isl", type=int, default=512)
    ap.add_argument("--osl", type=int, default=128)
    ap.add_argument("--speedup", type=float, default=1.0)
    ap.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        serve(a.serve, a.replicas, a.speedup)
        return
    import httpx

    from gigafactory.emulator.loadgen import open_loop
    from gigafactory.emulator.server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--replicas", str(a.replicas), "--speedup", str(a.speedup)])
    try:
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        cpu0, _ = _proc_stats(proc.pid)
        rng = np.random.default_rng(1)
        bodies = [{"model": "llama-3.3-70b", "prompt": rng.integers(0, 50000, a.isl).tolist(), "max_tokens": a.osl, "ignore_eos": True}
                  for _ in range(a.clients)]
        t0 = time.perf_counter()
        res = asyncio.run(open_loop("127.0.0.1", port, np.zeros(a.clients), bodies))
        wall = time.perf_counter() - t0
        cpu1, hwm = _proc_stats(proc.pid)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    errors = [r.error for r in res if r.error]
    tokens = sum(r.completion_tokens for r in res)
    ttft = np.array([r.ttft_s for r in res if not r.error]) * a.speedup
    tpot = np.array([r.tpot_s for r in res if not r.error]) * a.speedup

    def hist_mean(name: str) -> float:
        s = next(float(x.split()[-1]) for x in metrics.splitlines() if x.startswith(name + "_sum"))
        c = next(float(x.split()[-1]) for x in metrics.splitlines() if x.startswith(name + "_count"))
        return s / c if c else float("nan")

    out = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version(),
        "clients": a.clients, "replicas": a.replicas, "isl": a.isl, "osl": a.osl, "speedup": a.speedup,
        "errors": len(errors), "first_errors": errors[:3], "wall_s": round(wall, 2), "tokens_streamed": tokens,
        "server_peak_rss_mib": round(hwm / 2**20, 1), "server_cpu_s": round(cpu1 - cpu0, 2),
        "server_cpu_us_per_token": round((cpu1 - cpu0) / max(tokens, 1) * 1e6, 1),
        "client_ttft_s": {f"p{q}": round(float(np.percentile(ttft, q)), 3) for q in (50, 90, 99)} if ttft.size else None,
        "client_tpot_ms": {f"p{q}": round(float(np.nanpercentile(tpot, q)) * 1e3, 1) for q in (50, 90, 99)} if tpot.size else None,
        "engine_mean_ttft_s": round(hist_mean("vllm:time_to_first_token_seconds"), 3),
        "engine_mean_itl_ms": round(hist_mean("vllm:inter_token_latency_seconds") * 1e3, 1),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
