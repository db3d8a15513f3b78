"""The scenario schema: typed, frozen sections that every capability reads.

Sections are shaped so that later capabilities fill them in rather than redesign them:
sites -> design, systems/fabric -> design and perf, workloads -> perf, simulate and
economics, rollout -> rollout planner, finance -> economics, devices -> device fleet,
simulation -> serving simulator.  Numbers are plain numbers in the unit the field name
states; a string with a unit ("300 MW", "0.3 GW") is also accepted and converted.
"""
from __future__ import annotations

import datetime as dt
import types
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from gigafactory.units import UnitMismatch, convert


def _quantity(unit: str):
    """A validator accepting a number (already in ``unit``) or a string like '300 MW'."""

    def parse(value):
        if isinstance(value, str):
            text = value.strip()
            try:
                return float(text)
            except ValueError:
                pass
            parts = text.split(maxsplit=1)
            try:
                number = float(parts[0])
            except (ValueError, IndexError):
                raise ValueError(f"expected a number in {unit} or a quantity like '12 {unit}', got {value!r}") from None
            if len(parts) == 1:
                return number
            try:
                return convert(number, parts[1], unit)
            except UnitMismatch as exc:
                raise ValueError(f"unit of {value!r} does not fit a value in {unit}: {exc}") from None
        return value

    return BeforeValidator(parse)


PowerMW = Annotated[float, _quantity("MW")]
AreaM2 = Annotated[float, _quantity("m^2")]
DurationS = Annotated[float, _quantity("s")]
TimeMs = Annotated[float, _quantity("ms")]


