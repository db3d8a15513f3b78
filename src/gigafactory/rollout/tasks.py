"""The rollout task graph: site works, the site's power supply (rollout/power.py: the grid
connection, an on-site gas plant, or temporary turbines then the grid), long-lead procurement,
energisation phases and, per scalable unit, rack integration -> shipping -> install -> L12 ->
burn-in -> acceptance.

Times are in hours (integers in the solver).  Each task names the single resource it needs
(None, the global integrator line, or a site's fit-out or install crews); every resource
serves one task at a time, a crew pool working together on one scalable unit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gigafactory.results.design import DesignResult
from gigafactory.rollout import power
from gigafactory.rollout.presets import (BASE_CONSTRUCTION_HOURS_PER_WEEK, PRESETS, MethodPreset, Tri, construction_scale_for,
                                        method_presets, shipping_days, worked_hours_per_week)

HOURS_PER_DAY = 24.0


@dataclass(frozen=True)
class Task:
    id: str
    site: str
    kind: str  # grid | power | lead | civil | shell | fitout | energise | integrate | ship | receive | install | l12 | burn_in | accept | software
    duration: Tri  # (low, mode, high) [h]
    preds: tuple[str, ...]
    resource: str | None = None
    capacity: int = 1  # tasks the resource runs at once (parallel teams)
    su: int | None = None
    phase: int | None = None
    gpus: int = 0  # GPUs that come online when this task ends (acceptance)
    people: float = 0.0  # on-site workers while the task runs [count]
    work_hours_per_day: float = 10.0  # hours each of them works per calendar day [h]
    trade_split: tuple[tuple[str, float], ...] = ()

    @property
    def labour_hours(self) -> float:
        """Person-hours of on-site labour at the mode duration [h]."""
        return self.people * self.work_hours_per_day * self.duration[1] / HOURS_PER_DAY

    @property
    def mode_h(self) -> int:
        return max(0, int(round(self.duration[1])))


def _h(days: Tri, scale: float = 1.0) -> Tri:
    return tuple(d * HOURS_PER_DAY * scale for d in days)  # type: ignore[return-value]


#: share of install crew-hours by trade (assumption: power, liquid and network hook-up about equal)
INSTALL_TRADES = (("electrical", 0.3), ("mechanical", 0.3), ("network", 0.4))


def _lead(days: Tri, head_start: float) -> Tri:
    """A long-lead item ordered ``head_start`` days before notice to proceed: what is left of its
    lead time at the programme start [h] (0 when it arrived before)."""
    return _h(tuple(max(0.0, d - head_start) for d in days))  # type: ignore[arg-type]


def urgency(scn: Any, method: MethodPreset) -> tuple[float, bool, float]:
    """(procurement head start [days], parallel phases, install crews per 100 MW of a phase): the
    scenario's rollout setting where given, else the method preset's."""
    r = scn.rollout
    head = getattr(r, "procurement_head_start_days", None)
    par = getattr(r, "parallel_phases", None)
    crews = getattr(r, "install_crews_per_100mw", None)
    return (method.procurement_head_start_days if head is None else float(head),
            method.parallel_phases if par is None else bool(par),
            method.crews_per_100mw if crews is None else float(crews))


def site_preset(method: MethodPreset, powered_shell: bool) -> MethodPreset:
    """The preset a site is built with: a powered-shell site (or method) uses powered-shell's
    site works, whatever the programme's method."""
    if method.family == "powered-shell":
        return method
    return PRESETS["powered-shell"] if powered_shell else method


def phases_for(site_power_mw: float, phases_mw: list[float] | None) -> list[float]:
    phases = [p for p in (phases_mw or []) if p > 0]
    rest = site_power_mw - sum(phases)
    if rest > 1e-6 or not phases:
        phases.append(rest if phases else site_power_mw)
    return phases


