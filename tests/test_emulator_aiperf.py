"""A benchmark client from the package registry, offline, against the emulator: NVIDIA AIPerf
with the emulator's shipped GPT-2 tokenizer folder (no hub access).  aiperf is installed by the
project itself in its own venv the first time (`gigafactory.emulator.clients.ensure_aiperf`, a few
minutes, started in the background when the test session begins: tests/conftest.py); AIPERF_BIN may point at an existing one; GIGAFACTORY_SKIP_AIPERF=1 skips the test."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import aiperf_install

pytest.importorskip("fastapi")
pytestmark = pytest.mark.skipif(os.environ.get("GIGAFACTORY_SKIP_AIPERF") == "1", reason="GIGAFACTORY_SKIP_AIPERF=1")


@pytest.fixture(scope="module")
def aiperf() -> str:
    return str(aiperf_install())  # installing started with the session (conftest)


def test_aiperf_profiles_the_emulator_offline(tmp_path, aiperf):
    from gigafactory.catalog import load_catalog
    from gigafactory.emulator import build_pool, explicit_spec
    from gigafactory.emulator.app import Settings, create_app
    from gigafactory.emulator.server import ThreadedServer
    from gigafactory.emulator.tokenizer import tokenizer_dir

    pool = build_pool(load_catalog(), explicit_spec("llama-3.3-70b", "gb300-nvl72", tp=2, max_seqs=64))
    with ThreadedServer(create_app([pool], Settings(speedup=10))) as srv:
        cmd = [aiperf, "profile", "--model", "llama-3.3-70b", "--url", srv.url, "--endpoint-type", "chat", "--streaming",
               "--tokenizer", str(tokenizer_dir()), "--request-count", "20", "--concurrency", "4",
               "--synthetic-input-tokens-mean", "100", "--output-tokens-mean", "20", "--extra-inputs", "ignore_eos:true",
               "--ui-type", "none", "--artifact-dir", str(tmp_path / "out")]
        env = dict(os.environ, HF_HUB_DISABLE_TELEMETRY="1")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads((tmp_path / "out" / "profile_export_aiperf.json").read_text())
    assert out["request_count"]["avg"] == 20
    assert not out.get("error_summary")
    assert out["output_token_count"]["min"] == out["output_token_count"]["max"] == 20  # ignore_eos honoured
    assert out["time_to_first_token"]["count"] == 20