def _numeric_shape(annotation: Any) -> str | None:
    """"scalar" when a field holds an int/float, "list" when a list of them, else None."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return _numeric_shape(args[0])
    if origin in (typing.Union, types.UnionType):
        shapes = {_numeric_shape(a) for a in args if a is not type(None)}
        return "scalar" if "scalar" in shapes else ("list" if "list" in shapes else None)
    if origin is list:
        return "list" if _numeric_shape(args[0]) == "scalar" else None
    return "scalar" if annotation in (int, float) else None


class _Section(BaseModel):
    """Base of every section: unknown keys are errors, values are frozen, and numbers are
    numbers: pydantic would read ``true`` as 1 and ``.nan`` / ``.inf`` as floats, so booleans
    are refused wherever a number (or a list of numbers) is expected, and non-finite floats
    everywhere (``allow_inf_nan=False``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        shape = _numeric_shape(field.annotation) if field is not None else None
        if shape == "scalar" and isinstance(value, bool):
            bad: Any = value
        elif shape == "list" and isinstance(value, list) and any(isinstance(v, bool) for v in value):
            bad = next(v for v in value if isinstance(v, bool))
        else:
            return value
        raise PydanticCustomError("bool_not_number", "expected a number, got the boolean {word}", {"word": str(bad).lower()})


class SiteSpec(_Section):
    """One site of the programme; the designer sizes it from its power."""

    name: str = Field(min_length=1, max_length=64, description="Unique site name, e.g. 'abilene'.")
    region: str = Field(description="Region id from `gigafactory catalog list regions` (climate, power price, carbon, costs).")
    facility_power_mw: PowerMW | None = Field(None, description="Facility (grid) power envelope [MW]. Give this or it_power_mw.")
    it_power_mw: PowerMW | None = Field(None, description="Critical IT power [MW]. Give this or facility_power_mw.")
    system: str | None = Field(None, description="System id for this site; defaults to systems.default.")
    cooling: str | None = Field(None, description="Cooling technology id (facility catalog); the designer picks one when absent.")
    powered_shell: bool = Field(False, description="The building and grid connection already exist (skips site and shell work).")
    grid_ready: bool = Field(
        True, description="Utility interconnection and HV substation available at programme start (powered land); when false, the site's power_path decides what gates energisation."
    )
    power_path: Literal["auto", "grid", "onsite-gas", "temporary-then-grid"] = Field(
        "auto",
        description="How a site without a grid connection (grid_ready false) gets power: wait for the grid; build an owned on-site gas plant; "
                    "or rent mobile turbines for the first phase while the grid comes. 'auto' takes the earliest first token unless its energy "
                    "premium exceeds 200 USD/MWh over the grid (rollout/data/power_paths.yaml). A site with its grid connection at start "
                    "(grid_ready true, powered shell) takes only 'auto' or 'grid'.",
    )
    temporary_power_mw: PowerMW | None = Field(
        None, gt=0,
        description="MW the temporary turbines carry under temporary-then-grid (or auto); the first energisation phase, capped at ~420 MW "
                    "(largest bridge fleet seen), when absent. Scalable units beyond it wait for the grid.",
    )
    floor_area_m2: AreaM2 | None = Field(None, description="Usable floor area limit [m^2]; no limit when absent.")
    energisation_phases_mw: list[PowerMW] | None = Field(
        None, description="Facility power energised in successive phases [MW], e.g. [200, 400]; all at once when absent."
    )

    @model_validator(mode="after")
    def _one_power(self) -> "SiteSpec":
        if (self.facility_power_mw is None) == (self.it_power_mw is None):
            raise ValueError("give exactly one of facility_power_mw or it_power_mw")
        return self

    @property
    def power_mw(self) -> float:
        return self.facility_power_mw if self.facility_power_mw is not None else self.it_power_mw  # type: ignore[return-value]


class SystemsSpec(_Section):
    """Systems built at the sites."""

    default: str = Field(description="System id built at every site unless a site names another, e.g. gb300-nvl72.")
    candidates: list[str] = Field(default_factory=list, description="Other system ids the designer compares against the default.")


class FabricSpec(_Section):
    """The scale-out compute fabric between NVLink domains."""

    compute: Literal["infiniband", "ethernet"] = Field("infiniband", description="Scale-out compute fabric: Quantum InfiniBand or Spectrum-X Ethernet.")
    switch: str | None = Field(None, description="Switch id for the compute fabric (network catalog); chosen from the technology when absent.")
    oversubscription: float = Field(1.0, ge=1.0, le=8.0, description="Leaf uplink oversubscription ratio [1]; 1.0 = non-blocking fat tree.")
    island_max_gpus: int | None = Field(
        None, gt=0, le=10_000_000,
        description="GPUs per scale-out fabric island (whole SUs); islands are replicated. Default: the largest 2-tier fabric of the chosen switch.",
    )


class SLOSpec(_Section):
    """Serving latency targets, as p99 over requests."""

    ttft_p99_ms: TimeMs = Field(gt=0, description="p99 serving time to first token [ms].")
    tpot_p99_ms: TimeMs = Field(gt=0, description="p99 time per output token after the first [ms].")


class WorkloadSpec(_Section):
    """One served model: its share of the fleet, sequence lengths, precision, SLOs and prices."""

    model: str = Field(description="Model id, alias or Hugging Face id (`gigafactory catalog list models`).")
    share: float = Field(gt=0, le=1, description="Share of the factory's GPUs serving this model [1]; shares sum to 1.")
    precision: Literal["bf16", "fp8", "fp4"] = Field("fp8", description="Weight / GEMM precision.")
    isl_tokens: int = Field(gt=0, description="Mean input (prompt) length [tokens].")
    osl_tokens: int = Field(gt=0, description="Mean output length [tokens].")
    slo: SLOSpec = Field(description="Serving latency targets for this model.")
    speculative_tokens: int = Field(0, ge=0, le=8, description="Draft / MTP tokens proposed per step (0 = none).")
    price_input_usd_per_mtok: float | None = Field(None, ge=0, description="Price charged per million input tokens [USD].")
    price_output_usd_per_mtok: float | None = Field(None, ge=0, description="Price charged per million output tokens [USD].")


#: the bundled build-method presets (rollout/presets.py PRESETS), in comparison order
BUILT_IN_METHODS = ("stick-built", "fast-track", "gigafactory", "conversion", "powered-shell")
#: (low, mode, high) of a triangular duration, each >= 0 and in that order
Triangle = Annotated[list[float], Field(min_length=3, max_length=3)]


def _triangle_ok(value: list[float] | None) -> list[float] | None:
    if value is not None and not (0 <= value[0] <= value[1] <= value[2]):
        raise PydanticCustomError("triangle", "expected [low, mode, high] with 0 <= low <= mode <= high, got {value}", {"value": value})
    return value


class BuildMethodSpec(_Section):
    """A build method of the scenario's own: a bundled preset with some of its durations, crews or
    urgency settings changed.  It is scheduled and financed beside the bundled methods in every plan's
    comparison, and `rollout.method` may name it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,39}$", description="Name (lower case, digits and '-'); not a bundled method's.")
    based_on: Literal[BUILT_IN_METHODS] = Field(  # type: ignore[valid-type]  (Literal of the tuple: its members)
        description="Bundled preset it starts from; every field not set here is that preset's.")
    description: str | None = Field(None, max_length=300, description="What the method does, in words (the comparison table shows it).")
    site_civil_weeks: Triangle | None = Field(None, description="Site preparation and foundations, [low, mode, high] [weeks].")
    shell_weeks: Triangle | None = Field(None, description="Shell of the first phase, [low, mode, high] [weeks].")
    shell_next_phase_weeks: Triangle | None = Field(None, description="Shell of each further phase, [low, mode, high] [weeks].")
    fitout_per_phase_weeks: Triangle | None = Field(None, description="Electrical and mechanical fit-out of a 200 MW phase, [low, mode, high] [weeks].")
    commissioning_per_phase_weeks: Triangle | None = Field(None, description="L2-L5 commissioning of a phase, [low, mode, high] [weeks].")
    lead_switchgear_weeks: Triangle | None = Field(None, description="Switchgear lead time from order, [low, mode, high] [weeks].")
    lead_transformers_weeks: Triangle | None = Field(None, description="Transformer lead time from order, [low, mode, high] [weeks].")
    lead_ups_weeks: Triangle | None = Field(None, description="UPS lead time from order, [low, mode, high] [weeks].")
    lead_generators_weeks: Triangle | None = Field(None, description="Generator lead time from order, [low, mode, high] [weeks].")
    lead_cooling_weeks: Triangle | None = Field(None, description="Chiller / CDU lead time from order, [low, mode, high] [weeks].")
    software_first_deploy_days: Triangle | None = Field(None, description="Provisioning to the first token on the first SU, [low, mode, high] [days].")
    onsite_crew_hours_per_rack: float | None = Field(None, ge=0, le=1_000, description="On-site crew-hours per rack before liquid hook-up [h].")
    liquid_hookup_crew_hours_per_rack: float | None = Field(None, ge=0, le=1_000, description="Crew-hours per fully liquid-cooled rack for the hook-up [h].")
    crews_per_100mw: float | None = Field(None, gt=0, le=1_000, description="Rack install crews per 100 MW of a phase [1/100 MW].")
    shift_hours_per_day: float | None = Field(None, gt=0, le=24, description="Rack-install crew working hours per calendar day [h].")
    integrator_racks_per_week: float | None = Field(None, gt=0, le=100_000, description="Programme share of rack-integrator capacity [racks/week].")
    delivery_racks_per_day: float | None = Field(None, gt=0, le=10_000, description="Racks one building can receive and stage per day [racks/day].")
    construction_hours_per_week: float | None = Field(None, ge=20, le=168, description="Site working hours a week for civil, shell and fit-out [h/week].")
    procurement_head_start_days: float | None = Field(None, ge=0, le=1_500, description="Long-lead gear ordered this many days before notice to proceed [days].")
    parallel_phases: bool | None = Field(None, description="Every phase's shell at once after site works.")

    @field_validator("site_civil_weeks", "shell_weeks", "shell_next_phase_weeks", "fitout_per_phase_weeks", "commissioning_per_phase_weeks",
                     "lead_switchgear_weeks", "lead_transformers_weeks", "lead_ups_weeks", "lead_generators_weeks", "lead_cooling_weeks",
                     "software_first_deploy_days")
    @classmethod
    def _ordered(cls, value: list[float] | None) -> list[float] | None:
        return _triangle_ok(value)


class RolloutSpec(_Section):
    """How the programme is built; the rollout planner turns it into a schedule."""

    method: str = Field(
        "gigafactory", description=("Build method: a bundled preset - gigafactory (pre-integrated racks and prefab skids), stick-built "
                                    "(traditional), fast-track (stick-built around the clock, early orders, parallel buildings), conversion "
                                    "(existing building, new power and cooling plant), powered-shell - or the name of one of `methods`."),
        json_schema_extra={"examples": list(BUILT_IN_METHODS)},
    )
    methods: list[BuildMethodSpec] = Field(
        default_factory=list, max_length=8,
        description="The scenario's own build methods (a bundled preset with changes), compared beside the bundled ones in every plan.")
    start_date: dt.date = Field(dt.date(2026, 3, 1), description="Notice to proceed (programme start).")
    monte_carlo_samples: int = Field(1000, ge=0, le=20_000, description="Risk samples over task durations and supply delays (the risk step holds tasks x samples durations in memory, hence the cap).")
    integrator_country: str = Field("US", min_length=2, max_length=2, description="Country (ISO code) of the rack-integration plant; sets shipping time to each site.")
    integrator_racks_per_week: float | None = Field(
        None, gt=0, le=100_000, description="Programme share of rack-integrator capacity [racks/week]; the method preset's when absent."
    )
    # urgency levers (docs/rollout.md "Urgency"): each defaults to the method preset's value
    procurement_head_start_days: float | None = Field(
        None, ge=0, le=1_500, description=(
            "Days before notice to proceed that long-lead switchgear, transformers, UPS, generators and chillers were ordered "
            "(slot reservations); their lead times count from then [days]; the method preset's (0) when absent."))
    parallel_phases: bool | None = Field(
        None, description="Build every energisation phase's shell at once after site works (one wave, one crew each) instead of one after another; the method preset's when absent.")
    install_crews_per_100mw: float | None = Field(
        None, gt=0, le=1_000, description="Rack install and commissioning crews per 100 MW of the phase being installed [1/100 MW]; the method preset's when absent.")
    construction_hours_per_week: float | None = Field(
        None, ge=20, le=168, description=(
            "Site working hours a week for civil, shell and fit-out work (50: one 10-h day shift 5 days; 140: two 10-h shifts "
            "7 days); the labour-bound share of their durations scales with it at shift-work productivity [h/week]; the method "
            "preset's when absent."))

    @model_validator(mode="after")
    def _known_method(self) -> "RolloutSpec":
        own = [m.name for m in self.methods]
        clash = sorted({n for n in own if n in BUILT_IN_METHODS} | {n for n in own if own.count(n) > 1})
        if clash:
            raise PydanticCustomError("method_names", "methods: each name must be new and unique; {names} clash with a bundled method or "
                                      "with each other", {"names": ", ".join(clash)})
        if self.method not in (*BUILT_IN_METHODS, *own):
            raise PydanticCustomError("method_unknown", "method '{method}' is neither a bundled method ({known}) nor one of rollout.methods",
                                      {"method": self.method, "known": ", ".join(BUILT_IN_METHODS)})
        return self


def _price_decline(value: Any) -> Any:
    """One named problem for finance.price_decline_per_year (a union would report one per branch)."""
    if isinstance(value, str) and value.strip() == "next-generation":
        return "next-generation"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1:
        return float(value)
    raise PydanticCustomError("price_decline", "expected a yearly decline in [0, 1) or 'next-generation', got {value}",
                              {"value": repr(value)})


class FinanceSpec(_Section):
    """Inputs of the cash-flow model."""

    cost_profile: str = Field("us-2025", description="Cost profile id (`gigafactory catalog list costs`).")
    horizon_years: int = Field(6, ge=1, le=40, description="Cash-flow horizon [years].")
    wacc: float | None = Field(None, ge=0, lt=1, description="Discount rate [1/year]; the cost profile's when absent.")
    utilisation: float = Field(0.7, gt=0, le=1, description="Average share of capacity sold [1].")
    revenue_model: Literal["tokens", "gpu-hours"] = Field("tokens", description="Sell tokens (per-model prices) or GPU-hours.")
    gpu_hour_price_usd: float | None = Field(None, gt=0, description="Price per GPU-hour when revenue_model is gpu-hours [USD].")
    price_decline_per_year: Annotated[Annotated[float, Field(ge=0, lt=1)] | Literal["next-generation"], BeforeValidator(_price_decline)] = Field(0.2, description=(
        "Yearly decline of token / GPU-hour prices [1/year], or 'next-generation': the rate at which the main system's successor "
        "lowers the cost per token (demand/data/generations.yaml; the newest system falls back to the historical decline of GPU "
        "price-performance)."))
    tax_rate: float | None = Field(None, ge=0, lt=1, description="Corporate income tax rate [1]; 0.21 (US federal) when absent.")


class DeviceFleetSpec(_Section):
    """A fleet of devices running a small model locally and offloading what it should not answer."""

    name: str = Field(min_length=1, max_length=64, description="Fleet name.")
    device: str = Field(description="Device as named in the device catalog (`devices/data/devices.yaml`), e.g. 'Snapdragon X Elite CRD'.")
    count: int = Field(ge=0, le=10_000_000_000, description="Devices in the fleet [count].")
    local_model: str = Field(description="Small model run on the device: an id of the device catalog's models.")
    precision: str | None = Field(None, description="Weight precision of the local model (e.g. w4a16, q4_0); the device's default when absent.")
    requests_per_device_per_day: float = Field(20, ge=0, le=10_000, description="Requests each device makes per day [1/day].")
    offload_fraction: float = Field(0.3, ge=0, le=1, description=(
        "Target share of requests sent to the factory: the routing policy's quality-gap threshold is calibrated to it [1]."))
    regions: dict[str, float] = Field(default_factory=lambda: {"us-east": 1.0}, description=(
        "Share of the fleet's users per user region (`devices/data/network.yaml`); shares sum to 1 [1]."))
    connectivity: dict[Literal["wifi", "5g", "4g", "offline"], float] | None = Field(None, description=(
        "Share of requests by connectivity, summing to 1 [1]; the network data's shares (Ofcom) when absent."))
    privacy_local_share: float = Field(0.1, ge=0, le=1, description="Share of conversations that never leave the device [1].")
    privacy_attested_share: float = Field(0.1, ge=0, le=1, description="Share of conversations that may leave only to an attested (confidential-computing) factory [1].")
    battery_low_share: float = Field(0.1, ge=0, le=1, description="Share of requests made on a low battery (policies lower their threshold) [1].")
    turns_per_conversation: float = Field(2.0, ge=1, le=100, description="Mean requests per conversation; a conversation stays where it began [1].")
    profile: str = Field("chat", description="Hour-of-week shape of the fleet's requests in its users' local time (`demand/data/profiles.yaml`).")
    growth_per_year: float = Field(0.0, ge=-0.9, le=20, description="Yearly growth of the fleet's requests [1/year].")

    @model_validator(mode="after")
    def _shares(self) -> "DeviceFleetSpec":
        for name, shares in (("regions", self.regions), ("connectivity", self.connectivity or {})):
            if any(v < 0 for v in shares.values()):
                raise ValueError(f"{name} shares must be >= 0")
            if shares and abs(sum(shares.values()) - 1.0) > 1e-6:
                raise ValueError(f"{name} shares sum to {sum(shares.values()):.4g}; they must sum to 1")
        if not self.regions:
            raise ValueError("regions must name at least one user region")
        if self.privacy_local_share + self.privacy_attested_share > 1 + 1e-9:
            raise ValueError("privacy_local_share + privacy_attested_share must be at most 1")
        return self


class DevicesSpec(_Section):
    """Personal AI on devices (Qira-style): local models with offload to the factory."""

    fleets: list[DeviceFleetSpec] = Field(default_factory=list, description="Device fleets, one entry each.")
    offload_model: str | None = Field(None, description="Factory model that serves offloaded requests; a workload's model.")
    policy: str = Field("quality-threshold", description=(
        "Routing policy from the registry (`gigafactory devices --policies`): local-only, cloud-only, quality-threshold, latency-aware, fleet-aware."))
    factory_attested: bool = Field(True, description="The factory runs confidential computing, so 'attested' conversations may be offloaded.")
    max_factory_utilisation: float = Field(0.8, gt=0, le=1, description=(
        "Fleet-aware policy and sizing: the share of the offload model's capacity under SLO the fleet may fill in any hour [1]."))
    price_discount: float = Field(0.3, ge=0, lt=1, description=(
        "Discount on the offload model's list price that the device maker pays for offloaded tokens (a platform volume deal) [1]."))
    sample_requests: int = Field(20_000, ge=1_000, le=1_000_000, description="Requests sampled per fleet to estimate shares and latency percentiles [count].")


class OperationsSpec(_Section):
    """Failures, repairs, spares and crews (docs/operations.md)."""

    gpu_hour_value_usd: float | None = Field(None, gt=0, le=100, description=(
        "Value of a serving GPU-hour in the spares and crew optimisation [USD/GPU-h]; the first contract's price, else "
        "finance.gpu_hour_price_usd, else 3.5 when absent."))
    fill_rate: float | None = Field(None, gt=0, lt=1, description="Target share of failures met from stock at once [1]; 0.95 (operations/data/failures.yaml) when absent.")
    max_utilisation: float = Field(0.85, gt=0, lt=1, description="Most swap work per technician on duty [1].")
    max_technicians: int | None = Field(None, ge=1, le=100_000, description="Most technicians on duty per site [count]; no limit when absent.")
    failure_rate_scale: float = Field(1.0, ge=0, le=100, description="Multiplier on every failure rate (sensitivity) [1].")
    max_retries: int = Field(1, ge=0, le=10, description="Times a request is re-sent after its replica fails (operations --simulate) [count].")


class TokenDemandSpec(_Section):
    """API demand for one model's tokens (a tenant segment); served as far as capacity under SLO allows."""

    name: str = Field(min_length=1, max_length=64, description="Segment name, e.g. 'api-llama'.")
    model: str = Field(description="Model id: one of the scenario's workloads.")
    output_tokens_per_day: float = Field(gt=0, le=1e16, description="Output tokens per day the segment asks for at the programme start [tokens/day].")
    growth_per_year: float = Field(0.0, ge=-0.9, le=20, description="Yearly growth of that demand: 1.0 doubles it every year [1/year].")
    profile: str = Field("servegen-language", description="Hour-of-week shape of the demand (`demand/data/profiles.yaml`).")
    cache_hit_share: float = Field(0.0, ge=0, le=1, description="Share of input tokens served from the prompt cache, billed at the cache-hit price [1].")
    free_share: float = Field(0.0, ge=0, lt=1, description="Share of served tokens that earn nothing (free tier, trials) [1].")
    discount: float = Field(0.0, ge=0, lt=1, description="Average discount on list price (volume deals, off-peak pricing) [1].")
    price_input_usd_per_mtok: float | None = Field(None, ge=0, description="List price per million input tokens [USD]; the providers' median when absent.")
    price_output_usd_per_mtok: float | None = Field(None, ge=0, description="List price per million output tokens [USD]; the providers' median when absent.")


class ContractSpec(_Section):
    """Capacity sold by the GPU-hour under a take-or-pay contract: paid whether used or not."""

    name: str = Field(min_length=1, max_length=64, description="Contract name, e.g. 'lab-anchor'.")
    share_of_gpus: float = Field(gt=0, le=1, description="Share of the fleet's GPUs delivered into this contract as they come online [1].")
    price_usd_per_gpu_hour: float | None = Field(None, gt=0, le=100, description="Contract price [USD/GPU-hour]; the market's reserved price for the system when absent.")
    term_years: float = Field(5.0, gt=0, le=20, description="Contract term from the first GPU delivered [years]; the GPUs return to the token pool after it.")


class DemandSpec(_Section):
    """Who buys what: API token demand per model and GPU-hour contracts (issue 14).  Without
    segments, revenue falls back to `finance.utilisation` of capacity at list prices."""

    tokens: list[TokenDemandSpec] = Field(default_factory=list, description="API token demand segments.")
    contracts: list[ContractSpec] = Field(default_factory=list, description="Take-or-pay GPU-hour contracts.")


class SimulationSpec(_Section):
    """Settings of the discrete-event serving simulation."""

    trace: str | None = Field(None, description="Trace name or CSV/JSONL path; synthetic Poisson arrivals when absent.")
    duration_s: DurationS = Field(3600, gt=0, le=30 * 86400, description="Simulated time [s].")
    rate_rps: float | None = Field(None, gt=0, description="Arrival rate to scale the trace to [requests/s].")
    router: str = Field("least-outstanding", description="Router policy name.")


class Scenario(_Section):
    """A whole programme: where, what, for whom, how it is built and financed."""

    name: str = Field(min_length=1, max_length=120, description="Scenario name, recorded with every run.")
    description: str = Field("", description="Free text.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Seed of every random stream [1].")
    sites: list[SiteSpec] = Field(min_length=1, description="Where the factory is built: one entry per site.")
    systems: SystemsSpec = Field(description="Which systems are built (and compared).")
    fabric: FabricSpec = Field(FabricSpec(), description="Scale-out network.")
    workloads: list[WorkloadSpec] = Field(min_length=1, description="Models served, their share of the GPUs, lengths and SLOs.")
    rollout: RolloutSpec = Field(RolloutSpec(), description="How and from when the programme is built.")
    finance: FinanceSpec = Field(FinanceSpec(), description="Cost profile, horizon, prices, utilisation.")
    demand: DemandSpec = Field(DemandSpec(), description="Who buys the factory's tokens and GPU-hours, and at what price.")
    devices: DevicesSpec = Field(DevicesSpec(), description="Device fleets running small models locally and offloading to the factory.")
    operations: OperationsSpec = Field(OperationsSpec(), description="Failures, repairs, spares and crews.")
    simulation: SimulationSpec = Field(SimulationSpec(), description="Serving-simulation settings.")

    def system_for(self, site: SiteSpec) -> str:
        return site.system or self.systems.default
