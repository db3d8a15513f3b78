"""Typed results of the design and serving stages (gigafactory.results.design / .serving) and the
generated JSON Schema of result.json: the models accept the stages' real outputs and dump back
to the same JSON, with the same key order and the same JSON types."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from gigafactory.design import choice
from gigafactory.design.factory import design_factory, design_site
from gigafactory.results.design import DesignChoice, DesignResult, SiteResult
from gigafactory.results.schema import DOCS_PATH, plan_result_schema, schema_text
from gigafactory.results.serving import ServingResult, WorkloadServing
from gigafactory.scenario import load_scenario
from gigafactory.scenario.model import SiteSpec, SystemsSpec

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = [None, REPO / "examples" / "three-site-mixed.yaml"]

#: BOM counts are floats (W and m^2 for the top-down lines); catalog lines give whole counts as
#: ints, which the model writes as floats (3128 -> 3128.0): the only int/float difference.
INT_AS_FLOAT = ("bom[].count",)


def _serving_rates(cat, scn, design):
    # the serving stage is moving from economics.run to design.choice
    fn = getattr(choice, "serving_rates", None)
    if fn is None:
        from gigafactory.economics.run import serving_rates as fn
    return fn(cat, scn, design)


def _as_json(value: Any) -> Any:
    """A stage output as result.json stores it (a model's JSON form, or the dict through json)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return json.loads(json.dumps(value, default=str))


def _same_json(expected: Any, got: Any, path: str = "") -> list[str]:
    """Differences between two JSON values: keys and their order, values, and int vs float."""
    if type(expected) is not type(got):
        if isinstance(expected, int) and isinstance(got, float) and path.endswith(INT_AS_FLOAT) and expected == got:
            return []
        return [f"{path}: {type(expected).__name__} {expected!r} != {type(got).__name__} {got!r}"]
    if isinstance(expected, dict):
        if list(expected) != list(got):
            return [f"{path}: keys {list(expected)} != {list(got)}"]
        return [d for k in expected for d in _same_json(expected[k], got[k], f"{path}.{k}")]
    if isinstance(expected, list):
        if len(expected) != len(got):
            return [f"{path}: {len(expected)} items != {len(got)}"]
        return [d for a, b in zip(expected, got) for d in _same_json(a, b, f"{path}[]")]
    return [] if expected == got else [f"{path}: {expected!r} != {got!r}"]


def _round_trip(model: type[BaseModel], data: Any) -> BaseModel:
    d = _as_json(data)
    m = model.model_validate(d)
    out = m.model_dump(mode="json")
    assert out == d
    assert _same_json(d, out) == []
    assert model.model_validate_json(m.model_dump_json()) == m
    return m


@pytest.fixture(scope="module", params=SCENARIOS, ids=["default", "three-site-mixed"])
def staged(request, catalog):
    scn = load_scenario(request.param)
    design = design_factory(catalog, scn)
    return scn, design, _serving_rates(catalog, scn, design)


def test_design_result_round_trips(catalog, staged):
    scn, design, _ = staged
    m = _round_trip(DesignResult, design)
    assert [s.name for s in m.sites] == [s.name for s in scn.sites]
    assert m.total.gpus == sum(s.gpus for s in m.sites)
    assert m.total.capex_usd == pytest.approx(sum(m.total.capex_breakdown_usd.values()))
    assert all(len(s.pue_monthly) == 12 for s in m.sites)


def test_site_dicts_round_trip(catalog, staged):
    """`SiteDesign.as_dict()` itself (the dict the design stage builds each site from)."""
    scn = staged[0]
    for spec in scn.sites:
        site = _round_trip(SiteResult, design_site(catalog, scn, spec).as_dict())
        assert {f.name for f in site.fabrics} == {"compute", "frontend", "oob"}


def test_serving_result_round_trips(catalog, staged):
    scn, design, serving = staged
    rates = _as_json(serving)
    rates = rates["systems"] if isinstance(serving, BaseModel) else rates
    m = ServingResult.from_rates(rates)
    assert m.model_dump(mode="json")["systems"] == rates
    assert _same_json(rates, m.model_dump(mode="json")["systems"]) == []
    systems = list(dict.fromkeys(s.system for s in DesignResult.model_validate(_as_json(design)).sites))
    assert list(m.systems) == systems
    for sid in systems:
        assert [w.model for w in m[sid]] == [catalog.model(w.model).id for w in scn.workloads]
    for row in choice.serving_for_system(catalog, scn, systems[0]):  # the stage's rows themselves
        _round_trip(WorkloadServing, row)


def test_both_serving_modes_are_typed(staged):
    """Disaggregated configurations carry the prefill pool; aggregated ones do not."""
    rates = _as_json(staged[2])
    rates = rates["systems"] if isinstance(staged[2], BaseModel) else rates
    for rows in ServingResult.from_rates(rates).systems.values():
        for w in rows:
            assert w.config is not None and w.config.mode in ("aggregated", "disaggregated")
            assert hasattr(w.config, "prefill_layout") == (w.config.mode == "disaggregated")


def test_serving_rows_without_a_configuration(catalog):
    """An unsupported precision (fp4 on Hopper) and an unmeetable SLO: the rows the scenario checks
    keep out of a plan but the design choice's candidates can produce."""
    scn = load_scenario(REPO / "examples" / "single-site-h200.yaml")
    wl = scn.workloads[0]
    variant = scn.model_copy(update={"workloads": [
        wl.model_copy(update={"precision": "fp4", "share": 0.5}),
        wl.model_copy(update={"share": 0.5, "slo": wl.slo.model_copy(update={"tpot_p99_ms": 0.01})}),
    ]})
    unsupported, unmet = choice.serving_for_system(catalog, variant, "dgx-h200")
    assert set(unsupported) == {"model", "share", "tok_s_gpu", "reason"}
    m = WorkloadServing.model_validate(unsupported)
    # the missing keys take their defaults: the JSON form has every key
    assert m.model_dump(mode="json") == {**unsupported, "tok_s_user": None, "config": None, "ttft_p99_s": None, "tpot_p99_s": None,
                                           "efficiency": None, "frontier": []}
    assert m.tok_s_gpu == 0 and "not supported" in m.reason
    m = _round_trip(WorkloadServing, unmet)
    assert m.config is None and m.tok_s_user is None and m.reason and m.frontier


def test_design_choice_round_trips(catalog):
    """A feasible candidate with unsupported-precision rows and an infeasible one."""
    scn = load_scenario(None)
    variant = scn.model_copy(update={
        "sites": [SiteSpec(name="small", region="us-virginia", it_power_mw=0.6)],
        "systems": SystemsSpec(default="gb300-nvl72", candidates=["dgx-h200"]),
    })
    result = _round_trip(DesignChoice, choice.compare_systems(catalog, variant, design_factory))
    by_system = {c.system: c for c in result.candidates}
    assert by_system["gb300-nvl72"].feasible is False
    h200 = by_system["dgx-h200"]
    assert h200.feasible is True
    assert any(w.reason and "not supported" in w.reason for w in h200.serving)
    assert result.winner_per_mw == "dgx-h200"


def test_results_refuse_unknown_and_mistyped_fields(staged):
    d = _as_json(staged[1])
    with pytest.raises(ValidationError):
        DesignResult.model_validate({**d, "surprise": 1})
    site = {**d["sites"][0], "limiting_factor": "budget"}
    with pytest.raises(ValidationError):
        SiteResult.model_validate(site)
    m = DesignResult.model_validate(d)
    with pytest.raises(ValidationError):
        m.scenario = "other"  # frozen


def test_schema_file_is_current():
    """docs/result.schema.json is generated: `python -m gigafactory.results.schema` rewrites it."""
    assert DOCS_PATH == REPO / "docs" / "result.schema.json"
    assert DOCS_PATH.read_text(encoding="utf-8") == schema_text(), "stale: run `python -m gigafactory.results.schema`"
    schema = plan_result_schema()
    assert schema["title"] and schema["$id"] and schema["version"] == schema["properties"]["schema_version"]["const"]
    assert schema["additionalProperties"] is False


def test_schema_version_is_the_plans():
    from gigafactory.plan import SCHEMA_VERSION
    from gigafactory.results.plan import SCHEMA_VERSION as RESULT_VERSION

    assert RESULT_VERSION == SCHEMA_VERSION
