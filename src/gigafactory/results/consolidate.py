"""Result of `gigafactory consolidate` (``gigafactory.consolidate.consolidate_scenario``): N
separate clusters, one per tenant and each sized for its own peak and SLO, against one shared
factory serving the same demand; the method is in docs/consolidation.md."""
from __future__ import annotations

from pydantic import Field

from gigafactory.results.base import Result


class ProbeRecord(Result):
    """One simulated size of a pool during the search."""

    units: int = Field(description="Serving units simulated [count].")
    attainment: float = Field(description="Lowest SLO attainment over the pool's sizing windows at this size [0-1].")
    requests: int = Field(description="Requests measured over the sizing windows (the representative group's) [count].")


class PoolFigures(Result):
    """One pool: a tenant's own cluster, or the shared factory."""

    name: str = Field(description="'client-<id>' (ServeGen's anonymised client) or 'shared'.")
    tenants: list[str] = Field(description="The tenants the pool serves.")
    units: int = Field(description="Serving units chosen: the smallest size whose attainment reached the target [count].")
    gpus: int = Field(description="units x GPUs per unit [count].")
    reached: bool = Field(description="Whether the target was reached within the search range; if not, units is the largest size tried.")
    fluid_peak_units: float = Field(description="Units the busiest window asks for at the modelled capacity (the search's first guess) [count].")
    sizing_windows: list[int] = Field(description="Indices of the 10-minute windows simulated (the pool's busiest by fluid demand).")
    sizing_windows_start_s: list[float] = Field(description="Their start from the beginning of the record [s].")
    attainment: float = Field(description="Lowest SLO attainment over the sizing windows at the chosen size [0-1].")
    attainment_by_window: list[float] = Field(description="SLO attainment in each sizing window at the chosen size [0-1].")
    ttft_p99_s: float | None = Field(description="Largest p99 TTFT over the sizing windows at the chosen size [s].")
    tpot_p99_s: float | None = Field(description="Largest p99 TPOT over the sizing windows at the chosen size [s].")
    peak_busy_utilisation: float = Field(description="Busy GPU time / GPU time in the sizing windows at the chosen size, from the simulator [0-1].")
    busy_utilisation: float = Field(description="Busy GPU time / GPU time over the whole record: each window's fluid load through the "
                                                "simulated busy curve [0-1].")
    token_utilisation: float = Field(description="Output tokens served / (GPUs x the modelled output tok/s per GPU), over the record [0-1].")
    mean_rate_rps: float = Field(description="Mean request rate over the record [req/s].")
    peak_rate_rps: float = Field(description="Highest 10-minute request rate [req/s].")
    peak_to_mean: float = Field(description="peak_rate_rps / mean_rate_rps [ratio].")
    output_tokens_per_day: float = Field(description="Output tokens asked for per day, mean over the record [tokens/day].")
    cost_per_mtok_usd: float | None = Field(description="GPU-hours x levelised cost per GPU-hour / million output tokens served [USD/Mtok]; "
                                                    "None without demand.")
    group_schedulers: int = Field(description="Decode (or aggregated) schedulers simulated per probe: the representative group [count].")
    measure_s: float = Field(description="Arrival time measured per sizing window [s].")
    probes: list[ProbeRecord] = Field(description="Every size simulated, in increasing order.")


class Totals(Result):
    """Separate clusters summed, or the shared factory."""

    units: int = Field(description="Serving units [count].")
    gpus: int = Field(description="GPUs [count].")
    busy_utilisation: float = Field(description="Busy GPU time / GPU time over the record, GPU-weighted [0-1].")
    token_utilisation: float = Field(description="Output tokens served / what the GPUs deliver at the modelled serving point, over the record [0-1].")
    cost_per_mtok_usd: float | None = Field(description="Cost per million output tokens at the levelised cost per GPU-hour [USD/Mtok]; "
                                                    "None without demand.")
    attainment_min: float = Field(description="Lowest SLO attainment reached in any pool's sizing windows [0-1].")
    all_reached: bool = Field(description="Whether every pool reached the target.")


