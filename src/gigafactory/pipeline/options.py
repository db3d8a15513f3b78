"""Run options: what an entry point (CLI flag, API field, sweep) may set beyond the scenario.
Each stage declares which of them it reads, so they enter its cache key."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RunOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rollout_samples: int | None = Field(None, ge=0, le=20_000, description="Rollout Monte Carlo samples; the scenario's when None.")
    rollout_exact: bool = Field(False, description="Solve the base plan with CP-SAT instead of the list scheduler.")
    economics_samples: int = Field(10_000, ge=0, le=1_000_000, description="Economics Monte Carlo samples.")
    trace: str | None = Field(None, description="Simulation trace; the scenario's when None.")
    rate_rps: float | None = Field(None, gt=0, description="Whole-fleet arrival rate [requests/s]; the scenario's when None.")
    duration_s: float | None = Field(None, gt=0, description="Simulated arrival time [s]; the scenario's when None.")
    router: str | None = Field(None, description="Router policy; the scenario's when None.")
    sim_target_ci: float = Field(0.1, gt=0, le=1, description="Simulation run size: target relative half-width of each pool's p99 TTFT "
                                 "95 % interval (docs/simulate.md); an explicit duration_s is simulated in full instead.")
    sim_workers: int = Field(1, ge=1, le=64, description="Processes that run simulation pools in parallel (does not change results).")


def run_options(flags: dict[str, str] | None = None, **values) -> RunOptions:
    """RunOptions from entry-point values; a bad value is an InputError naming the flag
    (``flags`` maps option field -> the name the user typed, e.g. ``{"rate_rps": "--rate"}``)."""
    from pydantic import ValidationError

    from gigafactory.errors import InputError, Problem

    try:
        return RunOptions(**values)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            name = str(e["loc"][0]) if e["loc"] else "options"
            field = (flags or {}).get(name, name)
            spec = RunOptions.model_fields.get(name)
            problems.append(Problem(f"invalid value: {e['msg']}", field=field, value=e.get("input"),
                                    expected=spec.description if spec is not None else None,
                                    fix=f"give {field} a valid value", check="run-options"))
        raise InputError(problems) from None
