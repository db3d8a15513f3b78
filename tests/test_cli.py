"""The command line: --version, --help on every verb, catalog browsing, default scenario."""
from __future__ import annotations

import json

import pytest

from gigafactory.catalog import KINDS
from gigafactory.scenario import default_scenario_path, load_scenario

from conftest import REPO

VERBS = [[], ["check"], ["perf"], ["calibrate"], ["validate"], ["design"], ["rollout"], ["economics"], ["simulate"], ["consolidate"], ["plan"], ["runs"], ["runs", "list"], ["runs", "show"], ["runs", "compare"], ["catalog"], ["catalog", "list"], ["catalog", "show"], ["catalog", "schema"], ["scenario"], ["scenario", "init"]]


def test_version(cli):
    code, out, _ = cli("--version")
    assert code == 0 and out.startswith("gigafactory ") and "catalog" in out


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v) or "root")
def test_help_on_every_verb(cli, verb):
    code, out, _ = cli(*verb, "--help")
    assert code == 0 and "Usage" in out


def test_unknown_verb_is_a_usage_error(cli):
    code, _, err = cli("frobnicate")
    assert code == 2 and "frobnicate" in err


def test_check_default_scenario(cli):
    code, out, err = cli("check")
    assert code == 0, err
    assert "valid" in out and "abilene" in out


def test_check_json_is_deterministic(cli):
    first = cli("check", "--json")
    second = cli("check", "--json")
    assert first[0] == 0 and first[1] == second[1]
    body = json.loads(first[1])
    assert body["valid"] is True
    assert body["total_power_mw"] == pytest.approx(1000.0)
    assert {w["model"] for w in body["workloads"]} == {"llama-3.3-70b", "deepseek-r1", "gpt-oss-120b"}
    assert body["scenario"]["seed"] == 20260106


def test_default_scenario_is_a_1gw_gb300_programme_over_two_sites():
    scn = load_scenario()
    assert len(scn.sites) == 2 and scn.systems.default == "gb300-nvl72"
    assert sum(s.power_mw for s in scn.sites) == pytest.approx(1000.0)


def test_examples_are_valid_and_default_matches_the_bundled_copy(cli):
    examples = sorted((REPO / "examples").glob("*.yaml"))
    assert len(examples) >= 3
    for path in examples:
        code, _, err = cli("check", str(path))
        assert code == 0, f"{path.name}: {err}"
    assert (REPO / "examples" / "default.yaml").read_text() == default_scenario_path().read_text()


@pytest.mark.parametrize("kind", KINDS)
def test_catalog_list_every_kind(cli, kind):
    code, out, err = cli("catalog", "list", kind)
    assert code == 0, err
    code, out, _ = cli("catalog", "list", kind, "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) >= 3 and all("id" in r for r in rows)


def test_catalog_list_unknown_kind(cli):
    code, _, err = cli("catalog", "list", "sytems")
    assert code == 2 and "did you mean 'systems'" in err


def test_catalog_show_gb300_json(cli):
    code, out, _ = cli("catalog", "show", "gb300-nvl72", "--json")
    assert code == 0
    body = json.loads(out)
    attrs = body["attributes"]
    assert attrs["gpus"]["value"] == 72 and attrs["cpus"]["value"] == 36
    for name in ("gpus", "cpus", "max_power_w", "price_usd"):
        assert attrs[name]["source"] and attrs[name]["date"] and attrs[name]["unit"]


def test_catalog_show_by_hugging_face_id(cli):
    code, out, _ = cli("catalog", "show", "deepseek-ai/DeepSeek-R1-0528", "--json")
    body = json.loads(out)
    assert code == 0 and body["id"] == "deepseek-r1" and body["attributes"]["attention"]["value"] == "mla"


def test_catalog_show_human_output(cli):
    code, out, _ = cli("catalog", "show", "h100-sxm")
    assert code == 0 and "80 GB" in out and "3.35 TB/s" in out


def test_catalog_show_unknown(cli):
    code, _, err = cli("catalog", "show", "gb300-nvl27")
    assert code == 2 and "did you mean" in err


def test_catalog_schema(cli):
    code, out, _ = cli("catalog", "schema", "systems", "--json")
    body = json.loads(out)
    assert code == 0 and any(r["attribute"] == "max_power_w" and r["unit"] == "W" for r in body["attributes"])


def test_scenario_init_writes_a_valid_copy(cli, tmp_path):
    target = tmp_path / "mine.yaml"
    code, _, _ = cli("scenario", "init", str(target))
    assert code == 0 and target.exists()
    assert cli("check", str(target))[0] == 0
    code, _, err = cli("scenario", "init", str(target))
    assert code == 2 and "already exists" in err
