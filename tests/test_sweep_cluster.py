"""Sweeps as separate processes (issue 19): a sweep killed mid-way and resumed ends with every
point exactly once; a sweep sent to a Ray head started with `ray start --head` on loopback.

Every process a test starts runs in a session of its own and is ended by its id when the test
ends (`ray stop` is not used: it ends every Ray process of the user on the machine, other
people's sweeps included)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")  # installed with ray

SPEC = """name: {name}
stages: [economics]
options: {{economics_samples: {samples}}}
parameters:
  - path: finance.wacc
    range: [0.06, 0.12]
    steps: {steps}
"""


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "GIGAFACTORY_HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0", "RAY_ADDRESS": "", "COLUMNS": "160"}


def _end_session(sid: int) -> None:
    """SIGKILL every process of session ``sid`` (one this test started with start_new_session)."""
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid != os.getpid() and os.getsid(proc.pid) == sid:
                proc.kill()
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue


def _session_alive(sid: int) -> list[int]:
    out = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                out.append(proc.pid)
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
    return out


def _rows(log: Path) -> list[dict]:
    rows = []
    for line in log.read_text().splitlines() if log.exists() else []:
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass  # a line torn by the kill
    return rows


def test_killed_sweep_resumes_with_every_point_once(tmp_path):
    """The driver is killed (SIGKILL, no chance to clean up) once 2 of 12 points are on disk; the same
    command then runs only the rest.  Each point computes an economics Monte Carlo of 20,000 samples
    on one worker, so the kill lands long before the 12th point."""
    n = 12
    spec = tmp_path / "kill.yaml"
    spec.write_text(SPEC.format(name="kill", samples=20_000, steps=n))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "gigafactory", "sweep", "run", str(spec), "--out", str(out), "--workers", "1", "--json"]
    env = _env(tmp_path / "home")
    log = tmp_path / "driver.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=sink)
    try:
        deadline = time.monotonic() + 240
        while len(_rows(out / "points.jsonl")) < 2:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the sweep recorded no points"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        _end_session(proc.pid)
    done = {r["point"] for r in _rows(out / "points.jsonl")}
    assert 2 <= len(done) < n
    assert not (out / "results.parquet").exists()  # killed before the table: only the log holds the points

    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, start_new_session=True)
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    assert body["resumed_from"] == len(done) and body["ran"] == n - len(done) and body["ok"] == n
    rows = _rows(out / "points.jsonl")
    assert sorted(r["point"] for r in rows) == list(range(n))  # each point exactly once
    from gigafactory.sweep.store import connect

    assert connect(out / "results.parquet").execute("SELECT count(*), count(DISTINCT point) FROM points").fetchall() == [(n, n)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head(tmp_path):
    """`ray start --head` on loopback with one CPU, every port chosen free (other Ray users share
    this machine); --block keeps it in the foreground so the test owns it and SIGTERM ends it.
    Ray >= 2.5x authenticates drivers with a token: the head and the sweep share one through
    RAY_AUTH_TOKEN, as a cluster's nodes and drivers would (docs/sweeps.md)."""
    import secrets

    ray_cli = Path(sys.executable).parent / "ray"
    port = _free_port()
    cmd = [str(ray_cli), "start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false", "--node-ip-address=127.0.0.1",
           f"--dashboard-agent-listen-port={_free_port()}", f"--dashboard-agent-grpc-port={_free_port()}",
           f"--runtime-env-agent-port={_free_port()}", f"--metrics-export-port={_free_port()}", f"--node-manager-port={_free_port()}",
           f"--object-manager-port={_free_port()}", "--object-store-memory=100000000", "--disable-usage-stats", "--block"]
    env = {**_env(tmp_path / "home"), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    log = tmp_path / "head.log"
    with log.open("wb") as sink:
        head = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in log.read_text():
            assert head.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield f"127.0.0.1:{port}", env
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the processes it started
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            head.kill()
        time.sleep(1)
        _end_session(head.pid)
        assert not _session_alive(head.pid), "Ray processes left behind"


def test_sweep_on_an_existing_ray_head(ray_head, tmp_path):
    address, env = ray_head
    spec = tmp_path / "cluster.yaml"
    spec.write_text(SPEC.format(name="cluster", samples=0, steps=3))
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "gigafactory", "sweep", "run", str(spec), "--out", str(out), "--address", address, "--json"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    assert body["points"] == 3 and body["ok"] == 3
    rows = _rows(out / "points.jsonl")
    assert sorted(r["point"] for r in rows) == [0, 1, 2]
    assert len({r["npv_usd"] for r in rows}) == 3  # three discount rates, three NPVs
    # an address with nothing behind it is a named input problem, not a hang or a traceback
    bad = subprocess.run([sys.executable, "-m", "gigafactory", "sweep", "run", str(spec), "--out", str(tmp_path / "o2"), "--address",
                          f"127.0.0.1:{_free_port()}"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "--address" in bad.stderr
