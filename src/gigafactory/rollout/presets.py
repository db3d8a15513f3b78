"""Build-method presets: task durations (triangular low / mode / high, in days), crews and
shift patterns, with the source or assumption behind each.  The difference between methods
comes out of the schedule model; only these physical inputs differ.

Sources (read via shared/reference/factory_facts.yaml):
- C&W 2025 lead times: switchgear 46-48 wk, chillers 30-40, generators 30-38, UPS 28-36,
  transformers / PDU / prefab skids ~28-36 wk (cushwake.cld.bz Data-Center-Development-Cost-Guide-2025/6-7);
  McKinsey: MV switchgear up to 80 wk, transformers ~50 wk (marketscreener.com, 2026).
- Construction groundbreaking -> commissioned 18-24 months (constructionowners.com, 2026).
- Commissioning L2-L5 on site ~8 weeks, 12-16 when L4/L5 failures cascade (gantt-chart.co.uk, 2026).
- Prefab power / cooling modules reach power 6-12 months sooner; modular blocks deploy in weeks
  vs 12-24 months stick-built (aidatacenterguide.com part 6.4; engineeringniche.com).
- GPU burn-in 24-168 h, 72 h recommended (leviathansystems.co; aidatacenterguide.com 13.8).
- Rack tray assembly ~2 h per tray when cabled (18 trays per NVL72 rack) (regantih.github.io, low).
- Integrators: Foxconn 1,000 AI racks/week (Nov 2025); Supermicro 3,000 DLC racks/month.
- xAI Colossus: 100k H100 in 122 days in a repurposed building (anchor for powered-shell).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

Tri = tuple[float, float, float]  # (low, mode, high) days

WEEK = 7.0


def weeks(low: float, mode: float, high: float) -> Tri:
    return (low * WEEK, mode * WEEK, high * WEEK)


#: site working hours a week at which the construction durations below are set: one 10-h shift,
#: 5 days (ASSUMED; the SOURCED 18-24-month groundbreaking-to-commissioned pace is a day-shift pace)
BASE_CONSTRUCTION_HOURS_PER_WEEK = 50.0
#: Hanna, Chang, Sullivan & Lackney (2008), "Impact of shift work on labor productivity for labor
#: intensive contractor", J. Constr. Eng. Manage. 134(3) 197-204: productivity loss =
#: 0.22052 + 0.07152 ln(shift-work share of the hours), reported over -11 % to +17 %
SHIFT_LOSS_INTERCEPT = 0.22052
SHIFT_LOSS_SLOPE = 0.07152
SHIFT_LOSS_RANGE = (-0.11, 0.17)


def _shift_share(hours_per_week: float, base_hours_per_week: float) -> float:
    """Share of the hours worked beyond the day shift [1]."""
    return max(0.0, hours_per_week - base_hours_per_week) / max(hours_per_week, 1e-9)


def shift_productivity(hours_per_week: float, base_hours_per_week: float = BASE_CONSTRUCTION_HOURS_PER_WEEK) -> float:
    """Labour productivity [0-1+] of a site worked ``hours_per_week`` by adding shifts to a
    ``base_hours_per_week`` day shift: Hanna et al. (2008)'s loss for the shift-work share of the
    hours, kept inside the range their data cover (so a site worked around the clock loses 17 %)."""
    extra = _shift_share(hours_per_week, base_hours_per_week)
    if extra <= 0.0:
        return 1.0
    lo, hi = SHIFT_LOSS_RANGE
    return 1.0 - min(hi, max(lo, SHIFT_LOSS_INTERCEPT + SHIFT_LOSS_SLOPE * math.log(extra)))


def construction_time_factor(hours_per_week: float, labour_share: float,
                             base_hours_per_week: float = BASE_CONSTRUCTION_HOURS_PER_WEEK) -> float:
    """Calendar time of a construction task worked ``hours_per_week`` over its time at the base
    pattern: the labour-bound share shrinks with the effective working hours (hours x shift
    productivity), the rest (curing, deliveries, inspections, utility work) does not move."""
    effective = hours_per_week * shift_productivity(hours_per_week, base_hours_per_week)
    return (1.0 - labour_share) + labour_share * base_hours_per_week / max(effective, 1e-9)


#: labour's share of data-centre construction cost: "40-50 % of total cost" (Cortex Construct, "Data Center
#: Construction Cost Breakdown", 2026-04; a contractor's guide, low confidence); the midpoint
LABOUR_SHARE_OF_CONSTRUCTION_COST = 0.45
#: pay premium on the hours beyond the day shift (night/weekend shift differential), ASSUMED 10 %
SHIFT_PAY_PREMIUM = 0.10


def construction_cost_factor(hours_per_week: float, base_hours_per_week: float = BASE_CONSTRUCTION_HOURS_PER_WEEK) -> float:
    """Facility construction cost at ``hours_per_week`` over its cost at the day-shift pattern:
    the labour share of it grows by the hours lost to shift-work productivity and by the shift pay
    premium on the extra hours; materials and equipment do not change."""
    labour = (1.0 + SHIFT_PAY_PREMIUM * _shift_share(hours_per_week, base_hours_per_week)) / shift_productivity(hours_per_week, base_hours_per_week)
    return 1.0 + LABOUR_SHARE_OF_CONSTRUCTION_COST * (labour - 1.0)


def worked_hours_per_week(p: "MethodPreset", hours_per_week: float | None = None) -> float:
    """The site's working hours a week: ``hours_per_week`` (a scenario's
    rollout.construction_hours_per_week) where given, else the preset's own pattern."""
    return p.construction_hours_per_week if hours_per_week is None else hours_per_week


