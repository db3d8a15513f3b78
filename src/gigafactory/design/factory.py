"""Orchestrator of `gigafactory design`: one reference design replicated over the scenario's
sites, each with its own climate, power price and construction cost index."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gigafactory.catalog import Catalog
from gigafactory.design import fabric as fabric_mod
from gigafactory.design import thermal
from gigafactory.design.capex import STORAGE_USD_PER_GPU, BomLine, capex_breakdown, catalog_line, facility_lines
from gigafactory.design.power import PowerChain, chain_efficiencies, chain_loss_fraction, size_power_chain
from gigafactory.design.sizing import (
    STORAGE_MGMT_RACKS_PER_SU, SWITCHES_PER_NETWORK_RACK, compute_block, floor_area_per_su_m2, floor_for,
    scalable_units_for_it_power, su_it_max_w,
)
from gigafactory.errors import InputError
from gigafactory.results.design import DesignResult
from gigafactory.scenario.model import Scenario, SiteSpec

HOURS_PER_MONTH = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]) * 24.0
TRANSCEIVER_BY_SPEED = {800e9: "osfp-800g-dr8", 400e9: "osfp-400g-dr4"}


def design_temperature_c(region: Any) -> float:
    """Hot design temperature: the region's ASHRAE 0.4 % dry bulb, else its hottest monthly mean max."""
    if region.design_dry_bulb_c is not None:
        return float(region.design_dry_bulb_c)
    if region.monthly_mean_max_temp_c:
        return float(max(region.monthly_mean_max_temp_c))
    return float(max(region.monthly_mean_temp_c)) + 8.0


@dataclass(frozen=True)
class SiteDesign:
    name: str
    region_id: str
    system_id: str
    cooling_id: str
    scalable_units: int
    gpus: int
    cpus: int
    racks: int
    compute_racks: int
    it_max_w: float
    it_typical_w: float
    non_compute_w: float
    facility_design_w: float
    power_envelope_w: float
    pue_monthly: tuple[float, ...]
    pue_annual: float
    pue_design: float
    wue_l_per_kwh: float
    annual_energy_mwh: float
    floor: Any
    power_chain: PowerChain
    cooling: Any
    fabrics: tuple[Any, ...]
    bom: tuple[BomLine, ...]
    limiting_factor: str
    electricity_price_usd_per_mwh: float
    grid_carbon_kg_per_mwh: float
    notes: tuple[str, ...] = field(default=())

    @property
    def capex_breakdown_usd(self) -> dict[str, float]:
        return capex_breakdown(list(self.bom))

    @property
    def capex_usd(self) -> float:
        return sum(self.capex_breakdown_usd.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "region": self.region_id,
            "system": self.system_id,
            "cooling": self.cooling_id,
            "scalable_units": self.scalable_units,
            "racks": self.racks,
            "compute_racks": self.compute_racks,
            "gpus": self.gpus,
            "cpus": self.cpus,
            "it_power_mw": self.it_max_w / 1e6,
            "it_typical_mw": self.it_typical_w / 1e6,
            "non_compute_mw": self.non_compute_w / 1e6,
            "facility_power_mw": self.facility_design_w / 1e6,
            "power_envelope_mw": self.power_envelope_w / 1e6,
            "pue": self.pue_annual,
            "pue_design": self.pue_design,
            "pue_monthly": list(self.pue_monthly),
            "wue_l_per_kwh": self.wue_l_per_kwh,
            "annual_energy_mwh": self.annual_energy_mwh,
            "annual_energy_cost_usd": self.annual_energy_mwh * self.electricity_price_usd_per_mwh,
            "annual_emissions_t_co2": self.annual_energy_mwh * self.grid_carbon_kg_per_mwh / 1e3,
            "floor_area_m2": self.floor.floor_area_m2,
            "floor": self.floor.as_dict(),
            "capex_usd": self.capex_usd,
            "capex_breakdown_usd": self.capex_breakdown_usd,
            "capex_per_mw_it_usd": self.capex_usd / (self.it_max_w / 1e6),
            "power_chain": self.power_chain.as_dict(),
            "cooling_plant": self.cooling.as_dict(),
            "fabrics": [{**f.as_dict(), "count": n} for f, n in self.fabrics],
            "bom": [line.as_dict() for line in self.bom],
            "limiting_factor": self.limiting_factor,
            "notes": list(self.notes),
        }


