"""The collective latency is measured, not fitted (perf/collectives.py, issue 21 item 1)."""
from __future__ import annotations

import pytest
import yaml

from gigafactory.perf.calibrate import FITTED, PARAMS
from gigafactory.perf.collectives import measured_latency_s
from gigafactory.perf.efficiency import PRIOR, efficiency_for, efficiency_path


def test_measured_latencies_are_sourced_and_in_the_kernels_range():
    """NVIDIA's measured all-reduce (AIConfigurator 0.12.0 database, bench/extract_collective_latency.py):
    the engines' custom all-reduce over 8 GPUs, as a CUDA graph runs it, takes 3.5-7.8 us (TensorRT-LLM
    3.5 us on Hopper, 5.5-5.7 us on Blackwell)."""
    from importlib import resources

    doc = yaml.safe_load(resources.files("gigafactory.perf.data").joinpath("collective_latency.yaml").read_text())
    assert "AIConfigurator 0.12.0" in doc["source"] and doc["unit"] == "us" and doc["read"]
    assert measured_latency_s("hopper", "trtllm", "h200-sxm") == pytest.approx(3.49e-6)
    assert measured_latency_s("blackwell", "dynamo-trtllm", "b200-gb200") == pytest.approx(5.67e-6)  # GB200 takes B200's board value
    assert measured_latency_s("hopper", "sglang", "h200-sxm") == pytest.approx(3.54e-6)
    assert all(3e-6 <= e["latency_us"] * 1e-6 <= 8e-6 for e in doc["measured"]) and len(doc["measured"]) == 12


def test_calibration_does_not_fit_the_latency_and_predictions_use_the_measured_one():
    """`calibrate` fits four parameters; the committed file records them without the latency, and
    every lookup carries the GPU's measured latency, the generation's median for a GPU not measured,
    and the fitted or prior value where the engine was never measured."""
    assert FITTED == tuple(p for p in PARAMS if p != "collective_latency_s")
    doc = yaml.safe_load(efficiency_path().read_text())
    assert all("collective_latency_s" not in e["fitted_parameters"] for e in doc["parameters"])
    assert efficiency_for("hopper", "trtllm", accelerator="h100-sxm").collective_latency_s == pytest.approx(3.53e-6)
    assert efficiency_for("blackwell", "vllm", accelerator="b200").collective_latency_s == pytest.approx(7.82e-6)
    assert efficiency_for("hopper", "sglang").collective_latency_s == pytest.approx(3.65e-6)  # median of H100 (3.75) and H200 (3.54)
    assert efficiency_for("rubin", "other").collective_latency_s > 0
    assert measured_latency_s("rubin", "trtllm", "r200") is None and PRIOR.collective_latency_s == 10e-6
