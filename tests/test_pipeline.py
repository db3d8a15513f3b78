"""The pipeline: stage graph, declared reads, the stage cache, named random streams, and every
CLI verb reporting the same figures as the pipeline."""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import BaseModel

from gigafactory.pipeline import Inputs, Pipeline, RunOptions, StageCache, stream, stream_seed
from gigafactory.pipeline.graph import project
from gigafactory.pipeline.stages import STAGES
from gigafactory.results.base import Result
from gigafactory.scenario import default_scenario_path, parse_scenario_text

from conftest import keep_demand_for_workloads

OPTS = RunOptions(rollout_samples=50, economics_samples=200, duration_s=30.0)


def _small_text(**finance: Any) -> str:
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "solo", "region": "us-virginia", "facility_power_mw": 40}]
    data["workloads"] = [{"model": "llama-3.3-70b", "share": 1.0, "precision": "fp8", "isl_tokens": 2048, "osl_tokens": 512,
                          "slo": {"ttft_p99_ms": 2000, "tpot_p99_ms": 50}, "price_input_usd_per_mtok": 0.29, "price_output_usd_per_mtok": 0.60}]
    keep_demand_for_workloads(data)
    data["devices"] = {"fleets": []}
    data["finance"] = {**data.get("finance", {}), **finance}
    return yaml.safe_dump(data, sort_keys=False)


@pytest.fixture(scope="module")
def small(catalog):
    text = _small_text()
    return parse_scenario_text(text, "small.yaml", catalog), text


@pytest.fixture(scope="module")
def small_results(catalog, small):
    pipe = Pipeline(catalog, small[0], OPTS)
    pipe.result("plan")
    return pipe


# --------------------------------------------------------------------------- graph


def test_order_is_topological_and_fixed():
    from gigafactory.pipeline.graph import Pipeline as Graph

    g = Graph(None, None, STAGES)  # type: ignore[arg-type]  # ordering needs no catalog or scenario
    order = g.order(["plan"])
    assert order == ["design", "serving", "simulation", "rollout", "operations", "devices", "successor", "demand", "economics", "method_rollouts",
                     "methods", "plan"]
    for i, name in enumerate(order):
        assert all(order.index(d) < i for d in STAGES[name].needs)
    assert g.order(["economics"]) == ["design", "serving", "rollout", "operations", "successor", "devices", "demand", "economics"]


def test_every_stage_result_is_typed_and_frozen(small_results):
    for name in ("design", "serving", "successor", "simulation", "rollout", "demand", "economics", "method_rollouts", "methods", "plan"):
        res = small_results.result(name)
        assert isinstance(res, Result) and isinstance(res, STAGES[name].result), name
        assert res.model_config.get("frozen") and res.model_config.get("extra") == "forbid", name
        with pytest.raises(Exception):
            setattr(res, next(iter(type(res).model_fields)), None)


def _no_untyped_dicts(model: type[BaseModel], seen: set[type] | None = None) -> list[str]:
    """Field paths typed as a bare dict[str, Any] / Any inside a stage result (the plan's
    scenario echo excepted: it is the scenario's own pydantic dump)."""
    import typing

    seen = seen if seen is not None else set()
    if model in seen:
        return []
    seen.add(model)
    bad = []
    for name, f in model.model_fields.items():
        stack = [f.annotation]
        while stack:
            t = stack.pop()
            if t is typing.Any:
                bad.append(f"{model.__name__}.{name}")
            elif isinstance(t, type) and issubclass(t, BaseModel):
                bad += _no_untyped_dicts(t, seen)
            else:
                stack.extend(a for a in typing.get_args(t) if a is not type(None))
    return bad


@pytest.mark.parametrize("stage", ["design", "serving", "successor", "simulation", "rollout", "demand", "economics", "method_rollouts", "methods"])
def test_no_untyped_values_cross_a_stage_boundary(stage):
    assert _no_untyped_dicts(STAGES[stage].result) == []


# --------------------------------------------------------------------------- declared reads


class _Recorder:
    """A read-only view of a pydantic model that records every field path read through it."""

    def __init__(self, obj: Any, path: str, log: set[str]):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_log", log)
        object.__setattr__(self, "_children", {})

    def __getattr__(self, name: str) -> Any:
        obj, path, log = self._obj, self._path, self._log
        value = getattr(obj, name)
        if callable(value) and not isinstance(value, BaseModel):
            return value  # methods (system_for, ...) run on the real object: their reads are under a recorded parent
        here = f"{path}.{name}" if path else name
        log.add(here)
        if name not in self._children:  # the same wrapped objects each time (code may look them up: sites.index(site))
            self._children[name] = _wrap(value, here, log)
        return self._children[name]

    def __eq__(self, other: Any) -> bool:
        return self._obj == (other._obj if isinstance(other, _Recorder) else other)

    def __hash__(self) -> int:
        return hash(id(self._obj))


