"""Result of the serving simulation (`gigafactory simulate`, `simulate.run.simulate_scenario`).

Field names are the keys of the ``--json`` output and of result.json's ``simulation`` block,
documented in docs/simulate.md.  Times are in seconds, rates per second, energy in joules;
request counts are those of the simulated group (not scaled to the whole pool) unless the
name says ``_represented``.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from gigafactory.results.base import Result

#: the routers of `simulate.router.ROUTERS`.
RouterName = Literal["round-robin", "least-outstanding", "prefix-aware", "central-queue"]


class Percentiles(Result):
    """Percentiles and mean of a latency over completed requests [s]; all None when none completed."""

    p50: float | None = Field(description="Median [s].")
    p90: float | None = Field(description="90th percentile [s].")
    p99: float | None = Field(description="99th percentile [s].")
    mean: float | None = Field(description="Mean [s].")


class SLOTargets(Result):
    """The workload's latency SLO, as p99 limits."""

    ttft_s: float = Field(description="Time-to-first-token limit (p99) [s].")
    tpot_s: float = Field(description="Time-per-output-token limit (p99) [s].")


class PoolEngine(Result):
    """The simulated engine's settings."""

    max_seqs: int = Field(description="Most sequences a (decode or aggregated) instance runs at once: the configuration's batch.")
    efficiency: str = Field(description="Serving engine whose calibration the step times use, e.g. 'trtllm'.")


class TimeseriesSample(Result):
    """The pool's state at one sampling instant (every duration/60 s by default)."""

    t_s: float = Field(description="Sampling time from the start of the simulation [s].")
    queued: float = Field(description="Requests waiting for admission, over the simulated replicas and the pool's central queue [count].")
    running: float = Field(description="Sequences admitted and running, over the simulated replicas [count].")
    kv_used_fraction: float = Field(description="KV-cache occupancy, mean over the simulated replicas [0-1].")


class PoolWorkload(Result):
    """The traffic the pool's simulated group received."""

    source: str = Field(description="Where arrivals and lengths came from, with the scaling applied.")
    requests_simulated: int = Field(description="Requests generated for the simulated group [count].")
    mean_input_tokens: float = Field(description="Mean prompt length after rescaling [tokens]; 0.0 with no request.")
    mean_output_tokens: float = Field(description="Mean output length after rescaling [tokens]; 0.0 with no request.")


class PoolUnits(Result):
    """How the pool was cut into serving units, and how many of its replicas were simulated."""

    total: int = Field(description="Serving units in the whole pool [count].")
    gpus_per_unit: int = Field(description="GPUs per serving unit [count].")
    max_seqs: int = Field(description="Batch (concurrency) per instance of the serving configuration [sequences].")
    decode_replicas_simulated: int = Field(description="Decode (or aggregated) schedulers simulated [count].")
    prefill_replicas_simulated: int = Field(description="Prefill replicas simulated; 0 when aggregated [count].")
    decode_replicas_total: int = Field(description="Decode (or aggregated) schedulers in the whole pool: instances x attention-DP ranks [count].")


class PoolSamplingEffective(Result):
    """Effective sample sizes once the batch means' correlation is accounted for."""

    ttft_p99: float = Field(description="Effective independent requests behind the p99 TTFT estimate [count].")
    slo_attainment: float | None = Field(description="Effective independent requests behind the SLO attainment [count]; None without an SLO.")


class PoolSampling(Result):
    """How long the pool was simulated and how precise its tail figures are (docs/simulate.md, 'Run size')."""

    target_ci: float | None = Field(description="Target relative half-width of the p99 TTFT 95 % interval; None: the whole duration.")
    target_met: bool | None = Field(description="Whether the intervals reached the target; None when no target was set.")
    stop: Literal["duration", "trace-pass", "target"] = Field(
        description="Why the run stopped: the full duration, one pass of a recorded trace, or the target precision.")
    note: str = Field(description="The sizing rule applied, in words.")
    window_s: tuple[float, float] = Field(description="Measured window (after warm-up, before cool-down) [s from the first arrival].")
    arrival_s: float = Field(description="Arrival time simulated [s].")
    arrival_s_max: float = Field(description="Arrival time the run was allowed [s].")
    warmup_s: float = Field(description="Warm-up simulated but not counted [s].")
    cooldown_s: float = Field(description="Cool-down simulated but not counted [s].")
    requests: int = Field(description="Requests arriving in the measured window [count].")
    confidence: float = Field(description="Confidence level of the intervals [0-1].")
    batches: int = Field(description="Time batches of the batch-means intervals [count].")
    ttft_p99_ci_s: tuple[float | None, float | None] = Field(
        description="95 % interval of the p99 TTFT [s]; an end is None when the interval runs past the observed values.")
    ttft_p99_ci_rel_half_width: float | None = Field(description="Half-width of that interval over the p99 [1]; None when open.")
    slo_attainment_ci: tuple[float | None, float | None] = Field(description="95 % (Wilson, batch-means) interval of the SLO attainment [0-1].")
    slo_attainment_ci_half_width: float | None = Field(description="Half-width of that interval [0-1]; None when undefined.")
    effective_requests: PoolSamplingEffective


class FleetSampling(Result):
    """The fleet's sizing rule."""

    target_ci: float | None = Field(description="Target relative half-width of each pool's p99 TTFT interval; None: the whole duration.")
    adaptive: bool = Field(description="Whether pools stopped by the rule rather than at the full duration.")
    arrival_s_max: float = Field(description="Arrival time any pool was allowed [s].")
    note: str = Field(description="The rule, in words.")


