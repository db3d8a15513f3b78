"""Result of the serving stage: `gigafactory.economics.run.serving_rates`, the best serving
configuration per workload under its SLO on every system the design builds (rows from
`gigafactory.design.choice.serving_for_system`, configurations from
`gigafactory.perf.serving.ServingPoint.as_dict`).

``tok_s_*`` are output tokens per second; ``_s`` are seconds of the steady state (no queueing),
``_p99_s`` are p99s under Poisson arrivals (the queueing model, `gigafactory.perf.load`)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from gigafactory.results.base import Result

ServingMode = Literal["aggregated", "disaggregated"]


class ParallelDegrees(Result):
    """Parallel layout of one engine instance (`gigafactory.perf.layout.Layout.as_dict`)."""

    tp: int = Field(description="Tensor-parallel degree [count].")
    pp: int = Field(description="Pipeline-parallel degree [count].")
    ep: int = Field(description="Expert-parallel degree (divides tp) [count].")
    dp_attention: bool = Field(description="Attention data-parallel over the tp GPUs (TRT-LLM 'DEP').")
    gpus: int = Field(description="GPUs of one instance, tp x pp [count].")


class _ConfigCommon(Result):
    mode: ServingMode  # narrowed to one value by each subclass (declared here to keep the key order)
    layout: str = Field(description="Label of the (decode) instance layout, e.g. 'TP4', 'DEP64', 'TP8-EP8-PP2'.")
    parallel: ParallelDegrees = Field(description="The (decode) instance layout.")
    concurrency_per_instance: int = Field(description="Sequences in flight per (decode) instance [count].")
    tok_s_gpu: float = Field(description="Output tokens/s per GPU, every GPU of the serving unit counted.")
    tok_s_user: float = Field(description="Output tokens/s per sequence (1 / tpot_s).")
    ttft_s: float = Field(description="Time to first token without queueing [s].")
    tpot_s: float = Field(description="Time per output token [s].")
    gpus: int = Field(description="GPUs of one serving unit: the instance, or the prefill + decode pools [count].")
    weights_gb_per_gpu: float = Field(description="Model weights held by one (decode) GPU [GB, 1e9 bytes].")


class AggregatedConfig(_ConfigCommon):
    """One instance doing prefill and decode (continuous batching, chunked prefill)."""

    mode: Literal["aggregated"]


class DisaggregatedConfig(_ConfigCommon):
    """A prefill pool and a decode pool, sized to balance their request rates."""

    mode: Literal["disaggregated"]
    prefill_layout: str = Field(description="Label of the prefill instance layout.")
    prefill_parallel: ParallelDegrees = Field(description="The prefill instance layout.")
    prefill_instances: int = Field(description="Prefill instances per serving unit [count].")
    decode_instances: int = Field(description="Decode instances per serving unit [count].")


#: `ServingPoint.as_dict()`: the prefill fields exist only for disaggregated serving.
ServingConfig = Annotated[AggregatedConfig | DisaggregatedConfig, Field(discriminator="mode")]


class FrontierPoint(Result):
    """One point of the Pareto frontier (tokens/s per user vs tokens/s per GPU) of the search."""

    tok_s_user: float = Field(description="Output tokens/s per sequence.")
    tok_s_gpu: float = Field(description="Output tokens/s per GPU.")
    ttft_s: float = Field(description="Time to first token without queueing [s].")
    tpot_s: float = Field(description="Time per output token [s].")
    mode: ServingMode
    layout: str = Field(description="Label of the (decode) instance layout.")
    concurrency: int = Field(description="Sequences in flight per (decode) instance [count].")


class WorkloadServing(Result):
    """Best serving point of one workload on one system under the workload's SLO.

    A workload whose precision the system does not support has only model, share,
    tok_s_gpu (0) and reason in the stage's dict; the other fields then take their defaults."""

    model: str = Field(description="Model catalog id.")
    share: float = Field(description="Share of the factory's GPUs serving this model [1].")
    tok_s_gpu: float = Field(description="Output tokens/s per GPU at the best point; 0 when the SLO cannot be met or the precision is unsupported.")
    tok_s_user: float | None = Field(None, description="Output tokens/s per sequence at the best point; null when none meets the SLO.")
    config: ServingConfig | None = Field(None, description="The best configuration; null when none meets the SLO.")
    ttft_p99_s: float | None = Field(None, description="p99 time to first token of the best configuration under Poisson arrivals at its rate "
                                     "(`gigafactory.perf.load`) [s]; null when none meets the SLO.")
    tpot_p99_s: float | None = Field(None, description="p99 time per output token of the best configuration under Poisson arrivals at its rate [s]; "
                                     "null when none meets the SLO.")
    reason: str | None = Field(None, description="Why there is no configuration (SLO unmet, precision unsupported); null when there is one.")
    efficiency: str | None = Field(None, description="Which efficiency calibration the performance model applied; null when not searched.")
    frontier: list[FrontierPoint] = Field(default_factory=list, description="Pareto frontier found by the search (empty when not searched).")


class ServingResult(Result):
    """What `serving_rates` returns, under ``systems``: per system id, one row per scenario
    workload, in the scenario's order."""

    systems: dict[str, list[WorkloadServing]] = Field(description="Per system catalog id, the best serving point of each workload.")

    @classmethod
    def from_rates(cls, rates: Mapping[str, Any]) -> ServingResult:
        """Validate the stage's plain ``{system_id: [row, ...]}`` mapping."""
        return cls.model_validate({"systems": rates})

    def __getitem__(self, system_id: str) -> list[WorkloadServing]:
        return self.systems[system_id]
