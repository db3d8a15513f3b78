"""Result of the rollout plan (`gigafactory rollout`, `rollout.plan.plan_rollout`).

Days count from the programme start (``start_date``).  Dates are ISO 8601 calendar-date
strings ('YYYY-MM-DD'), as in result.json: they are strings in the stage's dict today.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from gigafactory.results.base import Result

#: an ISO 8601 calendar date, 'YYYY-MM-DD' (kept a string: the JSON form is the value).
IsoDate = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]

#: the build-method presets of `rollout.presets.PRESETS` (`scenario.rollout.method`).
BuildMethod = Literal["gigafactory", "stick-built", "fast-track", "conversion", "powered-shell"]

#: the kinds of task `rollout.tasks.build_tasks` makes.
TaskKind = Literal["grid", "power", "lead", "civil", "shell", "fitout", "energise", "integrate", "ship", "receive", "install", "l12",
                   "burn_in", "accept", "software"]


class RolloutPreset(Result):
    """The build-method preset the plan used."""

    name: str = Field(description="Preset name.")
    description: str
    assumptions: list[str] = Field(description="The preset's sourced figures and assumptions, as notes.")


class SolverInfo(Result):
    """How the base plan (mode durations) was scheduled."""

    method: str = Field(description="Scheduler of the base plan: 'list-schedule' (priority list scheduling) or 'cp-sat' (OR-Tools CP-SAT).")
    status: str = Field(description="Status of the capacity stage: CP-SAT's ('OPTIMAL', 'FEASIBLE'), "
                                    "or 'OPTIMAL' / 'HEURISTIC' from list scheduling.")
    optimality_gap: float = Field(description="(objective - best bound) / objective of the capacity stage [0-1].")
    first_token_proven_optimal: bool = Field(description="Whether the first-token stage was solved to proven optimality.")
    tasks: int = Field(description="Tasks scheduled [count].")


class CriticalPathShare(Result):
    """A task, or a kind of scalable-unit task of a site, and how often it lies on the critical path."""

    task: str = Field(description="Task id, or 'site/su*/kind' for that kind of task over a site's scalable units.")
    share: float = Field(description="Share of Monte Carlo samples (at most 400 examined) in which it is on the critical path [0-1].")


class DurationSwing(Result):
    """How far the first token moves when one group of task durations goes to its low or high end."""

    task: str = Field(description="Task id, or 'site/su*/kind' for that kind of task over a site's scalable units.")
    first_token_days_low: float = Field(description="First token with this group at its low durations, every other task at its mode [days].")
    first_token_days_high: float = Field(description="First token with this group at its high durations [days].")
    swing_days: float = Field(description="high - low [days].")
    base_days: float = Field(description="First token with every task at its mode, on the same order [days].")


class RampWeek(Result):
    """Capacity online at the start of one week of the base plan."""

    week: int = Field(description="Weeks since the programme start.")
    date: IsoDate = Field(description="Calendar date of the week's start, ISO 'YYYY-MM-DD' string.")
    gpus: int = Field(description="GPUs accepted into service by then [count].")
    tok_s: float = Field(description="Output tokens per second of those GPUs at the workload mix [tokens/s].")


class GanttTask(Result):
    """One task of the base plan."""

    id: str = Field(description="Task id, 'site/...' or 'site/suNNNN/kind'.")
    site: str = Field(description="Site name.")
    kind: TaskKind
    su: int | None = Field(description="Scalable-unit index; None for site-level tasks.")
    phase: int | None = Field(description="Building phase index; None for tasks not tied to a phase.")
    start_day: float = Field(description="Start in the base plan [days from the programme start].")
    end_day: float = Field(description="End in the base plan [days from the programme start].")
    resource: str | None = Field(description="Constrained resource (crew, integrator) the task occupies; None if unconstrained.")


#: the power paths of `rollout.power` (`sites[].power_path` less 'auto').
PowerPathName = Literal["grid", "onsite-gas", "temporary-then-grid"]


class PowerOption(Result):
    """One power path considered for a site without a grid connection, as 'auto' compared it."""

    path: PowerPathName
    first_power_days: float = Field(description="Resource-free estimate of the start of the site's first energisation on this path "
                                                "(mode durations) [days from start]; first token follows it by the same span on every path.")
    capex_usd: float = Field(description="Capex of the path's own supply [USD]: the on-site plant; 0 for the grid and rented turbines.")
    energy_premium_usd_per_mwh: float = Field(description="On-site energy cost over the region's grid price [USD/MWh]; negative when cheaper; "
                                                          "for temporary-then-grid, while bridging.")
    horizon_cost_usd: float = Field(description="Capex + premium x energy over the finance horizon (the bridge only while it runs) [USD].")
    eligible: bool = Field(description="Whether 'auto' may pick it: premium within auto.max_premium_usd_per_mwh (the grid always).")


class SitePower(Result):
    """How one site gets its power (`rollout.power`): path, lead time, cost and criticality."""

    site: str = Field(description="Site name.")
    requested: Literal["auto", "grid", "onsite-gas", "temporary-then-grid"] = Field(description="The scenario's sites[].power_path.")
    path: PowerPathName = Field(description="Path used: 'grid' also for a site whose connection exists at start (grid_existing).")
    grid_existing: bool = Field(description="Grid connection available at programme start (grid_ready, powered shell): no power task.")
    first_token_supply: Literal["existing-grid", "grid", "onsite-gas", "temporary"] = Field(
        description="Supply that powers the site's first scalable unit.")
    lead_time_days: float = Field(description="P50 of the duration of the power task feeding the first scalable unit [days]; 0 with an existing grid.")
    permanent_lead_time_days: float = Field(description="P50 of the permanent supply's task (grid connection or on-site plant) [days]; "
                                                        "0 with an existing grid.")
    capex_usd: float = Field(description="Capex of the path's own supply [USD]: on-site plant at the design facility power; 0 otherwise.")
    energy_premium_usd_per_mwh: float = Field(description="Energy cost of the on-site supply over the region's grid price [USD/MWh] "
                                                          "(fuel x heat rate + carbon, + rental for temporary turbines); 0 for the grid.")
    premium_mw: float = Field(description="Facility MW the premium applies to: the whole site for on-site gas, the bridged MW for temporary power [MW].")
    bridge_days: float | None = Field(description="Temporary-then-grid: base-plan days from temporary power to the grid connection, "
                                                  "the span the premium is paid; None for other paths.")
    grid_price_usd_per_mwh: float = Field(description="The region's grid electricity price the premium is measured against [USD/MWh].")
    onsite_emissions_kg_co2_per_mwh: float | None = Field(description="CO2 of the on-site gas supply at the site [kg/MWh]; None for the grid.")
    on_critical_path: bool = Field(description="A power task of this site lies on the base plan's binding chain to the programme's first token.")
    on_site_critical_path: bool = Field(description="A power task of this site lies on the base plan's binding chain to the site's own first token.")
    tasks: list[str] = Field(description="Ids of the site's power tasks.")
    options: list[PowerOption] = Field(description="Every path considered (sites without a grid connection); empty otherwise.")
    reason: str = Field(description="Why this path: requested, or what 'auto' compared.")


class RolloutResult(Result):
    """Base plan, Monte Carlo risk, capacity ramp, labour and Gantt of the deployment.

    Without Monte Carlo samples (``monte_carlo_samples`` 0) the P50 figures are the base plan's,
    the P10/P90 ones are None and the critical-path lists are empty.
    """

    method: str = Field(description="Build method (scenario rollout.method): a bundled preset (BuildMethod) or the scenario's own (rollout.methods).")
    preset: RolloutPreset
    start_date: IsoDate = Field(description="Programme start (notice to proceed), ISO 'YYYY-MM-DD' string.")
    plan_ttft_days: float = Field(description="Base plan (mode durations): first production token [days from start].")
    plan_full_capacity_days: float = Field(description="Base plan: last scalable unit accepted [days from start].")
    ttft_days: float = Field(description="P50 time to first production token [days from start]; the base plan's without samples.")
    ttft_days_p10: float | None = Field(description="P10 time to first token [days from start]; None without samples.")
    ttft_days_p90: float | None = Field(description="P90 time to first token [days from start]; None without samples.")
    full_capacity_days: float = Field(description="P50 time to full capacity [days from start]; the base plan's without samples.")
    full_capacity_days_p10: float | None = Field(description="P10 time to full capacity [days from start]; None without samples.")
    full_capacity_days_p90: float | None = Field(description="P90 time to full capacity [days from start]; None without samples.")
    first_token_date: IsoDate = Field(description="Calendar date of ttft_days (whole days), ISO 'YYYY-MM-DD' string.")
    solver: SolverInfo
    monte_carlo_samples: int = Field(description="Monte Carlo samples over task durations [count]; 0 for none.")
    critical_path: list[CriticalPathShare] = Field(description="To first token: the 12 most frequent critical tasks, most frequent first.")
    critical_path_full_capacity: list[CriticalPathShare] = Field(description="To full capacity: the 12 most frequent critical tasks.")
    first_token_sensitivity: list[DurationSwing] = Field(
        description=("Tornado on durations: the 12 task groups that move the first token most, on the base plan's order (largest swing "
                     "first); empty for the other build methods of the comparison (methods stage), which do not compute it."))
    ramp: list[RampWeek] = Field(description="Capacity online per week of the base plan, to the week after the last acceptance.")
    peak_headcount: int = Field(description="Most on-site workers at once in the base plan [people].")
    labour_hours_by_trade: dict[str, float] = Field(description="On-site person-hours per trade at mode durations [h].")
    permanent_staff_fte: float = Field(description="Operating staff once built, from the cost profile's FTE per MW [FTE].")
    facility_cost_factor: float = Field(
        1.0, description=("Factor on the facility capex (power, cooling, building, soft costs) from the construction working pattern: "
                          "extra labour at shift-work productivity and shift pay (rollout.presets.facility_cost_factor_for); 1 at the "
                          "pattern the catalog's costs assume."))
    gantt: list[GanttTask] = Field(description="Every task of the base plan.")
    power: list[SitePower] = Field(default_factory=list, description="Per site: how it gets power (rollout.power), with lead time, capex, "
                                                                     "energy premium and whether it is on the critical path to first token.")
