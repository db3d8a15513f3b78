"""The build-method comparison stage: the programme's central claim, measured in every plan.

The same design and serving rates are scheduled under every build-method preset (list
scheduler and the scenario's risk samples) and financed (base case), and each method's first
token is set against the conventional stick-built baseline: weeks sooner, what those weeks are
worth at the scenario's cost of delay, and the NPV difference of the whole cash flows.
"""
from __future__ import annotations

from gigafactory.catalog import Catalog
from gigafactory.design.choice import mix_tok_s_per_gpu
from gigafactory.display import human
from gigafactory.demand.serve import run_demand
from gigafactory.economics.run import run_economics
from gigafactory.results.demand import DemandResult
from gigafactory.results.devices import DevicesResult
from gigafactory.results.operations import OperationsResult
from gigafactory.results.design import DesignResult
from gigafactory.results.economics import EconomicsResult
from gigafactory.results.methods import MethodComparison, MethodRollouts, MethodRow
from gigafactory.results.rollout import RolloutResult
from gigafactory.results.serving import ServingResult
from gigafactory.rollout.presets import method_presets
from gigafactory.scenario.model import Scenario

BASELINE = "stick-built"
#: the fastest conventional practice (rollout/presets.py fast-track: Stargate Abilene's pattern): the headline
#: also measures a method against it, so the saving does not rest on the typical pace alone
FAST_TRACK = "fast-track"
WEEK_DAYS = 7.0


def schedule_methods(cat: Catalog, scn: Scenario, design: DesignResult, serving: ServingResult, rollout_samples: int | None = None,
                     exact: bool = False) -> MethodRollouts:
    """The design under every preset but the scenario's own (its rollout stage has that one)."""
    from gigafactory.rollout.plan import plan_rollout  # CP-SAT and pandas: not loaded when a price re-run reuses this stage

    mix = mix_tok_s_per_gpu(design, serving)
    out = {}
    for method in method_presets(scn.rollout):
        if method != scn.rollout.method:
            variant = scn.model_copy(update={"rollout": scn.rollout.model_copy(update={"method": method})})
            out[method] = plan_rollout(cat, variant, design, mix, samples=rollout_samples, exact=exact, sensitivity=False)
    return MethodRollouts(rollouts=out)


def compare_methods(cat: Catalog, scn: Scenario, design: DesignResult, serving: ServingResult, rollout: RolloutResult,
                    econ: EconomicsResult, others: MethodRollouts, demand: DemandResult | None = None,
                    devices: DevicesResult | None = None, operations: OperationsResult | None = None,
                    successor: ServingResult | None = None) -> MethodComparison:
    """Every preset on the scenario's design, financed (base case) with its own sales; the scenario's
    own method reuses its rollout and economics results (the same computation)."""
    runs: dict[str, tuple[RolloutResult, EconomicsResult]] = {}
    presets = method_presets(scn.rollout)
    for method in presets:
        if method == scn.rollout.method:
            runs[method] = (rollout, econ)
            continue
        variant = scn.model_copy(update={"rollout": scn.rollout.model_copy(update={"method": method})})
        ro = others.rollouts[method]
        # capacity comes online later or sooner; availability as the scenario's own build (early life shifts with it: a second-order effect)
        dem = run_demand(cat, variant, design, serving, ro, devices, operations, successor) if demand is not None else None
        runs[method] = (ro, run_economics(cat, variant, design, ro, serving, mc_samples=0, demand=dem, sensitivity=False, operations=operations))
    base_ro, base_econ = runs[BASELINE]
    fast_ro = runs[FAST_TRACK][0] if FAST_TRACK in runs else None
    cod = econ.cost_of_delay_usd_per_week
    rows = []
    for method, (ro, ec) in runs.items():
        weeks = (base_ro.ttft_days - ro.ttft_days) / WEEK_DAYS
        rows.append(MethodRow(
            method=method, description=presets[method].description, ttft_days=ro.ttft_days, ttft_days_p10=ro.ttft_days_p10,
            ttft_days_p90=ro.ttft_days_p90, full_capacity_days=ro.full_capacity_days, first_token_date=ro.first_token_date,
            npv_usd=ec.npv_usd, irr=ec.irr, weeks_sooner_than_baseline=weeks, value_of_time_saved_usd=weeks * cod,
            npv_gain_vs_baseline_usd=ec.npv_usd - base_econ.npv_usd,
            weeks_sooner_than_fast_track=(fast_ro.ttft_days - ro.ttft_days) / WEEK_DAYS if fast_ro is not None else None,
        ))
    chosen = next(r for r in rows if r.method == scn.rollout.method)
    return MethodComparison(baseline=BASELINE, fast_track=FAST_TRACK if fast_ro is not None else None, chosen=scn.rollout.method,
                            cost_of_delay_usd_per_week=cod, methods=rows, headline=headline(chosen, BASELINE))


def _sooner(weeks: float, than: str) -> str:
    return f"{abs(weeks):.0f} weeks {'sooner' if weeks >= 0 else 'later'} than {than}"


def headline(row: MethodRow, baseline: str) -> str:
    if row.method == baseline:
        return f"{row.method}: first token in {row.ttft_days:.0f} days (P50), the baseline the other methods are measured against"
    w = row.weeks_sooner_than_baseline
    when = _sooner(w, f"{baseline} at the typical pace")
    if row.weeks_sooner_than_fast_track is not None and row.method != FAST_TRACK:
        when += f" and {_sooner(row.weeks_sooner_than_fast_track, 'a fast-tracked stick build')}"
    worth = human(abs(row.value_of_time_saved_usd), "USD")
    value = (f"worth {worth} at the cost of delay" if row.value_of_time_saved_usd >= 0 else
             f"but each week of service loses money at this scenario's prices, so starting sooner costs {worth}")
    return (f"{row.method}: first production token in {row.ttft_days:.0f} days (P50), {when}, {value} "
            f"(NPV {'+' if row.npv_gain_vs_baseline_usd >= 0 else '-'}{human(abs(row.npv_gain_vs_baseline_usd), 'USD')} vs {baseline})")