def _switch_and_optics_lines(cat: Catalog, fabrics: list[tuple[Any, int]]) -> list[BomLine]:
    switch_counts: dict[str, int] = {}
    optics: dict[str, int] = {}
    for fab, n in fabrics:
        for tier in fab.tiers:
            switch_counts[tier.switch_id] = switch_counts.get(tier.switch_id, 0) + n * tier.switches
        if fab.transceivers:
            tid = TRANSCEIVER_BY_SPEED.get(fab.port_speed_bits_per_s, "osfp-800g-dr8")
            optics[tid] = optics.get(tid, 0) + n * fab.transceivers
    lines = [catalog_line(cat, "network", sid, c, "network") for sid, c in sorted(switch_counts.items())]
    lines += [catalog_line(cat, "network", tid, c, "network") for tid, c in sorted(optics.items())]
    return lines


def island_sus(cat: Catalog, scn: Scenario, system: Any, sus: int) -> int:
    """Scalable units per scale-out fabric island: the scenario's island size, else the most
    SUs a 2-tier fabric of the chosen switch connects (larger islands need a third tier,
    which inference serving within a model replica group does not use)."""
    gpus_per_su = system.scalable_unit_units * system.gpus
    if scn.fabric.island_max_gpus:
        return max(1, min(sus, scn.fabric.island_max_gpus // gpus_per_su))
    lo, hi = 1, max(1, sus)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            fab = fabric_mod.compute_fabric(cat, system.id, mid * gpus_per_su, scn.fabric.compute, scn.fabric.oversubscription, scn.fabric.switch)
        except InputError:  # beyond even a 3-tier fat tree of this switch: certainly more than two tiers
            hi = mid - 1
            continue
        if len(fab.tiers) <= 2:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _island_fabrics(cat: Catalog, scn: Scenario, system: Any, sus: int) -> list[tuple[Any, int]]:
    """(fabric, how many) for the compute islands and front-end networks of ``sus`` SUs."""
    per = island_sus(cat, scn, system, sus)
    full, rest = divmod(sus, per)
    gpus_per_su = system.scalable_unit_units * system.gpus
    out: list[tuple[Any, int]] = []
    for n_sus, count in ((per, full), (rest, 1)):
        if count and n_sus:
            out.append((fabric_mod.compute_fabric(cat, system.id, n_sus * gpus_per_su, scn.fabric.compute, scn.fabric.oversubscription, scn.fabric.switch), count))
            out.append((fabric_mod.frontend_fabric(cat, system.id, n_sus * system.scalable_unit_units), count))
    return out


def design_site(cat: Catalog, scn: Scenario, site: SiteSpec) -> SiteDesign:
    region = cat.region(site.region)
    system = cat.system(scn.system_for(site))
    cost = cat.get("costs", scn.finance.cost_profile)
    mean_c = np.asarray(region.monthly_mean_temp_c, dtype=float)
    max_c = np.asarray(region.monthly_mean_max_temp_c, dtype=float) if region.monthly_mean_max_temp_c else None
    t_design = design_temperature_c(region)
    rack_power_w = system.max_power_w * (system.units_per_rack or 1)
    where = f"sites[{scn.sites.index(site)}]"
    rh = np.asarray(region.monthly_mean_relative_humidity_percent, dtype=float) if region.monthly_mean_relative_humidity_percent else None
    liquid = system.liquid_cooled_fraction
    tr_eff, ups_eff = chain_efficiencies(cat, "eco")
    loss = chain_loss_fraction(tr_eff, ups_eff)
    if site.cooling:
        cooling_id = cat.get("facility", site.cooling).id
        problem = thermal.cooling_problem(cat.get("facility", cooling_id), rack_power_w, liquid)
        if problem:
            raise InputError.single(problem, field=f"{where}.cooling", value=site.cooling, expected="a cooling technology that can cool these racks",
                                    fix="remove `cooling` to let the designer choose, or use dlc-dry-cooler", check="design-cooling")
    else:
        cooling_id = thermal.choose_cooling(cat, rack_power_w, liquid, mean_c, max_c, power_chain_loss_fraction=loss, relative_humidity_percent=rh)
    tech = cat.get("facility", cooling_id)
    pue_design = thermal.design_pue(tech, t_design, loss, liquid_fraction=liquid)

    envelope_w = site.power_mw * 1e6
    it_budget_w = envelope_w / pue_design if site.facility_power_mw is not None else envelope_w
    su_w = su_it_max_w(cat, system)
    sus = scalable_units_for_it_power(cat, system, it_budget_w)
    limiting = "power"
    if sus < 1:
        raise InputError.single(
            f"{site.power_mw:g} MW cannot power one scalable unit of {system.id} "
            f"({system.scalable_unit_units} units, {su_w / 1e6:.2f} MW IT, {su_w * pue_design / 1e6:.2f} MW facility at design PUE {pue_design:.2f})",
            field=f"{where}.{'facility_power_mw' if site.facility_power_mw is not None else 'it_power_mw'}", value=site.power_mw,
            expected=f"at least {su_w * (pue_design if site.facility_power_mw is not None else 1) / 1e6:.2f} MW",
            fix="raise the site's power or choose a system with a smaller scalable unit", check="design-min-su",
        )
    if site.floor_area_m2 is not None:
        per_su = floor_area_per_su_m2(cat, system)
        by_floor = int(site.floor_area_m2 // per_su)
        if by_floor < 1:
            raise InputError.single(
                f"{site.floor_area_m2:g} m^2 cannot hold one scalable unit of {system.id} (needs ~{per_su:,.0f} m^2 with electrical and mechanical space)",
                field=f"{where}.floor_area_m2", value=site.floor_area_m2, expected=f">= {per_su:,.0f} m^2",
                fix="raise floor_area_m2 or remove it", check="design-floor",
            )
        if by_floor < sus:
            sus, limiting = by_floor, "floor"

    block = compute_block(cat, system, sus)
    fabrics = _island_fabrics(cat, scn, system, sus)
    network_racks = math.ceil(sum(n * f.switch_count() for f, n in fabrics) / SWITCHES_PER_NETWORK_RACK)
    fabrics.append((fabric_mod.oob_fabric(cat, system.id, block.compute_racks + network_racks + sus * STORAGE_MGMT_RACKS_PER_SU), 1))
    racks = block.compute_racks + network_racks + sus * STORAGE_MGMT_RACKS_PER_SU

    # Energy: typical IT load through the monthly PUE.
    pue_m = np.asarray(thermal.monthly_pue(tech, mean_c, max_c, loss, relative_humidity_percent=rh, liquid_fraction=liquid), dtype=float)
    pue_annual = float(np.sum(pue_m * HOURS_PER_MONTH) / HOURS_PER_MONTH.sum())
    energy_mwh = float(np.sum(block.it_typical_w * pue_m * HOURS_PER_MONTH) / 1e6)
    wue_m = np.asarray(thermal.monthly_wue(tech, mean_c, max_c, liquid_fraction=liquid), dtype=float)
    wue = float(np.sum(wue_m * HOURS_PER_MONTH) / HOURS_PER_MONTH.sum())

    mechanical_w = block.it_max_w * max(0.0, pue_design - 1 - loss)
    chain = size_power_chain(cat, block.it_max_w, mechanical_w)
    plant = thermal.size_cooling_plant(cat, cooling_id, block.it_max_w, rack_power_w, system.liquid_cooled_fraction, t_design)
    floor = floor_for(racks, system)

    bom: list[BomLine] = [catalog_line(cat, "systems", system.id, block.units, "gpu_systems")]
    bom += _switch_and_optics_lines(cat, fabrics)
    bom.append(BomLine("storage", "storage capacity (1.4 % of all-in GB200 build, Bernstein 2025; per GPU)", block.gpus, STORAGE_USD_PER_GPU,
                       "https://ng.investing.com/news/stock-market-news/how-much-does-a-gw-of-data-center-capacity-actually-cost-2169144 (analyst, derived)"))
    power_eq = [catalog_line(cat, "facility", i, n, "power") for i, n in chain.equipment]
    cooling_eq = [catalog_line(cat, "facility", i, n, "cooling") for i, n in plant.equipment]
    bom += power_eq + cooling_eq
    bom += facility_lines(cat, cost, region, block.it_max_w, sum(x.total_usd for x in power_eq), sum(x.total_usd for x in cooling_eq))
    facility_capex = sum(x.total_usd for x in bom if x.category in ("power", "cooling", "building"))
    bom.append(BomLine("soft_costs", f"commissioning ({cost.commissioning_fraction_of_capex:.0%} of facility capex)", 1,
                       facility_capex * cost.commissioning_fraction_of_capex, cost.provenance["commissioning_fraction_of_capex"].source[0]))
    if cost.land_usd_per_m2:
        # land: the building footprint x 3 for yards, substation and setbacks (assumption)
        bom.append(BomLine("soft_costs", "land (building floor area x 3)", floor.floor_area_m2 * 3, cost.land_usd_per_m2,
                           cost.provenance["land_usd_per_m2"].source[0]))
    notes = []
    unpriced = sorted({x.item for x in bom if x.unit_cost_usd is None})
    if unpriced:
        notes.append(f"no sourced unit price for: {', '.join(unpriced)} (covered by the top-down installation lines)")
    return SiteDesign(
        name=site.name, region_id=region.id, system_id=system.id, cooling_id=cooling_id, scalable_units=sus,
        gpus=block.gpus, cpus=block.cpus, racks=racks, compute_racks=block.compute_racks,
        it_max_w=block.it_max_w, it_typical_w=block.it_typical_w, non_compute_w=block.non_compute_w, facility_design_w=chain.facility_w, power_envelope_w=envelope_w,
        pue_monthly=tuple(float(x) for x in pue_m), pue_annual=pue_annual, pue_design=pue_design, wue_l_per_kwh=wue,
        annual_energy_mwh=energy_mwh, floor=floor, power_chain=chain, cooling=plant, fabrics=tuple(fabrics), bom=tuple(bom),
        limiting_factor=limiting, electricity_price_usd_per_mwh=region.electricity_price_usd_per_mwh,
        grid_carbon_kg_per_mwh=region.grid_carbon_intensity_kg_per_mwh, notes=tuple(notes),
    )


def design_factory(cat: Catalog, scn: Scenario) -> DesignResult:
    """Design every site and add up the totals (the design stage's typed result)."""
    sites = [design_site(cat, scn, s) for s in scn.sites]
    site_dicts = [s.as_dict() for s in sites]
    total: dict[str, Any] = {}
    for key in ("scalable_units", "racks", "compute_racks", "gpus", "cpus", "it_power_mw", "it_typical_mw", "facility_power_mw",
                "power_envelope_mw", "annual_energy_mwh", "annual_energy_cost_usd", "annual_emissions_t_co2", "floor_area_m2", "capex_usd"):
        total[key] = sum(d[key] for d in site_dicts)
    breakdown: dict[str, float] = {}
    for d in site_dicts:
        for k, v in d["capex_breakdown_usd"].items():
            breakdown[k] = breakdown.get(k, 0.0) + v
    total["capex_breakdown_usd"] = breakdown
    total["pue"] = total["annual_energy_mwh"] / sum(s.it_typical_w * HOURS_PER_MONTH.sum() / 1e6 for s in sites)
    total["wue_l_per_kwh"] = sum(s.wue_l_per_kwh * s.it_typical_w for s in sites) / sum(s.it_typical_w for s in sites)
    total["capex_per_mw_it_usd"] = total["capex_usd"] / total["it_power_mw"]
    total["capex_per_gpu_usd"] = total["capex_usd"] / total["gpus"]
    bom: dict[tuple[str, str], dict[str, Any]] = {}
    for d in site_dicts:
        for line in d["bom"]:
            key = (line["category"], line["item"])
            if key not in bom:
                bom[key] = {**line, "count": 0.0, "total_usd": 0.0}
            bom[key]["count"] += line["count"]
            bom[key]["total_usd"] += line["total_usd"]
    for line in bom.values():  # sites in different regions price a line differently: the programme's is the mean
        if line["unit_cost_usd"] is not None and line["count"]:
            line["unit_cost_usd"] = line["total_usd"] / line["count"]
    total["bom"] = list(bom.values())
    return DesignResult.model_validate({"scenario": scn.name, "currency": "USD", "base_year": int(cat.get("costs", scn.finance.cost_profile).base_year),
                                        "catalog_version": cat.version, "sites": site_dicts, "total": total})
