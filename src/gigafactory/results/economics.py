"""Result of the economics (`gigafactory economics`, `economics.run.run_economics`).

Money is in US dollars of the cost profile's base year; months count from the programme start;
``cost_per_mtok_usd`` is per million output tokens.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from gigafactory.results.base import Result

#: the tornado's inputs (`economics.analysis.TORNADO`).
TornadoInput = Literal["capex_it", "capex_facility", "energy_price", "token_price", "throughput", "utilisation", "wacc", "price_decline",
                       "delay_months", "maintenance"]


class YearlyUsd(Result):
    """Cash flows summed per year of the horizon (one value per year) [USD]."""

    revenue: list[float]
    energy: list[float]
    staff: list[float]
    maintenance: list[float]
    tax: list[float]
    capex: list[float]
    net: list[float]
    insurance: list[float] = Field(default_factory=list, description="Property insurance: a share of gross capex paid to date [USD].")
    property_tax: list[float] = Field(default_factory=list, description="Property tax: a share of the assets' book value [USD].")
    licences: list[float] = Field(default_factory=list, description="Software licences per GPU in service (NVIDIA AI Enterprise list price) [USD].")
    spares: list[float] = Field(default_factory=list, description="Spares pool bought with the IT hardware; part of capex [USD].")


class TotalsUsd(Result):
    """Cash flows summed over the horizon, undiscounted [USD]."""

    revenue: float
    energy: float
    staff: float
    maintenance: float
    tax: float
    capex: float
    residual: float = Field(description="Residual value of the assets at the end of the horizon: each asset class's cost less straight-line "
                                        "wear over its economic life (the book value when economic and book lives agree) [USD].")
    insurance: float = Field(0.0, description="Property insurance [USD].")
    property_tax: float = Field(0.0, description="Property tax [USD].")
    licences: float = Field(0.0, description="Software licences [USD].")
    spares: float = Field(0.0, description="Spares pool; included in capex [USD].")


class CostPerGpuHour(Result):
    """The levelised cost per GPU-hour split by cost line: PV of the line / PV of GPU-hours [USD/GPU-h]."""

    capex_less_residual: float = Field(description="Capex (IT with spares, facility) less the residual value [USD/GPU-h].")
    energy: float
    staff: float
    maintenance: float
    insurance: float
    property_tax: float
    licences: float


class DebtTranche(Result):
    """One loan of the financing: terms and totals over the horizon."""

    fraction: float = Field(description="Share of its capex class funded by the loan [fraction].")
    rate: float = Field(description="Interest rate, effective annual [fraction per year].")
    term_months: int = Field(description="Repayment term of each draw and of the capitalised balance [months].")
    amortisation: Literal["annuity", "linear"] = Field(description="Level payments or level principal.")
    drawn_usd: float = Field(description="Debt drawn with the capex [USD].")
    idc_usd: float = Field(description="Interest during construction, capitalised into the balance and the assets [USD].")
    interest_paid_usd: float = Field(description="Interest paid in cash, from the first month in service [USD].")
    principal_repaid_usd: float = Field(description="Scheduled principal repaid within the horizon [USD].")
    balance_at_horizon_usd: float = Field(description="Balance repaid at the horizon out of the residual value [USD].")


class FinancingYearly(Result):
    """Financing flows summed per year (one value per year) [USD]."""

    draws: list[float] = Field(description="Debt drawn [USD].")
    interest: list[float] = Field(description="Interest paid [USD].")
    principal: list[float] = Field(description="Principal repaid (scheduled; the balance at the horizon is not included) [USD].")
    cfads: list[float] = Field(description="Cash flow available for debt service: revenue - operating costs - levered taxes [USD].")
    equity_net: list[float] = Field(description="Equity cash flow [USD].")
    tax: list[float] = Field(description="Taxes with interest and IDC depreciation deducted [USD].")


class Financing(Result):
    """The levered view: IT capex funded by a GPU-backed delayed-draw loan, facility capex by campus
    project finance, the rest by equity; interest before the first month in service capitalised."""

    debt_drawn_usd: float = Field(description="Debt drawn over the horizon [USD].")
    debt_share_of_capex: float = Field(description="debt_drawn_usd / capex [fraction].")
    equity_invested_usd: float = Field(description="Capex not funded by debt [USD].")
    idc_usd: float = Field(description="Interest during construction, both loans [USD].")
    interest_paid_usd: float = Field(description="Interest paid in cash [USD].")
    principal_repaid_usd: float = Field(description="Scheduled principal repaid [USD].")
    balance_at_horizon_usd: float = Field(description="Debt outstanding at the horizon, repaid out of the residual value [USD].")
    first_service_month: int | None = Field(description="First month with GPUs in service: debt service starts, interest stops being "
                                                        "capitalised [month]; None if none within the horizon.")
    project_irr: float | None = Field(description="IRR of the unlevered project flows (the same as irr) [fraction per year]; None if none.")
    equity_irr: float | None = Field(description="IRR of the equity flows [fraction per year]; None if none (e.g. equity never paid back).")
    min_dscr: float | None = Field(description="Lowest yearly debt-service coverage ratio (CFADS / scheduled interest + principal) over the "
                                               "years with debt service [ratio]; None without debt.")
    dscr_yearly: list[float | None] = Field(description="Debt-service coverage ratio per year; None in years without debt service [ratio].")
    tranches: dict[Literal["it", "facility"], DebtTranche] = Field(description="The GPU-backed loan on IT capex and the campus loan on facility capex.")
    yearly_usd: FinancingYearly
    equity_cumulative_cash_usd: list[float] = Field(description="Cumulative equity cash at the end of each month [USD].")


class MarketCheck(Result):
    """A model's modelled cost per token against its list price."""

    model: str = Field(description="Model id.")
    cost_per_mtok_usd: float = Field(description="Levelised cost per million output tokens [USD/Mtok].")
    list_price_output_usd_per_mtok: float = Field(description="The scenario's list price per million output tokens [USD/Mtok].")
    price_over_cost: float = Field(description="list_price_output_usd_per_mtok / cost_per_mtok_usd [ratio].")


