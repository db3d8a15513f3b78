"""Result of the operations stage (`gigafactory.operations.stage.run_operations`): failures,
blast radius, spares, technicians, availability per site and month, and the goodput lost."""
from __future__ import annotations

from pydantic import Field

from gigafactory.results.base import Result


class FailureClassInfo(Result):
    """One component class of the failure model (`operations/data/failures.yaml`)."""

    name: str
    description: str
    per: str = Field(description="Unit the rate counts per: gpu, tray, rack, fabric_gpu, shelf, switch_tray or cdu.")
    rate_per_year: float = Field(description="Failures per unit-year [1/year].")
    rate_low_per_year: float = Field(description="Low end of the uncertainty range [1/year].")
    rate_high_per_year: float = Field(description="High end of the uncertainty range [1/year].")
    fru: str | None = Field(description="Field-replaceable unit swapped; None for reboots and software faults.")
    blast: str = Field(description="How far a failure reaches: tray, restart_tray, restart_instance, rack, cdu_racks or none.")
    source: str
    date: str
    confidence: str


class SparePool(Result):
    """Spares of one FRU at one site."""

    fru: str
    spares: int = Field(description="Spares on the shelf [count].")
    failures_per_year: float = Field(description="Failures needing this part at the site [1/year].")
    pipeline_mean: float = Field(description="Parts in repair/RMA on average: rate x lead time [count].")
    fill_rate: float = Field(description="Share of failures met from stock at once [1].")
    part_wait_s: float = Field(description="Mean wait for a part per failure (backorders / rate) [s].")
    unit_cost_usd: float | None = Field(description="Price of one spare [USD]; None when no sourced price exists (not in the cost).")
    capex_usd: float = Field(description="spares x unit cost, 0 when unpriced [USD].")


class MonthCapacity(Result):
    """Expected serving capacity of a site in one calendar month."""

    month: str = Field(description="Calendar month, 'YYYY-MM'.")
    installed_gpus: float = Field(description="GPUs accepted into service, averaged over the month [count].")
    serving_gpus: float = Field(description="Expected GPUs serving (failures, early life, maintenance, cordons) [count].")
    availability: float = Field(description="serving / installed; 0 before the first acceptance [1].")


class SiteOperations(Result):
    """Steady state of one site at full build-out under the optimised spares and crews."""

    site: str
    system: str
    gpus: int
    compute_racks: int
    availability: float = Field(description="Expected share of the site's GPUs serving [1].")
    lost_trays: float = Field(description="Share lost to compute trays out (cordoned racks included) [1].")
    lost_racks: float = Field(description="Share lost to rack-level outages (NVLink switch tray, CDU) [1].")
    lost_maintenance: float = Field(description="Share lost to planned rolling maintenance [1].")
    lost_restarts: float = Field(description="Share lost to engine restarts after tray and software faults [1].")
    tray_down_share: float = Field(description="Probability a compute tray is out [1].")
    cordon_probability: float = Field(description="Probability a rack is cordoned (more trays out than allowed) [1].")
    failures_per_year: dict[str, float] = Field(description="Failures per year by class at the site [1/year].")
    technicians_on_duty: int = Field(description="Technician positions staffed around the clock [count].")
    technician_fte: float = Field(description="Full-time technicians to staff them [FTE].")
    technician_utilisation: float = Field(description="Swap work / technicians on duty [1].")
    technician_wait_s: float = Field(description="Mean wait of a failed part for a technician (Erlang C) [s].")
    spares: list[SparePool]
    spares_capex_usd: float = Field(description="Priced spares pool [USD].")
    technicians_usd_per_year: float = Field(description="Loaded cost of the technicians [USD/year].")
    waiting_cost_usd_per_year: float = Field(description="Value of GPU-hours idle waiting for parts or technicians, at the GPU-hour value [USD/year].")
    lost_gpu_hours_per_year: float = Field(description="(1 - availability) x GPUs x hours in a year [GPU-h/year].")
    lost_goodput_tok_s: float = Field(description="Output tokens/s under SLO lost to failures and maintenance at full build-out [tokens/s].")
    lost_value_usd_per_year: float = Field(description="lost GPU-hours x GPU-hour value [USD/year].")
    binding_constraints: list[str] = Field(description="Named constraints of the optimisation at their bound.")
    monthly: list[MonthCapacity] = Field(description="Expected serving capacity per month over the finance horizon.")


class FailureSimulation(Result):
    """The serving simulator with failures injected into one pool (``--simulate``)."""

    pool: str
    failures: int = Field(description="Replica failures injected [count].")
    time_compression: float = Field(description="Failure rate multiplier used to see failures in a short run [1].")
    requests: int = Field(description="Requests arrived in the run [count].")
    retried: int = Field(description="Requests re-sent after their replica failed [count].")
    failed: int = Field(description="Requests that failed (no retry left, or no healthy replica) [count].")
    goodput_rps_without: float = Field(description="Requests/s meeting the SLO with no failures [1/s].")
    goodput_rps_with: float = Field(description="Requests/s meeting the SLO with failures [1/s].")
    ttft_p99_s_without: float | None
    ttft_p99_s_with: float | None
    goodput_lost_per_replica_down_s: float = Field(description="SLO-meeting requests lost per replica-second out (outages cut at the run's end) [1/s].")
    real_goodput_loss_share: float = Field(description="Share of goodput lost at the real (uncompressed) failure rate [1].")


class Llama3Check(Result):
    """The failure model on Meta's Llama 3 cluster: 16,384 H100 GPUs (2,048 nodes) for 54 days."""

    predicted_interruptions: float = Field(description="Expected unexpected interruptions from the model's rates [count].")
    published_interruptions: int = Field(description="Published: 419 (Llama 3 paper, table 5) [count].")
    predicted_mtbf_h: float = Field(description="54 days / predicted interruptions [h].")


class OperationsTotal(Result):
    availability: float = Field(description="GPU-weighted availability over sites [1].")
    gpus: int
    failures_per_day: float = Field(description="Failures of every class per day, programme-wide [1/day].")
    spares_capex_usd: float
    spares_share_of_it_capex: float = Field(description="Priced spares / GPU-system capex [1].")
    technicians_on_duty: int
    technician_fte: float
    technicians_usd_per_year: float
    lost_gpu_hours_per_year: float
    lost_goodput_tok_s: float
    lost_value_usd_per_year: float


class OperationsResult(Result):
    """Failures, repairs, spares, crews and availability of the programme."""

    gpu_hour_value_usd: float = Field(description="Value of one serving GPU-hour used in the optimisation [USD/GPU-h].")
    sites: list[SiteOperations]
    total: OperationsTotal
    classes: list[FailureClassInfo]
    llama3_check: Llama3Check
    simulation: FailureSimulation | None = None
    notes: list[str]
