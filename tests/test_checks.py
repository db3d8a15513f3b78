"""`gigafactory check` on the bad inputs a real user makes: exit 2, a message naming the file,
the field, the value, what was expected and a fix; never a traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from gigafactory.checks import CHECKS
from gigafactory.scenario import default_scenario_path

from conftest import REPO

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


def _gb300_ib_site_power(mw):
    return _variant(lambda d: (d["fabric"].update(compute="infiniband", switch="quantum-2-qm9700"), d["sites"][0].update(facility_power_mw=mw)))


# (case id, YAML text, field of the problem, its check, a string its message must contain)
NAMED_PROBLEMS = [
    ("unknown-router", _variant(_set(["simulation", "router"], "fastest")), "simulation.router", "simulation-router", "unknown router 'fastest'"),
    ("router-typo", _variant(_set(["simulation", "router"], "least-outstandin")), "simulation.router", "simulation-router", "did you mean 'least-outstanding'"),
    ("trace-typo", _variant(_set(["simulation", "trace"], "azur-conv-2023")), "simulation.trace", "simulation-trace", "did you mean 'azure-conv-2023'"),
    ("trace-missing-file", _variant(_set(["simulation", "trace"], "traces/mine.csv")), "simulation.trace", "simulation-trace",
     "resolved against the scenario file's folder"),
    ("trace-bad-gamma", _variant(_set(["simulation", "trace"], "gamma-cv1.2.3")), "simulation.trace", "simulation-trace", "coefficient of variation"),
    ("trace-zero-gamma", _variant(_set(["simulation", "trace"], "gamma-cv0")), "simulation.trace", "simulation-trace", "coefficient of variation"),
    ("trace-directory", _variant(_set(["simulation", "trace"], ".")), "simulation.trace", "simulation-trace", "is a directory"),
    ("air-cooling-for-nvl72", _variant(_set(["sites", 0, "cooling"], "air-crah-chiller-economizer")), "sites[0].cooling", "design-cooling",
     "cools at most 30 kW per rack"),
    ("immersion-for-cold-plates", _variant(_set(["sites", 1, "cooling"], "immersion-single-phase")), "sites[1].cooling", "design-cooling",
     "cold plates"),
    ("below-one-su", _variant(_set(["sites", 1, "facility_power_mw"], 1.3)), "sites[1].facility_power_mw", "design-min-su",
     "cannot power one scalable unit of gb300-nvl72"),
    ("floor-below-one-su", _variant(_set(["sites", 0, "floor_area_m2"], 100)), "sites[0].floor_area_m2", "design-floor", "cannot hold one scalable unit"),
    ("negative-floor", _variant(_set(["sites", 0, "floor_area_m2"], -5)), "sites[0].floor_area_m2", "design-floor", "cannot hold one scalable unit"),
    ("switch-wrong-technology", _variant(_set(["fabric", "switch"], "quantum-x800-q3400")), "fabric.switch", "fabric-design", "is an infiniband switch, not ethernet"),
    ("island-beyond-3-tier-fabric", _variant(lambda d: (d["fabric"].update(compute="infiniband", switch="quantum-2-qm9700", island_max_gpus=1_000_000))),
     "fabric.island_max_gpus", "fabric-design", "exceed a 3-tier fat tree"),
    ("bad-calendar-date", DEFAULT.replace("start_date: 2026-03-01", "start_date: 2026-02-30"), "rollout.start_date", "schema", "not a real calendar date"),
    ("month-13", DEFAULT.replace("start_date: 2026-03-01", "start_date: 2026-13-01"), "rollout.start_date", "schema", "not a real calendar date"),
    ("nan-power", DEFAULT.replace("facility_power_mw: 600", "facility_power_mw: .nan"), "sites[0].facility_power_mw", "schema", "finite number"),
    ("inf-power", DEFAULT.replace("facility_power_mw: 600", "facility_power_mw: .inf"), "sites[0].facility_power_mw", "schema", "finite number"),
    ("nan-power-with-unit", DEFAULT.replace("facility_power_mw: 600", "facility_power_mw: nan MW"), "sites[0].facility_power_mw", "schema", "finite number"),
    ("nan-share", _variant(_set(["workloads", 0, "share"], float("nan"))), "workloads[0].share", "schema", "finite number"),
    ("bool-phase", DEFAULT.replace("[200, 400]", "[true, 400]"), "sites[0].energisation_phases_mw", "schema", "boolean true"),
    ("bool-samples", _variant(_set(["rollout", "monte_carlo_samples"], True)), "rollout.monte_carlo_samples", "schema", "boolean true"),
    ("bool-power", _variant(_set(["sites", 0, "facility_power_mw"], True)), "sites[0].facility_power_mw", "schema", "boolean true"),
    ("bool-tokens", _variant(_set(["workloads", 0, "isl_tokens"], False)), "workloads[0].isl_tokens", "schema", "boolean false"),
    ("bool-slo", _variant(_set(["workloads", 0, "slo", "tpot_p99_ms"], True)), "workloads[0].slo.tpot_p99_ms", "schema", "boolean true"),
    ("bool-seed", _variant(_set(["seed"], True)), "seed", "schema", "boolean true"),
    ("unknown-device", _variant(_set(["devices", "fleets", 0, "device"], "Snapdragon X Elit CRD")), "devices.fleets[0].device", "device-known",
     "did you mean 'Snapdragon X Elite CRD'"),
    ("duplicate-fleet-names", _variant(_set(["devices", "fleets", 1, "name"], "laptops")), "devices.fleets[1].name", "fleet-names-unique",
     "fleet name 'laptops' is used twice"),
    ("recursive-anchor", DEFAULT.replace("description: >", "loop: &l [*l]\ndescription: >"), None, "yaml-structure", "refers to itself"),
    ("alias-bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdef", "bcdefg")),
     None, "yaml-structure", "aliases expand"),
    ("deep-nesting", "name: " + "[" * 3000 + "]" * 3000 + "\n", None, "yaml-structure", "nested too deeply"),
]


@pytest.mark.parametrize(("case", "content", "field", "check_name", "needle"), NAMED_PROBLEMS, ids=[c[0] for c in NAMED_PROBLEMS])
def test_named_problem_from_check(cli, tmp_path, case, content, field, check_name, needle):
    """`gigafactory check --json` exits 2 naming the field and the check, without running a stage."""
    import json

    path = tmp_path / f"{case}.yaml"
    path.write_text(content, encoding="utf-8")
    code, out, err = cli("check", str(path), "--json")
    assert code == 2, (out, err)
    problems = json.loads(out)["problems"]
    hits = [p for p in problems if p["check"] == check_name and p["field"] == field]
    assert hits, problems
    assert any(needle in p["message"] for p in hits), hits
    assert all(p["file"] == str(path) for p in problems)
    assert all(p["check"] for p in problems)
    if field is not None:
        assert all(p["line"] for p in hits)
    code, _, err = cli("check", str(path))
    assert code == 2 and "Traceback" not in err and needle in err


def test_bad_date_names_its_line(cli, tmp_path):
    path = tmp_path / "date.yaml"
    path.write_text(DEFAULT.replace("start_date: 2026-03-01", "start_date: 2026-02-30"), encoding="utf-8")
    line = 1 + DEFAULT.splitlines().index("  start_date: 2026-03-01")
    code, _, err = cli("check", str(path))
    assert code == 2 and f"{path}:{line}: rollout.start_date" in err


def test_a_large_site_is_cut_into_fabric_islands(cli, catalog, tmp_path):
    """1 GW of GB300 on InfiniBand is more than one 3-tier fat tree can join; the designer cuts it
    into 2-tier islands instead of failing (it used to raise inside its island search), and the
    check agrees."""
    from gigafactory.design.factory import design_factory
    from gigafactory.scenario import load_scenario

    path = tmp_path / "big.yaml"
    path.write_text(_gb300_ib_site_power(1000), encoding="utf-8")
    code, _, err = cli("check", str(path))
    assert code == 0, err
    d = design_factory(catalog, load_scenario(path, catalog))
    fabric = d.sites[0].fabrics[0]
    assert d.sites[0].gpus > 300_000 and len(fabric.tiers) <= 2


@pytest.mark.parametrize("case", ["island-beyond-3-tier-fabric"])
def test_fabric_fix_suggests_an_island_size_that_works(cli, catalog, tmp_path, case):
    """The fabric-design problem's fix is a scenario edit that makes the check and the designer pass."""
    import json
    import re

    from gigafactory.design.factory import design_factory
    from gigafactory.scenario import load_scenario

    path = tmp_path / "big.yaml"
    path.write_text(next(c[1] for c in NAMED_PROBLEMS if c[0] == case), encoding="utf-8")
    code, out, _ = cli("check", str(path), "--json")
    fix = next(p["fix"] for p in json.loads(out)["problems"] if p["check"] == "fabric-design")
    gpus = int(re.search(r"island_max_gpus(?::| to) (\d+)", fix).group(1))
    fixed = yaml.safe_load(path.read_text(encoding="utf-8"))
    fixed["fabric"]["island_max_gpus"] = gpus
    path.write_text(yaml.safe_dump(fixed, sort_keys=False), encoding="utf-8")
    code, _, err = cli("check", str(path))
    assert code == 0, err
    design_factory(catalog, load_scenario(path, catalog))


