"""perf/rows.py: how a measured row's cells become model inputs."""
from __future__ import annotations

from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.layout import Layout
from gigafactory.perf.rows import LITTLES_LAW_TOLERANCE, cell_float, cell_int, littles_law_ratio, row_adp_balance, row_layouts, row_precision


def test_cells_are_numbers_or_none():
    row = {"a": " 12.5 ", "b": "", "c": "n/a", "d": "inf", "e": "8"}
    assert cell_float(row, "a") == 12.5 and cell_int(row, "a") == 12
    assert [cell_float(row, k) for k in ("b", "c", "d", "missing")] == [None] * 4
    assert cell_int(row, "e") == 8


def test_layouts_follow_the_row_cells(catalog):
    hw = hardware_from_catalog(catalog, "b200")
    moe, dense = catalog.model("deepseek-r1"), catalog.model("llama-3.3-70b")
    assert row_layouts({"tp": "8", "ep": "8", "dp_attention": "1"}, moe, hw) == [Layout(tp=8, ep=8, dp_attention=True)]
    assert row_layouts({"tp": "8", "ep": "1", "dp_attention": "0"}, moe, hw) == [Layout(tp=8, ep=1)]
    # an MoE row that leaves attention-DP blank may have run either way
    assert row_layouts({"tp": "4"}, moe, hw) == [Layout(tp=4, ep=4), Layout(tp=4, ep=4, dp_attention=True)]
    assert row_layouts({"tp": "2", "ep": "2"}, dense, hw) == [Layout(tp=2)]
    # no layout stated: every candidate up to the row's GPUs
    searched = row_layouts({"num_gpus": "4"}, dense, hw)
    assert searched and all(lay.gpus <= 4 for lay in searched)


def test_precision_is_the_row_s_or_the_next_wider_the_gpu_computes(catalog):
    b200, h100 = hardware_from_catalog(catalog, "b200"), hardware_from_catalog(catalog, "h100-sxm")
    assert row_precision("fp4", b200).precision == "fp4" and row_precision("fp4", b200).substitution is None
    sub = row_precision("fp4", h100)
    assert sub.precision == "fp8" and sub.substitution.startswith("fp4 -> fp8: ")
    bad = row_precision("int3", b200)
    assert bad.precision is None and "expected one of" in bad.reason


def test_littles_law_ratio_compares_a_run_with_its_own_latencies():
    """16 users each taking 0.5 s to the first token and 1,000 more at 20 ms hold 16 x 1,001 tokens
    per 20.48 s on 8 GPUs: 97.75 tok/s/GPU.  A run that reports that is consistent (1.0); one that
    reports 70 % of it lost time its latencies do not show."""
    row = {"scenario": "fixed-concurrency", "concurrency": "16", "osl_mean": "1001", "num_gpus": "8",
           "ttft_p50_ms": "500", "tpot_p50_ms": "20"}
    implied = 16 * 1001 / (0.5 + 1000 * 0.02) / 8
    assert abs(littles_law_ratio({**row, "tok_s_gpu": str(implied)}) - 1.0) < 1e-12
    assert abs(littles_law_ratio({**row, "tok_s_gpu": str(0.7 * implied)}) - 0.7) < 1e-12
    assert 0.7 < 1 - LITTLES_LAW_TOLERANCE
    # only fixed-concurrency rows state the concurrency the law needs; a missing cell gives None
    assert littles_law_ratio({**row, "scenario": "server", "tok_s_gpu": "90"}) is None
    assert littles_law_ratio({**row, "tpot_p50_ms": "", "tok_s_gpu": "90"}) is None


def test_adp_balance_comes_from_the_rows_optional_cells():
    """The settings' names in NVIDIA's MLPerf configurations; no timeout, no balancing."""
    from gigafactory.perf.load import AdpBalance

    assert row_adp_balance({"adp_balancing_timeout_iters": "9", "adp_balancing_batching_wait_iters": "3"}) == AdpBalance(9, 3)
    assert row_adp_balance({"adp_balancing_timeout_iters": "6"}) == AdpBalance(6, 0)
    assert row_adp_balance({"adp_balancing_batching_wait_iters": "3"}) is None
    assert row_adp_balance({}) is None
