"""The stage graph and its runner.

A :class:`Stage` is a function from typed inputs (the catalog, the scenario, the run options
and the results of the stages it needs) to a frozen, typed result.  It declares exactly what
it reads, so its cache key is the hash of those inputs (see :mod:`gigafactory.pipeline.cache`).
:class:`Pipeline` runs the stages a target needs, in graph order, once each, from the cache
when it can.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from pydantic import BaseModel

from gigafactory.catalog import Catalog
from gigafactory.pipeline.cache import StageCache, code_fingerprint, digest
from gigafactory.pipeline.options import RunOptions
from gigafactory.scenario.model import Scenario

Compute = Callable[["Inputs"], BaseModel]
Progress = Callable[[str, str], None]  # (stage, event: "start" | "done" | "cached")


@dataclass(frozen=True)
class Inputs:
    """What a stage's function receives: the catalog, the scenario, the options and the
    results of the stages it needs (by stage name)."""

    cat: Catalog
    scn: Scenario
    options: RunOptions
    upstream: Mapping[str, BaseModel]

    def __getitem__(self, stage: str) -> Any:
        return self.upstream[stage]


@dataclass(frozen=True)
class Stage:
    name: str
    needs: tuple[str, ...]
    reads: tuple[str, ...]  # scenario paths in its JSON form: "sites", "workloads[*].model", "finance.cost_profile"
    options: tuple[str, ...]  # RunOptions fields it reads
    result: type[BaseModel]
    compute: Compute
    describe: str = ""


def project(data: Any, path: str) -> Any:
    """The value at a dotted path with ``[*]`` for every element of a list."""
    head, _, rest = path.partition(".")
    if head.endswith("[*]"):
        items = data.get(head[:-3]) if isinstance(data, dict) else None
        if items is None:
            return None
        return [project(x, rest) if rest else x for x in items]
    value = data.get(head) if isinstance(data, dict) else None
    return project(value, rest) if rest and value is not None else value


@dataclass
class StageRun:
    name: str
    key: str
    cached: bool
    wall_s: float


@dataclass
class Pipeline:
    """Runs stages for one scenario and one set of options; each stage at most once."""

    cat: Catalog
    scn: Scenario
    stages: Mapping[str, Stage]
    options: RunOptions = field(default_factory=RunOptions)
    cache: StageCache | None = None
    progress: Progress | None = None
    runs: list[StageRun] = field(default_factory=list)
    _results: dict[str, BaseModel] = field(default_factory=dict)
    _keys: dict[str, str] = field(default_factory=dict)
    _scenario_json: dict[str, Any] | None = None

    def order(self, targets: tuple[str, ...] | list[str]) -> list[str]:
        """The stages the targets need, each after the stages it needs (a depth-first order
        that follows the declaration order of ``needs``, so it is the same on every run)."""
        seen: list[str] = []

        def visit(name: str, trail: tuple[str, ...]) -> None:
            if name in seen:
                return
            if name in trail:
                raise ValueError(f"stage cycle: {' -> '.join(trail + (name,))}")
            if name not in self.stages:
                raise KeyError(f"unknown stage {name!r}; stages: {', '.join(self.stages)}")
            for dep in self.stages[name].needs:
                visit(dep, trail + (name,))
            seen.append(name)

        for t in targets:
            visit(t, ())
        return seen

    def key(self, name: str) -> str:
        """Content hash of exactly what stage ``name`` reads."""
        if name not in self._keys:
            st = self.stages[name]
            if self._scenario_json is None:
                self._scenario_json = self.scn.model_dump(mode="json")
            self._keys[name] = digest({
                "stage": name,
                "code": code_fingerprint(),
                "catalog": self.cat.version,
                "scenario": {p: project(self._scenario_json, p) for p in st.reads},
                "options": {o: getattr(self.options, o) for o in st.options},
                "upstream": {d: self.key(d) for d in st.needs},
            })
        return self._keys[name]

    def result(self, name: str) -> BaseModel:
        for stage in self.order([name]):
            if stage not in self._results:
                self._results[stage] = self._run_one(stage)
        return self._results[name]

    def run(self, *targets: str) -> dict[str, BaseModel]:
        for t in targets:
            self.result(t)
        return {n: self._results[n] for n in self.order(targets)}

    def _run_one(self, name: str) -> BaseModel:
        st = self.stages[name]
        key = self.key(name)
        say = self.progress or (lambda _s, _e: None)
        t0 = time.perf_counter()
        if self.cache is not None:
            hit = self.cache.get(name, key, st.result)
            if hit is not None:
                self.runs.append(StageRun(name, key, True, time.perf_counter() - t0))
                say(name, "cached")
                return hit
        say(name, "start")
        res = st.compute(Inputs(self.cat, self.scn, self.options, {d: self._results[d] for d in st.needs}))
        if not isinstance(res, st.result):
            raise TypeError(f"stage {name} returned {type(res).__name__}, expected {st.result.__name__}")
        if self.cache is not None:
            self.cache.put(name, key, res)
        self.runs.append(StageRun(name, key, False, time.perf_counter() - t0))
        say(name, "done")
        return res