def facility_cost_factor_for(p: "MethodPreset", hours_per_week: float | None = None) -> float:
    """Factor on the facility capex of ``p`` worked ``hours_per_week`` (its own pattern when None),
    relative to the pattern its durations (and the catalog's facility costs) were set for; 1 for
    the gigafactory and powered-shell presets at their own two-shift pattern."""
    return construction_cost_factor(worked_hours_per_week(p, hours_per_week)) / construction_cost_factor(p.durations_at_hours_per_week)


def construction_scale_for(p: "MethodPreset", hours_per_week: float | None = None) -> float:
    """Factor on ``p``'s civil, shell and fit-out durations when its site is worked
    ``hours_per_week`` (the preset's own pattern when None), relative to the pattern its
    durations were set for."""
    worked = worked_hours_per_week(p, hours_per_week)
    return (construction_time_factor(worked, p.construction_labour_share)
            / construction_time_factor(p.durations_at_hours_per_week, p.construction_labour_share))


@dataclass(frozen=True)
class MethodPreset:
    name: str
    description: str
    # site-level tasks [days, triangular]
    site_civil: Tri | None  # site preparation and foundations (None: skipped)
    shell: Tri | None  # building shell of the first phase (None: existing building)
    shell_next_phase: Tri | None  # shell of each further phase
    fitout_per_phase: Tri  # electrical and mechanical fit-out of one energisation phase
    commissioning_per_phase: Tri  # L2-L5 on site
    lead_switchgear: Tri
    lead_transformers: Tri
    lead_ups: Tri
    lead_generators: Tri
    lead_cooling: Tri
    # per scalable unit
    onsite_crew_hours_per_rack: float  # per rack, any cooling: place, power and network hook-up, on-site rack test (L11 where not factory-tested)
    crews_per_100mw: float  # rack install and commissioning crews per 100 MW of the energisation phase being installed
    crew_size: int  # people per crew
    shift_hours_per_day: float  # crew working hours per day (shifts x hours)
    integrator_racks_per_week: float  # programme share of integrator capacity, all sites together
    cluster_test_l12: Tri
    burn_in: Tri
    acceptance: Tri
    software_first_deploy: Tri  # provisioning, scheduler, model weights, smoke tests on the first SU
    construction_workers_per_mw_peak: float
    delivery_racks_per_day: float = 24.0  # racks one building (energisation phase) can receive, unpack and stage per day (dock slots)
    # per rack, added in proportion to the system's liquid-cooled share (catalog liquid_cooled_fraction): manifold
    # quick-disconnects, fill, pressure and leak test; so crew-hours per rack follow the rack type
    liquid_hookup_crew_hours_per_rack: float = 0.0
    # urgency (docs/rollout.md "Urgency"); a scenario's rollout section may override each
    procurement_head_start_days: float = 0.0  # long-lead items ordered this many days before notice to proceed
    parallel_phases: bool = False  # every phase's shell starts after site works at once (one wave), not one after another
    # construction working pattern: civil, shell and fit-out durations above are set for a site worked
    # durations_at_hours_per_week; working it construction_hours_per_week instead scales their labour-bound share
    # (construction_time_factor; a scenario's rollout.construction_hours_per_week overrides the worked pattern)
    construction_hours_per_week: float = BASE_CONSTRUCTION_HOURS_PER_WEEK
    durations_at_hours_per_week: float = BASE_CONSTRUCTION_HOURS_PER_WEEK
    construction_labour_share: float = 0.75  # share of civil / shell / fit-out calendar time that scales with working hours
    notes: tuple[str, ...] = field(default=())
    based_on: str | None = None  # a scenario's own method (rollout.methods): the bundled preset it changes

    @property
    def family(self) -> str:
        """The bundled preset this method is, or is built from."""
        return self.based_on or self.name


