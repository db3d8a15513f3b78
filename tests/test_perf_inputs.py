"""Bad inputs to `perf`, `validate` and `calibrate` end in exit 2 with a named problem (file,
line, field, value, expected, fix), never in an internal error (exit 1) or silent acceptance."""
from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import pytest

from conftest import SHARED
from gigafactory.perf.efficiency import calibrated_frameworks, load_efficiencies
from gigafactory.perf.plot import check_plot_path

MEASURED = SHARED / "data" / "measured" / "calibration.csv"
HEADER = "id,hardware,num_gpus,model,precision,framework,scenario,isl_mean,osl_mean,tok_s_gpu,trust,concurrency,tp\n"
GOOD_ROW = "r-1,h100-sxm,8,llama-3.1-8b,fp8,trtllm,fixed-concurrency,1024,512,1000,2,64,1\n"
SMALL = ["--model", "llama-3.1-8b", "--system", "h100-sxm", "--isl", "128", "--osl", "64"]


def _strict_json(text: str):
    """Parse JSON, failing on NaN / Infinity (which json.loads accepts by default)."""
    def reject(const: str):
        raise ValueError(f"non-strict JSON constant {const}")

    return json.loads(text, parse_constant=reject)


def _assert_named(code: int, err: str, *names: str) -> None:
    assert code == 2, err
    assert "internal error" not in err and "Traceback" not in err
    assert "fix:" in err, err
    for name in names:
        assert name in err, (name, err)


# --------------------------------------------------------------------------- measured CSV


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_measured_csv_non_finite_cell_is_named(cli, tmp_path, value):
    path = tmp_path / "measured.csv"
    path.write_text(HEADER + GOOD_ROW.replace(",64,1\n", f",64,{value}\n"))
    code, _, err = cli("validate", "--measured", str(path))
    _assert_named(code, err, f"{path}:2", "tp", repr(value), "expected:")


def test_measured_csv_bad_cells_in_calibrate_are_named_with_lines(cli, tmp_path):
    path = tmp_path / "measured.csv"
    path.write_text(HEADER + GOOD_ROW + GOOD_ROW.replace("r-1", "r-2").replace(",1000,", ",nan,") + GOOD_ROW.replace(",8,", ",0,"))
    code, _, err = cli("calibrate", "--measured", str(path), "--out", str(tmp_path / "eff.yaml"))
    _assert_named(code, err, "2 problems", f"{path}:3: tok_s_gpu", f"{path}:4: num_gpus", "not a whole number >= 1")
    assert not (tmp_path / "eff.yaml").exists()


# --------------------------------------------------------------------------- validate --efficiency


def test_validate_binary_efficiency_file(cli, tmp_path):
    measured = tmp_path / "m.csv"
    measured.write_text(HEADER + GOOD_ROW)
    blob = tmp_path / "eff.bin"
    blob.write_bytes(bytes(range(256)) * 8)
    code, _, err = cli("validate", "--measured", str(measured), "--efficiency", str(blob))
    _assert_named(code, err, str(blob), "binary")


def test_validate_non_utf8_efficiency_file(cli, tmp_path):
    measured = tmp_path / "m.csv"
    measured.write_text(HEADER + GOOD_ROW)
    blob = tmp_path / "eff.yaml"
    blob.write_bytes(b"\xcb\xff\xfe garbage")
    code, _, err = cli("validate", "--measured", str(measured), "--efficiency", str(blob))
    _assert_named(code, err, str(blob), "not UTF-8")


def test_validate_scenario_yaml_as_efficiency_file(cli, tmp_path):
    measured = tmp_path / "m.csv"
    measured.write_text(HEADER + GOOD_ROW)
    scenario = Path(str(resources.files("gigafactory.scenarios") / "default.yaml"))
    code, _, err = cli("validate", "--measured", str(measured), "--efficiency", str(scenario))
    _assert_named(code, err, str(scenario), "not an efficiency file", "parameters", "expected:")


def test_validate_efficiency_entry_out_of_bounds(cli, tmp_path):
    measured = tmp_path / "m.csv"
    measured.write_text(HEADER + GOOD_ROW)
    eff = tmp_path / "eff.yaml"
    eff.write_text("parameters:\n- generation: hopper\n  engine: trtllm\n  compute: 7\n  memory: .nan\n"
                   "  collective_latency_s: 1.0e-05\n  step_overhead_s: 0.002\n")
    code, _, err = cli("validate", "--measured", str(measured), "--efficiency", str(eff))
    _assert_named(code, err, f"{eff}:4: parameters[0].compute", f"{eff}:5: parameters[0].memory", "[0.15, 0.95]")


