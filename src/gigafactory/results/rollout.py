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
BuildMethod = Literal["gigafactory", "stick-built", "powered-shell"]

#: the kinds of task `rollout.tasks.build_tasks` makes.
TaskKind = Literal["grid", "lead", "civil", "shell", "fitout", "energise", "integrate", "ship", "receive", "install", "l12",
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


class RolloutResult(Result):
    """Base plan, Monte Carlo risk, capacity ramp, labour and Gantt of the deployment.

    Without Monte Carlo samples (``monte_carlo_samples`` 0) the P50 figures are the base plan's,
    the P10/P90 ones are None and the critical-path lists are empty.
    """

    method: BuildMethod = Field(description="Build-method preset (scenario rollout.method).")
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
        description="Tornado on durations: the 12 task groups that move the first token most, on the base plan's order (largest swing first).")
    ramp: list[RampWeek] = Field(description="Capacity online per week of the base plan, to the week after the last acceptance.")
    peak_headcount: int = Field(description="Most on-site workers at once in the base plan [people].")
    labour_hours_by_trade: dict[str, float] = Field(description="On-site person-hours per trade at mode durations [h].")
    permanent_staff_fte: float = Field(description="Operating staff once built, from the cost profile's FTE per MW [FTE].")
    gantt: list[GanttTask] = Field(description="Every task of the base plan.")
