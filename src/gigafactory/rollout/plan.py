"""The rollout stage: design -> tasks -> base plan (list schedule, or CP-SAT) -> Monte Carlo
risk -> Gantt, capacity ramp (GPUs and tokens/s online per week), labour and headcount."""
from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.pipeline.streams import stream
from gigafactory.results.design import DesignResult
from gigafactory.results.rollout import RolloutResult
from gigafactory.rollout.presets import facility_cost_factor_for, method_presets
from gigafactory.rollout.risk import duration_tornado, simulate
from gigafactory.rollout.listsched import schedule_fast
from gigafactory.rollout.power import power_report
from gigafactory.rollout.solve import build, solve
from gigafactory.rollout.tasks import HOURS_PER_DAY, build_tasks
from gigafactory.scenario.model import Scenario


def ramp_weeks(tasks, plan, start: dt.date, tok_s_per_gpu: dict[str, float]) -> list[dict[str, Any]]:
    accepts = sorted(((plan.end_h[t.id], t) for t in tasks if t.kind == "accept"), key=lambda x: (x[0], x[1].id))
    if not accepts:
        return []
    last_week = int(np.ceil(accepts[-1][0] / (7 * HOURS_PER_DAY))) + 1
    out = []
    gpus = 0
    tok = 0.0
    i = 0
    for w in range(last_week + 1):
        edge = w * 7 * HOURS_PER_DAY
        while i < len(accepts) and accepts[i][0] <= edge:
            t = accepts[i][1]
            gpus += t.gpus
            tok += t.gpus * tok_s_per_gpu.get(t.site, 0.0)
            i += 1
        out.append({"week": w, "date": (start + dt.timedelta(days=7 * w)).isoformat(), "gpus": gpus, "tok_s": tok})
    return out


def labour(tasks, plan) -> dict[str, Any]:
    by_trade: dict[str, float] = {}
    events: list[tuple[int, float]] = []
    for t in tasks:
        if t.people <= 0:
            continue
        for trade, share in t.trade_split or (("general", 1.0),):
            by_trade[trade] = by_trade.get(trade, 0.0) + t.labour_hours * share
        events.append((plan.start_h[t.id], t.people))
        events.append((plan.end_h[t.id], -t.people))
    events.sort()
    cur = peak = 0.0
    peak_at = 0
    for time_h, delta in events:
        cur += delta
        if cur > peak:
            peak, peak_at = cur, time_h
    return {"labour_hours_by_trade": by_trade, "peak_headcount": int(round(peak)), "peak_day": peak_at / HOURS_PER_DAY}


def plan_rollout(cat: Catalog, scn: Scenario, design: DesignResult, tok_s_per_gpu: dict[str, float] | None = None,
                 samples: int | None = None, exact: bool = False, max_deterministic_time: float = 30.0,
                 sensitivity: bool = True) -> RolloutResult:
    """The rollout stage.  The base plan comes from the list scheduler (``exact=False``, about a
    second for 1 GW) or from CP-SAT (``exact=True``, proven gap, tens of seconds); see
    docs/rollout.md for the gap between them."""
    tasks = build_tasks(scn, design, cat)
    if exact:
        plan = solve(build(tasks), max_deterministic_time=max_deterministic_time, seed=scn.seed % (2**31))
    else:
        plan = schedule_fast(tasks)
    n = scn.rollout.monte_carlo_samples if samples is None else samples
    risk = simulate(tasks, plan, n, stream(scn.seed, "rollout.risk")) if n > 0 else None
    start = scn.rollout.start_date
    ramp = ramp_weeks(tasks, plan, start, tok_s_per_gpu or {})
    pct = risk.percentiles() if risk else {}
    crit_ft = list((risk.critical_first_token if risk else {}).items())[:12]
    crit_fc = list((risk.critical_full_capacity if risk else {}).items())[:12]
    lab = labour(tasks, plan)
    staff_fte = cat.get("costs", scn.finance.cost_profile).staff_fte_per_mw * sum(s.power_mw for s in scn.sites)
    preset = method_presets(scn.rollout)[scn.rollout.method]
    gantt = [{"id": t.id, "site": t.site, "kind": t.kind, "su": t.su, "phase": t.phase, "start_day": plan.start_h[t.id] / 24,
              "end_day": plan.end_h[t.id] / 24, "resource": t.resource} for t in tasks]
    return RolloutResult.model_validate({
        "method": scn.rollout.method,
        "preset": {"name": preset.name, "description": preset.description, "assumptions": list(preset.notes)},
        "facility_cost_factor": facility_cost_factor_for(preset, scn.rollout.construction_hours_per_week),
        "start_date": start.isoformat(),
        "plan_ttft_days": plan.first_token_h / 24,
        "plan_full_capacity_days": plan.full_capacity_h / 24,
        "ttft_days": pct.get("first_token_days", {}).get("p50", plan.first_token_h / 24),
        "ttft_days_p10": pct.get("first_token_days", {}).get("p10"),
        "ttft_days_p90": pct.get("first_token_days", {}).get("p90"),
        "full_capacity_days": pct.get("full_capacity_days", {}).get("p50", plan.full_capacity_h / 24),
        "full_capacity_days_p10": pct.get("full_capacity_days", {}).get("p10"),
        "full_capacity_days_p90": pct.get("full_capacity_days", {}).get("p90"),
        "first_token_date": (start + dt.timedelta(days=pct.get("first_token_days", {}).get("p50", plan.first_token_h / 24))).isoformat(),
        "solver": {"method": "cp-sat" if exact else "list-schedule", "status": plan.status, "optimality_gap": plan.gap,
                   "first_token_proven_optimal": plan.first_token_proven_optimal, "tasks": len(tasks)},
        "monte_carlo_samples": n,
        "critical_path": [{"task": k, "share": v} for k, v in crit_ft],
        "critical_path_full_capacity": [{"task": k, "share": v} for k, v in crit_fc],
        # the tornado re-times the base plan ~40 times: the method comparison, which shows percentiles only, skips it
        "first_token_sensitivity": duration_tornado(tasks, plan)[:12] if sensitivity else [],
        "ramp": ramp,
        "peak_headcount": lab["peak_headcount"],
        "labour_hours_by_trade": lab["labour_hours_by_trade"],
        "permanent_staff_fte": staff_fte,
        "gantt": gantt,
        "power": power_report(scn, design, cat, tasks, plan),
    })