# Field labels below: SOURCED (a source is named), ASSUMED (a stated engineering assumption, no
# source and not fitted) or FITTED (set by `rollout.anchors.fit_presets` on the FIT anchors of
# rollout/data/campuses.yaml; the *_BASE value is the prior the fit scales, `FITTED` holds the
# fitted parameters).  docs/rollout.md "Calibration against public campuses" has the fit and
# the holdout scores.

STICK_BUILT_BASE = MethodPreset(
    name="stick-built",
    description="Traditional greenfield: site-built shell, field-installed power and cooling plant, racks integrated and L11-tested on site.",
    # construction_scale FITTED 1.0 on Abilene, Meta Kansas City, Polaris Forge 1 (first racks / first token /
    # energised): the fit anchors bracket the sourced 18-24-month pace (Abilene 2x faster, Kansas City 1.6x slower)
    # prior: civil + shell + fit-out + commissioning = 18-24 months SOURCED (constructionowners.com 2026), the split ASSUMED
    site_civil=weeks(10, 14, 22),  # prior as above; FITTED x construction_scale 1.0
    shell=weeks(36, 44, 60),  # prior as above; FITTED x construction_scale 1.0
    shell_next_phase=weeks(20, 26, 36),  # prior ASSUMED; FITTED x construction_scale 1.0 x next_phase_scale 0.25 (Polaris Forge 1: second 50 MW 14-35 d after the first)
    fitout_per_phase=weeks(20, 26, 40),  # prior as above; FITTED x construction_scale 1.0
    commissioning_per_phase=weeks(6, 8, 16),  # SOURCED: L2-L5 ~8 wk, 12-16 when failures cascade (gantt-chart.co.uk 2026)
    lead_switchgear=weeks(46, 48, 80),  # SOURCED: C&W 2025 46-48 wk; McKinsey up to 80 wk (conversion: FITTED x lead_scale 0.7 on Denton)
    lead_transformers=weeks(40, 50, 80),  # SOURCED: McKinsey ~50 wk; high ASSUMED as switchgear
    lead_ups=weeks(28, 32, 36),  # SOURCED: C&W 2025 28-36 wk
    lead_generators=weeks(30, 34, 38),  # SOURCED: C&W 2025 30-38 wk
    lead_cooling=weeks(30, 35, 40),  # SOURCED: C&W 2025 chillers 30-40 wk
    # racks arrive integrated and L10-tested from the ODM (SOURCED: Oracle delivered GB200 racks to Abilene, campuses.yaml;
    # ODMs assemble the NVL72 racks, Foxconn ~40 % of GB200 assembly, factory_facts rack_integration_throughput; "the customer
    # plugs in power, water and uplinks", ailearningguides.com 2026): no tray assembly on site (the earlier 18 x 2 h is gone)
    onsite_crew_hours_per_rack=16,  # ASSUMED: set, power and network hook-up, on-site L11 rack test
    liquid_hookup_crew_hours_per_rack=12,  # ASSUMED: manifold hook-up, fill, pressure and leak test (air-cooled HGX racks skip it, leviathansystems.co 2026-02)
    crews_per_100mw=10,  # prior ASSUMED; FITTED install_crews_per_100mw (presets.FITTED) on Abilene's first-phase install span
    crew_size=4,  # ASSUMED
    shift_hours_per_day=10 * 5 / 7,  # ASSUMED: one 10-h shift, 5 days a week
    # ASSUMED from SOURCED figures: 25-35k NVL72 cabinets shipped in 2025 (introl.com 2025-12), i.e. ~480-670 a week
    # on average; a campus of a top buyer (Oracle/OpenAI, Microsoft, xAI) taking about a third of that
    integrator_racks_per_week=200,
    cluster_test_l12=(3, 5, 10),  # ASSUMED
    burn_in=(2, 3, 7),  # SOURCED: 24-168 h, 72 h recommended (leviathansystems.co; aidatacenterguide.com 13.8)
    acceptance=(1, 2, 5),  # ASSUMED
    software_first_deploy=(10, 14, 28),  # ASSUMED
    construction_workers_per_mw_peak=6400 / 1200,  # SOURCED: Stargate Abilene 6,400 for 1.2 GW (themilliondollarway, 2025)
    delivery_racks_per_day=24,  # ASSUMED
    notes=(
        "racks arrive ODM-integrated (Abilene's GB200 racks were delivered by Oracle): on site 16 crew-hours per rack plus 12 for the liquid hook-up of a liquid-cooled rack (assumptions)",
        "install crews scale with the MW of the phase being installed; each building (phase) has its own fit-out crew, dock and install crews",
        "single 10-h shift 5 days a week, 24 racks/day received per building: assumptions; integrator share 200 racks/week: about a third of 2025's average NVL72 output (25-35k cabinets, introl.com)",
        "construction workers at peak: Stargate Abilene 6,400 for 1.2 GW (themilliondollarway, 2025)",
        "long-lead procurement starts at notice to proceed (procurement_head_start_days 0), phases built one after another (parallel_phases false): the urgency levers, a scenario may set them",
    ),
)

