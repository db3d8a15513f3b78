"""Result of the devices stage: what the device fleets answer themselves, what reaches the
factory, what users wait and spend, and what the factory must hold for them."""
from __future__ import annotations

from pydantic import Field

from gigafactory.results.base import Result


class LatencyPercentiles(Result):
    """Percentiles over the sampled requests of one route [s]; None when no request took it."""

    requests_share: float = Field(description="Share of the fleet's requests on this route [0-1].")
    ttft_p50_s: float | None
    ttft_p90_s: float | None
    ttft_p99_s: float | None
    e2e_p50_s: float | None
    e2e_p90_s: float | None
    e2e_p99_s: float | None


class FleetDevices(Result):
    """One device fleet under the scenario's routing policy."""

    name: str
    device: str
    local_model: str
    precision: str
    devices: int = Field(description="Devices in the fleet [count].")
    requests_per_day: float = Field(description="Requests the fleet makes per day at the programme start [1/day].")
    threshold: float = Field(description="Quality-gap threshold calibrated to the fleet's target offload share (static policies) [0-1].")
    cloud_share: float = Field(description="Share of requests served by the factory [0-1].")
    forced_local_share: float = Field(description="Share kept on the device by a rule: offline or privacy class [0-1].")
    forced_cloud_share: float = Field(description="Share the device cannot answer: context beyond the local window or memory [0-1].")
    local_prefill_tok_s: float = Field(description="On-device prefill rate, thermally derated [tokens/s].")
    local_decode_tok_s: float = Field(description="On-device decode rate, thermally derated [tokens/s].")
    local_window_tokens: int = Field(description="Largest context the device answers locally [tokens].")
    local: LatencyPercentiles = Field(description="Requests answered on the device.")
    cloud: LatencyPercentiles = Field(description="Requests offloaded: network round trip, queue at the factory, prefill and decode.")
    energy_device_j_per_request: float = Field(description="Device energy per request, averaged over all requests [J].")
    energy_factory_j_per_request: float = Field(description="Factory energy per request (facility power, PUE included), averaged over all requests [J].")
    cloud_output_tokens_per_day: float = Field(description="Output tokens offloaded per day at the programme start [tokens/day].")
    cloud_cost_usd_per_user_month: float = Field(description="What the offloaded tokens of one device cost per month at the factory's rental-floor cost [USD].")


class FleetAwareComparison(Result):
    """The device fleet as a demand-response resource: a threshold that follows the factory's headroom."""

    static_peak_tok_s: float = Field(description=(
        "Peak hourly load on the offload model, devices and other segments, static threshold, in workload-equivalent output tokens/s "
        "(a device token counts capacity_cost_ratio) [tokens/s]."))
    aware_peak_tok_s: float = Field(description="The same with the fleet-aware threshold at the same daily offloaded tokens [tokens/s].")
    static_gpus: float = Field(description="GPUs the offload model needs at the static peak, at max_factory_utilisation [count].")
    aware_gpus: float = Field(description="GPUs it needs at the fleet-aware peak [count].")
    gpus_saved: float = Field(description="static_gpus - aware_gpus, at equal offloaded tokens per week and equal SLO [count].")
    gpus_saved_share: float = Field(description="gpus_saved / static_gpus [0-1].")
    unit_gpus: int = Field(description="GPUs of one serving unit of the offload model (its serving configuration) [count].")
    static_units: int = Field(description="Whole serving units the static peak needs [count].")
    aware_units: int = Field(description="Whole serving units the fleet-aware peak needs [count].")
    static_device_tok_s: list[float] = Field(description="Offloaded load per UTC hour of the week, static threshold [output tokens/s].")
    aware_device_tok_s: list[float] = Field(description="The same under the fleet-aware threshold [output tokens/s].")
    threshold_min: float = Field(description="Lowest hourly threshold of the fleet-aware policy (troughs: more offloaded) [0-1].")
    threshold_max: float = Field(description="Highest hourly threshold (peaks: devices absorb) [0-1].")


class PeakCase(Result):
    """The offload pool in the peak hour on the serving simulator (`gigafactory devices --simulate`)."""

    case: str = Field(description="Which peak on which sizing.")
    layout: str = Field(description="Serving configuration of the pool: the perf search's best for the peak hour's lengths under the SLO.")
    units: int = Field(description="Serving units simulated [count].")
    gpus: int = Field(description="Their GPUs [count].")
    rate_rps: float = Field(description="Requests per second in the peak hour, devices and other segments [1/s].")
    device_share: float = Field(description="Share of those requests from the device fleets [0-1].")
    slo_attainment: float = Field(description="Share of requests meeting both p99 SLO limits [0-1].")
    ttft_p99_s: float | None
    tpot_p99_s: float | None
    requests_simulated: int


class DevicesResult(Result):
    """The device fleets, their routing and their load on the factory."""

    policy: str = Field(description="Routing policy from the registry.")
    offload_model: str | None = Field(description="Factory model id that serves offloaded requests; None without fleets.")
    fleets: list[FleetDevices]
    devices: int = Field(description="Devices over all fleets [count].")
    requests_per_day: float = Field(description="Requests per day over all fleets [1/day].")
    cloud_share: float = Field(description="Share of all requests served by the factory [0-1].")
    cloud_output_tokens_per_day: float = Field(description="Offloaded output tokens per day at the programme start [tokens/day].")
    cloud_input_tokens_per_output: float = Field(description="Offloaded input tokens (context) per output token [1].")
    cloud_mean_output_tokens: float = Field(description="Mean output tokens of an offloaded request [tokens].")
    other_output_tok_s: list[float] = Field(description=(
        "The offload model's other demand segments per UTC hour of the week, at the programme start [output tokens/s]."))
    growth_per_year: float = Field(description="Yearly growth of the offloaded tokens (request-weighted over fleets) [1/year].")
    hour_of_week_profile: list[float] = Field(description="Offloaded tokens per hour of the week in UTC (0 = Monday 00:00), mean 1 [1].")
    peak_to_mean: float = Field(description="Peak over mean of the hourly offloaded load [1].")
    offload_capacity_tok_s: float = Field(description="Output tokens/s under SLO the factory's token pool gives the offload model, whole build [tokens/s].")
    peak_utilisation: float = Field(description="Peak hour's load (devices + other segments of the offload model) over that capacity [0-1+].")
    queue_wait_p99_s: float = Field(description="p99 queueing wait at the factory in the peak hour, M/M/c closed form (Erlang C) [s].")
    device_tok_s_gpu: float = Field(description=(
        "Output tokens/s per GPU of the offload model at the offloaded requests' own lengths (long chat context), under its SLO [tokens/s]."))
    capacity_cost_ratio: float = Field(description=(
        "Workload tokens/s per GPU over device_tok_s_gpu: the capacity one offloaded output token takes, in the workload's tokens [1]."))
    devices_per_gw: float = Field(description="Devices of this mix one GW of the factory serves at SLO, every GPU on the offload model, peak hour [count].")
    factory_j_per_output_token: float = Field(description="Facility energy per offloaded output token [J].")
    cloud_cost_usd_per_mtok: float = Field(description="Cost basis of an offloaded million output tokens: rental-floor GPU-hour over tokens per GPU-hour [USD].")
    fleet_aware: FleetAwareComparison | None = Field(description=(
        "Fleet-aware threshold vs the static quality threshold; None without fleets, without offload, or under a policy outside the "
        "quality-threshold family (local-only, cloud-only, latency-aware)."))
    rtt_model: str = Field(description="How the round trip is computed, with the wide-area fit's median error.")
    notes: list[str]