TRACE_CSV = "arrival_s,input_tokens,output_tokens\n0.0,100,10\n0.5,200,20\n1.25,150,5\n"


def test_relative_trace_file_is_resolved_against_the_scenario_folder(tmp_path, monkeypatch):
    from gigafactory.scenario import load_scenario
    from gigafactory.simulate.run import check_trace

    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "mine.csv").write_text(TRACE_CSV, encoding="utf-8")
    path = tmp_path / "scn.yaml"
    path.write_text(_variant(_set(["simulation", "trace"], "traces/mine.csv")), encoding="utf-8")
    monkeypatch.chdir(tmp_path.parent)  # somewhere else: the path must not depend on the working directory
    scn = load_scenario(path)
    assert scn.simulation.trace == str(tmp_path / "traces" / "mine.csv")
    check_trace(scn.simulation.trace)  # the simulator opens the same file


BAD_TRACES = [  # (content, needle, whether the header sniff of a large file sees it too)
    ("TIME,ContextTokens\n1,2\n", "unrecognised columns", True),
    ("num_prefill_tokens,num_decode_tokens\n10,2\n", "length table", True),
    ("", "empty", True),
    ("arrival_s,input_tokens,output_tokens\n0,0,5\n", "below 1", False),  # a bad row in a large file is left to the simulator
]