GIGAFACTORY = MethodPreset(
    name="gigafactory",
    description="Pre-integrated, factory-tested racks (L10/L11 at the integrator), prefab power and cooling skids, modular shell, parallel crews on two shifts.",
    # No realised campus uses this method yet (docs/rollout-anchors.md): nothing here is FITTED.
    site_civil=weeks(6, 8, 12),  # ASSUMED
    shell=weeks(12, 16, 24),  # SOURCED: modular blocks in weeks vs 12-24 months stick-built (aidatacenterguide 6.4); values ASSUMED
    shell_next_phase=weeks(8, 10, 16),  # ASSUMED
    fitout_per_phase=weeks(8, 12, 18),  # SOURCED: prefab reaches power 6-12 months sooner (aidatacenterguide 6.4; engineeringniche); values ASSUMED
    commissioning_per_phase=weeks(3, 5, 10),  # ASSUMED (factory-tested skids shorten L2-L5)
    lead_switchgear=weeks(28, 32, 36),  # SOURCED: C&W 2025 prefab skids ~28-36 wk; framework agreements ASSUMED
    lead_transformers=weeks(28, 32, 36),  # SOURCED: as switchgear
    lead_ups=weeks(28, 32, 36),  # SOURCED: C&W 2025 28-36 wk
    lead_generators=weeks(30, 34, 38),  # SOURCED: C&W 2025 30-38 wk
    lead_cooling=weeks(28, 32, 36),  # SOURCED: C&W 2025 prefab skids
    onsite_crew_hours_per_rack=10,  # ASSUMED (factory L11 test leaves placement and hook-up)
    liquid_hookup_crew_hours_per_rack=7,  # ASSUMED (manifolds pre-filled and leak-tested at the integrator); ~16 h for an NVL72
    crews_per_100mw=20,  # ASSUMED
    crew_size=4,  # ASSUMED
    shift_hours_per_day=2 * 10,  # ASSUMED: two 10-h shifts, 7 days
    construction_hours_per_week=2 * 10 * 7.0,  # ASSUMED: site works on the same two shifts; the durations above are set for it
    durations_at_hours_per_week=2 * 10 * 7.0,
    integrator_racks_per_week=400,  # ASSUMED: share of Foxconn's 1,000 AI racks/week (SOURCED, Nov 2025)
    cluster_test_l12=(2, 3, 6),  # ASSUMED
    burn_in=(1, 3, 7),  # SOURCED: 24-168 h (leviathansystems.co; aidatacenterguide.com 13.8)
    acceptance=(1, 1, 3),  # ASSUMED
    software_first_deploy=(3, 5, 10),  # ASSUMED
    construction_workers_per_mw_peak=0.6 * 6400 / 1200,  # ASSUMED 60 % of the SOURCED Abilene figure
    delivery_racks_per_day=48,  # ASSUMED
    notes=(
        "prefab skids: C&W 28-36 wk lead for prefab power skids; framework supply agreements assumed for the rest",
        "modular shell in weeks vs 12-24 months stick-built (aidatacenterguide 6.4); prefab reaches power 6-12 months sooner",
        "factory L11 test leaves ~16 crew-hours per rack on site for placement and hook-up (assumption)",
        "integrator share 400 racks/week of e.g. Foxconn's 1,000/week (assumption); two 10-h shifts 7 days; 48 racks/day received (assumption)",
        "site labour 60 % of stick-built as skids are built in factories (assumption)",
        "no realised campus uses pre-integrated racks plus prefab power skids yet: this preset is not calibrated (docs/rollout.md)",
    ),
)

