"""Shared fixtures.  Tests run against the installed package and the bundled data."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from gigafactory.catalog import load_catalog
from gigafactory.cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Property tests are reproducible run to run (same examples every time, on any machine) and free of
# wall-clock deadlines, which a loaded 2-core CI machine would trip.
settings.register_profile("gigafactory", derandomize=True, deadline=None)
settings.load_profile("gigafactory")


#: aiperf's installation (gigafactory.emulator.clients.ensure_aiperf: a venv of ~1.2 GB, 2-3 minutes of
#: pip on a 2-core machine), started in a process of its own when the session begins, so it runs
#: beside the tests before tests/test_emulator_aiperf.py, which waits for it (``aiperf_install``).
#: A process, not a thread: fork/exec from a second thread failed once in CI (EFAULT).
_AIPERF: dict[str, Any] = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    wanted = any(item.nodeid.startswith("tests/test_emulator_aiperf.py") for item in session.items)
    if wanted and os.environ.get("GIGAFACTORY_SKIP_AIPERF") != "1" and not os.environ.get("AIPERF_BIN"):
        import subprocess
        import sys

        code = "from gigafactory.emulator.clients import ensure_aiperf; ensure_aiperf()"
        _AIPERF["proc"] = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                           start_new_session=True)  # its own process group: pip goes with it


def pytest_sessionfinish(session: pytest.Session) -> None:
    proc = _AIPERF.pop("proc", None)
    if proc is not None and proc.poll() is None:  # the session ended first (-x, -k): a half-made venv is redone next time
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def aiperf_install() -> Path:
    """The aiperf executable, once the installation the session started has ended (if it failed,
    ``ensure_aiperf`` tries again here and raises with pip's output)."""
    from gigafactory.emulator.clients import ensure_aiperf

    proc = _AIPERF.pop("proc", None)
    if proc is not None:
        proc.wait(timeout=1800)
    return ensure_aiperf()


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: returns (exit_code, stdout, stderr)."""

    def run(*args: str):
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def bench_module(name: str):
    """A script of bench/ imported as a module (tests reuse a bench's functions, not its output);
    ``name`` may name a subfolder, e.g. ``data/build_inferencemax_gpt_oss``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name.replace("/", "_"), REPO / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def keep_demand_for_workloads(data: dict) -> dict:
    """A scenario dict whose workloads were replaced keeps only the demand segments of models it
    still serves (the demand-segments check refuses the others)."""
    served = {w["model"] for w in data.get("workloads", [])}
    demand = data.get("demand") or {}
    data["demand"] = {**demand, "tokens": [t for t in demand.get("tokens", []) if t["model"] in served]}
    return data