@pytest.mark.parametrize(("content", "needle", "large"),
                         [(c, n, False) for c, n, _ in BAD_TRACES] + [(c, n, True) for c, n, sniffed in BAD_TRACES if sniffed],
                         ids=[f"read-{n}" for _, n, _ in BAD_TRACES] + [f"sniffed-{n}" for _, n, s in BAD_TRACES if s])
def test_bad_trace_file_is_a_problem(cli, tmp_path, monkeypatch, content, needle, large):
    """Small trace files are read by the simulator's own reader; large ones only have their header recognised."""
    import json

    from gigafactory import checks

    if large:
        monkeypatch.setattr(checks, "CHEAP_TRACE_BYTES", -1)
    (tmp_path / "t.csv").write_text(content, encoding="utf-8")
    path = tmp_path / "scn.yaml"
    path.write_text(_variant(_set(["simulation", "trace"], "t.csv")), encoding="utf-8")
    code, out, _ = cli("check", str(path), "--json")
    assert code == 2
    prob = json.loads(out)["problems"][0]
    assert prob["check"] == "simulation-trace" and prob["field"] == "simulation.trace" and needle in prob["message"], prob
    assert prob["value"] == "t.csv" and str(tmp_path / "t.csv") in prob["message"]


@pytest.mark.parametrize("large", [False, True], ids=["read", "sniffed"])
def test_good_trace_file_passes(cli, tmp_path, monkeypatch, large):
    from gigafactory import checks

    if large:
        monkeypatch.setattr(checks, "CHEAP_TRACE_BYTES", -1)
    (tmp_path / "t.csv").write_text(TRACE_CSV, encoding="utf-8")
    path = tmp_path / "scn.yaml"
    path.write_text(_variant(_set(["simulation", "trace"], "t.csv")), encoding="utf-8")
    code, _, err = cli("check", str(path))
    assert code == 0, err


@pytest.mark.parametrize("example", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_pass(cli, example):
    code, _, err = cli("check", str(example))
    assert code == 0, err


def test_default_passes(cli):
    code, _, err = cli("check")
    assert code == 0, err


def test_every_named_check_is_exercised():
    """Each registered check has at least one bad-input case above that trips it."""
    named = {c[3] for c in NAMED_PROBLEMS}
    assert {"simulation-router", "simulation-trace", "design-cooling", "design-min-su", "design-floor", "fabric-design",
            "device-known", "fleet-names-unique"} <= named
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
        **{name: None for name in named if name in CHECKS},
        "cooling-capacity": None,  # every catalog system can be cooled by some technology today (see test below)
        "power-path": None,  # tests/test_rollout_power.py trips it three ways
        "demand-segments": None,  # tests/test_demand.py trips it (unserved model, unknown profile, contracts over 1)
    }
    assert set(tripped) == set(CHECKS)


def test_cooling_capacity_refuses_racks_no_technology_can_cool(catalog):
    """No catalog system is too dense for every technology, so trip the check with a doubled rack."""
    import dataclasses

    from gigafactory.checks import cooling_capacity
    from gigafactory.scenario.load import parse_scenario_text

    scn = parse_scenario_text(DEFAULT, catalog=catalog)
    sys_id = catalog.resolve_id("systems", "gb300-nvl72")
    real = catalog.tables["systems"][sys_id]
    dense = dataclasses.replace(real, max_power_w=real.max_power_w * 3) if dataclasses.is_dataclass(real) else real.model_copy(update={"max_power_w": real.max_power_w * 3})
    tables = {**catalog.tables, "systems": {**catalog.tables["systems"], sys_id: dense}}
    cat = dataclasses.replace(catalog, tables=tables)
    problems = cooling_capacity(scn, cat, None)
    assert problems and problems[0].check == "cooling-capacity" and problems[0].field == "systems.default"


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