POWERED_SHELL_BASE = MethodPreset(
    name="powered-shell",
    description="An existing energised building: fit-out of the halls only, then rack install (the xAI Colossus pattern).",
    site_civil=None,
    shell=None,
    shell_next_phase=None,
    fitout_per_phase=weeks(3, 5, 9),  # set by hand on Colossus 1 (earlier; not refitted: not binding there)
    commissioning_per_phase=weeks(1, 2, 4),  # ASSUMED
    lead_switchgear=weeks(0, 0, 0),  # existing plant
    lead_transformers=weeks(0, 0, 0),  # existing plant
    lead_ups=weeks(4, 6, 12),  # prior set by hand on Colossus 1 (bought batteries); FITTED x lead_scale 0.9 on Colossus 1
    lead_generators=weeks(0, 0, 0),  # existing plant / rented turbines
    lead_cooling=weeks(4, 6, 12),  # prior set by hand on Colossus 1 (vendor DLC bundles); FITTED x lead_scale 0.9 on Colossus 1
    onsite_crew_hours_per_rack=16,  # ASSUMED (as gigafactory's 16 h for an NVL72), not split by rack type: set by hand on Colossus 1 (air-cooled H100)
    crews_per_100mw=40,  # set by hand on Colossus 1 (not refitted)
    crew_size=4,  # ASSUMED
    shift_hours_per_day=2 * 10,  # ASSUMED
    construction_hours_per_week=2 * 10 * 7.0,  # ASSUMED: fit-out on the install crews' two shifts; the durations above are set for it
    durations_at_hours_per_week=2 * 10 * 7.0,
    integrator_racks_per_week=500,  # set by hand on Colossus 1 (not refitted)
    cluster_test_l12=(2, 3, 6),  # ASSUMED
    burn_in=(1, 2, 4),  # SOURCED range 24-168 h (leviathansystems.co); values ASSUMED
    acceptance=(1, 1, 2),  # ASSUMED
    software_first_deploy=(3, 5, 10),  # ASSUMED
    construction_workers_per_mw_peak=0.4 * 6400 / 1200,  # ASSUMED
    delivery_racks_per_day=64,  # set by hand on Colossus 1 (not refitted)
    notes=(
        "building and grid connection exist (the xAI Colossus anchor: 100k H100 in 122 days, training 19 days after the first rack)",
        ("CALIBRATED ON ONE ANCHOR: fit-out, UPS/cooling procurement (rented turbines, bought batteries, vendor DLC bundles), crews, "
        "integrator share and the 64 racks/day dock rate were set by hand so a Colossus-like scenario lands near 122 days; it is therefore not independent validation of this preset"),
    ),
)


def conversion_base(stick_built: MethodPreset) -> MethodPreset:
    """An existing building with a new power and cooling plant (Colossus 2, Core Scientific
    Denton): the stick-built preset (fitted construction pace, lead times, crews) without the
    shell, with yard works instead of full site preparation."""
    return dataclasses.replace(
        stick_built,
        name="conversion",
        description="An existing building whose power and cooling plant is new: no shell, site-built M&E plant, conventional rack install.",
        site_civil=weeks(4, 6, 10),  # ASSUMED: yard and plinths for chillers, switchgear and generators
        shell=None,
        shell_next_phase=None,
        notes=(
            "existing shell (no civil or shell work beyond yard plinths, assumption); fit-out pace, crews and install as the fitted stick-built preset",
        ),
    )