class TornadoRow(Result):
    """NPV at the low and high end of one input's range, the others at the base case."""

    input: TornadoInput = Field(description="The input varied.")
    low: float = Field(description="Low end: a multiplier of the base value, except utilisation, wacc, price_decline and maintenance "
                                   "(absolute fractions) and delay_months [months].")
    high: float = Field(description="High end, in the same terms as low.")
    npv_low_usd: float = Field(description="NPV with the input at low [USD].")
    npv_high_usd: float = Field(description="NPV with the input at high [USD].")
    swing_usd: float = Field(description="|npv_high_usd - npv_low_usd| [USD]; rows are sorted by it, largest first.")
    base_npv_usd: float = Field(description="Base-case NPV [USD].")


class Histogram(Result):
    """Histogram of the Monte Carlo NPVs (30 bins)."""

    edges_usd: list[float] = Field(description="Bin edges, 31 of them [USD].")
    counts: list[int] = Field(description="Samples per bin [count].")


class MonteCarlo(Result):
    """NPV distribution under triangular draws over the tornado inputs (delay from the rollout's P50-P90 spread)."""

    samples: int = Field(description="Samples drawn [count].")
    npv_p10_usd: float
    npv_p50_usd: float
    npv_p90_usd: float
    probability_npv_negative: float = Field(description="Share of samples with NPV < 0 [0-1].")
    histogram: Histogram


class DepreciationMonths(Result):
    """Depreciation lives [months]."""

    it: int = Field(description="GPU systems, storage [months].")
    network: int = Field(description="Network share of IT capex [months].")
    facility: int = Field(description="Power, cooling, building [months].")