# --------------------------------------------------------------------------- perf flags


@pytest.mark.parametrize("flag", ["--ttft-slo-ms", "--tpot-slo-ms"])
@pytest.mark.parametrize("value", ["nan", "inf", "-5", "0"])
def test_perf_latency_limit_must_be_finite_and_positive(cli, flag, value):
    code, _, err = cli("perf", *SMALL, f"{flag}={value}")
    _assert_named(code, err, flag, "finite, positive")


def test_perf_unknown_framework(cli):
    code, _, err = cli("perf", *SMALL, "--framework", "tgi")
    _assert_named(code, err, "--framework", "'tgi'", "trtllm")
    frameworks = calibrated_frameworks(load_efficiencies())
    assert f"one of {', '.join(frameworks)}" in err  # the list comes from the efficiency table
    assert {eng for _, eng in load_efficiencies()} <= set(frameworks)


def test_perf_model_that_fits_no_nvlink_domain(cli):
    code, out, err = cli("perf", "--model", "deepseek-r1", "--system", "dgx-h100", "--isl", "128", "--osl", "64", "--precision", "bf16")
    _assert_named(code, err, "--precision", "do not fit", "NVLink domain", "dgx-h100", "--system")
    assert out == ""


# --------------------------------------------------------------------------- perf --plot


def test_check_plot_path(tmp_path):
    assert check_plot_path(tmp_path / "f.html") == tmp_path / "f.html"
    for bad, needle in ((tmp_path / "missing" / "f.html", "folder does not exist"), (tmp_path, "directory"), (tmp_path / "f.png", "HTML")):
        with pytest.raises(Exception) as exc:
            check_plot_path(bad)
        assert type(exc.value).__name__ == "InputError" and needle in str(exc.value) and "fix:" in str(exc.value)


def test_perf_plot_into_missing_folder(cli, tmp_path):
    """Needs the CLI to call check_plot_path before perf_query."""
    target = tmp_path / "no-such-dir" / "f.html"
    code, _, err = cli("perf", *SMALL, "--plot", str(target))
    _assert_named(code, err, str(target), "--plot", "folder does not exist")


def test_perf_plot_onto_directory(cli, tmp_path):
    """Needs the CLI to call check_plot_path before perf_query."""
    target = tmp_path / "plot.html"
    target.mkdir()
    code, _, err = cli("perf", *SMALL, "--plot", str(target))
    _assert_named(code, err, str(target), "--plot", "directory")


# --------------------------------------------------------------------------- validate output


def test_nan_prediction_is_unsupported_and_json_strict(cli, tmp_path, monkeypatch):
    """A model evaluation that yields NaN is an `unsupported` row with a reason, never a prediction."""
    import dataclasses

    import gigafactory.perf.validate as validate_mod

    real = validate_mod.aggregated_point

    def nan_point(*args, **kwargs):
        p = real(*args, **kwargs)
        return None if p is None else dataclasses.replace(p, tok_s_gpu=math.nan)

    monkeypatch.setattr(validate_mod, "aggregated_point", nan_point)
    measured = tmp_path / "m.csv"
    measured.write_text(HEADER + GOOD_ROW)
    target = tmp_path / "out.json"
    code, _, err = cli("validate", "--measured", str(measured), "--json", str(target))
    assert code == 0, err
    body = _strict_json(target.read_text())
    (row,) = body["rows"]
    assert row["status"] == "unsupported" and "finite" in row["reason"] and row["predicted_tok_s_gpu"] is None
    assert body["summary"]["n_ok"] == 0 and body["summary"]["n_unsupported"] == 1


@pytest.mark.skipif(not MEASURED.exists(), reason="shared/data/measured not present")
def test_validate_json_on_calibration_csv_is_strict(cli, tmp_path):
    target = tmp_path / "out.json"
    code, _, err = cli("validate", "--measured", str(MEASURED), "--json", str(target))
    assert code == 0, err
    body = _strict_json(target.read_text())
    json.dumps(body, allow_nan=False)
    assert all(r["predicted_tok_s_gpu"] is not None and math.isfinite(r["predicted_tok_s_gpu"]) for r in body["rows"] if r["status"] == "ok")
    assert all(r["reason"] for r in body["rows"] if r["status"] != "ok")