#: around the clock: two 10-h shifts, 7 days a week (ASSUMED pattern for SOURCED "work goes around the clock" at
#: Abilene: Bentley/DPR, blog.bentley.com 2026, "The Proving Ground: In Texas, DPR Construction ...")
AROUND_THE_CLOCK_HOURS_PER_WEEK = 2 * 10 * 7.0


def fast_track_base(stick_built: MethodPreset) -> MethodPreset:
    """A conventional site-built campus built as fast as conventional building goes (the Stargate
    Abilene pattern): the stick-built preset (its shells, plant, lead times and install) with the
    three urgency levers set from what the builders of Abilene reported, and nothing prefabricated."""
    return dataclasses.replace(
        stick_built,
        name="fast-track",
        description=("Conventional site-built campus, fast-tracked: design-build with early orders for long-lead gear, "
                     "construction around the clock, buildings started in parallel waves (the Stargate Abilene pattern)."),
        # SOURCED: "work goes around the clock" (Bentley/DPR 2026); the 2 x 10 h x 7 d pattern ASSUMED
        construction_hours_per_week=AROUND_THE_CLOCK_HOURS_PER_WEEK,
        # ASSUMED from SOURCED: the design-build team (architects, engineers, electrical and mechanical contractors)
        # started in March 2024, construction in June 2024 (DPR via machineryasia.net 2025; campuses.yaml): gear
        # ordered with the design, ~90 days before notice to proceed
        procurement_head_start_days=90.0,
        parallel_phases=True,  # SOURCED: Abilene's phase 2 started its six buildings together (campuses.yaml)
        notes=(
            "construction around the clock (2 x 10-h shifts, 7 days; Abilene: 'work goes around the clock', Bentley/DPR 2026) at Hanna et al. (2008)'s shift-work productivity (-17 %)",
            "long-lead gear ordered with the design, 90 days before construction (Abilene's design-build team started in March 2024, construction in June 2024: DPR)",
            "phases built in parallel waves (Abilene's phase 2: six buildings at once); shells, plant, lead times and rack install as the fitted stick-built preset",
        ),
    )


# ---------------------------------------------------------------------------------------------
# Calibration: a few parameters, each scaling prior (base) values; fitted by
# rollout.anchors.fit_presets on the FIT anchors only, reproduced by tests/test_rollout_anchors.py

#: parameter -> what it sets (applied in this order)
FIT_PARAMETERS: dict[str, str] = {
    "construction_scale": "x site_civil, shell, shell_next_phase, fitout_per_phase (the construction pace of the first-token path)",
    "next_phase_scale": "x shell_next_phase (how much of a further phase's shell is still on the path: phase overlap)",
    "install_crews_per_100mw": "crews_per_100mw (rack-install throughput; collinear with shift hours and crew-hours per rack, so only this one is fitted)",
    "lead_scale": "x every lead_* (long-lead procurement; < 1 where equipment is reused or bought from stock)",
    "construction_labour_share": "construction_labour_share (share of civil / shell / fit-out time that more working hours shorten)",
}

