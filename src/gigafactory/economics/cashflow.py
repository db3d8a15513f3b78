"""Monthly cash flows of the programme, vectorised over samples.

Every series is a (months,) base array built once from the design, the rollout and the
performance model (``EconInputs``); ``evaluate`` applies per-sample multipliers (shape
(samples,)) and returns (samples, months) arrays, so the base case, the tornado and a
10,000-sample Monte Carlo share one code path.

Conventions: month 0 is notice to proceed; flows are end of month; the discount rate is the
effective monthly rate of the annual WACC; money is USD of the cost profile's base year.

Costs: capex (IT on delivery, with a spares pool bought alongside; facility as construction
progress payments), energy, staff, IT support/maintenance (share of IT capex in service),
insurance (share of gross capex paid to date), property tax (share of book value) and
software licences (per GPU in service).

Taxes: corporate income tax with unlimited loss carry-forward (cumulative tax paid = rate x the
running maximum of cumulative taxable income, floored at 0).  Book depreciation is straight
line over each asset class's book life and drives taxes only.  Residual value: every asset is
worth, at the horizon, the straight-line share of its cost left of its *economic* life (GPU
systems, network and facility each have their own), received in the last month; the gain or
loss against book value is taxed there.  With economic lives equal to book lives this is the
book value.

Two views of the same flows:

* **project** (unlevered): revenue - operating costs - taxes on EBIT - capex + residual.  NPV at
  the WACC, project IRR, levelised costs.
* **equity** (levered): capex is funded by two delayed-draw loans, drawn as the capex is paid: a
  GPU-backed loan on the IT capex (CoreWeave-style DDTL, each draw amortising over its term)
  and campus project finance on the facility capex.  Interest before the first month with GPUs
  in service is capitalised (IDC, added to the depreciable base for taxes); from then on it is
  paid and deducted.  Equity pays the undrawn share of capex and the debt service and repays
  the balance left at the horizon out of the residual value.  Equity IRR and the minimum yearly
  debt-service coverage ratio (CFADS = revenue - operating costs - levered taxes, over scheduled
  interest + principal) come from these flows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gigafactory.economics import finance

SECONDS_PER_MONTH = 365.25 * 86400 / 12
HOURS_PER_MONTH = 365.25 * 24 / 12


@dataclass(frozen=True)
class DebtTerms:
    """One loan: the share of its capex class it funds, its rate and its term."""

    fraction: float = 0.0  # share of the capex class funded by the loan [1]
    rate: float = 0.0  # effective annual interest rate [1/year]
    term_months: int = 60  # repayment term of each draw (and of the capitalised balance) [months]
    amortisation: str = "annuity"  # "annuity" (level payment) or "linear" (level principal)


NO_DEBT = DebtTerms()


@dataclass(frozen=True)
class EconInputs:
    months: int
    capex_it_usd: np.ndarray  # GPU systems, network, storage paid on delivery, per month
    capex_facility_usd: np.ndarray  # power, cooling, building, soft costs: construction progress payments
    gpus_online: np.ndarray  # average GPUs in service during the month [count]
    energy_usd: np.ndarray  # electricity bill at full load of the online GPUs (IT typical x PUE x price)
    staff_usd: np.ndarray
    revenue_usd: np.ndarray  # token (or GPU-hour) sales at utilisation 1 and no price decline
    output_tokens: dict[str, np.ndarray]  # per model, at utilisation 1
    gpu_share: dict[str, float]  # share of GPUs serving each model
    life_it_months: int  # book lives: depreciation for taxes
    life_network_months: int
    life_facility_months: int
    network_share_of_it: float  # share of IT capex that is network (its own life)
    maintenance_fraction_per_year: float  # of IT capex in service
    wacc: float  # annual
    tax_rate: float
    utilisation: float
    price_decline_per_year: float
    notes: tuple[str, ...] = field(default=())
    # take-or-pay contract revenue per month: paid whatever the utilisation, token price or decline
    contract_revenue_usd: np.ndarray | None = None
    # False when demand, not capacity, sets the tokens sold (demand stage): more tokens/s per GPU then
    # lowers the cost per token but sells no more
    revenue_scales_with_throughput: bool = True
    # share of GPUs in service that carry a software licence: GPUs sold bare under contracts run
    # the tenant's own stack, so only the token pool's do
    licensed_gpu_share: float = 1.0
    # --- issue 14: economic lives, further cost lines and financing.  The defaults switch each
    # off, so inputs built without them give the model as it was (residual = book value). ---
    economic_life_it_months: int | None = None  # None: the book life
    economic_life_network_months: int | None = None
    economic_life_facility_months: int | None = None
    insurance_fraction_per_year: float = 0.0  # of gross capex paid to date (replacement value)
    property_tax_fraction_per_year: float = 0.0  # of book value
    licence_usd_per_gpu_year: float = 0.0  # per GPU in service
    spares_fraction_of_it_capex: float = 0.0  # bought with the IT, depreciated with it
    it_debt: DebtTerms = NO_DEBT  # GPU-backed delayed-draw loan on IT capex (incl. spares)
    facility_debt: DebtTerms = NO_DEBT  # campus project finance on facility capex
    price_decline_source: str = "scenario (finance.price_decline_per_year)"  # or the next generation's (demand/decline.py)


def cost_profile_inputs(cost: Any) -> dict[str, Any]:
    """The issue-14 fields of ``EconInputs`` from a cost profile (catalog ``costs`` entry); an
    attribute the profile lacks leaves its line off.  ``build_inputs`` passes them on:
    ``EconInputs(..., **cost_profile_inputs(cost))``."""

    def months(attr: str) -> int | None:
        v = getattr(cost, attr, None)
        return None if v is None else round(v * 12)

    def debt(prefix: str) -> DebtTerms:
        frac = getattr(cost, f"{prefix}_debt_fraction", None)
        rate = getattr(cost, f"{prefix}_debt_rate_fraction", None)
        term = months(f"{prefix}_debt_term_years")
        if not frac or rate is None or not term:
            return NO_DEBT
        return DebtTerms(fraction=float(frac), rate=float(rate), term_months=term)

    return {
        "economic_life_it_months": months("economic_life_gpu_years"),
        "economic_life_network_months": months("economic_life_network_years"),
        "economic_life_facility_months": months("economic_life_facility_years"),
        "insurance_fraction_per_year": float(getattr(cost, "insurance_fraction_of_capex_per_year", None) or 0.0),
        "property_tax_fraction_per_year": float(getattr(cost, "property_tax_fraction_per_year", None) or 0.0),
        "licence_usd_per_gpu_year": float(getattr(cost, "software_licence_usd_per_gpu_per_year", None) or 0.0),
        "spares_fraction_of_it_capex": float(getattr(cost, "spares_fraction_of_it_capex", None) or 0.0),
        "it_debt": debt("it"),
        "facility_debt": debt("facility"),
    }


#: per-sample inputs: multipliers of the base series, except utilisation, wacc, price_decline and
#: maintenance (absolute fractions; None = the inputs' value) and delay_months [months].
#: debt_rate multiplies both loans' rates.
BASE = {"capex_it": 1.0, "capex_facility": 1.0, "energy_price": 1.0, "token_price": 1.0, "throughput": 1.0,
        "utilisation": None, "wacc": None, "price_decline": None, "delay_months": 0.0, "maintenance": None, "debt_rate": 1.0}


def _samples(mult: dict[str, Any], inp: EconInputs) -> dict[str, np.ndarray]:
    full = {**BASE, **mult}
    full["utilisation"] = inp.utilisation if full["utilisation"] is None else full["utilisation"]
    full["wacc"] = inp.wacc if full["wacc"] is None else full["wacc"]
    full["price_decline"] = inp.price_decline_per_year if full["price_decline"] is None else full["price_decline"]
    full["maintenance"] = inp.maintenance_fraction_per_year if full["maintenance"] is None else full["maintenance"]
    arrays = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in full.items()}
    n = max(a.size for a in arrays.values())
    return {k: np.broadcast_to(a, (n,)) for k, a in arrays.items()}


def _shift(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """(months,) series delayed by d[s] whole months for every sample -> (samples, months)."""
    m = np.arange(x.size)
    idx = m[None, :] - d.astype(int)[:, None]
    return np.where(idx >= 0, x[np.clip(idx, 0, None)], 0.0)


def _straight_line(capex: np.ndarray, life: int) -> np.ndarray:
    """Depreciation per month of capex paid per month (samples, months), in service from payment."""
    c = np.cumsum(capex, axis=1)
    lagged = np.zeros_like(c)
    if life < capex.shape[1]:
        lagged[:, life:] = c[:, :-life]
    return (c - lagged) / life


def _value_left(capex: np.ndarray, life: int) -> np.ndarray:
    """(samples,) value at the end of the last month of capex paid per month, straight line over
    ``life`` months from the month of payment (the same convention as ``_straight_line``)."""
    age = capex.shape[1] - np.arange(capex.shape[1])  # months of depreciation charged by the horizon
    return capex @ np.clip(1.0 - age / life, 0.0, 1.0)


def _cumulative_tax(taxable: np.ndarray, rate: float) -> np.ndarray:
    """Tax per month with unlimited loss carry-forward: cumulative tax = rate x running maximum of
    cumulative taxable income, floored at 0."""
    cum = rate * np.maximum.accumulate(np.maximum(np.cumsum(taxable, axis=1), 0.0), axis=1)
    return np.diff(cum, axis=1, prepend=0.0)


@dataclass(frozen=True)
class Financing:
    """The levered view: loan schedules, levered taxes, equity flows (all (samples, months))."""

    draws: np.ndarray  # debt drawn with the capex
    interest: np.ndarray  # interest paid in cash (from the first month in service)
    principal: np.ndarray  # scheduled repayments
    balance: np.ndarray  # debt outstanding at the end of the month (capitalised interest included)
    idc: np.ndarray  # (samples,) interest during construction, capitalised
    balloon: np.ndarray  # (samples,) balance repaid at the horizon out of the residual
    tax: np.ndarray  # levered taxes (interest and IDC depreciation deducted)
    cfads: np.ndarray  # revenue - operating costs - levered taxes
    equity_net: np.ndarray  # equity cash flow per month
    first_service_month: np.ndarray  # (samples,) first month with GPUs in service (debt service starts)
    by_tranche: dict[str, dict[str, np.ndarray]]  # "it" / "facility": loan_schedule output

    @property
    def debt_service(self) -> np.ndarray:
        return self.interest + self.principal


@dataclass(frozen=True)
class Flows:
    revenue: np.ndarray
    energy: np.ndarray
    staff: np.ndarray
    maintenance: np.ndarray
    depreciation: np.ndarray
    tax: np.ndarray  # unlevered (project) taxes
    capex: np.ndarray  # IT (with spares) + facility
    residual: np.ndarray
    net: np.ndarray  # project (unlevered) free cash flow per month (samples, months)
    discount: np.ndarray  # (samples, months), end of month
    gpu_hours: np.ndarray
    tokens: dict[str, np.ndarray]
    insurance: np.ndarray | None = None
    property_tax: np.ndarray | None = None
    licences: np.ndarray | None = None
    spares: np.ndarray | None = None  # part of capex
    book_value_end: np.ndarray | None = None  # (samples,)
    financing: Financing | None = None

    @property
    def npv(self) -> np.ndarray:
        return np.sum(self.net * self.discount, axis=1)

    @property
    def opex(self) -> np.ndarray:
        """Operating costs: energy, staff, maintenance, insurance, property tax, licences."""
        out = self.energy + self.staff + self.maintenance
        for x in (self.insurance, self.property_tax, self.licences):
            if x is not None:
                out = out + x
        return out


def _loan(draws: np.ndarray, terms: DebtTerms, rate_mult: np.ndarray, first: np.ndarray) -> dict[str, np.ndarray]:
    rate = finance.monthly_rate(np.clip(terms.rate * rate_mult, 0.0, None))
    return finance.loan_schedule(draws, rate, terms.term_months, first, terms.amortisation)  # type: ignore[arg-type]


def evaluate(inp: EconInputs, mult: dict[str, Any] | None = None, financing: bool = True) -> Flows:
    """Cash flows for every sample of ``mult`` (see BASE).  ``financing=False`` skips the levered
    view (the Monte Carlo needs only the project NPV)."""
    s = _samples(mult or {}, inp)
    d = s["delay_months"]
    months = np.arange(inp.months)
    decline = (1 - s["price_decline"][:, None]) ** (months[None, :] / 12.0)
    online = _shift(inp.gpus_online, d)
    capex_hw = _shift(inp.capex_it_usd, d) * s["capex_it"][:, None]
    spares = capex_hw * inp.spares_fraction_of_it_capex
    capex_it = capex_hw + spares
    capex_fac = np.broadcast_to(inp.capex_facility_usd, online.shape) * s["capex_facility"][:, None]
    util = s["utilisation"][:, None]
    thr = s["throughput"][:, None] if inp.revenue_scales_with_throughput else 1.0
    revenue = _shift(inp.revenue_usd, d) * util * thr * s["token_price"][:, None] * decline
    if inp.contract_revenue_usd is not None:
        revenue = revenue + _shift(inp.contract_revenue_usd, d)
    energy = _shift(inp.energy_usd, d) * s["energy_price"][:, None]
    staff = np.broadcast_to(inp.staff_usd, online.shape).copy()
    maintenance = np.cumsum(capex_hw, axis=1) * s["maintenance"][:, None] / 12.0
    capex = capex_it + capex_fac
    net_share = inp.network_share_of_it
    it_net, it_gpu = capex_hw * net_share, capex_hw * (1 - net_share) + spares
    dep = (_straight_line(it_gpu, inp.life_it_months) + _straight_line(it_net, inp.life_network_months)
           + _straight_line(capex_fac, inp.life_facility_months))
    book = np.cumsum(capex, axis=1) - np.cumsum(dep, axis=1)
    insurance = np.cumsum(capex, axis=1) * inp.insurance_fraction_per_year / 12.0
    property_tax = book * inp.property_tax_fraction_per_year / 12.0
    licences = online * inp.licensed_gpu_share * inp.licence_usd_per_gpu_year / 12.0
    opex = energy + staff + maintenance + insurance + property_tax + licences
    # residual at the horizon from economic lives; the gain over book value is taxed there
    residual_value = (_value_left(it_gpu, inp.economic_life_it_months or inp.life_it_months)
                      + _value_left(it_net, inp.economic_life_network_months or inp.life_network_months)
                      + _value_left(capex_fac, inp.economic_life_facility_months or inp.life_facility_months))
    book_end = book[:, -1]
    residual = np.zeros_like(book)
    residual[:, -1] = residual_value
    gain = np.zeros_like(book)
    gain[:, -1] = residual_value - book_end
    ebit = revenue - opex - dep
    tax = _cumulative_tax(ebit + gain, inp.tax_rate)
    net = revenue - opex - tax - capex + residual
    r_m = (1 + s["wacc"]) ** (1 / 12) - 1
    discount = (1 + r_m[:, None]) ** -(months[None, :] + 1.0)
    gpu_hours = online * HOURS_PER_MONTH
    tokens = {k: _shift(v, d) * util * thr for k, v in inp.output_tokens.items()}
    fin = None
    if financing:
        fin = _financing(inp, s, online, capex_it, capex_fac, revenue, opex, ebit + gain, residual_value)
    return Flows(revenue, energy, staff, maintenance, dep, tax, capex, residual, net, discount, gpu_hours, tokens,
                 insurance=insurance, property_tax=property_tax, licences=licences, spares=spares, book_value_end=book_end, financing=fin)


def _financing(inp: EconInputs, s: dict[str, np.ndarray], online: np.ndarray, capex_it: np.ndarray, capex_fac: np.ndarray,
               revenue: np.ndarray, opex: np.ndarray, taxable_unlevered: np.ndarray, residual_value: np.ndarray) -> Financing:
    n_t = online.shape[1]
    any_online = online > 0
    first = np.where(any_online.any(axis=1), np.argmax(any_online, axis=1), n_t)
    tranches = {}
    for name, draws_base, terms, life in (("it", capex_it, inp.it_debt, inp.life_it_months),
                                          ("facility", capex_fac, inp.facility_debt, inp.life_facility_months)):
        draws = draws_base * terms.fraction
        sched = _loan(draws, terms, s["debt_rate"], first)
        sched["draws"] = draws
        # IDC is capitalised into the asset: depreciated for taxes over the class's book life from
        # the first month in service; whatever is left at the horizon is written off there.
        k = np.arange(n_t)[None, :] - first[:, None]
        sched["idc_depreciation"] = np.where((k >= 0) & (k < life), sched["idc"][:, None] / life, 0.0)
        tranches[name] = sched
    draws = sum(t["draws"] for t in tranches.values())
    interest = sum(t["interest_paid"] for t in tranches.values())
    principal = sum(t["principal"] for t in tranches.values())
    balance = sum(t["balance"] for t in tranches.values())
    idc = sum(t["idc"] for t in tranches.values())
    idc_dep = sum(t["idc_depreciation"] for t in tranches.values())
    idc_left = idc - np.sum(idc_dep, axis=1)
    balloon = balance[:, -1]
    taxable = taxable_unlevered - interest - idc_dep
    taxable[:, -1] -= idc_left
    tax = _cumulative_tax(taxable, inp.tax_rate)
    cfads = revenue - opex - tax
    equity = cfads - (capex_it + capex_fac - draws) - interest - principal
    equity[:, -1] += residual_value - balloon
    return Financing(draws=draws, interest=interest, principal=principal, balance=balance, idc=idc, balloon=balloon, tax=tax,
                     cfads=cfads, equity_net=equity, first_service_month=first, by_tranche=tranches)