class Assumptions(Result):
    """The financial inputs the base case used."""

    horizon_months: int = Field(description="Cash-flow horizon [months].")
    wacc: float = Field(description="Discount rate [fraction per year].")
    tax_rate: float = Field(description="Corporate income tax rate [fraction].")
    utilisation: float = Field(description="Average share of capacity sold [fraction].")
    price_decline_per_year: float = Field(description="Yearly decline of token / GPU-hour prices [fraction per year].")
    price_decline_source: str | None = Field(None, description="Where the decline comes from: the scenario's number or the next "
                                                               "generation's cost per token (demand/decline.py).")
    revenue_model: Literal["tokens", "gpu-hours"] = Field(description="Sell tokens (per-model prices) or GPU-hours.")
    depreciation_months: DepreciationMonths
    maintenance_fraction_per_year: float = Field(description="Maintenance per year as a fraction of IT capex in service [fraction per year].")
    economic_life_months: DepreciationMonths | None = Field(None, description="Economic lives that set the residual value [months]; None: the "
                                                                             "depreciation lives.")
    insurance_fraction_per_year: float | None = Field(None, description="Insurance per year as a fraction of gross capex [fraction per year].")
    property_tax_fraction_per_year: float | None = Field(None, description="Property tax per year as a fraction of book value [fraction per year].")
    licence_usd_per_gpu_year: float | None = Field(None, description="Software licence per GPU in service per year [USD].")
    spares_fraction_of_it_capex: float | None = Field(None, description="Spares pool as a fraction of IT capex [fraction].")
    cost_profile: str = Field(description="Cost profile id (catalog).")
    base_year: int = Field(description="Base year of the cost profile's dollars.")
    currency: Literal["USD"]


class EconomicsServingRow(Result):
    """The serving rate the economics used for one workload on one system."""

    model: str = Field(description="Model id.")
    share: float = Field(description="The workload's share of the fleet's GPUs [fraction].")
    tok_s_gpu: float = Field(description="Output tokens per second per GPU at the SLO [tokens/s/GPU]; 0.0 when no configuration meets it.")
    tok_s_user: float | None = Field(description="Output tokens per second per user at that point [tokens/s]; None when none meets the SLO.")
    reason: str | None = Field(description="Why the rate is 0 (no configuration meets the SLO); None otherwise.")


class EconomicsResult(Result):
    """Levelised costs, NPV / IRR / payback, cost of delay, cash flows, financing, tornado and Monte Carlo."""

    cost_per_gpu_hour_usd: float = Field(description="Levelised cost per GPU-hour (PV costs / PV GPU-hours) [USD/GPU-h]; "
                                                      "inf when no GPU-hour is delivered (null in JSON text).")
    cost_per_sold_gpu_hour_usd: float = Field(description="cost_per_gpu_hour_usd / utilisation [USD/GPU-h].")
    cost_per_mtok_usd: dict[str, float | None] = Field(
        description="Per model id: levelised cost per million output tokens [USD/Mtok]; None when the model serves no token.")
    cost_per_gpu_hour_breakdown_usd: CostPerGpuHour | None = Field(None, description="cost_per_gpu_hour_usd split by cost line [USD/GPU-h].")
    pv_costs_usd: float = Field(description="Present value of capex, energy, staff, maintenance, insurance, property tax and licences less "
                                            "residual value [USD].")
    pv_gpu_hours: float = Field(description="Present value (discounted) of GPU-hours in service [GPU-h].")
    npv_usd: float = Field(description="Net present value at the WACC [USD].")
    irr: float | None = Field(description="Internal rate of return of the unlevered project flows [fraction per year]; None when there is none.")
    payback_months: float | None = Field(description="When cumulative cash turns and stays >= 0 [months]; None if never within the horizon.")
    discounted_payback_months: float | None = Field(description="The same on discounted cash [months]; None if never.")
    cost_of_delay_usd_per_week: float = Field(description="NPV lost per week of delay (one month's delay / weeks per month) [USD/week].")
    cumulative_cash_usd: list[float] = Field(description="Cumulative net cash at the end of each month [USD].")
    yearly_usd: YearlyUsd
    totals_usd: TotalsUsd
    market_check: list[MarketCheck] = Field(description="Per workload with a list output price and a cost: cost against price.")
    warnings: list[str]
    tornado: list[TornadoRow]
    financing: Financing | None = Field(None, description="Debt, interest during construction, equity and project IRR, DSCR.")
    monte_carlo: MonteCarlo | None = Field(description="None when run with 0 samples.")
    assumptions: Assumptions
    notes: list[str]
    serving: dict[str, list[EconomicsServingRow]] = Field(description="Per system id: the serving rate per workload, in workload order.")
