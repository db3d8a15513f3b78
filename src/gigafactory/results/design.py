"""Result of the design stage: `gigafactory.design.factory.design_factory` (one reference design
replicated over the scenario's sites), and of the design choice
(`gigafactory.design.choice.compare_systems`).

Field names are the keys of the stage's dict output (and of result.json's ``design``); units
are in the names (``_mw``, ``_w``, ``_m2``, ``_usd`` in the cost profile's base year,
``_mwh`` per year for the ``annual_*`` fields)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gigafactory.results.base import Result
from gigafactory.results.serving import WorkloadServing

BomCategory = Literal["gpu_systems", "network", "storage", "power", "cooling", "building", "soft_costs"]
Redundancy = Literal["N", "N+1", "2N"]
LinkLayer = Literal["node-leaf", "leaf-spine", "spine-core"]


class BomLineResult(Result):
    """One bill-of-materials line (per site, or added up over the programme)."""

    category: BomCategory = Field(description="Capex category the line counts towards.")
    item: str = Field(description="Catalog id, or a description for top-down lines.")
    count: float = Field(description="Quantity: units for catalog items, W of critical IT for the top-down facility lines, m^2 for land "
                                     "(integral counts may be written as 3128.0).")
    unit_cost_usd: float | None = Field(description="Price per unit of `count` [USD]; null when no sourced price exists (then not in the total).")
    total_usd: float = Field(description="count x unit_cost_usd, 0 when unpriced [USD].")
    source: str = Field(description="Where the unit price comes from ('no sourced price' when unpriced).")


class EquipmentCount(Result):
    """Installed units of one facility catalog item, redundancy included."""

    id: str = Field(description="Facility catalog id.")
    count: int = Field(description="Installed units, spares included [count].")


class PowerChainRedundancy(Result):
    """Redundancy scheme of each power-chain stage."""

    substation: Redundancy
    switchgear: Redundancy
    transformer: Redundancy
    ups: Redundancy
    generator: Redundancy


class PowerChainResult(Result):
    """Power chain: substation -> MV switchgear -> transformers -> UPS -> racks, with generators."""

    it_max_mw: float = Field(description="IT load the chain is designed for (max power) [MW].")
    mechanical_mw: float = Field(description="Cooling load at the design hour [MW].")
    facility_design_mw: float = Field(description="Design load at the utility: IT x (1 + losses) + mechanical [MW].")
    loss_fraction: float = Field(description="Chain losses over IT power [1].")
    ups_mode: str = Field(description="UPS operating mode ('eco'; anything else is double conversion).")
    equipment: list[EquipmentCount] = Field(description="Installed power equipment (substation, transformers, switchgear, UPS, generators).")
    redundancy: PowerChainRedundancy


class CoolingPlantResult(Result):
    """Sized cooling plant of one site at the design hour."""

    technology_id: str = Field(description="Cooling technology id (facility catalog).")
    it_heat_w: float = Field(description="IT heat at full load [W].")
    liquid_heat_w: float = Field(description="Heat leaving the racks in facility liquid [W].")
    air_heat_w: float = Field(description="Heat leaving the racks to room air [W].")
    chiller_load_w: float = Field(description="Heat the chillers lift at the design hour [W].")
    equipment: list[EquipmentCount] = Field(description="Installed cooling equipment (CDUs, rear doors, dry coolers, towers, chillers).")
    redundancy: Redundancy
    design_temp_c: float = Field(description="Design dry-bulb temperature [degC].")


class FloorResult(Result):
    """Floor space of one site."""

    racks_total: int = Field(description="All racks: compute, network, storage and management [count].")
    white_space_m2: float = Field(description="IT hall area incl. aisles [m^2].")
    grey_space_m2: float = Field(description="Electrical and mechanical space [m^2].")
    floor_area_m2: float = Field(description="White + grey space [m^2].")
    rack_floor_loading_kg_per_m2: float = Field(description="Weight of one compute rack over its footprint [kg/m^2].")


class FabricTierResult(Result):
    """One switch tier of a fabric, all planes."""

    name: Literal["leaf", "spine", "core"]
    switches: int = Field(description="Switches in this tier, all planes [count].")
    switch_id: str = Field(description="Network catalog id of the switch.")
    down_ports: int = Field(description="Ports per switch towards the tier below (at most) [count].")
    up_ports: int = Field(description="Ports per switch towards the tier above [count].")


class FabricResult(Result):
    """One scale-out fabric design and how many copies of it the site has."""

    name: Literal["compute", "frontend", "oob"] = Field(description="Compute (east-west), converged front-end, or out-of-band management.")
    technology: Literal["infiniband", "ethernet"]
    endpoints: int = Field(description="Endpoint ports attached, all planes [count].")
    port_speed_bits_per_s: float = Field(description="Line rate of one fabric port [bit/s].")
    oversubscription: float = Field(description="Leaf down/up port ratio [1].")
    tiers: list[FabricTierResult]
    links: dict[LinkLayer, int] = Field(description="Cabled links by layer [count].")
    nics: int = Field(description="Endpoint NICs [count].")
    transceivers: int = Field(description="Optical modules (twin-port at the switch end) [count].")
    cables: int = Field(description="Cables, one per link [count].")
    planes: int = Field(description="Independent parallel fabrics [count].")
    nic_id: str = Field(description="Network catalog id of the endpoint NIC ('' when built in or unknown).")
    switches: int = Field(description="Switches in all tiers and planes, one copy [count].")
    count: int = Field(description="Identical copies of this fabric at the site (scale-out islands) [count].")


class SiteResult(Result):
    """Design of one site."""

    name: str = Field(description="Site name from the scenario.")
    region: str = Field(description="Region catalog id.")
    system: str = Field(description="System catalog id built at the site.")
    cooling: str = Field(description="Cooling technology id (facility catalog).")
    scalable_units: int
    racks: int = Field(description="Compute, network, storage and management racks [count].")
    compute_racks: int
    gpus: int
    cpus: int
    it_power_mw: float = Field(description="IT load at max power, network/storage/management included [MW].")
    it_typical_mw: float = Field(description="IT load at typical power [MW].")
    non_compute_mw: float = Field(description="Network, storage and management IT load [MW].")
    facility_power_mw: float = Field(description="Design load at the utility (IT + chain losses + cooling at the design hour) [MW].")
    power_envelope_mw: float = Field(description="The scenario's power limit for the site (facility or IT power, as the scenario gives it) [MW].")
    pue: float = Field(description="Annual PUE, energy-weighted over the months [1].")
    pue_design: float = Field(description="PUE at the design (hot) temperature [1].")
    pue_monthly: list[float] = Field(min_length=12, max_length=12, description="PUE per calendar month, January first [1].")
    wue_l_per_kwh: float = Field(description="Annual water usage effectiveness [L per kWh of IT energy].")
    annual_energy_mwh: float = Field(description="Facility energy per year at typical IT load [MWh/year].")
    annual_energy_cost_usd: float = Field(description="Energy cost per year at the region's power price [USD/year].")
    annual_emissions_t_co2: float = Field(description="Emissions per year at the region's grid carbon intensity [t CO2/year].")
    floor_area_m2: float
    floor: FloorResult
    capex_usd: float
    capex_breakdown_usd: dict[BomCategory, float] = Field(description="Capex by category [USD].")
    capex_per_mw_it_usd: float = Field(description="Capex per MW of IT at max power [USD/MW].")
    power_chain: PowerChainResult
    cooling_plant: CoolingPlantResult
    fabrics: list[FabricResult] = Field(description="Compute and front-end fabrics per island size, then the out-of-band network.")
    bom: list[BomLineResult]
    limiting_factor: Literal["power", "floor"] = Field(description="What capped the number of scalable units.")
    notes: list[str]


class DesignTotal(Result):
    """The programme: every site added up."""

    scalable_units: int
    racks: int
    compute_racks: int
    gpus: int
    cpus: int
    it_power_mw: float = Field(description="IT load at max power [MW].")
    it_typical_mw: float = Field(description="IT load at typical power [MW].")
    facility_power_mw: float = Field(description="Design load at the utility [MW].")
    power_envelope_mw: float = Field(description="Sum of the sites' power limits [MW].")
    annual_energy_mwh: float = Field(description="Facility energy per year [MWh/year].")
    annual_energy_cost_usd: float = Field(description="Energy cost per year [USD/year].")
    annual_emissions_t_co2: float = Field(description="Emissions per year [t CO2/year].")
    floor_area_m2: float
    capex_usd: float
    capex_breakdown_usd: dict[BomCategory, float] = Field(description="Capex by category [USD].")
    pue: float = Field(description="Annual PUE, energy-weighted over sites and months [1].")
    wue_l_per_kwh: float = Field(description="Water usage effectiveness weighted by typical IT load [L/kWh].")
    capex_per_mw_it_usd: float = Field(description="Capex per MW of IT at max power [USD/MW].")
    capex_per_gpu_usd: float = Field(description="Capex per GPU, facility included [USD/GPU].")
    bom: list[BomLineResult] = Field(description="Programme bill of materials: the sites' lines added up by (category, item).")


class DesignResult(Result):
    """What `design_factory` returns: every site's design and the programme's totals."""

    scenario: str = Field(description="Scenario name.")
    currency: Literal["USD"]
    base_year: int = Field(description="Price base year of the cost profile (all `_usd` values).")
    catalog_version: str
    sites: list[SiteResult] = Field(min_length=1)
    total: DesignTotal


# --------------------------------------------------------------------------- design choice


class SystemCandidate(Result):
    """A candidate system for which the whole programme could be designed."""

    system: str = Field(description="System catalog id.")
    feasible: Literal[True]
    announced: bool = Field(description="The system is announced, not shipping: its figures are vendor claims.")
    gpus: int
    facility_power_mw: float = Field(description="Design load at the utility [MW].")
    capex_usd: float
    tok_s: float = Field(description="Output tokens/s of the whole fleet for the workload mix (share-weighted best points).")
    tok_s_per_mw: float = Field(description="tok_s per MW of facility power [tokens/s/MW]; 0 when no facility power.")
    tok_s_per_musd: float = Field(description="tok_s per million USD of capex [tokens/s/MUSD]; 0 when no capex.")
    serving: list[WorkloadServing] = Field(description="Best serving point per workload on this system.")


class InfeasibleCandidate(Result):
    """A candidate system the programme cannot be designed with."""

    system: str = Field(description="System catalog id.")
    feasible: Literal[False]
    reason: str = Field(description="The designer's first problem, e.g. a site too small for one scalable unit.")


Candidate = Annotated[SystemCandidate | InfeasibleCandidate, Field(discriminator="feasible")]


class DesignChoice(Result):
    """What `compare_systems` returns: the candidate systems ranked per MW and per capex dollar."""

    candidates: list[Candidate] = Field(description="The default system, then the scenario's candidates (duplicates removed).")
    winner_per_mw: str | None = Field(description="System with the most tokens/s per MW of facility power; null when no candidate serves anything.")
    winner_per_usd: str | None = Field(description="System with the most tokens/s per capex dollar; null when no candidate serves anything.")
    why: str | None = Field(description="Explanation of the ranking; null when no candidate serves anything.")