class BusyPoint(Result):
    """One point of the busy curve."""

    load: float = Field(description="Fluid load: demand / modelled capacity [0-1].")
    busy_utilisation: float = Field(description="Busy GPU time / GPU time simulated at that load [0-1].")


class ConsolidationMethod(Result):
    """How much was simulated, and with what assumptions (docs/consolidation.md)."""

    target_attainment: float = Field(description="SLO attainment every pool must reach in each of its sizing windows [0-1].")
    windows_per_pool: int = Field(description="Busiest 10-minute windows simulated per pool [count].")
    measure_s: float = Field(description="Arrival time measured per window at least, after a warm-up and before a cool-down "
                                         "(longer in a pool whose group would measure fewer than min_requests) [s].")
    min_requests: int = Field(description="Requests a pool's group measures per window at least [count].")
    warmup_s: float = Field(description="Arrival time simulated before the measured time, not counted [s].")
    cooldown_s: float = Field(description="Arrival time simulated after it, not counted [s].")
    request_budget: int = Field(description="Requests per simulated window the representative group is sized for [count].")
    probes: int = Field(description="Simulated sizes over all pools [count].")
    requests_measured: int = Field(description="Requests measured over all probes [count].")
    seed: int = Field(description="The scenario seed; each pool and window draws from stream 'consolidate.<pool>.w<window>'.")
    demand_scale: float = Field(description="Factor on every ServeGen rate (1: as recorded) [ratio].")
    demand_fit_gpus: int | None = Field(description="GPUs whose modelled capacity the aggregate's busiest window was scaled to; None when as recorded.")
    lengths: str = Field(description="How request lengths were set.")


class ConsolidationResult(Result):
    """Separate clusters against one shared factory, at equal SLO attainment."""

    scenario: str
    model: str = Field(description="Model catalog id the tenants use.")
    system: str = Field(description="System catalog id serving it.")
    configuration: str = Field(description="The scenario's chosen serving unit for the model.")
    gpus_per_unit: int = Field(description="GPUs of one serving unit [count].")
    unit_capacity_rps: float = Field(description="Modelled requests/s of one unit at the workload's mean lengths [req/s].")
    slo_ttft_p99_s: float = Field(description="The workload's p99 TTFT limit [s].")
    slo_tpot_p99_s: float = Field(description="The workload's p99 TPOT limit [s].")
    isl_tokens: float = Field(description="Mean input tokens per request [tokens].")
    osl_tokens: float = Field(description="Mean output tokens per request [tokens].")
    dataset: str = Field(description="ServeGen subset the tenants come from.")
    record_days: float = Field(description="Length of the record [days].")
    window_s: float = Field(description="ServeGen's window [s].")
    cost_per_gpu_hour_usd: float = Field(description="Levelised cost per GPU-hour from the economics stage [USD/GPU-h].")
    separate: Totals
    shared: Totals
    gpus_saved: int = Field(description="separate.gpus - shared.gpus [count].")
    gpu_saving_share: float = Field(description="gpus_saved / separate.gpus [0-1].")
    aggregate_peak_to_mean: float = Field(description="Peak-to-mean of the aggregate's 10-minute request rate [ratio].")
    diversity_factor: float = Field(description="Sum of the tenants' peak fluid demands / the aggregate's peak fluid demand [ratio].")
    fluid_saving: float = Field(description="1 - 1 / diversity_factor: the saving if every pool were sized exactly at its peak fluid demand [0-1].")
    tenants: list[PoolFigures] = Field(description="One per tenant, busiest first.")
    shared_pool: PoolFigures
    busy_curve: list[BusyPoint] = Field(description="Simulated busy utilisation against fluid load.")
    method: ConsolidationMethod
    notes: list[str]
