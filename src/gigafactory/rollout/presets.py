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

from dataclasses import dataclass, field

Tri = tuple[float, float, float]  # (low, mode, high) days

WEEK = 7.0


def weeks(low: float, mode: float, high: float) -> Tri:
    return (low * WEEK, mode * WEEK, high * WEEK)


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
    onsite_crew_hours_per_rack: float  # place, power, liquid and network hook-up (+ on-site L11 where not factory-tested)
    crews_per_100mw: float  # rack install crews available per 100 MW of site power
    crew_size: int  # people per crew
    shift_hours_per_day: float  # crew working hours per day (shifts x hours)
    integrator_racks_per_week: float  # programme share of integrator capacity, all sites together
    cluster_test_l12: Tri
    burn_in: Tri
    acceptance: Tri
    software_first_deploy: Tri  # provisioning, scheduler, model weights, smoke tests on the first SU
    construction_workers_per_mw_peak: float
    delivery_racks_per_day: float = 24.0  # racks a site can receive, unpack and stage per day (dock slots)
    notes: tuple[str, ...] = field(default=())


STICK_BUILT = MethodPreset(
    name="stick-built",
    description="Traditional greenfield: site-built shell, field-installed power and cooling plant, racks integrated and L11-tested on site.",
    site_civil=weeks(10, 14, 22),
    shell=weeks(36, 44, 60),
    shell_next_phase=weeks(20, 26, 36),
    fitout_per_phase=weeks(20, 26, 40),
    commissioning_per_phase=weeks(6, 8, 16),
    lead_switchgear=weeks(46, 48, 80),
    lead_transformers=weeks(40, 50, 80),
    lead_ups=weeks(28, 32, 36),
    lead_generators=weeks(30, 34, 38),
    lead_cooling=weeks(30, 35, 40),
    onsite_crew_hours_per_rack=36 + 24,
    crews_per_100mw=10,
    crew_size=4,
    shift_hours_per_day=10 * 5 / 7,
    integrator_racks_per_week=100,
    cluster_test_l12=(3, 5, 10),
    burn_in=(2, 3, 7),
    acceptance=(1, 2, 5),
    software_first_deploy=(10, 14, 28),
    construction_workers_per_mw_peak=6400 / 1200,
    delivery_racks_per_day=24,
    notes=(
        "on-site crew-hours per rack: 18 trays x ~2 h cabled tray work (regantih, low) + 24 h hook-up and L11 test (assumption)",
        "crews per 100 MW, single 10-h shift 5 days a week, integrator share 100 racks/week, 24 racks/day received: assumptions",
        "construction workers at peak: Stargate Abilene 6,400 for 1.2 GW (themilliondollarway, 2025)",
    ),
)

GIGAFACTORY = MethodPreset(
    name="gigafactory",
    description="Pre-integrated, factory-tested racks (L10/L11 at the integrator), prefab power and cooling skids, modular shell, parallel crews on two shifts.",
    site_civil=weeks(6, 8, 12),
    shell=weeks(12, 16, 24),
    shell_next_phase=weeks(8, 10, 16),
    fitout_per_phase=weeks(8, 12, 18),
    commissioning_per_phase=weeks(3, 5, 10),
    lead_switchgear=weeks(28, 32, 36),
    lead_transformers=weeks(28, 32, 36),
    lead_ups=weeks(28, 32, 36),
    lead_generators=weeks(30, 34, 38),
    lead_cooling=weeks(28, 32, 36),
    onsite_crew_hours_per_rack=16,
    crews_per_100mw=20,
    crew_size=4,
    shift_hours_per_day=2 * 10,
    integrator_racks_per_week=400,
    cluster_test_l12=(2, 3, 6),
    burn_in=(1, 3, 7),
    acceptance=(1, 1, 3),
    software_first_deploy=(3, 5, 10),
    construction_workers_per_mw_peak=0.6 * 6400 / 1200,
    delivery_racks_per_day=48,
    notes=(
        "prefab skids: C&W 28-36 wk lead for prefab power skids; framework supply agreements assumed for the rest",
        "modular shell in weeks vs 12-24 months stick-built (aidatacenterguide 6.4); prefab reaches power 6-12 months sooner",
        "factory L11 test leaves ~16 crew-hours per rack on site for placement and hook-up (assumption)",
        "integrator share 400 racks/week of e.g. Foxconn's 1,000/week (assumption); two 10-h shifts 7 days; 48 racks/day received (assumption)",
        "site labour 60 % of stick-built as skids are built in factories (assumption)",
    ),
)

POWERED_SHELL = MethodPreset(
    name="powered-shell",
    description="An existing energised building: fit-out of the halls only, then rack install (the xAI Colossus pattern).",
    site_civil=None,
    shell=None,
    shell_next_phase=None,
    fitout_per_phase=weeks(3, 5, 9),
    commissioning_per_phase=weeks(1, 2, 4),
    lead_switchgear=weeks(0, 0, 0),
    lead_transformers=weeks(0, 0, 0),
    lead_ups=weeks(4, 6, 12),
    lead_generators=weeks(0, 0, 0),
    lead_cooling=weeks(4, 6, 12),
    onsite_crew_hours_per_rack=16,
    crews_per_100mw=40,
    crew_size=4,
    shift_hours_per_day=2 * 10,
    integrator_racks_per_week=500,
    cluster_test_l12=(2, 3, 6),
    burn_in=(1, 2, 4),
    acceptance=(1, 1, 2),
    software_first_deploy=(3, 5, 10),
    construction_workers_per_mw_peak=0.4 * 6400 / 1200,
    delivery_racks_per_day=64,
    notes=(
        "building and grid connection exist (the xAI Colossus anchor: 100k H100 in 122 days, training 19 days after the first rack)",
        "CALIBRATED ON ONE ANCHOR: fit-out, UPS/cooling procurement (rented turbines, bought batteries, vendor DLC bundles), crews and "
        "integrator share and the 64 racks/day dock rate are set so a Colossus-like scenario lands near 122 days; it is therefore not independent validation of this preset",
    ),
)

PRESETS: dict[str, MethodPreset] = {p.name: p for p in (STICK_BUILT, GIGAFACTORY, POWERED_SHELL)}

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