class PoolResult(Result):
    """One pool, i.e. one (system, model): its configuration, latencies, throughput and energy."""

    pool: str = Field(description="Pool name, 'system/model'.")
    models: list[str] = Field(description="Model ids the pool serves.")
    mode: Literal["aggregated", "disaggregated"]
    system: str = Field(description="System (catalog id) the pool runs on.")
    layout: str = Field(description="Parallel layout label, e.g. 'TP4' or '126x TP1 prefill + 55x TP2 decode'.")
    engine: PoolEngine
    per_rank_mean_field: bool = Field(description="Whether attention-DP ranks were simulated as separate schedulers (mean field).")
    replicas_simulated: int = Field(description="Replicas (prefill + decode, or aggregated) in the simulated group [count].")
    replicas_represented: int = Field(description="Replicas of the whole pool the group stands for [count].")
    gpus_represented: int = Field(description="GPUs of the whole pool [count].")
    gpus_simulated: int = Field(description="GPUs of the simulated group [count].")
    rate_rps_represented: float = Field(description="Arrival rate of the whole pool [requests/s].")
    arrived: int = Field(description="Requests that arrived at the simulated group [count].")
    dropped: int = Field(description="Requests dropped because they can never fit the KV cache [count].")
    in_flight: int = Field(description="Requests still unfinished when the simulation stopped [count].")
    ttft_s: Percentiles = Field(description="Time to first token, queueing included [s].")
    tpot_s: Percentiles = Field(description="Time per output token after the first, requests with > 1 output token [s].")
    e2e_s: Percentiles = Field(description="End-to-end latency, arrival to last token [s].")
    completed: int = Field(description="Requests completed by the simulated group [count].")
    output_tokens: int = Field(description="Output tokens of completed requests, simulated group [tokens].")
    input_tokens: int = Field(description="Prompt tokens of completed requests, simulated group [tokens].")
    cached_prompt_tokens: int = Field(description="Prompt tokens of completed requests served from the prefix cache [tokens].")
    preemptions: int = Field(description="Preemptions under KV-cache pressure, simulated group [count].")
    slo: SLOTargets
    slo_attainment: float | None = Field(description="Share of completed requests meeting both SLOs [0-1]; None when none completed.")
    goodput_rps: float = Field(description="Completed requests per second of the measured window meeting both SLOs, whole pool [requests/s].")
    throughput_tok_s: float = Field(description="Output tokens per second of the measured window, whole pool [tokens/s].")
    gpu_utilization: float = Field(description="Share of the measured window the GPUs were running steps [0-1].")
    energy_j: float = Field(description="GPU energy over the measured window, whole pool [J].")
    energy_j_per_token: float | None = Field(description="GPU energy per output token [J/token]; None with no output token.")
    kv_capacity_tokens_per_replica: float | None = Field(
        description="KV-cache capacity of one (first simulated) replica [tokens]; None when unlimited.")
    prefix_cache_hit_rate: float = Field(description="Share of prompt tokens served from the prefix cache [0-1].")
    events: int = Field(description="Simulation events processed [count].")
    stopped_at_horizon: bool = Field(description="Whether the run stopped at the drain horizon with requests unfinished.")
    timeseries: list[TimeseriesSample]
    busy_gpu_s: float = Field(description="GPU-seconds spent running steps in the measured window, whole pool [GPU-s].")
    span_s: float = Field(description="Simulated span: the duration, or the last completion if later [s].")
    scale: float = Field(description="Real (decode) schedulers represented by each simulated one [ratio].")
    workload: PoolWorkload
    units: PoolUnits
    sampling: PoolSampling


class SimulationResult(Result):
    """The fleet: totals over pools (percentiles weight each simulated request by its pool's scale), and each pool."""

    span_s: float = Field(description="Longest pool span: the duration, or the last completion if later [s].")
    duration_s: float = Field(description="Longest measured window over pools [s] (see sampling).")
    arrived: int = Field(description="Requests that arrived, over the simulated groups [count].")
    completed: int = Field(description="Requests completed, over the simulated groups [count].")
    dropped: int = Field(description="Requests dropped as too long for the KV cache [count].")
    in_flight: int = Field(description="Requests unfinished at the end [count].")
    conservation_ok: bool = Field(description="arrived == completed + dropped + in_flight.")
    ttft_s: Percentiles = Field(description="Time to first token, queueing included [s].")
    tpot_s: Percentiles = Field(description="Time per output token after the first [s].")
    e2e_s: Percentiles = Field(description="End-to-end latency [s].")
    goodput_rps: float = Field(description="Completed requests per second meeting both SLOs, whole fleet [requests/s].")
    throughput_tok_s: float = Field(description="Output tokens per second, whole fleet [tokens/s].")
    gpu_utilization: float = Field(description="Share of time GPUs run steps, GPU-weighted over pools [0-1].")
    energy_j_per_token: float | None = Field(description="GPU energy per output token [J/token]; None with no output token.")
    gpus_represented: int = Field(description="GPUs of the real fleet the simulation stands for [count].")
    rate_rps_represented: float = Field(description="Arrival rate of the real fleet [requests/s].")
    events: int = Field(description="Simulation events processed, over pools [count].")
    trace: str = Field(description="Trace name or file, or a synthetic process ('poisson', 'gamma-cv<X>', 'diurnal').")
    router: RouterName
    pools: list[PoolResult] = Field(description="One per (system, model) with GPUs and a serving configuration.")
    sampling: FleetSampling