def _wrap(value: Any, path: str, log: set[str]) -> Any:
    if isinstance(value, BaseModel):
        return _Recorder(value, path, log)
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return [_Recorder(v, f"{path}[*]", log) for v in value]
    return value


def _covered(path: str, declared: tuple[str, ...]) -> bool:
    return any(path == d or path.startswith(d + ".") or path.startswith(d + "[") for d in declared)


@pytest.mark.parametrize("stage", ["design", "serving", "successor", "simulation", "rollout", "demand", "economics", "method_rollouts", "methods"])
def test_stages_read_only_what_they_declare(catalog, small, small_results, stage):
    """A stage's cache key hashes the scenario paths it declares; reading anything else would
    make a stale cache hit possible.  Each stage runs on a scenario that records its reads."""
    st = STAGES[stage]
    log: set[str] = set()
    upstream = {d: small_results.result(d) for d in st.needs}
    st.compute(Inputs(catalog, _Recorder(small[0], "", log), OPTS, upstream))  # type: ignore[arg-type]
    assert log, f"{stage} read nothing from the scenario"
    # the leaves: a path the code went through to reach a deeper one is not itself read whole
    leaves = {p for p in log if not any(q.startswith(p + ".") or q.startswith(p + "[") for q in log)}
    undeclared = sorted(p for p in leaves if not _covered(p, st.reads))
    assert undeclared == [], f"{stage} reads {undeclared} without declaring them in pipeline/stages.py"


def test_project_paths():
    data = {"a": {"b": 1}, "l": [{"x": 1, "y": 2}, {"x": 3}]}
    assert project(data, "a.b") == 1 and project(data, "l[*].x") == [1, 3] and project(data, "l[*].y") == [2, None]
    assert project(data, "missing.key") is None


# --------------------------------------------------------------------------- cache


def test_price_change_reruns_economics_only(catalog, tmp_path):
    cache = StageCache(tmp_path / "cache")
    a_text, b_text = _small_text(), _small_text(price_decline_per_year=0.3)
    a = parse_scenario_text(a_text, "a.yaml", catalog)
    b = parse_scenario_text(b_text, "b.yaml", catalog)
    first = Pipeline(catalog, a, OPTS, cache=cache)
    first.result("plan")
    assert not any(r.cached for r in first.runs)
    again = Pipeline(catalog, a, OPTS, cache=cache)
    res_again = again.result("plan")
    assert {r.name for r in again.runs if r.cached} == {"design", "serving", "successor", "simulation", "rollout", "operations", "devices",
                                                        "demand", "economics", "method_rollouts", "methods", "plan"}
    assert res_again == first.result("plan")  # a hit is the result a fresh run computes
    price = Pipeline(catalog, b, OPTS, cache=cache)
    price.result("plan")
    recomputed = {r.name for r in price.runs if not r.cached}
    # the demand stage reads finance (prices decline); the successor stage reads the decline (a number: it serves nothing)
    assert recomputed == {"successor", "demand", "economics", "methods", "plan"}
    assert price.result("economics").npv_usd != first.result("economics").npv_usd


def test_token_price_change_reuses_the_successor_search(catalog, tmp_path):
    """With the decline priced from the next generation, the successor system's serving search
    (~3 s on 2 cores) is a stage of its own: a change of token price finds it in the cache, and
    the demand stage prices the decline from the same rows."""
    cache = StageCache(tmp_path / "cache")
    base = yaml.safe_load(_small_text(price_decline_per_year="next-generation"))
    first = Pipeline(catalog, parse_scenario_text(yaml.safe_dump(base, sort_keys=False), "a.yaml", catalog), OPTS, cache=cache)
    first.result("demand")
    succ = first.result("successor")
    assert len(succ.systems) == 1 and all(r.tok_s_gpu > 0 for rows in succ.systems.values() for r in rows)
    base["workloads"][0]["price_output_usd_per_mtok"] = 0.50
    again = Pipeline(catalog, parse_scenario_text(yaml.safe_dump(base, sort_keys=False), "b.yaml", catalog), OPTS, cache=cache)
    again.result("demand")
    assert {r.name for r in again.runs if not r.cached} == {"demand"}
    assert again.result("demand").price_decline_per_year == first.result("demand").price_decline_per_year