def su_phases(n_sus: int, su_facility_mw: float, phases_mw: list[float]) -> list[int]:
    """Phase index of each SU: SUs fill the phases' power in order."""
    bounds = []
    acc = 0.0
    for p in phases_mw:
        acc += p
        bounds.append(acc)
    out = []
    for j in range(n_sus):
        need = (j + 1) * su_facility_mw
        k = next((i for i, b in enumerate(bounds) if need <= b + 1e-6), len(bounds) - 1)
        out.append(k)
    return out


def build_tasks(scn: Any, design: DesignResult, cat: Any) -> list[Task]:
    """All tasks of the programme from the scenario and its factory design."""
    methods = method_presets(scn.rollout)
    method = methods.get(scn.rollout.method, PRESETS["gigafactory"])
    tasks: list[Task] = []
    racks_per_week = scn.rollout.integrator_racks_per_week or method.integrator_racks_per_week
    head_start, parallel, crews_per_100mw = urgency(scn, method)
    for site_spec, site in zip(scn.sites, design.sites):
        s = site_spec.name
        sp = site_preset(method, site_spec.powered_shell)
        system = cat.system(site.system)
        racks_per_su = math.ceil(system.scalable_unit_units / (system.units_per_rack or 1))
        n_su = site.scalable_units
        phases = phases_for(site_spec.power_mw, site_spec.energisation_phases_mw)
        su_mw = site.facility_power_mw / max(n_su, 1)
        phase_of = su_phases(n_su, su_mw, phases)
        site_first = len(tasks)  # power tasks go first among the site's tasks (where grid-connection always was)
        leads = []
        for name, tri in (("switchgear", sp.lead_switchgear), ("transformers", sp.lead_transformers), ("ups", sp.lead_ups),
                          ("generators", sp.lead_generators), ("cooling", sp.lead_cooling)):
            tasks.append(Task(f"{s}/lead-{name}", s, "lead", _lead(tri, head_start), ()))
            leads.append(f"{s}/lead-{name}")
        prev: tuple[str, ...] = ()
        # the working pattern: the scenario's rollout.construction_hours_per_week, else the site preset's; it scales
        # civil, shell and fit-out durations, and each construction worker's hours a day (10 at the day shift)
        hours_override = getattr(scn.rollout, "construction_hours_per_week", None)
        pace = construction_scale_for(sp, hours_override)
        build_hours_per_day = 10.0 * worked_hours_per_week(sp, hours_override) / BASE_CONSTRUCTION_HOURS_PER_WEEK
        if sp.site_civil:
            tasks.append(Task(f"{s}/civil", s, "civil", _h(sp.site_civil, pace), ()))
            prev = (f"{s}/civil",)
        site_works = prev
        workers = sp.construction_workers_per_mw_peak
        gates: list[tuple[str, ...]] = []
        install_gates: list[tuple[str, ...]] = []
        for k, mw in enumerate(phases):
            shell_tri = sp.shell if k == 0 else sp.shell_next_phase
            if shell_tri:
                scale = max(mw / phases[0], 0.25) if k else 1.0
                # one wave after another (each phase's shell after the previous one's, one shell crew), or with
                # parallel_phases every shell after the site works at once, one crew each
                tasks.append(Task(f"{s}/shell-{k}", s, "shell", _h(shell_tri, scale ** 0.5 * pace), site_works if parallel else prev,
                                  resource=f"shell:{s}:{k}" if parallel else f"shell:{s}", phase=k,
                                  people=workers * mw * 0.4, work_hours_per_day=build_hours_per_day, trade_split=(("civil", 1.0),)))
                prev = (f"{s}/shell-{k}",)
            fit = _h(sp.fitout_per_phase, max(mw / 200.0, 0.25) ** 0.5 * pace)
            # construction workers split ~40 % shell / 60 % M&E fit-out at the peak (assumption); each building (phase)
            # has its own M&E fit-out crew, so a phase's fit-out waits for its shell, not for the previous fit-out
            tasks.append(Task(f"{s}/fitout-{k}", s, "fitout", fit, prev, resource=f"fitout:{s}:{k}", phase=k,
                              people=workers * mw * 0.6, work_hours_per_day=build_hours_per_day, trade_split=(("electrical", 0.5), ("mechanical", 0.5))))
            if k == 0:
                # power: the site's path (rollout/power.py) from when phase 0 could energise but for power
                ready = power.ready_days(tasks[site_first:], (f"{s}/fitout-0", *leads))
                pplan = power.plan_site_power(site_spec, site, cat.region(site_spec.region), method=method.family, ready_days=ready,
                                              phases=phases, su_mw=su_mw, horizon_years=scn.finance.horizon_years)
                tasks[site_first:site_first] = [Task(p.id, s, p.kind, _h(p.duration_days), ()) for p in pplan.tasks]
                gates, install_gates = power.power_gates(pplan, phases, phase_of, su_mw)
            tasks.append(Task(f"{s}/energise-{k}", s, "energise", _h(sp.commissioning_per_phase), (f"{s}/fitout-{k}", *gates[k], *leads), phase=k))
        site_country = (cat.region(site_spec.region).country or "").split()[0]
        ship = shipping_days(scn.rollout.integrator_country, site_country)
        receive_days = racks_per_su / method.delivery_racks_per_day
        hours_per_day = method.shift_hours_per_day
        # crew-hours per rack by rack type: the liquid hook-up in proportion to the system's liquid-cooled share
        rack_hours = method.onsite_crew_hours_per_rack + method.liquid_hookup_crew_hours_per_rack * float(system.liquid_cooled_fraction or 0.0)
        # install crews scale with the MW of the phase being installed: per phase, one crew per rack of an SU forms a
        # team, the phase's crews form this many parallel teams
        phase_teams = []
        for mw in phases:
            crews = max(1, round(crews_per_100mw * mw / 100))
            team_crews = min(crews, racks_per_su)
            phase_teams.append((team_crews, max(1, crews // team_crews)))
        for j in range(n_su):
            k = phase_of[j]
            team_crews, teams = phase_teams[k]
            install_days = rack_hours * racks_per_su / (team_crews * hours_per_day)
            su = f"{s}/su{j:04d}"
            integ_h = racks_per_su / racks_per_week * 7 * HOURS_PER_DAY
            tasks.append(Task(f"{su}/integrate", s, "integrate", (integ_h * 0.8, integ_h, integ_h * 1.5), (), resource="integrator", su=j))
            tasks.append(Task(f"{su}/ship", s, "ship", _h(ship), (f"{su}/integrate",), su=j))
            # delivery slots: each building's (phase's) dock receives and stages one SU's racks at a time
            tasks.append(Task(f"{su}/receive", s, "receive", _h((receive_days * 0.8, receive_days, receive_days * 2)), (f"{su}/ship",),
                              resource=f"dock:{s}:{k}", su=j))
            tasks.append(Task(f"{su}/install", s, "install", _h((install_days * 0.8, install_days, install_days * 1.6)),
                              (f"{su}/receive", f"{s}/energise-{phase_of[j]}", *install_gates[j]), resource=f"install:{s}:{k}", capacity=teams, su=j, phase=k,
                              people=team_crews * method.crew_size, work_hours_per_day=hours_per_day, trade_split=INSTALL_TRADES))
            tasks.append(Task(f"{su}/l12", s, "l12", _h(method.cluster_test_l12), (f"{su}/install",), su=j))
            tasks.append(Task(f"{su}/burn_in", s, "burn_in", _h(method.burn_in), (f"{su}/l12",), su=j))
            tasks.append(Task(f"{su}/accept", s, "accept", _h(method.acceptance), (f"{su}/burn_in",), su=j, gpus=site.gpus // max(n_su, 1)))
        if n_su:
            tasks.append(Task(f"{s}/software", s, "software", _h(method.software_first_deploy), (f"{s}/su0000/accept",)))
    return tasks
