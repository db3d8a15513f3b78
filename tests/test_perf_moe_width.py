"""The MoE layer's grouped GEMMs against the width of one expert on one GPU (perf/moe_width.py),
and a release's expert factor kept to the models whose MoE back end it was fitted on (issue 21,
seventeenth round)."""
from __future__ import annotations

import numpy as np
import pytest
import yaml
from conftest import bench_module

from gigafactory.perf.efficiency import Efficiency, load_efficiencies
from gigafactory.perf.moe_width import REFERENCE_WIDTH, half_width, width_factor
from gigafactory.perf.releases import ReleaseFactors, release_key

EFF = Efficiency(compute=0.5, memory=0.7, collective_latency_s=5e-6, step_overhead_s=4e-3, expert=0.35)


def test_the_width_law_fit_recovers_known_values():
    """bench/extract_moe_width_law.py fits fraction = E w / (w + w0); on points drawn from a known
    law with 5 % scatter it returns E and w0 within 5 % and 10 %."""
    fit_width_law = bench_module("extract_moe_width_law").fit_width_law
    rng = np.random.default_rng(7)
    width = np.repeat([64.0, 128, 256, 512, 1024, 2048, 4096, 8192, 16384], 4)
    fraction = 0.55 * width / (width + 1300.0) * np.exp(rng.normal(0, 0.05, width.size))
    e, w0, err = fit_width_law(width, fraction)
    assert e == pytest.approx(0.55, rel=0.05) and w0 == pytest.approx(1300.0, rel=0.1) and err < 0.06


def test_nvidia_s_moe_layers_slow_down_as_experts_narrow():
    """The committed law (perf/data/moe_width.yaml, NVIDIA's MoE layers timed with TensorRT-LLM
    1.3.0rc20 in AIConfigurator 0.12.0's database): every measured (GPU, precision) spans widths of
    at least 64x and follows the law within 20 % (median); on an H200 in FP8, Mixtral's whole
    experts (14,336 wide) run about 1.5x as fast per FLOP as DeepSeek-R1's (2,048), and DeepSeek-R1's
    split over 8 GPUs (256) at under a third of the speed, which the model does not apply (the
    serving rows that fit ``expert`` are narrow ones)."""
    from importlib import resources

    doc = yaml.safe_load(resources.files("gigafactory.perf.data").joinpath("moe_width.yaml").read_text())
    assert len(doc["measured"]) >= 12
    for e in doc["measured"]:
        assert e["median_abs_log_error"] < 0.2 and e["widths"][1] / e["widths"][0] >= 64
        assert 200 < e["width0"] < 5000
    w0 = half_width("hopper", "fp8", "h200-sxm")
    law = lambda w: (w / (w + w0)) / (REFERENCE_WIDTH / (REFERENCE_WIDTH + w0))
    assert law(256) < 1 / 3  # what the kernels measure for DeepSeek-R1's experts split 8 ways
    assert width_factor(REFERENCE_WIDTH, w0) == pytest.approx(1.0)
    assert width_factor(14336, w0) == pytest.approx(law(14336)) and 1.35 < width_factor(14336, w0) < 1.7
    assert width_factor(256, w0) == 1.0  # below the fitted shape the serving rows' fit applies (module docstring)
    assert width_factor(1024, None) == 1.0  # no measurement: the fitted efficiency as it is
    assert half_width("hopper", "fp8", "no-such-gpu") == half_width("hopper", "fp8")  # the generation's median


def test_expert_time_follows_the_width_and_leaves_the_fitted_shapes_alone(catalog):
    """DeepSeek-R1 with whole experts per GPU (DEP8: width 2,048) or split 8 ways (TP8: 256) steps as
    before the law: the fitted efficiency is theirs; Mixtral's wide experts take less time than the
    fitted efficiency alone would give them."""
    from gigafactory.perf.architecture import param_counts
    from gigafactory.perf.hardware import hardware_from_catalog
    from gigafactory.perf.layout import Layout
    from gigafactory.perf.step import routed_expert_layer, routed_experts_s, step_time

    hw = hardware_from_catalog(catalog, "h200-sxm")
    fl, by, _ = routed_expert_layer(7168, 2048, 256, 8, 8192, 8, 1.0, "fp8")
    assert routed_experts_s(fl, by, hw, EFF, "fp8", 2048) == routed_experts_s(fl, by, hw, EFF, "fp8")
    ds = catalog.model("deepseek-r1")
    pc = param_counts(ds)
    fl8, by8, _ = routed_expert_layer(7168, 2048, 256, 8, 8192, 1, 8.0, "fp8")
    assert routed_experts_s(fl8, by8, hw, EFF, "fp8", 256) == routed_experts_s(fl8, by8, hw, EFF, "fp8", 2048)
    tp8 = step_time(ds, pc, hw, EFF, Layout(tp=8), "fp8", 0, 0, 8192, 1024)  # a prefill step: experts split 8 ways
    assert tp8.experts_s == pytest.approx(routed_experts_s(58 * fl8, 58 * by8, hw, EFF, "fp8", 256), rel=1e-9)
    fl_m, by_m, _ = routed_expert_layer(4096, 14336, 8, 2, 8192, 1, 1.0, "fp8")
    assert routed_experts_s(fl_m, by_m, hw, EFF, "fp8", 14336) < 0.8 * routed_experts_s(fl_m, by_m, hw, EFF, "fp8", 2048)


def test_a_release_s_expert_factor_applies_to_the_moe_models_it_was_fitted_on():
    """MLPerf v5.1's DeepSeek-R1 ran TensorRT-LLM's WIDEEP MoE back end, its Mixtral-8x7B a TensorRT
    engine's MoE plugin: the release's expert factor, fitted on DeepSeek-R1 rows, is DeepSeek-R1's.
    Compute and step-overhead factors apply to every model; a factor without models applies to all."""
    f = ReleaseFactors(compute=1.05, expert=0.7, step_overhead=1.1, moe_models=("deepseek-r1",))
    ds, mix = f.apply(EFF, "deepseek-r1"), f.apply(EFF, "mixtral-8x7b")
    assert ds.expert == pytest.approx(0.7 * EFF.expert) and mix.expert == EFF.expert
    assert ds.compute == mix.compute == pytest.approx(1.05 * EFF.compute)
    assert mix.step_overhead_s == pytest.approx(1.1 * EFF.step_overhead_s)
    assert ReleaseFactors(expert=0.7).apply(EFF, "mixtral-8x7b").expert == pytest.approx(0.7 * EFF.expert)


def test_efficiency_file_release_models_round_trip_and_are_checked(tmp_path):
    from gigafactory.errors import InputError

    head = "parameters:\n- {generation: hopper, engine: trtllm, compute: 0.5, memory: 0.7, collective_latency_s: 1.0e-5, step_overhead_s: 0.004}\n"
    good = tmp_path / "good.yaml"
    good.write_text(head + "releases:\n- {release: mlperf-v5.1, engine: trtllm, compute: 1.0, expert: 0.75, step_overhead: 1.0, moe_models: [deepseek-r1]}\n")
    assert load_efficiencies(str(good))[release_key("mlperf-v5.1", "trtllm")].moe_models == ("deepseek-r1",)
    bad = tmp_path / "bad.yaml"
    bad.write_text(head + "releases:\n- {release: mlperf-v5.1, engine: trtllm, expert: 0.75, moe_models: deepseek-r1}\n")
    with pytest.raises(InputError) as e:
        load_efficiencies(str(bad))
    assert "moe_models" in str(e.value) and "bad.yaml" in str(e.value)