def test_option_change_misses_and_corrupt_entry_is_a_miss(catalog, small, tmp_path):
    cache = StageCache(tmp_path / "cache")
    p1 = Pipeline(catalog, small[0], OPTS, cache=cache)
    p1.result("economics")
    p2 = Pipeline(catalog, small[0], OPTS.model_copy(update={"economics_samples": 100}), cache=cache)
    p2.result("economics")
    assert [r.name for r in p2.runs if not r.cached] == ["economics"]
    key = p1.key("design")
    (tmp_path / "cache" / "design" / f"{key}.json").write_text("{not json")
    p3 = Pipeline(catalog, small[0], OPTS, cache=cache)
    assert p3.result("design") == p1.result("design")
    assert [r.name for r in p3.runs if not r.cached] == ["design"]


# --------------------------------------------------------------------------- named streams


def test_named_streams_are_stable_and_independent():
    a = stream(7, "rollout.risk").random(4)
    assert np.array_equal(a, stream(7, "rollout.risk").random(4))
    assert not np.array_equal(a, stream(7, "economics.monte_carlo").random(4))
    assert not np.array_equal(a, stream(8, "rollout.risk").random(4))
    seeds = {stream_seed(1, f"simulate.pool.p{i}") for i in range(200)}
    assert len(seeds) == 200
    with pytest.raises(ValueError):
        stream(1, "")


# --------------------------------------------------------------------------- entry points agree


def test_cli_verbs_report_the_pipelines_figures(catalog, small, small_results, cli, tmp_path, monkeypatch):
    """Each verb runs the pipeline: same scenario, same options, same figures."""
    path = tmp_path / "small.yaml"
    path.write_text(small[1])
    monkeypatch.setenv("GIGAFACTORY_HOME", str(tmp_path / "home"))
    code, out, _ = cli("design", str(path), "--no-compare", "--json")
    assert code == 0 and json.loads(out) == small_results.result("design").model_dump(mode="json")
    code, out, _ = cli("rollout", str(path), "--samples", "50", "--gantt", "--json")
    assert code == 0 and json.loads(out) == small_results.result("rollout").model_dump(mode="json")
    code, out, _ = cli("simulate", str(path), "--duration", "30", "--json")
    assert code == 0 and json.loads(out) == small_results.result("simulation").model_dump(mode="json")
    # economics: the verb uses the scenario's rollout samples; compare with a pipeline run on the same options
    code, out, _ = cli("economics", str(path), "--samples", "200", "--json")
    ref = Pipeline(catalog, small[0], RunOptions(economics_samples=200)).result("economics")
    assert code == 0 and json.loads(out) == ref.model_dump(mode="json")
    code, out, _ = cli("plan", str(path), "--samples", "200", "--out", str(tmp_path / "out"), "--no-store", "--json")
    assert code == 0
    written = json.loads((tmp_path / "out" / "result.json").read_text())
    ref_plan = Pipeline(catalog, small[0], RunOptions(economics_samples=200)).result("plan").model_dump(mode="json")
    for key in ("design", "serving", "rollout", "economics", "simulation"):
        assert written[key] == ref_plan[key], key


# --------------------------------------------------------------------------- outputs checked before the work


def test_plan_refuses_bad_output_paths_before_computing(cli, tmp_path, monkeypatch):
    """`plan --out` under a file, or `--store` that is not a database: exit 2 with a named problem,
    found before any stage runs (no stage computed, nothing written)."""
    import gigafactory.plan as plan_mod

    def boom(*_a, **_k):
        raise AssertionError("a stage ran before the output paths were checked")

    monkeypatch.setattr(plan_mod, "plan_result", boom)
    monkeypatch.setenv("GIGAFACTORY_HOME", str(tmp_path / "home"))
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    code, _, err = cli("plan", "--out", str(a_file / "out"), "--no-store")
    assert code == 2 and "file.txt" in err and "Traceback" not in err
    store = tmp_path / "notes.txt"
    store.write_text("hello")
    code, _, err = cli("plan", "--out", str(tmp_path / "out"), "--store", str(store))
    assert code == 2 and "not a gigafactory run store" in err
    assert not (tmp_path / "out").exists() and store.read_text() == "hello"
