"""Benchmark clients from the package registry, installed on demand in their own virtual
environment (they bring heavy and version-pinned dependencies that must not touch ours).

`ensure_aiperf()` returns the path of an `aiperf` executable: `$AIPERF_BIN` when set, else a
venv under `$GIGAFACTORY_HOME/tools` (or `~/.cache/gigafactory/tools`) created and filled with
pip the first time (about 1.2 GB, a few minutes), reused afterwards.  A half-made environment
(no completion marker) is removed and made again.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

AIPERF_REQUIREMENT = "aiperf==0.13.0"


def tools_dir() -> Path:
    home = os.environ.get("GIGAFACTORY_HOME")
    return Path(home) / "tools" if home else Path.home() / ".cache" / "gigafactory" / "tools"


def ensure_aiperf(timeout_s: float = 1800) -> Path:
    """The aiperf executable, installing it in its own venv when needed; RuntimeError with pip's
    output when the installation fails."""
    given = os.environ.get("AIPERF_BIN")
    if given:
        return Path(given)
    venv = tools_dir() / AIPERF_REQUIREMENT.replace("==", "-")
    exe = venv / ("Scripts" if os.name == "nt" else "bin") / "aiperf"
    marker = venv / ".complete"
    if marker.exists() and exe.exists():
        return exe
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    proc = subprocess.run(pip + [AIPERF_REQUIREMENT], capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0 or not exe.exists():
        raise RuntimeError(f"installing {AIPERF_REQUIREMENT} into {venv} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    marker.write_text(AIPERF_REQUIREMENT + "\n")
    return exe
