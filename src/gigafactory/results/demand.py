"""Result of the demand stage: what the factory sells, hour by hour over the horizon, to whom,
at what price; served = min(demand, capacity under SLO)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from gigafactory.results.base import Result


class SegmentResult(Result):
    """One demand segment over the whole horizon."""

    name: str = Field(description="Segment or contract name from the scenario.")
    kind: Literal["tokens", "contract", "devices", "utilisation"] = Field(
        description="API token demand, a take-or-pay GPU-hour contract, the device fleets' offloaded requests, or the fallback "
                    "'utilisation' (no demand model).")
    model: str | None = Field(description="Model id of a token segment; None for a contract.")
    demand_tokens: float = Field(description="Output tokens asked for over the horizon [tokens]; 0 for a contract.")
    served_tokens: float = Field(description="Output tokens served over the horizon [tokens]; 0 for a contract.")
    unserved_share: float = Field(description="Share of the demand not served for lack of capacity [0-1].")
    gpu_hours: float = Field(description="GPU-hours the segment paid for: a contract's delivered hours, else those its tokens used [GPU-h].")
    revenue_usd: float = Field(description="Revenue over the horizon, undiscounted [USD].")
    price_output_usd_per_mtok: float | None = Field(description="List price per million output tokens at the start [USD]; None for a contract.")
    price_input_usd_per_mtok: float | None = Field(description="List price per million input tokens at the start [USD]; None for a contract.")
    price_usd_per_gpu_hour: float | None = Field(description="Contract price [USD/GPU-h]; None for a token segment.")
    price_source: str = Field(description="Where the price comes from (scenario, provider median with its providers, market reference).")


class DemandMonth(Result):
    """One month of the horizon (month 0 starts at the programme start)."""

    month: int
    gpus_online: float = Field(description="Mean GPUs in service over the month [count].")
    contract_gpus: float = Field(description="Mean GPUs delivered into contracts [count].")
    demand_tokens: float = Field(description="Output tokens asked for [tokens].")
    capacity_tokens: float = Field(description="Output tokens the token pool could serve under the SLOs [tokens].")
    served_tokens: float = Field(description="Output tokens served: min(demand, capacity) hour by hour [tokens].")
    served_tokens_by_model: dict[str, float] = Field(description="The same per model id [tokens].")
    revenue_tokens_usd: float = Field(description="Token revenue [USD].")
    revenue_contracts_usd: float = Field(description="Contract revenue [USD].")
    utilisation: float = Field(description="Sold GPU-hours (contracts + tokens' share of the pool) over GPU-hours in service [0-1]; 0 before any GPU.")


class ModelDemand(Result):
    """One model over the horizon."""

    demand_tokens: float = Field(description="Output tokens asked for [tokens].")
    capacity_tokens: float = Field(description="Output tokens its share of the token pool could serve [tokens].")
    served_tokens: float = Field(description="Output tokens served [tokens].")
    peak_hour_utilisation: float = Field(description="Highest hourly served/capacity once the whole fleet is online [0-1].")
    hours_short: float = Field(description="Share of in-service hours in which demand exceeded capacity [0-1].")


class DemandResult(Result):
    """Demand, capacity and sales over the horizon."""

    mode: Literal["modelled", "utilisation"] = Field(
        description="'modelled': segments and contracts from the scenario's demand section; 'utilisation': none given, so "
                    "finance.utilisation of capacity is sold at list prices (the old assumption, flagged).")
    horizon_months: int
    segments: list[SegmentResult]
    models: dict[str, ModelDemand] = Field(description="Per model id.")
    monthly: list[DemandMonth]
    utilisation: float = Field(description="Sold GPU-hours over GPU-hours in service, whole horizon [0-1].")
    utilisation_by_year: list[float] = Field(description="The same per year of the horizon [0-1].")
    unserved_share: float = Field(description="Share of token demand not served, whole horizon [0-1].")
    revenue_usd: float = Field(description="Revenue over the horizon, undiscounted [USD].")
    revenue_by_year_usd: list[float] = Field(description="Revenue per year of the horizon [USD].")
    revenue_mix: dict[str, float] = Field(description="Share of revenue by kind: tokens, contracts [0-1].")
    revenue_per_gw_year_usd: float | None = Field(
        description="Revenue per GW of facility power per year, over the last full year of the horizon [USD/GW/year]; None with no power.")
    price_decline_per_year: float = Field(
        description="Yearly decline of token prices (and of a GPU-hour's worth) the run used: the scenario's number or, with "
                    "'next-generation', the rate at which the successor system lowers the cost per token [1/year].")
    price_decline_source: str = Field(
        description="Where that decline comes from: the scenario, the successor and its cost per token, or the sourced fallback.")
    notes: list[str]