#: per preset, in fitting order: (parameter, FIT anchors (campuses.yaml ids), the anchor
#: quantities it is fitted to; rollout.anchors.QUANTITIES).  Each parameter is fitted to the
#: quantities it drives, so an unrelated misfit elsewhere cannot pull it.
FIT_PLAN: dict[str, tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = {
    "stick-built": (
        # Abilene was fast-tracked (around the clock, early orders, parallel waves): it fits the fast-track preset's
        # working pattern, not the conventional pace; its first-phase install span (from the first racks) is the
        # install rate both presets share
        ("construction_scale", ("meta-kansas-city", "applied-digital-polaris-forge-1"), ("first_racks", "first_token", "energised")),
        ("next_phase_scale", ("applied-digital-polaris-forge-1",), ("second_phase_gap",)),
        ("install_crews_per_100mw", ("stargate-abilene",), ("first_phase_install",)),
    ),
    "fast-track": (("construction_labour_share", ("stargate-abilene",), ("first_racks", "first_token")),),
    "conversion": (("lead_scale", ("core-scientific-denton",), ("energised",)),),
    "powered-shell": (("lead_scale", ("xai-colossus-1",), ("first_racks", "first_token", "full_capacity")),),
}

#: FITTED values (output of `python -m gigafactory.rollout.anchors --fit`; see docs/rollout.md)
FITTED: dict[str, dict[str, float]] = {
    "stick-built": {"construction_scale": 1.4, "next_phase_scale": 0.25, "install_crews_per_100mw": 15.0},
    "fast-track": {"construction_labour_share": 0.9},
    "conversion": {"lead_scale": 0.7},
    "powered-shell": {"lead_scale": 0.9},
}


def _scaled(tri: Tri | None, k: float) -> Tri | None:
    return None if tri is None else (tri[0] * k, tri[1] * k, tri[2] * k)


def calibrate(base: MethodPreset, params: dict[str, float]) -> MethodPreset:
    """``base`` with the fit parameters applied (unknown names raise)."""
    p = base
    for name, v in params.items():
        if name == "construction_scale":
            p = dataclasses.replace(p, site_civil=_scaled(p.site_civil, v), shell=_scaled(p.shell, v),
                                    shell_next_phase=_scaled(p.shell_next_phase, v), fitout_per_phase=_scaled(p.fitout_per_phase, v))
        elif name == "next_phase_scale":
            p = dataclasses.replace(p, shell_next_phase=_scaled(p.shell_next_phase, v))
        elif name == "install_crews_per_100mw":
            p = dataclasses.replace(p, crews_per_100mw=float(v))
        elif name == "construction_labour_share":
            p = dataclasses.replace(p, construction_labour_share=float(v))
        elif name == "lead_scale":
            p = dataclasses.replace(p, **{f: _scaled(getattr(p, f), v) for f in
                                          ("lead_switchgear", "lead_transformers", "lead_ups", "lead_generators", "lead_cooling")})
        else:
            raise KeyError(f"unknown fit parameter {name!r}")
    return p


def fitted_note(method: str, params: dict[str, float]) -> str:
    steps = {name: campuses for name, campuses, _ in FIT_PLAN[method]}
    return "FITTED (campuses.yaml fit split; docs/rollout.md): " + "; ".join(
        f"{k} {v:g} on {', '.join(steps[k])}" for k, v in params.items())


def _with_note(p: MethodPreset, note: str) -> MethodPreset:
    return dataclasses.replace(p, notes=(*p.notes, note))


#: the labour-bound share is a property of construction, not of a method: fitted once (fast-track on
#: Abilene, the one anchor worked around the clock) and used by every preset, so a scenario's
#: rollout.construction_hours_per_week moves any method by the same physics
CONSTRUCTION_LABOUR_SHARE = FITTED["fast-track"]["construction_labour_share"]


def _shared_share(p: MethodPreset) -> MethodPreset:
    return dataclasses.replace(p, construction_labour_share=CONSTRUCTION_LABOUR_SHARE)


STICK_BUILT = _with_note(calibrate(_shared_share(STICK_BUILT_BASE), FITTED["stick-built"]), fitted_note("stick-built", FITTED["stick-built"]))
GIGAFACTORY = _shared_share(GIGAFACTORY)
#: what fast-track takes from the fitted stick-built preset: its phase overlap and install crews, not its construction
#: pace, whose fit to typical programmes (Kansas City's redesign pause, Polaris's speculative build) holds the slippage a
#: fast-tracked programme is run to avoid; fast-track starts from the SOURCED 18-24-month day-shift pace instead
FAST_TRACK_INHERITS = ("next_phase_scale", "install_crews_per_100mw")


def stick_built_for_fast_track(stick_params: dict[str, float]) -> MethodPreset:
    return calibrate(_shared_share(STICK_BUILT_BASE), {k: v for k, v in stick_params.items() if k in FAST_TRACK_INHERITS})


FAST_TRACK = _with_note(calibrate(fast_track_base(stick_built_for_fast_track(FITTED["stick-built"])), FITTED["fast-track"]),
                        fitted_note("fast-track", FITTED["fast-track"]))
CONVERSION = _with_note(calibrate(conversion_base(STICK_BUILT), FITTED["conversion"]), fitted_note("conversion", FITTED["conversion"]))
POWERED_SHELL = _with_note(calibrate(_shared_share(POWERED_SHELL_BASE), FITTED["powered-shell"]), fitted_note("powered-shell", FITTED["powered-shell"]))

#: the build methods a scenario can name (scenario.model.RolloutSpec.method, results BuildMethod), in
#: the order the method comparison lists them: greenfield methods, then existing-building conditions
PRESETS: dict[str, MethodPreset] = {p.name: p for p in (STICK_BUILT, FAST_TRACK, GIGAFACTORY, CONVERSION, POWERED_SHELL)}

#: fitted presets not yet selectable (none at present; rollout.anchors evaluates them beside PRESETS)
CANDIDATE_PRESETS: dict[str, MethodPreset] = {}


#: continent of each catalog country code (first word of a region's `country`)
CONTINENT = {"US": "north-america", "CA": "north-america", "MX": "north-america", "FI": "europe", "SE": "europe", "NO": "europe", "DE": "europe",
             "IE": "europe", "GB": "europe", "HU": "europe", "SA": "middle-east", "AE": "middle-east", "JP": "asia", "SG": "asia", "IN": "asia",
             "TW": "asia", "CN": "asia"}
#: integrator -> site transit [days, triangular] by how far the site is from the integration
#: plant (assumption: road freight within a country, road/rail within a continent, sea freight
#: across continents; Supermicro ships DLC racks 2-4 weeks after order, factory_facts deployment)
SHIPPING_DAYS = {"same-country": (3.0, 5.0, 10.0), "same-continent": (7.0, 12.0, 21.0), "intercontinental": (25.0, 35.0, 56.0)}


def shipping_days(integrator_country: str, site_country: str) -> tuple[float, float, float]:
    a, b = integrator_country.upper(), site_country.upper()
    if a == b:
        return SHIPPING_DAYS["same-country"]
    if CONTINENT.get(a) and CONTINENT.get(a) == CONTINENT.get(b):
        return SHIPPING_DAYS["same-continent"]
    return SHIPPING_DAYS["intercontinental"]


#: scenario rollout.methods fields -> MethodPreset fields given in weeks (converted to days)
_WEEK_FIELDS = {"site_civil_weeks": "site_civil", "shell_weeks": "shell", "shell_next_phase_weeks": "shell_next_phase",
                "fitout_per_phase_weeks": "fitout_per_phase", "commissioning_per_phase_weeks": "commissioning_per_phase",
                "lead_switchgear_weeks": "lead_switchgear", "lead_transformers_weeks": "lead_transformers", "lead_ups_weeks": "lead_ups",
                "lead_generators_weeks": "lead_generators", "lead_cooling_weeks": "lead_cooling"}
_SAME_FIELDS = ("onsite_crew_hours_per_rack", "liquid_hookup_crew_hours_per_rack", "crews_per_100mw", "shift_hours_per_day",
                "integrator_racks_per_week", "delivery_racks_per_day", "construction_hours_per_week", "procurement_head_start_days",
                "parallel_phases")


def custom_preset(spec: Any) -> MethodPreset:
    """A scenario's own build method (scenario.model.BuildMethodSpec): its bundled base with the
    fields it sets (durations in weeks become days; software_first_deploy_days stays in days)."""
    base = PRESETS[spec.based_on]
    given = {k for k in (*_WEEK_FIELDS, *_SAME_FIELDS, "software_first_deploy_days") if getattr(spec, k) is not None}
    changes: dict[str, Any] = {f: weeks(*getattr(spec, k)) for k, f in _WEEK_FIELDS.items() if k in given}
    changes.update({f: getattr(spec, f) for f in _SAME_FIELDS if f in given})
    if "software_first_deploy_days" in given:
        changes["software_first_deploy"] = tuple(spec.software_first_deploy_days)
    changed = ", ".join(sorted(given)) or "nothing"
    return dataclasses.replace(
        base, **changes, name=spec.name, based_on=base.family,
        description=spec.description or f"{base.name} with the scenario's changes ({changed}).",
        notes=(*base.notes, f"the scenario's own method: {base.name} with {changed} set in rollout.methods (assumptions of the scenario)"))


def method_presets(rollout: Any) -> dict[str, MethodPreset]:
    """Every build method a scenario can use and the plan compares: the bundled presets (as
    `PRESETS` holds them now), then the scenario's own `rollout.methods`, in that order."""
    out = dict(PRESETS)
    for spec in getattr(rollout, "methods", None) or ():
        out[spec.name] = custom_preset(spec)
    return out
