"""`gigafactory check` on the bad inputs a real user makes: exit 2, a message naming the file,
the field, the value, what was expected and a fix; never a traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from gigafactory.checks import CHECKS
from gigafactory.scenario import default_scenario_path

DEFAULT = default_scenario_path().read_text(encoding="utf-8")


def _variant(edit) -> str:
    data = yaml.safe_load(DEFAULT)
    edit(data)
    return yaml.safe_dump(data, sort_keys=False)


def _set(path, value):
    def edit(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def _delete(path):
    def edit(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return edit


# (case id, file content (text or bytes), strings the message must contain)
BAD_INPUTS = [
    ("empty-file", "", ["empty"]),
    ("only-comments", "# nothing here\n", ["no YAML content"]),
    ("not-yaml", "name: [unclosed\nsites: {\n", ["not valid YAML", "line"]),
    ("binary-garbage", bytes(range(256)) * 4, ["binary"]),
    ("latin1-text", "name: caf\xe9\n".encode("latin-1"), ["UTF-8"]),
    ("top-level-list", "- a\n- b\n", ["top level must be a mapping"]),
    ("wrong-type-power", _variant(_set(["sites", 0, "facility_power_mw"], "lots")), ["sites[0].facility_power_mw", "'lots'"]),
    ("wrong-type-sites", _variant(_set(["sites"], "abilene")), ["sites", "list"]),
    ("wrong-type-share", _variant(_set(["workloads", 0, "share"], [0.5])), ["workloads[0].share", "number"]),
    ("missing-systems", _variant(_delete(["systems"])), ["required key 'systems' is missing", "fix"]),
    ("missing-model", _variant(_delete(["workloads", 1, "model"])), ["workloads[1].model", "missing"]),
    ("missing-power", _variant(_delete(["sites", 1, "facility_power_mw"])), ["exactly one of facility_power_mw or it_power_mw"]),
    ("negative-power", _variant(_set(["sites", 0, "facility_power_mw"], -300)), ["sites[0].facility_power_mw", "positive", "-300"]),
    ("zero-power", _variant(_set(["sites", 1, "facility_power_mw"], 0)), ["sites[1].facility_power_mw", "positive"]),
    ("absurd-power", _variant(_set(["sites", 0, "facility_power_mw"], 1e12)), ["not a plausible single site", "1e+12"]),
    ("kw-given-as-mw", _variant(_set(["sites", 0, "facility_power_mw"], 600000)), ["if you meant kW, 600000 kW = 600 MW"]),
    ("wrong-unit-string", _variant(_set(["sites", 0, "facility_power_mw"], "600 MWh")), ["sites[0].facility_power_mw", "does not fit"]),
    ("too-small-for-a-rack", _variant(_set(["sites", 1, "facility_power_mw"], 0.05)), ["cannot power even one gb300-nvl72"]),
    ("unknown-system", _variant(_set(["systems", "default"], "gb300-nv72")), ["unknown system 'gb300-nv72'", "did you mean 'gb300-nvl72'"]),
    ("unknown-region", _variant(_set(["sites", 0, "region"], "us-texsa")), ["unknown region 'us-texsa'", "us-texas"]),
    ("unknown-model", _variant(_set(["workloads", 0, "model"], "llama-3.3-70")), ["unknown model", "llama-3.3-70b"]),
    ("unknown-cost-profile", _variant(_set(["finance", "cost_profile"], "mars-2025")), ["finance.cost_profile", "unknown cost"]),
    ("duplicate-site-names", _variant(_set(["sites", 1, "name"], "abilene")), ["site name 'abilene' is used twice"]),
    ("duplicate-yaml-key", DEFAULT.replace("seed: 20260106", "seed: 20260106\nseed: 7"), ["key 'seed' appears twice"]),
    ("typo-key", DEFAULT.replace("facility_power_mw: 600", "facilty_power_mw: 600"), ["unknown key 'facilty_power_mw'", "did you mean 'facility_power_mw'"]),
    ("typo-section", DEFAULT.replace("finance:", "finances:"), ["unknown key 'finances'", "did you mean 'finance'"]),
    ("zero-ttft-slo", _variant(_set(["workloads", 0, "slo", "ttft_p99_ms"], 0)), ["workloads[0].slo.ttft_p99_ms", "> 0"]),
    ("impossible-tpot-slo", _variant(_set(["workloads", 0, "slo", "tpot_p99_ms"], 0.01)), ["below the physical floor", "tpot_p99_ms"]),
    ("shares-do-not-sum", _variant(_set(["workloads", 0, "share"], 0.9)), ["shares add up to 1.6"]),
    ("fp4-on-hopper", _variant(_set(["systems", "default"], "dgx-h100")), ["no FP4 tensor cores"]),
    ("model-does-not-fit", _variant(lambda d: (d["systems"].update(default="dgx-h100"), d["workloads"][0].update(model="llama-3.1-405b", precision="bf16"))), ["needs 810 GB of weights", "640 GB"]),
    ("context-too-long", _variant(_set(["workloads", 0, "isl_tokens"], 200000)), ["exceeds llama-3.3-70b's context"]),
    ("phases-exceed-power", _variant(_set(["sites", 0, "energisation_phases_mw"], [400, 400])), ["phases add up to 800 MW"]),
    ("bad-precision", _variant(_set(["workloads", 0, "precision"], "int3")), ["workloads[0].precision", "bf16"]),
    ("bad-date", _variant(_set(["rollout", "start_date"], "someday")), ["rollout.start_date", "date"]),
    ("multi-document", DEFAULT + "\n---\nname: other\n", ["2 YAML documents"]),
]


@pytest.mark.parametrize(("case", "content", "needles"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_exits_2_with_a_helpful_message(cli, tmp_path, case, content, needles):
    path = tmp_path / f"{case}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    code, out, err = cli("check", str(path))
    assert code == 2, (out, err)
    assert str(path) in err, err
    for needle in needles:
        assert needle in err, f"{needle!r} not in:\n{err}"
    assert "Traceback" not in err + out
    assert "fix:" in err or "expected:" in err, err


def test_problems_carry_line_numbers(cli, tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text(DEFAULT.replace("facility_power_mw: 600", "facilty_power_mw: 600"), encoding="utf-8")
    line = 1 + DEFAULT.splitlines().index("    facility_power_mw: 600")
    code, _, err = cli("check", str(path))
    assert code == 2 and f"{path}:{line}:" in err


def test_all_problems_are_reported_at_once(cli, tmp_path):
    text = _variant(lambda d: (d["sites"][1].update(name="abilene"), d["systems"].update(default="gb300-nv72")))
    path = tmp_path / "two.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, err = cli("check", str(path))
    assert code == 2 and "2 problems" in err


@pytest.mark.parametrize("target", ["does-not-exist.yaml", "."])
def test_missing_file_or_directory(cli, target):
    code, _, err = cli("check", target)
    assert code == 2 and ("no such file" in err or "directory" in err)


def test_json_output_lists_problems(cli, tmp_path):
    import json

    path = tmp_path / "bad.yaml"
    path.write_text(_variant(_set(["sites", 0, "facility_power_mw"], -1)), encoding="utf-8")
    code, out, _ = cli("check", str(path), "--json")
    assert code == 2
    body = json.loads(out)
    assert body["valid"] is False
    prob = body["problems"][0]
    assert prob["field"] == "sites[0].facility_power_mw" and prob["value"] == -1 and prob["check"] == "power-magnitude"


def test_quantities_with_units_are_accepted(cli, tmp_path):
    path = tmp_path / "units.yaml"
    path.write_text(_variant(_set(["sites", 0, "facility_power_mw"], "0.6 GW")), encoding="utf-8")
    code, out, err = cli("check", str(path), "--json")
    assert code == 0, err
    assert '"power_mw": 600.0' in out


def test_every_named_check_is_exercised():
    """Each registered check has at least one bad-input case above that trips it."""
    tripped = {
        "site-names-unique": "duplicate-site-names",
        "power-magnitude": "negative-power",
        "site-fits-one-unit": "too-small-for-a-rack",
        "energisation-phases": "phases-exceed-power",
        "catalog-ids": "unknown-system",
        "workload-shares": "shares-do-not-sum",
        "precision-supported": "fp4-on-hopper",
        "context-length": "context-too-long",
        "model-fits": "model-does-not-fit",
        "slo-physical-floor": "impossible-tpot-slo",
        "device-offload-model": None,
    }
    assert set(tripped) == set(CHECKS)


def test_offload_model_must_be_served(cli, tmp_path):
    path = tmp_path / "offload.yaml"
    path.write_text(_variant(_set(["devices", "offload_model"], "qwen3-32b")), encoding="utf-8")
    code, _, err = cli("check", str(path))
    assert code == 2 and "offload model 'qwen3-32b' is not served" in err


def test_real_process_never_prints_a_traceback(tmp_path):
    """The installed console script, as a user runs it, on garbage input."""
    path = tmp_path / "garbage.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00garbage")
    proc = subprocess.run([sys.executable, "-m", "gigafactory", "check", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "binary" in proc.stderr
