"""The step model against kernels and decode steps measured on a lent NVIDIA H200.

Reference: bench/results/h200_probe.json, written on the device machine by bench/device_h200_probe.py
(PyTorch 2.11 + CUDA 13.0, one H200 SXM, 2026-12-04): copy bandwidth, 8192^3 GEMM rates, a GEMM
sweep, CUDA-graph launch gaps and whole decode steps of random-weight Llama-3.1 8B (BF16, FP8) and
70B (FP8) models.  None of it was used to fit the model.  Analysis: bench/h200_probe_vs_model.py.
"""
from __future__ import annotations

import json
import statistics

import numpy as np
import pytest
from conftest import REPO, bench_module

from gigafactory.catalog import load_catalog
from gigafactory.perf.architecture import KERNELS_REFERENCE_LAYER
from gigafactory.perf.efficiency import load_efficiencies
from gigafactory.perf.hardware import hardware_from_catalog, sustained_gemm_rates

PROBE = json.loads((REPO / "bench" / "results" / "h200_probe.json").read_text())
REFERENCE_KERNELS = 80 * KERNELS_REFERENCE_LAYER  # step_overhead_s is per this many kernels (step.kernel_overhead_s)


@pytest.fixture(scope="module")
def analysis():
    return bench_module("h200_probe_vs_model").analyse(PROBE)


def _hopper_fits():
    return {k: e for k, e in load_efficiencies().items() if k[0] == "hopper"}


def test_fitted_hopper_efficiencies_stay_under_the_measured_roofs():
    """A fitted compute or memory share above what the silicon reaches would be a fudge factor, not physics.
    Compute: the best of the probe's 8192^3 rate and AIConfigurator's best shape; memory: the copy bandwidth."""
    hw = hardware_from_catalog(load_catalog(), "h200-sxm")
    ce = PROBE["ceilings"]
    best_bf16 = max(ce["bf16_flop_per_s"], sustained_gemm_rates()["h200-sxm"]["bf16"] * 1e12)
    assert _hopper_fits()
    for key, e in _hopper_fits().items():
        assert e.compute * hw.flop_per_s["bf16"] <= best_bf16, key
        assert e.memory * hw.hbm_bw_bytes_per_s <= ce["copy_bytes_per_s"], key


def test_the_fits_memory_ceiling_is_the_measured_copy_bandwidth(catalog, tmp_path):
    """efficiency.MEMORY_CEILING, the upper bound of every fit's memory share, is the share of its
    datasheet HBM bandwidth the H200 streamed in a device-to-device copy (4.20 of 4.8 TB/s); a fit
    reaching past it (a fold without MoE rows once fitted 0.91-0.95, trading memory against step
    overhead, docs/accuracy.md "Thirteenth round") is refused, and a file holding one is rejected."""
    from gigafactory.errors import InputError
    from gigafactory.perf.efficiency import BOUNDS, MEMORY_CEILING, Efficiency

    hw = hardware_from_catalog(catalog, "h200-sxm")
    assert MEMORY_CEILING == pytest.approx(PROBE["ceilings"]["copy_bytes_per_s"] / hw.hbm_bw_bytes_per_s, abs=1e-3)
    assert BOUNDS["memory"][1] == MEMORY_CEILING
    fits = [e for e in load_efficiencies().values() if isinstance(e, Efficiency)]
    assert fits and all(e.memory <= MEMORY_CEILING for e in fits)
    eff = tmp_path / "eff.yaml"
    eff.write_text("parameters:\n- generation: hopper\n  engine: trtllm\n  compute: 0.5\n  memory: 0.9\n"
                   "  collective_latency_s: 1.0e-05\n  step_overhead_s: 0.002\n")
    with pytest.raises(InputError, match="memory"):
        load_efficiencies(str(eff))


