"""GPUs under a board-power limit (perf/power.py): the exponent against NVIDIA's MLPerf v4.1
H200-SXM-141GBx8 MaxQ / MaxP pairs, and how measured MaxQ rows are predicted."""
from __future__ import annotations

import math

import pytest

from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.power import (
    POWER_CAP_EXPONENT,
    power_capped,
    row_power_limit_w,
    throughput_factor,
)
from gigafactory.perf.validate import predict_row, read_measured_csv

H200_TDP_W = 700.0
#: (power limit [W], MaxQ / MaxP throughput) of the pairs the exponent is taken from: v4.1 results
#: of H200-SXM-141GBx8_TRT_MaxQ over H200-SXM-141GBx8_TRT, samples/s (mlperf_log_summary.txt)
TRAINING_PAIRS = {
    "mixtral-8x7b Offline": (500, 335.674 / 404.431),
    "mixtral-8x7b Server": (500, 311.75 / 391.79),
    "gptj Offline": (350, 189.806 / 291.103),
    "gptj Server": (350, 169.58 / 278.89),
}
#: held out: Llama-2-70B at 500 W, Offline and Server
LLAMA2_PAIRS = {"Offline": 86.7369 / 107.477, "Server": 79.36 / 100.35}


def test_the_exponent_is_the_mean_of_the_training_pairs():
    """POWER_CAP_EXPONENT is log(ratio) / log(limit / TDP) averaged over the four Mixtral and
    GPT-J pairs, to the three digits it is written with."""
    exps = [math.log(r) / math.log(w / H200_TDP_W) for w, r in TRAINING_PAIRS.values()]
    assert sum(exps) / len(exps) == pytest.approx(POWER_CAP_EXPONENT, abs=5e-4)


def test_the_held_out_llama_pair_is_predicted():
    """Llama-2-70B was not used: 500 W of 700 W predicts 0.806 of the MaxP throughput against
    0.807 measured Offline and 0.791 Server."""
    f = throughput_factor(500, H200_TDP_W)
    for scenario, measured in LLAMA2_PAIRS.items():
        assert f == pytest.approx(measured, rel=0.025), scenario


def test_a_limit_slows_the_math_not_the_memory(catalog):
    hw = hardware_from_catalog(catalog, "h200-sxm")
    assert hw.tdp_w == H200_TDP_W
    capped = power_capped(hw, 500)
    assert capped.hbm_bw_bytes_per_s == hw.hbm_bw_bytes_per_s and capped.nvlink_bw_bytes_per_s == hw.nvlink_bw_bytes_per_s
    assert capped.flop_per_s["fp8"] == pytest.approx(hw.flop_per_s["fp8"] * throughput_factor(500, 700))
    assert power_capped(hw, None) is hw and power_capped(hw, 700) is hw and power_capped(hw, 900) is hw
    assert throughput_factor(1000, 700) == 1.0
    with pytest.raises(ValueError):
        throughput_factor(0, 700)


def test_a_rows_limit_comes_from_its_cell_or_its_notes():
    assert row_power_limit_w({"notes": "MaxQ power-measured run, GPU power_limit 500 W (config)"}) == 500.0
    assert row_power_limit_w({"power_limit_w": "450", "notes": "power_limit 500 W"}) == 450.0
    assert row_power_limit_w({"notes": "full NVL72 rack"}) is None
    assert row_power_limit_w({"notes": "power_limit 0 W"}) == 0.0  # stated as written: validate rejects it


def test_a_zero_limit_in_the_notes_is_unsupported_with_the_reason(catalog):
    row = {"id": "x", "hardware": "h200-sxm", "num_gpus": "8", "model": "meta-llama/Llama-2-70b-chat-hf", "precision": "fp8",
           "framework": "trtllm", "scenario": "offline", "isl_mean": "1024", "osl_mean": "256", "tok_s_gpu": "1000",
           "notes": "MaxQ, power_limit 0 W"}
    p = predict_row(row, catalog)
    assert p.status == "unsupported" and "not a positive board power" in p.reason


@pytest.mark.parametrize("value", ["0", "-5", "abc"])
def test_the_validate_command_names_a_bad_power_limit_cell(cli, tmp_path, value):
    """A bad `power_limit_w` cell stops `validate` with exit 2, naming the file, line, column,
    value and what was expected; no traceback."""
    path = tmp_path / "maxq.csv"
    path.write_text("id,hardware,num_gpus,model,precision,framework,scenario,isl_mean,osl_mean,tok_s_gpu,power_limit_w\n"
                    f"x,h200-sxm,8,meta-llama/Llama-2-70b-chat-hf,fp8,trtllm,offline,1024,256,1000,{value}\n")
    code, out, err = cli("validate", "--measured", str(path))
    assert code == 2 and "Traceback" not in err + out
    assert "maxq.csv" in err and "power_limit_w" in err and value in err


def test_maxq_rows_are_predicted_under_their_limit(catalog):
    """The two MaxQ rows of calibration.csv (H200 at 500 W) are predicted with their clocks held
    down, lower than the same rows at full power, and name the limit they ran at."""
    from conftest import SHARED

    rows = [r for r in read_measured_csv(SHARED / "data/measured/calibration.csv") if "maxq" in r["id"]]
    assert len(rows) == 2
    for r in rows:
        capped = predict_row(r, catalog)
        full = predict_row({**r, "notes": ""}, catalog)
        assert capped.status == full.status == "ok"
        assert capped.meta["power_limit_w"] == 500.0 and "power_limit_w" not in full.meta
        assert capped.predicted_tok_s_gpu < 0.95 * full.predicted_tok_s_gpu


def test_a_bad_power_limit_cell_is_named(catalog):
    row = {"id": "x", "hardware": "h200-sxm", "num_gpus": "8", "model": "meta-llama/Llama-2-70b-chat-hf", "precision": "fp8",
           "framework": "trtllm", "scenario": "offline", "isl_mean": "1024", "osl_mean": "256", "tok_s_gpu": "1000", "power_limit_w": "-5"}
    p = predict_row(row, catalog)
    assert p.status == "unsupported" and "power_limit_w" in p.reason
