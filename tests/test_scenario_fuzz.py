"""A deterministic fuzz corpus of the default scenario: every mutation either fails
`gigafactory check` (an InputError whose problems all name their check) or passes it and
then runs the cheap stages without raising: the scenario summary `check` prints, the factory
design, the rollout task graph, the simulator's trace check and router lookup.

Nothing may pass the checks and then fail inside a stage: such an escape is a missing check
(fix it in gigafactory.checks or the schema, not in the stage).
"""
from __future__ import annotations

import copy
import math
import random
import time
from typing import Any, Callable

import numpy as np
import pytest
import yaml

from gigafactory.errors import InputError
from gigafactory.scenario import default_scenario_path
from gigafactory.scenario.load import parse_scenario_text

SEED = 20260106
#: mutations drawn at random from the default scenario's leaves (plus the targeted ones below).
RANDOM_CASES = 200
#: the whole corpus must stay well inside the test budget on a 2-core machine.
BUDGET_S = 60.0

DEFAULT = yaml.safe_load(default_scenario_path().read_text(encoding="utf-8"))

Edit = Callable[[Any], None]


def _leaves(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every value in the tree (mappings, lists and scalars alike), root excluded."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(path + (k,))
            out += _leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(path + (i,))
            out += _leaves(v, path + (i,))
    return out


def _get(d: Any, path: tuple) -> Any:
    for k in path:
        d = d[k]
    return d


def _set(path: tuple, value: Any) -> Edit:
    def edit(d: Any) -> None:
        _get(d, path[:-1])[path[-1]] = value

    return edit


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 2:
        return text + "x"
    i = rng.randrange(len(text) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return text[:i] + text[i + 1:]  # drop a character
    if kind == 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]  # swap two
    return text[:i] + rng.choice("aeiou-0") + text[i:]  # insert one


NUMBER_VALUES = [0, -1, -0.5, math.nan, math.inf, -math.inf, 1e12, 10**30, 1e-9, True, False, "abc", "12 furlongs", None, [1]]


def _mutations_of(rng: random.Random, path: tuple, value: Any) -> list[tuple[str, Edit]]:
    """Candidate mutations of one value."""
    name = ".".join(map(str, path))
    out: list[tuple[str, Edit]] = []
    if isinstance(value, bool):
        out += [(f"{name}=str", _set(path, "maybe")), (f"{name}=2", _set(path, 2)), (f"{name}=null", _set(path, None))]
    elif isinstance(value, (int, float)):
        out += [(f"{name}={v!r}", _set(path, v)) for v in NUMBER_VALUES]
    elif isinstance(value, str):
        out += [(f"{name}=typo", _set(path, _typo(rng, value))), (f"{name}=empty", _set(path, "")),
                (f"{name}=upper", _set(path, value.upper())), (f"{name}=number", _set(path, 7))]
    elif isinstance(value, list):
        out += [(f"{name}=[]", _set(path, [])), (f"{name}=dup", _set(path, value + value[:1])),
                (f"{name}=scalar", _set(path, value[0] if value else 1))]
    elif isinstance(value, dict):
        out += [(f"{name}={{}}", _set(path, {})), (f"{name}=list", _set(path, [value]))]
    if path and isinstance(path[-1], str):
        def delete(d: Any, path: tuple = path) -> None:
            del _get(d, path[:-1])[path[-1]]

        out.append((f"del {name}", delete))
    return out


def _targeted() -> list[tuple[str, Edit]]:
    """Values a user plausibly writes for the keys whose meaning is checked by name."""
    cases: list[tuple[str, Edit]] = []
    for sid in ["dgx-h100", "dgx-h200", "dgx-b200", "dgx-b300", "gb200-nvl72", "vera-rubin-nvl72"]:
        cases.append((f"systems.default={sid}", _set(("systems", "default"), sid)))
        cases.append((f"sites.0.system={sid}", _set(("sites", 0, "system"), sid)))
    for cooling in ["air-crah-chiller-economizer", "rear-door-hx", "dlc-chiller-tower", "immersion-single-phase", "dlc-dry-cooler", "cdu", "crah"]:
        cases.append((f"sites.0.cooling={cooling}", _set(("sites", 0, "cooling"), cooling)))
    for mw in [0.1, 1.2, 1.5, 2.0, 150, 300, 2500, 4999, 5000, 5001]:
        cases.append((f"sites.1.facility_power_mw={mw}", _set(("sites", 1, "facility_power_mw"), mw)))
    for area in [-1, 0, 100, 200, 1000, 1e9]:
        cases.append((f"sites.0.floor_area_m2={area}", _set(("sites", 0, "floor_area_m2"), area)))
    for switch in ["quantum-x800-q3400", "spectrum-4-sn5600", "sn2201", "osfp-800g-dr8", "cx8"]:
        cases.append((f"fabric.switch={switch}", _set(("fabric", "switch"), switch)))
    for compute in ["infiniband", "ethernet", "omnipath"]:
        cases.append((f"fabric.compute={compute}", _set(("fabric", "compute"), compute)))
    for gpus in [1, 72, 576, 100_000, 10_000_000]:
        cases.append((f"fabric.island_max_gpus={gpus}", _set(("fabric", "island_max_gpus"), gpus)))
    for trace in ["azur-conv-2023", "poisson", "diurnal", "gamma", "gamma-cv0", "gamma-cv1.5", "gamma-cv1.2.3", "gamma-cv.", "sharegpt",
                  "traces/missing.csv", "/", ".", "azure-conv-2023.csv"]:
        cases.append((f"simulation.trace={trace}", _set(("simulation", "trace"), trace)))
    for router in ["fastest", "round-robin", "prefix-aware", "central-queue", "Round-Robin"]:
        cases.append((f"simulation.router={router}", _set(("simulation", "router"), router)))
    for method in ["stick-built", "powered-shell", "modular"]:
        cases.append((f"rollout.method={method}", _set(("rollout", "method"), method)))
    for country in ["FI", "fi", "ZZ", "USA"]:
        cases.append((f"rollout.integrator_country={country}", _set(("rollout", "integrator_country"), country)))
    cases.append(("sites.0.it_power_mw", lambda d: (d["sites"][0].pop("facility_power_mw"), d["sites"][0].update(it_power_mw=500))))
    cases.append(("sites.0.both_powers", _set(("sites", 0, "it_power_mw"), 500)))
    cases.append(("sites.0.grid_ready=false", _set(("sites", 0, "grid_ready"), False)))
    cases.append(("devices.fleets.0.device=typo", _set(("devices", "fleets", 0, "device"), "Snapdragon X Elit CRD")))
    cases.append(("devices.fleets.1.name=laptops", _set(("devices", "fleets", 1, "name"), "laptops")))
    cases.append(("sites=dup", lambda d: d["sites"].append(copy.deepcopy(d["sites"][0]))))
    return cases


TEXT = default_scenario_path().read_text(encoding="utf-8")


def _text_cases() -> list[tuple[str, str]]:
    """Edits of the YAML text itself (what a dict round-trip cannot express)."""
    start = "start_date: 2026-03-01"
    return [
        ("text: start_date 2026-02-30", TEXT.replace(start, "start_date: 2026-02-30")),
        ("text: start_date 2026-13-01", TEXT.replace(start, "start_date: 2026-13-01")),
        ("text: start_date 2026-03-01T25:00:00", TEXT.replace(start, "start_date: 2026-03-01T25:00:00")),
        ("text: start_date quoted 2026-02-30", TEXT.replace(start, 'start_date: "2026-02-30"')),
        ("text: name is a bad date", TEXT.replace("name: gigafactory-1gw-gb300", "name: 2026-02-30")),
        ("text: power .nan", TEXT.replace("facility_power_mw: 600", "facility_power_mw: .nan")),
        ("text: power -.inf", TEXT.replace("facility_power_mw: 600", "facility_power_mw: -.inf")),
        ("text: power '1e999 MW'", TEXT.replace("facility_power_mw: 600", "facility_power_mw: 1e999 MW")),
        ("text: power 'nan MW'", TEXT.replace("facility_power_mw: 600", "facility_power_mw: nan MW")),
        ("text: phases [true, 400]", TEXT.replace("[200, 400]", "[true, 400]")),
        ("text: phases [.nan]", TEXT.replace("[200, 400]", "[.nan]")),
        ("text: recursive anchor", TEXT.replace("description: >", "loop: &l [*l]\ndescription: >")),
        ("text: shared slo anchor", TEXT.replace("slo: {ttft_p99_ms: 2000, tpot_p99_ms: 50}", "slo: &s {ttft_p99_ms: 2000, tpot_p99_ms: 50}", 1)
         .replace("slo: {ttft_p99_ms: 2000, tpot_p99_ms: 50}", "slo: *s")),
    ]


Case = tuple[str, "Edit | str"]


def corpus() -> list[Case]:
    rng = random.Random(SEED)
    pool: list[tuple[str, Edit]] = []
    for path in _leaves(DEFAULT):
        pool += _mutations_of(rng, path, _get(DEFAULT, path))
    picked = rng.sample(pool, min(RANDOM_CASES, len(pool)))
    return [*_targeted(), *_text_cases(), *picked]


def _stages(cat, scn) -> None:
    """The cheap stages a scenario that passed `check` must survive."""
    from gigafactory.design.factory import design_factory
    from gigafactory.rollout.tasks import build_tasks
    from gigafactory.simulate.router import make_router
    from gigafactory.simulate.run import check_trace, pool_workload
    from gigafactory.summary import scenario_summary

    scenario_summary(scn, cat)
    design = design_factory(cat, scn)
    build_tasks(scn, design, cat)
    check_trace(scn.simulation.trace)
    make_router(scn.simulation.router)
    trace = scn.simulation.trace
    if trace is None or trace in ("poisson", "diurnal") or trace.startswith("gamma"):
        # synthetic arrivals are cheap: build one second of them as the simulator would
        pool_workload(trace, 1.0, 1.0, 1000.0, 100.0, np.random.default_rng(0))


def _run_case(cat, edit: Edit | str) -> str:
    """'refused', 'passed', or a description of the escape."""
    if isinstance(edit, str):
        text = edit
    else:
        data = copy.deepcopy(DEFAULT)
        edit(data)
        text = yaml.safe_dump(data, sort_keys=False)
    try:
        scn = parse_scenario_text(text, file="<fuzz>", catalog=cat)
    except InputError as exc:
        unnamed = [p for p in exc.problems if not p.check]
        return f"problem without a check name: {unnamed[0].render()}" if unnamed else "refused"
    except Exception as exc:  # noqa: BLE001 - loading must only ever raise InputError
        return f"loading raised {type(exc).__name__}: {exc}"
    try:
        _stages(cat, scn)
    except Exception as exc:  # noqa: BLE001 - anything, InputError included, is an escape
        return f"passed check, then a stage raised {type(exc).__name__}: {str(exc).splitlines()[0:3]}"
    return "passed"


def test_corpus_is_deterministic_and_sized():
    a, b = corpus(), corpus()
    assert [n for n, _ in a] == [n for n, _ in b]
    assert 150 <= len(a) <= 350


def test_no_mutation_escapes_the_checks(catalog):
    start = time.perf_counter()
    outcomes = [(name, _run_case(catalog, edit)) for name, edit in corpus()]
    elapsed = time.perf_counter() - start
    escapes = [f"{n}: {o}" for n, o in outcomes if o not in ("refused", "passed")]
    assert not escapes, "\n".join(escapes)
    # the corpus exercises both sides: plenty refused, plenty still valid
    refused = sum(o == "refused" for _, o in outcomes)
    assert refused > len(outcomes) // 4 and len(outcomes) - refused > 20, (refused, len(outcomes))
    assert elapsed < BUDGET_S, f"the fuzz corpus took {elapsed:.1f} s"


@pytest.mark.parametrize(("name", "outcome"), [
    ("simulation.trace=azur-conv-2023", "refused"), ("simulation.trace=gamma-cv1.2.3", "refused"),
    ("sites.0.cooling=air-crah-chiller-economizer", "refused"), ("simulation.router=fastest", "refused"),
    ("devices.fleets.1.name=laptops", "refused"), ("text: start_date 2026-02-30", "refused"), ("text: recursive anchor", "refused"),
    ("text: shared slo anchor", "passed"), ("sites.0.cooling=crah", "refused"), ("simulation.trace=gamma-cv1.5", "passed"),
])
def test_targeted_cases(catalog, name, outcome):
    """Spot checks that the corpus's outcomes are the intended ones, not just escape-free."""
    assert _run_case(catalog, dict(corpus())[name]) == outcome
