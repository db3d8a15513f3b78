"""The MLPerf Server / Interactive replay (simulate.replay): a row's own system under Poisson load,
aggregated and disaggregated, and the prefill layout read from the rows' notes."""
from __future__ import annotations

import pytest
from conftest import SHARED

from gigafactory.perf.architecture import param_counts
from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.layout import Layout
from gigafactory.perf.rows import prefill_layout, row_layouts
from gigafactory.perf.validate import read_measured_csv
from gigafactory.simulate.replay import _meets, _row_setup, simulate_row_load

MEASURED = SHARED / "data" / "measured" / "calibration.csv"
DS_INTERACTIVE = "mlperf-v6.0-nvidia-gb200x72-deepseek-r1-interactive"


@pytest.fixture(scope="module")
def rows():
    if not MEASURED.exists():
        pytest.skip("shared/data/measured not present")
    return {r["id"]: r for r in read_measured_csv(MEASURED)}


@pytest.mark.parametrize(("model", "notes", "want"), [
    ("llama-3.1-405b", "Dynamo disagg: 26 prefill workers x 2 GPU (TP2) + 5 decode workers x 4 GPU (TP4)", Layout(tp=2)),
    ("deepseek-r1", "Dynamo disagg: 2 prefill workers x 4 GPU (DEP4) + 4 decode workers x 16 GPU (DEP16)", Layout(tp=4, ep=4, dp_attention=True)),
    ("deepseek-r1", "disagg: prefill 28 GPU = 7 x TP4/EP4 DPattn; decode 16 GPU = 2 x TP8/EP8 DPattn", Layout(tp=4, ep=4, dp_attention=True)),
])
def test_prefill_layout_reads_both_note_formats(catalog, model, notes, want):
    """MLPerf v6.0's Dynamo notes ("26 prefill workers x 2 GPU (TP2)") and InferenceMAX's ("prefill
    28 GPU = 7 x TP4/EP4 DPattn") both name the prefill worker; before the first format was read,
    the 405B row's prefill fell back to TP4 and was predicted 24 % low (docs/accuracy.md)."""
    m = catalog.model(catalog.resolve_id("models", model))
    hw = hardware_from_catalog(catalog, "gb300-nvl72")
    got = prefill_layout(m, param_counts(m), hw, "fp4", 52, notes)
    assert (got.tp, got.ep, got.dp_attention) == (want.tp, want.ep, want.dp_attention)


def test_a_disaggregated_row_replays_on_its_own_split(catalog, rows):
    """DeepSeek-R1 on GB200 NVL72 (MLPerf v6.0 Interactive, Dynamo: 2 x DEP4 prefill + 4 x DEP16
    decode, MTP): at a light load every request finishes, the first token waits for a prefill and
    a KV transfer (TTFT well above a decode step), the TPOT is near one MTP decode step and meets
    the 15 ms limit; at ten times the row's target rate the two prefill workers cannot keep up and
    the limits fail."""
    row = rows[DS_INTERACTIVE]
    s = _row_setup(row, catalog)
    dec = next(x for x in row_layouts(row, s["m"], s["hw"]) if x.gpus == 16)
    pf = prefill_layout(s["m"], s["pc"], s["hw"], s["precision"], 8, row["notes"])
    split = (pf, 8 // pf.gpus, 64 // dec.gpus)
    light = simulate_row_load(row, catalog, dec, 4.0, 256, 400, 0, s, prefill=split)
    assert light["ok"]
    assert light["ttft_p50_s"] > 3 * light["tpot_p50_s"] > 0
    assert _meets(light, 1.5, 0.015)
    heavy = simulate_row_load(row, catalog, dec, 10 * float(row["target_qps"]), 256, 2000, 0, s, prefill=split)
    assert not _meets(heavy, 1.5, 0.015)
