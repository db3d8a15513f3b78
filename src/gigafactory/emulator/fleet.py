"""The emulator's fleet: serving configurations from the pipeline, built as live pools.

Every pool is the one ``gigafactory simulate`` would build for the scenario (``simulate.run.
plan_pools`` on the design and serving stages' results, then ``build_pool_sim``), except that
it holds ``replicas`` simulated engine instances (attention-DP ranks for DP-attention
layouts, as the simulator does) instead of a representative group of the whole factory:
an emulator serves what one test client can load.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.errors import InputError
from gigafactory.simulate.engine import Pool, Replica
from gigafactory.simulate.metrics import SLO
from gigafactory.simulate.run import PoolSpec, build_pool_sim
from gigafactory.simulate.sim import Simulation

#: tokens per prefix-cache block: prompt blocks are hashed at vLLM's default block size.
PREFIX_BLOCK_TOKENS = 16


@dataclass
class _NoTraffic:
    """An empty workload for ``build_pool_sim``: the emulator's requests arrive over HTTP."""

    arrival_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    input_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    output_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    block_hashes: tuple = ()  # not None: prefix caching on, over hashes of the prompts' token blocks
    hash_block_tokens: int = PREFIX_BLOCK_TOKENS

    def __len__(self) -> int:
        return 0


@dataclass
class LivePool:
    """One served pool: its spec, its one-pool simulation and what the API needs to know."""

    spec: PoolSpec
    sim: Simulation
    info: dict[str, Any]
    context_tokens: int  # the model's context window [tokens]

    @property
    def pool(self) -> Pool:
        return self.sim.pools[0]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    def replicas(self) -> list[Replica]:
        return self.pool.all_replicas()

    def max_request_tokens(self) -> int:
        """Prompt + output tokens one request may hold: the context window, or less when a replica's
        KV cache holds less (the simulator would drop such a request)."""
        kv = self.pool.max_request_tokens()
        return int(min(self.context_tokens, kv)) if kv == kv else self.context_tokens


def with_replicas(spec: PoolSpec, replicas: int) -> PoolSpec:
    """``spec`` with ``replicas`` decode (or aggregated) schedulers simulated, and prefill replicas in
    the configuration's ratio (the rule of ``simulate.run.size_group``)."""
    s = dataclasses.replace(spec, extra=dict(spec.extra))
    s.decode_sim = replicas
    if s.mode == "disaggregated":
        s.prefill_sim = max(1, round(replicas * s.prefill_per_unit / (s.decode_per_unit * s.ranks)))
    return s


def build_pool(cat: Catalog, spec: PoolSpec) -> LivePool:
    """A live pool of ``spec`` with no traffic yet (requests come through ``Simulation.add_request``)."""
    sim, info = build_pool_sim(cat, spec, _NoTraffic(), duration_s=float("inf"))  # type: ignore[arg-type]
    m = cat.model(spec.model_id)
    ctx = int(getattr(m, "max_context_tokens", 0) or 131072)
    return LivePool(spec, sim, info, ctx)


def explicit_spec(model_id: str, system_id: str, *, precision: str = "fp8", tp: int = 1, pp: int = 1, ep: int = 1,
                  dp_attention: bool = False, max_seqs: int = 256, router: str = "least-outstanding", isl: float = 1024,
                  osl: float = 256, slo: SLO = SLO(2.0, 0.05), speculative_tokens: int = 0, replicas: int = 1) -> PoolSpec:
    """An aggregated pool with a stated layout, bypassing the perf search (tests, benches)."""
    layout = {"tp": tp, "pp": pp, "ep": ep, "dp_attention": dp_attention}
    spec = PoolSpec(name=f"{system_id}/{model_id}", model_id=model_id, system_id=system_id, precision=precision,
                    speculative_tokens=speculative_tokens, mode="aggregated", layout=layout, prefill_layout=None,
                    prefill_per_unit=0, decode_per_unit=1, max_seqs=max_seqs, units_total=replicas,
                    gpus_per_unit=tp * pp, slo=slo, rate_rps=0.0, isl=isl, osl=osl, router=router, seed=0)
    return with_replicas(spec, replicas * spec.ranks)


def scenario_specs(scn: Any, options: Any = None, *, model: str | None = None, system: str | None = None,
                   router: str | None = None, replicas: int = 1, no_cache: bool = False) -> list[PoolSpec]:
    """The pools of ``gigafactory simulate`` for ``scn`` (or its one ``model`` on one ``system``), each with
    ``replicas`` simulated schedulers.  Runs the pipeline's design and serving stages."""
    from gigafactory.cli.common import pipeline_for
    from gigafactory.pipeline.options import run_options
    from gigafactory.simulate.run import plan_pools

    if model is not None or system is not None:
        scn = one_pool_scenario(scn, model, system)
    pipe = pipeline_for(scn, options if options is not None else run_options({}), no_cache)
    design, serving = pipe.result("design"), pipe.result("serving")
    specs = plan_pools(pipe.cat, scn, design, serving, router=router)
    if not specs:
        raise InputError.single("no workload of the scenario has a serving configuration that meets its SLO, so there is nothing to serve",
                                field="workloads", fix="relax the SLOs or choose another --system (see `gigafactory perf`)")
    return [with_replicas(s, replicas * s.ranks) for s in specs]


def one_pool_scenario(scn: Any, model: str | None, system: str | None) -> Any:
    """``scn`` reduced to one workload (``model``: the scenario's own entry for it, else the first
    workload's lengths and SLO with that model) on one system (``system``, else the default)."""
    from gigafactory.catalog import load_catalog
    from gigafactory.scenario.model import Scenario

    cat = load_catalog()
    d = scn.model_dump(mode="json")
    if model is not None:
        mid = _resolve(cat, "model", model, "--model")
        same = [w for w in d["workloads"] if _resolve(cat, "model", w["model"], "workloads") == mid]
        w = dict(same[0] if same else d["workloads"][0])
        w["model"], w["share"] = mid, 1.0
        d["workloads"] = [w]
    else:
        d["workloads"] = [dict(d["workloads"][0], share=1.0)]
    if system is not None:
        sid = _resolve(cat, "system", system, "--system")
        d["systems"] = dict(d["systems"], default=sid, candidates=[])
        for s in d["sites"]:
            s["system"] = None
    return Scenario.model_validate(d)


def _resolve(cat: Catalog, kind: str, name: str, field_name: str) -> str:
    try:
        return getattr(cat, kind)(name).id
    except InputError as exc:
        raise InputError([dataclasses.replace(p, field=field_name) for p in exc.problems]) from None
