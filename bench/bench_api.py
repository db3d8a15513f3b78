"""Benchmark: REST API latency of scenario validation, idle and while a plan job runs.

Starts `gigafactory ui` on loopback (a temporary store and keys file), then times
POST /api/validate of the bundled default scenario over HTTP (YAML text and JSON object), and
the same plus the web app's pages while a cold default-scenario plan (--no-cache) runs.

Run: python bench/bench_api.py [--repeat 50]   (paste the printed table into docs/benchmarks.md)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEY = "bench-key-0123456789abcdef"


def _stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
    return f"median {statistics.median(xs) * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms, max {xs[-1] * 1e3:.1f} ms (n={len(xs)})"


def main() -> None:
    import httpx
    import yaml

    from gigafactory.scenario import default_scenario_path

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gf-bench-api-"))
    (tmp / "keys.yaml").write_text(f"bench: {KEY}\n")
    env = {**os.environ, "GIGAFACTORY_HOME": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "gigafactory", "ui", "--port", "0", "--keys", str(tmp / "keys.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        url = proc.stdout.readline().split("open ")[1].strip()
        text = default_scenario_path().read_text()
        data = json.loads(json.dumps(yaml.safe_load(text), default=str))
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as c:
            def timed(fn) -> float:
                t0 = time.perf_counter()
                r = fn()
                dt = time.perf_counter() - t0
                assert r.status_code == 200, r.text[:300]
                return dt

            for _ in range(3):
                timed(lambda: c.post("/api/validate", json={"yaml": text}))
            idle_yaml = [timed(lambda: c.post("/api/validate", json={"yaml": text})) for _ in range(args.repeat)]
            idle_json = [timed(lambda: c.post("/api/validate", json={"scenario": data})) for _ in range(args.repeat)]
            job = c.post("/api/jobs", json={"yaml": text, "options": {"no_cache": True}}).json()
            busy, pages = [], []
            while c.get(f"/api/jobs/{job['id']}").json()["state"] in ("queued", "running"):
                busy.append(timed(lambda: c.post("/api/validate", json={"yaml": text})))
                pages.append(timed(lambda: c.get("/")))
                pages.append(timed(lambda: c.get("/api/runs")))
                time.sleep(0.05)
            final = c.get(f"/api/jobs/{job['id']}").json()
    finally:
        proc.terminate()
        proc.wait(60)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"{platform.python_implementation()} {platform.python_version()}")
    print(f"POST /api/validate, default scenario as YAML, idle:      {_stats(idle_yaml)}")
    print(f"POST /api/validate, default scenario as JSON, idle:      {_stats(idle_json)}")
    print(f"POST /api/validate while a cold plan job runs:           {_stats(busy)}")
    print(f"GET / and GET /api/runs while the plan job runs:         {_stats(pages)}")
    print(f"the plan job: {final['state']} ({final['started']} -> {final['finished']})")


if __name__ == "__main__":
    main()