def test_fitted_hopper_step_overhead_lies_between_graph_and_eager_launches(analysis):
    """Per kernel, an engine's decode step costs at least what a CUDA-graph step of plain PyTorch costs
    beyond its roofline (measured: 2.8-3.2 µs) and at most an eager launch (measured: ~10 µs)."""
    graph_fixed_s = min(f["fixed_us_per_kernel"] for f in analysis["fixed_cost_per_kernel"]) * 1e-6
    eager_s = PROBE["launch"]["eager_total_us_per_kernel"] * 1e-6
    assert 2e-6 < graph_fixed_s < 4e-6  # the measurement itself, before it is used as a bound
    for key, e in _hopper_fits().items():
        per_kernel = e.step_overhead_s / REFERENCE_KERNELS
        assert graph_fixed_s <= per_kernel <= eager_s, (key, per_kernel)


def test_step_model_predicts_measured_h200_decode_steps(analysis):
    """The Hopper fits, never shown these steps, predict the 20 measured CUDA-graph decode steps of
    Llama-3.1 8B (BF16, FP8) and 70B (FP8) on one H200 with a median error of 7.6 % (TRT-LLM fit) and
    5.8 % (SGLang fit), none off by more than 26 % (11.2 and 7.7 % with the earlier roofline exponent of 2)."""
    steps = analysis["decode_steps"]
    assert len(steps) == 20
    for eng in ("trtllm", "sglang"):
        apes = [abs(s[f"{eng}_total_ms"] / s["measured_ms"] - 1) for s in steps]
        assert statistics.median(apes) <= 0.15, eng
        assert max(apes) <= 0.30, eng


def test_blend_fit_recovers_known_parameters():
    mod = bench_module("h200_probe_vs_model")
    tc = np.geomspace(1e-6, 1e-2, 40)
    tm = np.geomspace(1e-2, 1e-6, 40) ** 0.7 * 1e-2
    t = mod.blended_s(tc, tm, 4.0, 8e-6, 0.9, 0.85)
    f = mod.fit_blend(tc, tm, t)
    assert f["p"] == pytest.approx(4.0, rel=1e-3)
    assert f["t0_us"] == pytest.approx(8.0, rel=1e-3)
    assert f["compute"] == pytest.approx(0.9, rel=1e-3) and f["memory"] == pytest.approx(0.85, rel=1e-3)
    assert f["max_ape"] < 1e-6


def test_measured_gemms_have_a_fixed_cost_per_kernel(analysis):
    """On the measured sweep a fixed cost per GEMM (~8 µs) explains the small weights' low bandwidth:
    with it the fit's median error is under half of the fixed-cost-free blended roofline's."""
    fits = analysis["gemm_blend"]
    with_cost = fits["free exponent, fixed cost"]
    without = fits["p = 2, no fixed cost (the step model before the twelfth round)"]
    assert 5.0 < with_cost["t0_us"] < 12.0
    assert with_cost["median_ape"] < 0.5 * without["median_ape"]


def test_the_step_models_roofline_exponent_is_the_measured_one(analysis):
    """perf/step.py's ROOFLINE_EXPONENT is the exponent fitted to the H200 GEMM sweep with a fixed
    cost per kernel (the step model carries that cost as its step overhead)."""
    from gigafactory.perf.step import ROOFLINE_EXPONENT

    assert ROOFLINE_EXPONENT == pytest.approx(analysis["gemm_blend"]["free exponent, fixed cost"]["p"], abs=0.05)


def test_the_fitted_blend_holds_on_gemm_shapes_it_did_not_see(analysis):
    """168 GEMMs of other shapes (TP8 shards of Llama-3.1 70B and 405B, DeepSeek-V3's dense MLP,
    gpt-oss-120b's attention projection), timed on a fresh machine: the form fitted on the first
    sweep predicts them at a median 4.7 %, and refitted on them alone it finds the same exponent."""
    held = analysis["gemm_heldout"]["free exponent, fixed cost"]
    assert held["n"] == 168 and held["median_ape"] < 0.06 and held["p90_ape"] < 0.15
    assert analysis["gemm_heldout_refit"]["p"] == pytest.approx(analysis["gemm_blend"]["free exponent, fixed cost"]["p"], abs=0.3)
    assert held["median_ape"] < 0.5 * analysis["gemm_heldout"]["p = 2, no fixed cost (the step model before the twelfth round)"]["median_ape"]
