"""Result of the build-method comparison stage: the same design scheduled and financed under each
build method, and what the time saved is worth."""
from __future__ import annotations

from pydantic import Field

from gigafactory.results.base import Result
from gigafactory.results.rollout import IsoDate, RolloutResult


class MethodRow(Result):
    """One build method applied to the scenario's design."""

    method: str = Field(description="Build-method preset (rollout/presets.py).")
    description: str = Field(description="What the method assumes, in words.")
    ttft_days: float = Field(description="P50 deployment time to first production token [days from the programme start].")
    ttft_days_p10: float | None = Field(description="P10 [days]; None without risk samples.")
    ttft_days_p90: float | None = Field(description="P90 [days]; None without risk samples.")
    full_capacity_days: float = Field(description="P50 time to full capacity [days from the programme start].")
    first_token_date: IsoDate = Field(description="Calendar date of the P50 first token, ISO 'YYYY-MM-DD'.")
    npv_usd: float = Field(description="NPV of the programme built this way (base case, no Monte Carlo) [USD].")
    irr: float | None = Field(description="IRR of the programme built this way [fraction per year]; None when there is none.")
    weeks_sooner_than_baseline: float = Field(description="Baseline's P50 first token minus this method's, in weeks (negative: later).")
    value_of_time_saved_usd: float = Field(
        description="weeks_sooner_than_baseline x the scenario's cost of delay per week (economics stage) [USD].")
    npv_gain_vs_baseline_usd: float = Field(description="This method's NPV minus the baseline's, from the full cash flows [USD].")
    weeks_sooner_than_fast_track: float | None = Field(
        None, description=("Fast-tracked stick-built's P50 first token minus this method's, in weeks (negative: later): the saving against "
                           "the fastest conventional practice (Stargate Abilene), where the baseline is the typical pace; None without it."))


class MethodComparison(Result):
    """Every build method on the same design; the baseline is the conventional stick-built method."""

    baseline: str = Field(description="Method the others are compared with (stick-built, the typical conventional pace).")
    fast_track: str | None = Field(None, description="The fast-tracked conventional method also compared with (fast-track); None when not run.")
    chosen: str = Field(description="The scenario's own method (rollout.method).")
    cost_of_delay_usd_per_week: float = Field(description="NPV lost per week of delay of the scenario's own plan [USD/week].")
    methods: list[MethodRow] = Field(description="One row per method, in preset order.")
    headline: str = Field(description="The comparison in one sentence, as the plan prints it.")


class MethodRollouts(Result):
    """The design scheduled under every build method other than the scenario's own (they depend on
    no price, so a change of price reuses them from the stage cache)."""

    rollouts: dict[str, RolloutResult] = Field(description="Per build-method preset.")
