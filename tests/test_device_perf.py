"""On-device performance model (issue 16 items 1-2): catalog checks, held-out accuracy, invariants."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gigafactory.devices import calibrate as cal
from gigafactory.devices.catalog import data_dir, load_device_catalog
from gigafactory.devices.perf import (
    decode_s_per_token,
    derate,
    local_performance,
    thermal_derate,
)
from gigafactory.errors import InputError


@pytest.fixture(scope="module")
def cat():
    return load_device_catalog()


@pytest.fixture(scope="module")
def rows(cat):
    return cal.load_measured_rows(cat)


# --- catalog ---------------------------------------------------------------------------------------

def test_every_number_has_unit_source_date(cat):
    """STYLE rule 8: every catalog value carries a unit, a source and a date (the loader enforces it;
    this checks nothing slipped through as a bare number)."""
    for table in (cat.socs, cat.devices, cat.models, cat.form_factors):
        for entry in table.values():
            for q in entry.provenance.values():
                assert q.source and q.date and q.given and q.confidence


def test_models_in_main_catalog_keep_their_architecture(cat):
    """Models that exist in gigafactory.catalog use its id and numbers (no contradiction)."""
    from gigafactory.catalog import load_catalog

    main = load_catalog()
    for m in cat.models.values():
        if m.catalog_id:
            ref = main.model(m.catalog_id)
            assert (m.id, m.total_params, m.num_layers, m.num_kv_heads, m.head_dim) == (
                ref.id, ref.total_params, ref.num_layers, ref.num_kv_heads, ref.head_dim)


@pytest.mark.parametrize(("file", "path", "bad", "field"), [
    ("socs.yaml", ("entries", "snapdragon-8-elite", "memory_bandwidth_bytes_per_s", "unit"), "parsec", "entries.snapdragon-8-elite.memory_bandwidth_bytes_per_s.unit"),
    ("socs.yaml", ("entries", "apple-m4-10c", "memory_bandwidth_bytes_per_s", "source"), None, "entries.apple-m4-10c.memory_bandwidth_bytes_per_s.source"),
    ("devices.yaml", ("entries", "OnePlus 12", "soc"), "snapdragon-9-gen-9", "entries.OnePlus 12.soc"),
    ("small_models.yaml", ("entries", "llama-2-7b", "num_layers", "date"), "last year", "entries.llama-2-7b.num_layers.date"),
])
def test_bad_catalog_data_names_file_and_field(tmp_path: Path, file, path, bad, field):
    for f in data_dir().iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    data = yaml.safe_load((tmp_path / file).read_text(encoding="utf-8"))
    node = data
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = bad
    (tmp_path / file).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_device_catalog(str(tmp_path))
    probs = exc.value.problems
    assert any(p.file and p.file.endswith(file) and p.field == field for p in probs), [p.render() for p in probs]


def test_unknown_device_and_model_name_the_known_ones():
    with pytest.raises(InputError) as exc:
        local_performance("Nokia 3310", "llama-3.2-1b")
    assert "Snapdragon 8 Elite QRD" in exc.value.render()
    with pytest.raises(InputError) as exc:
        local_performance("Snapdragon 8 Elite QRD", "llama-9-1b")
    assert "llama-3.2-1b" in exc.value.render()


# --- reference tests against measured rows held out of the fit ---------------------------------------

def test_apple_metal_leave_one_device_out(cat, rows):
    """llama.cpp on Apple GPUs (XiongjieDai/GPU-Benchmarks-on-LLM-Inference 2024-05, llama.cpp #4167,
    normiebench 2026-03): each device predicted from efficiencies fitted on the other devices.
    Measured 2026-12-02: median APE 10 % (TTFT) and 9 % (decode), worst 36 % and 46 % (the 8 GB M1 Air,
    whose 4.6 GiB model leaves little memory).  Tolerance: median 15 %, worst 60 % -- the spread of repeated
    community runs of the same chip is itself ~10 %, so tighter would test noise."""
    s = cal.summarise(cal.leave_one_out(rows, cat, key=lambda r: r.device))["llama.cpp-metal"]
    assert s["n_decode"] >= 12
    assert s["median_ttft"] < 0.15 and s["median_decode"] < 0.15
    assert s["worst_ttft"] < 0.6 and s["worst_decode"] < 0.6


def test_qualcomm_npu_leave_one_model_out(cat, rows):
    """Qualcomm Genie w4a16 (AI Hub perf.yaml, 2026-02-12): each model predicted from the other models.
    Measured: median APE 25 % (TTFT) and 31 % (decode).  Tolerance 35 %: the AI Hub rows of one device
    differ by more than that between models of the same size (Phi-3.5 on the X Elite decodes at 6.2 tok/s,
    Llama-3.2-3B at 18.4), which a bandwidth model cannot follow; the test guards the median, not the outliers."""
    s = cal.summarise(cal.leave_one_out(rows, cat, key=lambda r: r.model))["genie-w4a16"]
    assert s["n_ttft"] >= 15
    assert s["median_ttft"] < 0.35 and s["median_decode"] < 0.35


def test_recovers_known_efficiencies(cat, rows):
    """Calibration recovery: rows generated from known efficiencies are fitted back within 1 %."""
    from dataclasses import replace

    from gigafactory.devices.perf import BackendEfficiency

    truth = BackendEfficiency("llama.cpp-metal", compute=0.5, memory=0.7, token_overhead_s=0.004)
    metal = [r for r in rows if cal.row_backend(r, cat) == "llama.cpp-metal"]
    synthetic = [replace(r, prefill_tok_s=p, decode_tok_s=d) for r in metal for p, d in [cal.predict_row(r, cat, truth)]]
    got = cal.fit_backend(synthetic, cat, "llama.cpp-metal").efficiency
    assert got.compute == pytest.approx(0.5, rel=0.01)
    assert got.memory == pytest.approx(0.7, rel=0.01)
    assert got.token_overhead_s == pytest.approx(0.004, rel=0.01)


# --- properties -------------------------------------------------------------------------------------

def test_decode_falls_with_model_size_on_one_device():
    rates = [local_performance("Snapdragon 8 Elite QRD", m).decode_tok_s for m in ("llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b")]
    assert rates[0] > rates[1] > rates[2]


@settings(max_examples=50, deadline=None)
@given(w=st.floats(1e8, 2e10), kv=st.floats(0, 5e9), bw=st.floats(1e10, 1e12), k=st.floats(1.01, 4), eff=st.floats(0.05, 1), o=st.floats(0, 0.05))
def test_decode_rises_with_bandwidth(w, kv, bw, k, eff, o):
    assert decode_s_per_token(w, kv, bw * k, eff, o) < decode_s_per_token(w, kv, bw, eff, o)


@settings(max_examples=50, deadline=None)
@given(f=st.floats(0.05, 1.0), tau=st.floats(1, 1000), t1=st.floats(0, 1e4), dt=st.floats(0, 1e4))
def test_derate_in_unit_interval_and_non_increasing(f, tau, t1, dt):
    a, b = derate(f, tau, t1), derate(f, tau, t1 + dt)
    assert 0 < b <= a <= 1


@pytest.mark.parametrize("ff", ["phone", "laptop", "desktop", "auto"])
def test_thermal_derate_per_form_factor(ff):
    vals = [thermal_derate(ff, t) for t in (0, 10, 60, 600, 3600)]
    assert vals[0] == 1.0 and all(0 < v <= 1 for v in vals) and vals == sorted(vals, reverse=True)


@pytest.mark.parametrize(("device", "model"), [("Snapdragon 8 Elite QRD", "llama-3.2-3b"), ("MacBook Pro M3 Max", "llama-3.1-8b"), ("OnePlus 12", "llama-3.2-1b")])
def test_energy_positive_and_consistent(device, model):
    perf = local_performance(device, model, "8da4w" if device == "OnePlus 12" else None, context_tokens=2048, sustained_s=120)
    assert perf.energy_j_per_prefill_token > 0 and perf.energy_j_per_output_token > 0
    assert perf.energy_j(100, 50) == pytest.approx(100 * perf.energy_j_per_prefill_token + 50 * perf.energy_j_per_output_token)
    assert perf.latency_s(100, 50) == pytest.approx(perf.ttft_s(100) + 49 / perf.decode_tok_s)
    assert perf.memory_needed_gb > perf.weights_gb > 0


def test_sustained_use_slows_a_phone_more_than_a_desktop():
    phone = local_performance("Snapdragon 8 Elite QRD", "llama-3.2-1b", sustained_s=300)
    burst = local_performance("Snapdragon 8 Elite QRD", "llama-3.2-1b")
    desk = local_performance("Mac mini M4", "llama-3.2-1b", sustained_s=300)
    assert phone.decode_tok_s < burst.decode_tok_s
    assert desk.decode_tok_s == pytest.approx(local_performance("Mac mini M4", "llama-3.2-1b").decode_tok_s)


def test_memory_fit():
    assert not local_performance("MacBook Air M1", "llama-3-8b", "f16", context_tokens=4096).fits  # 16 GB of weights in 8 GB
    assert local_performance("MacBook Pro M3 Max", "llama-3.1-8b", "q4_0", context_tokens=4096).fits
