"""Cooling plant, PUE and WUE of an AI factory from the site's monthly climate.

Three layers, as everywhere in gigafactory:

* pure, vectorised functions of temperatures (:func:`hours_above`, :func:`wet_bulb_stull_c`,
  :func:`monthly_pue`, :func:`monthly_wue`, :func:`design_pue`) that take a catalog
  ``cooling_technology`` entry (any object with its attributes) and arrays;
* a frozen :class:`CoolingPlant` holding the sized equipment;
* :func:`size_cooling_plant` and :func:`choose_cooling`, called by the factory designer.

The PUE model is the one the facility schema suggests (catalog ``facility`` kind, see
``gigafactory catalog schema facility``), month by month::

    PUE_m = 1 + power_chain_loss + fan_pump_overhead_fraction
              + [lf x f_liquid(m) + (1 - lf) x f_air(m)] / chiller_cop

``lf`` is the share of IT heat captured by liquid at the rack, ``f_liquid(m)`` the share of
the month's hours in which the ambient (dry- or wet-bulb, per ``free_cooling_temp_basis``)
is above the technology's ``free_cooling_max_temp_c`` (the chillers then lift that heat),
``f_air(m)`` the same for the room-air path of partly air-cooled racks (see
:data:`AIR_PATH_FREE_COOLING_MAX_C`).  ``fan_pump_overhead_fraction`` was calibrated in the
catalog so that this formula reproduces each technology's published typical PUE; the
catalog notes state the chiller-hours assumption behind each calibration.

Climate model (an assumption, documented in :func:`hours_above`): within a month the hourly
dry-bulb temperature is normal around the monthly mean with a spread that combines the
diurnal cycle (mean daily maximum minus mean) and day-to-day weather.  Wet-bulb limits are
turned into an equivalent dry-bulb limit at the month's dew point (Stull 2011 wet bulb;
dew point held at its monthly mean), so one distribution serves both bases and PUE is
monotone in temperature by construction.

At the design hour (:func:`design_pue`, plant sizing) chillers trim in series: they lift
the share of heat the heat rejection cannot reach (:data:`TRIM_RANGE_K`).

Known simplifications: chiller COP is constant (real COP falls on hot hours); chillers are
either off or lift the whole share (no partial economisation); adiabatic assist, where
modelled, uses water without lowering chiller energy (conservative PUE).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
from numpy.typing import ArrayLike

from gigafactory.errors import InputError

# --------------------------------------------------------------------------- constants

HOURS_PER_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float) * 24.0
"""Hours in each month of a non-leap year [h]."""

DEFAULT_DIURNAL_AMPLITUDE_K = 5.0
"""Mean daily maximum minus monthly mean used when a region gives no maximum [K]
(half a ~10 K diurnal range, typical of temperate inland sites; assumption)."""

DAY_TO_DAY_STD_K = 2.0
"""Standard deviation of daily mean temperature around the monthly mean [K] (assumption,
synoptic variability; added in quadrature to the diurnal spread in :func:`hours_above`)."""

ASSUMED_RELATIVE_HUMIDITY_PERCENT = 50.0
"""Monthly mean relative humidity assumed when a region gives none [%].  A mid-range value:
it over-estimates wet bulb in deserts (Riyadh, real summer RH ~10-20 %, so chiller hours and
PUE of wet-bulb plants there are conservative) and under-estimates it in humid climates."""

AIR_PATH_FREE_COOLING_MAX_C: dict[str, float] = {"dry_bulb": 13.0, "wet_bulb": 8.9}
"""Free-cooling limit of the room-air share of partly liquid-cooled racks [degC], by the
technology's temperature basis.  Room air needs ~18 C water (CRAH/fan-coil), so the limits
mirror the catalog's air-side technologies: rear-door-hx (18 C water minus a 5 K dry-cooler
approach = 13 C dry bulb) and air-crah-chiller-economizer (55 F chilled water minus a 7 F
tower approach = 8.9 C wet bulb)."""

ROOM_AIR_LIMIT_W = 30e3
"""Most heat one rack may leave to room air [W]: the 25-30 kW/rack air-cooling limit
(factory_facts facility.cooling.air_cooling_limit; catalog air-crah-chiller-economizer)."""

LIQUID_REQUIRED_FRACTION = 0.5
"""A system whose liquid-cooled fraction exceeds this needs liquid delivered to the rack [1]."""

CAPTURE_MODES: dict[str, str] = {
    "air-crah-chiller-economizer": "room_air",
    "rear-door-hx": "rear_door",
    "dlc-dry-cooler": "cold_plate",
    "dlc-chiller-tower": "cold_plate",
    "immersion-single-phase": "immersion",
}
"""How each catalog cooling technology captures rack heat.  ``room_air``: all heat to room
air; ``rear_door``: rack exhaust through a water coil (any air-cooled system); ``cold_plate``:
the system's own cold plates (share = the system's liquid-cooled fraction, rest to room air);
``immersion``: whole boards in fluid (offered only for air-cooled system designs, fans
removed; systems shipped with cold plates are cooled through them).  A technology missing here counts as ``room_air`` when
its liquid_fraction is 0, else ``cold_plate``."""

EQUIPMENT_IDS: dict[str, str] = {
    "cdu": "cdu-in-row-2mw",
    "rear_door_hx": "rdhx-active-75kw",
    "dry_cooler": "dry-cooler-1mw",
    "chiller": "chiller-water-cooled-2mw",
    "cooling_tower": "cooling-tower-1mw",
}
"""Facility catalog entry used for each equipment group by :func:`size_cooling_plant`.  The
catalog has no air-cooled chiller; trim chillers of dry plants are counted in units of the
water-cooled chiller's capacity."""

REDUNDANCY = ("N", "N+1", "2N")

TRIM_RANGE_K = 10.0
"""Coolant range (return minus supply) over which a series trim chiller takes over at the
design hour [K]: the 45 C supply / ~55 C return of NVIDIA's DSX warm-water loop
(factory_facts facility.cooling.coolant_temps_rubin).  Above the free-cooling limit the heat
rejection still cools the return water to (ambient + approach); the chiller lifts only the
rest, a share (ambient - limit) / range of the heat, all of it once ambient is a full range
above the limit.  Used for the design hour only; monthly energy keeps the catalog's on/off
calibration."""

TOWER_LATENT_FRACTION_RANGE = (0.75, 1.0)
"""Share of cooling-tower heat rejected by evaporation, cold to hot air [1]: latent heat is
75-80 % of tower heat transfer in general (https://afcl.com/?p=2177), sensible ~23 % when air
enters colder than the water and ~5 % when hotter (Wang, Handbook of Air Conditioning and
Refrigeration ch. 10, quoted at https://www.eng-tips.com/threads/cooling-tower-energy-balance.145616/post-663223)."""

TOWER_LATENT_RAMP_C = (5.0, 30.0)
"""Monthly mean dry bulb over which the latent share ramps linearly [degC] (assumption)."""

TOWER_WUE_REFERENCE_C = 17.5
"""Monthly mean dry bulb at which a technology's catalog water_use_l_per_kwh applies [degC]
(assumption: ramp midpoint, close to the US-average sites behind the catalog figures)."""

ADIABATIC_WATER_L_PER_KWH_HEAT = 0.73
"""Water sprayed by adiabatic pre-coolers per kWh of heat rejected while they run [L/kWh]:
air warms ~10 K across a dry-cooler coil, so 1 kWh needs 3600 / (1.006 x 10) = 358 kg of air;
pre-cooling it by 5 K evaporates 358 x 1.006 x 5 / 2450 = 0.73 kg.  Consistent with the
catalog's ~0.01 L/kWh annual figure (dry-cooler-1mw) at ~1.4 % assist hours."""


# --------------------------------------------------------------------------- psychrometrics


def saturation_vapour_pressure_hpa(temp_c: ArrayLike) -> np.ndarray:
    """Saturation vapour pressure over water, Magnus form of Alduchov & Eskridge (1996) [hPa].

    ``temp_c``: air temperature [degC].
    """
    t = np.asarray(temp_c, dtype=float)
    return 6.1094 * np.exp(17.625 * t / (t + 243.04))


def dew_point_c(temp_c: ArrayLike, relative_humidity_percent: ArrayLike) -> np.ndarray:
    """Dew point from temperature and relative humidity (inverse Magnus) [degC].

    ``temp_c``: air temperature [degC]; ``relative_humidity_percent``: 0-100 [%].
    """
    t = np.asarray(temp_c, dtype=float)
    rh = np.clip(np.asarray(relative_humidity_percent, dtype=float), 1e-3, 100.0)
    g = np.log(rh / 100.0) + 17.625 * t / (t + 243.04)
    return 243.04 * g / (17.625 - g)


def relative_humidity_percent(temp_c: ArrayLike, dew_point: ArrayLike) -> np.ndarray:
    """Relative humidity of air at ``temp_c`` [degC] with dew point ``dew_point`` [degC] [%]."""
    return 100.0 * saturation_vapour_pressure_hpa(dew_point) / saturation_vapour_pressure_hpa(temp_c)


def wet_bulb_stull_c(temp_c: ArrayLike, relative_humidity_percent: ArrayLike) -> np.ndarray:
    """Wet-bulb temperature from dry bulb and relative humidity at sea-level pressure [degC].

    Stull, R. (2011) "Wet-Bulb Temperature from Relative Humidity and Air Temperature",
    J. Appl. Meteor. Climatol. 50, 2267-2269, eq. 1; fitted for RH 5-99 % and -20..50 degC
    (error within about +-1 K).  Humidity is clipped to 5-99 %.

    ``temp_c``: dry bulb [degC]; ``relative_humidity_percent``: [%].
    """
    t = np.asarray(temp_c, dtype=float)
    rh = np.clip(np.asarray(relative_humidity_percent, dtype=float), 5.0, 99.0)
    return (
        t * np.arctan(0.151977 * np.sqrt(rh + 8.313659))
        + np.arctan(t + rh)
        - np.arctan(rh - 1.676331)
        + 0.00391838 * rh**1.5 * np.arctan(0.023101 * rh)
        - 4.686035
    )


def _wet_bulb_at_dew_point_c(temp_c: np.ndarray, dew_c: np.ndarray) -> np.ndarray:
    """Wet bulb of air at ``temp_c`` holding a fixed dew point; saturated (= T) at or below it."""
    wb = wet_bulb_stull_c(temp_c, relative_humidity_percent(temp_c, np.minimum(dew_c, temp_c)))
    return np.where(temp_c <= dew_c, temp_c, np.minimum(wb, temp_c))


def dry_bulb_at_wet_bulb_c(wet_bulb_c: ArrayLike, dew_point: ArrayLike) -> np.ndarray:
    """Dry bulb at which air of a given dew point reaches a wet bulb [degC].

    Inverts :func:`wet_bulb_stull_c` along the line of constant dew point by bisection
    (wet bulb rises with dry bulb at fixed moisture).  At or below the dew point the air is
    saturated and wet bulb equals dry bulb.

    ``wet_bulb_c``: wet-bulb limit [degC]; ``dew_point``: the month's dew point [degC].
    """
    wb, td = np.broadcast_arrays(np.asarray(wet_bulb_c, dtype=float), np.asarray(dew_point, dtype=float))
    lo = np.maximum(td, wb)
    hi = lo + 200.0
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        above = _wet_bulb_at_dew_point_c(mid, td) >= wb
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return np.where(wb <= td, wb, hi)


def relative_humidity_from_wet_bulb(temp_c: ArrayLike, wet_bulb_c: ArrayLike) -> np.ndarray:
    """Relative humidity [%] for which Stull's wet bulb at ``temp_c`` equals ``wet_bulb_c`` [degC]
    (bisection over 5-99 %; Stull's formula rises with humidity)."""
    t, wb = np.broadcast_arrays(np.asarray(temp_c, dtype=float), np.asarray(wet_bulb_c, dtype=float))
    lo = np.full(t.shape, 5.0)
    hi = np.full(t.shape, 99.0)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        above = wet_bulb_stull_c(t, mid) >= wb
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return 0.5 * (lo + hi)


# --------------------------------------------------------------------------- climate → hours


def temperature_spread_k(mean_c: ArrayLike, max_c: ArrayLike | None) -> np.ndarray:
    """Standard deviation of hourly dry bulb within each month [K].

    sigma = sqrt(A^2 / 2 + s_d^2): a sinusoidal day of amplitude A = (mean daily max - mean)
    has standard deviation A / sqrt(2); day-to-day weather adds s_d = :data:`DAY_TO_DAY_STD_K`.
    Without a maximum, A = :data:`DEFAULT_DIURNAL_AMPLITUDE_K`.
    """
    mean = np.asarray(mean_c, dtype=float)
    amp = np.full(mean.shape, DEFAULT_DIURNAL_AMPLITUDE_K) if max_c is None else np.maximum(np.asarray(max_c, dtype=float) - mean, 0.0)
    return np.sqrt(amp**2 / 2.0 + DAY_TO_DAY_STD_K**2)


def hours_above(mean_c: ArrayLike, max_c: ArrayLike | None, threshold_c: ArrayLike) -> np.ndarray:
    """Fraction of each month's hours with ambient above ``threshold_c`` [1], 0..1.

    Hourly temperature is taken as normal around the monthly mean with the spread of
    :func:`temperature_spread_k` (an assumption: real diurnal distributions are bounded and
    skewed; a normal tail slightly over-counts the hottest hours, which errs towards more
    chiller hours).

    ``mean_c``: monthly mean [degC]; ``max_c``: monthly mean daily maximum [degC] or None;
    ``threshold_c``: limit, scalar or per month [degC].
    """
    mean = np.asarray(mean_c, dtype=float)
    sigma = temperature_spread_k(mean, max_c)
    from scipy.special import ndtr  # imported here: scipy.special costs ~0.16 s at start-up, and most commands never get here

    return ndtr((mean - np.asarray(threshold_c, dtype=float)) / sigma)


def _month_dew_point_c(mean: np.ndarray, wet_bulb_c: ArrayLike | None, rh_percent: ArrayLike | None) -> np.ndarray:
    if wet_bulb_c is not None:
        rh = relative_humidity_from_wet_bulb(mean, wet_bulb_c)
    elif rh_percent is not None:
        rh = np.asarray(rh_percent, dtype=float)
    else:
        rh = np.full(mean.shape, ASSUMED_RELATIVE_HUMIDITY_PERCENT)
    return dew_point_c(mean, np.clip(rh, 5.0, 99.0))


def chiller_hours_fraction(
    threshold_c: float,
    basis: str,
    mean_c: ArrayLike,
    max_c: ArrayLike | None = None,
    wet_bulb_c: ArrayLike | None = None,
    relative_humidity_percent: ArrayLike | None = None,
) -> np.ndarray:
    """Fraction of each month's hours above a free-cooling limit [1].

    ``basis`` ``"dry_bulb"``: :func:`hours_above` directly.  ``"wet_bulb"``: the limit becomes
    the dry bulb at which air of the month's dew point reaches it
    (:func:`dry_bulb_at_wet_bulb_c`); the dew point comes from ``wet_bulb_c`` (monthly mean
    wet bulb [degC]), else ``relative_humidity_percent`` (monthly mean [%]), else
    :data:`ASSUMED_RELATIVE_HUMIDITY_PERCENT`, applied at the monthly mean temperature.
    """
    mean = np.asarray(mean_c, dtype=float)
    if basis == "dry_bulb":
        return hours_above(mean, max_c, threshold_c)
    if basis == "wet_bulb":
        td = _month_dew_point_c(mean, wet_bulb_c, relative_humidity_percent)
        return hours_above(mean, max_c, dry_bulb_at_wet_bulb_c(threshold_c, td))
    raise ValueError(f"unknown free_cooling_temp_basis {basis!r}; expected 'dry_bulb' or 'wet_bulb'")


# --------------------------------------------------------------------------- technology helpers


def capture_mode(tech: Any) -> str:
    """How the technology captures rack heat (see :data:`CAPTURE_MODES`)."""
    mode = CAPTURE_MODES.get(getattr(tech, "id", ""))
    if mode is not None:
        return mode
    return "room_air" if float(tech.liquid_fraction) == 0 else "cold_plate"


def liquid_heat_fraction(tech: Any, system_liquid_fraction: float | None = None) -> float:
    """Share of IT heat leaving the racks in facility liquid [1].

    Room air: 0.  Rear door and immersion: the technology's liquid_fraction.  Cold plates:
    the system's own liquid-cooled fraction when given (the racks' cold plates set it), else
    the technology's.
    """
    mode = capture_mode(tech)
    if mode == "room_air":
        return 0.0
    if mode == "cold_plate" and system_liquid_fraction is not None:
        return float(np.clip(system_liquid_fraction, 0.0, 1.0))
    return float(tech.liquid_fraction)


def air_path_limit_c(tech: Any) -> float:
    """Free-cooling limit of the technology's room-air heat [degC]: its own limit for
    room-air technologies, else :data:`AIR_PATH_FREE_COOLING_MAX_C` for its basis."""
    if capture_mode(tech) == "room_air":
        return float(tech.free_cooling_max_temp_c)
    return AIR_PATH_FREE_COOLING_MAX_C[tech.free_cooling_temp_basis]


def chiller_share(
    tech: Any,
    mean_c: ArrayLike,
    max_c: ArrayLike | None = None,
    wet_bulb_c: ArrayLike | None = None,
    relative_humidity_percent: ArrayLike | None = None,
    liquid_fraction: float | None = None,
) -> np.ndarray:
    """Share of IT heat the chillers lift, per month [1]: lf x f_liquid + (1 - lf) x f_air."""
    lf = liquid_heat_fraction(tech, liquid_fraction)
    basis = tech.free_cooling_temp_basis
    f_liq = chiller_hours_fraction(tech.free_cooling_max_temp_c, basis, mean_c, max_c, wet_bulb_c, relative_humidity_percent)
    if lf >= 1.0:
        return lf * f_liq
    f_air = chiller_hours_fraction(air_path_limit_c(tech), basis, mean_c, max_c, wet_bulb_c, relative_humidity_percent)
    return lf * f_liq + (1.0 - lf) * f_air


# --------------------------------------------------------------------------- PUE and WUE


def monthly_pue(
    tech: Any,
    mean_c: ArrayLike,
    max_c: ArrayLike | None = None,
    power_chain_loss_fraction: float = 0.03,
    wet_bulb_c: ArrayLike | None = None,
    *,
    relative_humidity_percent: ArrayLike | None = None,
    liquid_fraction: float | None = None,
) -> np.ndarray:
    """Power usage effectiveness of each month [1], shape of ``mean_c`` (12 for a year).

    PUE_m = 1 + power_chain_loss_fraction + tech.fan_pump_overhead_fraction
    + :func:`chiller_share` / tech.chiller_cop.

    ``tech``: catalog cooling_technology entry; ``mean_c``: monthly mean dry bulb [degC];
    ``max_c``: monthly mean daily maximum [degC]; ``power_chain_loss_fraction``: electrical
    losses per unit IT power (0.03 new builds with eco-mode UPS, 0.05 double conversion) [1];
    ``wet_bulb_c``: monthly mean wet bulb [degC]; ``relative_humidity_percent``: monthly mean
    relative humidity [%]; ``liquid_fraction``: the system's liquid-cooled fraction [1].
    """
    share = chiller_share(tech, mean_c, max_c, wet_bulb_c, relative_humidity_percent, liquid_fraction)
    return 1.0 + power_chain_loss_fraction + float(tech.fan_pump_overhead_fraction) + share / float(tech.chiller_cop)


def annual_pue(
    tech: Any,
    mean_c: ArrayLike,
    max_c: ArrayLike | None = None,
    power_chain_loss_fraction: float = 0.03,
    weights: ArrayLike | None = None,
    **kwargs: Any,
) -> float:
    """Annual PUE [1]: monthly PUE weighted by ``weights`` (IT energy per month, any unit),
    hours per month by default (constant IT load).  Keyword arguments go to :func:`monthly_pue`."""
    pue = monthly_pue(tech, mean_c, max_c, power_chain_loss_fraction, **kwargs)
    w = HOURS_PER_MONTH if weights is None else np.asarray(weights, dtype=float)
    return float(np.sum(pue * w) / np.sum(w))


def tower_latent_fraction(mean_c: ArrayLike) -> np.ndarray:
    """Share of cooling-tower heat rejected by evaporation at a monthly mean dry bulb [1]
    (linear ramp, :data:`TOWER_LATENT_FRACTION_RANGE` over :data:`TOWER_LATENT_RAMP_C`)."""
    (f0, f1), (t0, t1) = TOWER_LATENT_FRACTION_RANGE, TOWER_LATENT_RAMP_C
    x = np.clip((np.asarray(mean_c, dtype=float) - t0) / (t1 - t0), 0.0, 1.0)
    return f0 + (f1 - f0) * x


def monthly_wue(
    tech: Any,
    mean_c: ArrayLike,
    max_c: ArrayLike | None = None,
    *,
    adiabatic_assist: bool = False,
    liquid_fraction: float | None = None,
) -> np.ndarray:
    """Site water use per kWh of IT energy, per month [L/kWh].

    Evaporative plants (heat_rejection ``evaporative`` or ``chiller_water_cooled``: cooling
    towers take all heat all year): the catalog's water_use_l_per_kwh scaled by
    :func:`tower_latent_fraction` relative to its value at :data:`TOWER_WUE_REFERENCE_C`, so
    more water in hot months.  Dry plants (``dry``): zero, or with ``adiabatic_assist``
    :data:`ADIABATIC_WATER_L_PER_KWH_HEAT` x liquid heat share x hours above the free-cooling
    limit.  Other heat_rejection values: the catalog figure, flat.

    ``tech``: catalog cooling_technology entry; ``mean_c``: monthly mean [degC]; ``max_c``:
    monthly mean daily maximum [degC]; ``liquid_fraction``: the system's liquid share [1].
    """
    mean = np.asarray(mean_c, dtype=float)
    rejection = tech.heat_rejection
    if rejection in ("evaporative", "chiller_water_cooled"):
        ref = tower_latent_fraction(TOWER_WUE_REFERENCE_C)
        return float(tech.water_use_l_per_kwh) * tower_latent_fraction(mean) / ref
    if rejection == "dry":
        if not adiabatic_assist:
            return np.zeros(mean.shape)
        lf = liquid_heat_fraction(tech, liquid_fraction)
        return ADIABATIC_WATER_L_PER_KWH_HEAT * lf * hours_above(mean, max_c, tech.free_cooling_max_temp_c)
    return np.full(mean.shape, float(tech.water_use_l_per_kwh))


def trim_fraction(ambient_c: ArrayLike, limit_c: float) -> np.ndarray:
    """Share of a heat path's heat the chillers lift at one hour [1]:
    clip((ambient - limit) / :data:`TRIM_RANGE_K`, 0, 1).

    ``ambient_c``: dry or wet bulb on the technology's basis [degC]; ``limit_c``: free-cooling
    limit [degC].
    """
    return np.clip((np.asarray(ambient_c, dtype=float) - limit_c) / TRIM_RANGE_K, 0.0, 1.0)


def design_chiller_share(
    tech: Any, design_temp_c: float, design_wet_bulb_c: float | None = None, liquid_fraction: float | None = None
) -> float:
    """Share of IT heat the chillers lift at the design hour [1]:
    lf x :func:`trim_fraction` (liquid limit) + (1 - lf) x :func:`trim_fraction` (air limit).

    For wet-bulb technologies the design dry bulb stands in for the wet bulb unless
    ``design_wet_bulb_c`` is given: wet bulb never exceeds dry bulb, so this is the
    conservative (saturated-air) bound.
    """
    lf = liquid_heat_fraction(tech, liquid_fraction)
    ambient = design_temp_c
    if tech.free_cooling_temp_basis == "wet_bulb" and design_wet_bulb_c is not None:
        ambient = design_wet_bulb_c
    liq = float(trim_fraction(ambient, float(tech.free_cooling_max_temp_c)))
    air = float(trim_fraction(ambient, air_path_limit_c(tech)))
    return lf * liq + (1.0 - lf) * air


def design_pue(
    tech: Any,
    design_temp_c: float,
    power_chain_loss_fraction: float = 0.03,
    *,
    design_wet_bulb_c: float | None = None,
    liquid_fraction: float | None = None,
) -> float:
    """PUE at the design hot hour [1], for sizing the electrical plant:
    1 + power_chain_loss_fraction + fan_pump_overhead_fraction
    + :func:`design_chiller_share` / chiller_cop.

    ``design_temp_c``: design dry bulb, e.g. ASHRAE 0.4 % [degC]; ``design_wet_bulb_c``:
    coincident wet bulb [degC]; ``liquid_fraction``: the system's liquid share [1].
    """
    share = design_chiller_share(tech, design_temp_c, design_wet_bulb_c, liquid_fraction)
    return 1.0 + power_chain_loss_fraction + float(tech.fan_pump_overhead_fraction) + share / float(tech.chiller_cop)


# --------------------------------------------------------------------------- plant sizing


@dataclass(frozen=True)
class CoolingPlant:
    """Sized cooling plant of one site."""

    technology_id: str
    it_heat_w: float  # IT heat at full load [W]
    liquid_heat_w: float  # heat leaving the racks in facility liquid [W]
    air_heat_w: float  # heat leaving the racks to room air [W]
    equipment: tuple[tuple[str, int], ...]  # (facility catalog id, count incl. redundancy)
    redundancy: str  # "N", "N+1" or "2N"
    design_temp_c: float  # design dry bulb [degC]
    chiller_load_w: float = 0.0  # heat the chillers lift at the design hour [W]

    def count(self, equipment_id: str) -> int:
        """Units of one catalog equipment id in the plant [count]."""
        return sum(n for i, n in self.equipment if i == equipment_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "technology_id": self.technology_id,
            "it_heat_w": self.it_heat_w,
            "liquid_heat_w": self.liquid_heat_w,
            "air_heat_w": self.air_heat_w,
            "chiller_load_w": self.chiller_load_w,
            "equipment": [{"id": i, "count": n} for i, n in self.equipment],
            "redundancy": self.redundancy,
            "design_temp_c": self.design_temp_c,
        }


def with_redundancy(n_needed: int, redundancy: str) -> int:
    """Units to install for ``n_needed`` working units [count]; the power chain's rule
    (N+1 = one spare per block of up to four, as in distributed-redundant Tier III plants)."""
    from gigafactory.design.power import units_with_redundancy

    return units_with_redundancy(n_needed, redundancy)


def cooling_problem(tech: Any, rack_power_w: float, system_liquid_fraction: float) -> str | None:
    """Why ``tech`` cannot cool racks of ``rack_power_w`` [W] whose system sends
    ``system_liquid_fraction`` [1] of its heat to liquid, or None when it can."""
    mode = capture_mode(tech)
    kw = rack_power_w / 1e3
    if rack_power_w > tech.max_rack_density_w:
        return f"{tech.id} cools at most {tech.max_rack_density_w / 1e3:g} kW per rack; these racks draw {kw:g} kW"
    if system_liquid_fraction > LIQUID_REQUIRED_FRACTION and mode in ("room_air", "rear_door"):
        return (f"{tech.id} brings no liquid to the rack, but the system is {system_liquid_fraction:.0%} liquid-cooled "
                f"({kw:g} kW racks)")
    if mode == "immersion" and system_liquid_fraction > 0:
        return (f"{tech.id} submerges boards built for air, but the system ships with cold plates "
                f"({system_liquid_fraction:.0%} liquid-cooled); cool it through its cold plates")
    if mode == "cold_plate":
        if system_liquid_fraction <= 0:
            return f"{tech.id} needs cold plates in the system, but the system is air-cooled ({kw:g} kW racks)"
        air_w = rack_power_w * (1.0 - system_liquid_fraction)
        if air_w > ROOM_AIR_LIMIT_W:
            return (f"{tech.id} leaves {air_w / 1e3:.3g} kW per rack to room air (system {system_liquid_fraction:.0%} liquid), "
                    f"above the {ROOM_AIR_LIMIT_W / 1e3:g} kW air-cooling limit")
    return None


def _technologies(cat: Any) -> list[Any]:
    return [e for e in cat.kind("facility").values() if getattr(e, "category", None) == "cooling_technology"]


def _able(cat: Any, rack_power_w: float, system_liquid_fraction: float) -> list[Any]:
    return [t for t in _technologies(cat) if cooling_problem(t, rack_power_w, system_liquid_fraction) is None]


def size_cooling_plant(
    cat: Any,
    technology_id: str,
    it_heat_w: float,
    rack_power_w: float,
    system_liquid_fraction: float,
    design_temp_c: float,
    redundancy: str = "N+1",
    *,
    equipment_ids: dict[str, str] | None = None,
) -> CoolingPlant:
    """Size the cooling plant for ``it_heat_w`` [W] of IT heat at the design hour.

    * CDUs (technologies that bring facility liquid to the rack): ceil(liquid heat / CDU
      capacity).
    * Rear doors (rear-door-hx): one per rack, ceil(rack power / door capacity) per rack;
      no spare doors (a door serves only its rack).
    * Chillers: ceil(heat the chillers lift at the design hour / chiller capacity), each heat
      path's :func:`trim_fraction` at ``design_temp_c`` (conservative for wet-bulb limits,
      see :func:`design_chiller_share`).
    * Dry plants: dry coolers on all IT heat (the liquid loop plus room-air coils on the
      same loop in free-cooling hours).  Tower plants: cooling towers on all IT heat plus the
      chillers' compressor work at the design hour.

    Each group gets ``redundancy`` (N, N+1: one spare per group, 2N: doubled).  Raises
    :class:`~gigafactory.errors.InputError` when the technology cannot cool the racks
    (:func:`cooling_problem`), naming a technology that can.

    ``it_heat_w``: IT heat [W]; ``rack_power_w``: power of one rack [W];
    ``system_liquid_fraction``: the system's liquid-cooled share [1]; ``design_temp_c``:
    design dry bulb [degC].
    """
    ids = {**EQUIPMENT_IDS, **(equipment_ids or {})}
    tech = cat.get("facility", technology_id, field_name="cooling")
    if getattr(tech, "category", None) != "cooling_technology":
        raise InputError.single(
            f"'{tech.id}' is a {tech.category}, not a cooling technology", field="cooling", value=technology_id,
            expected="a facility entry with category cooling_technology",
            fix=f"use one of {', '.join(t.id for t in _technologies(cat))}",
        )
    if not (it_heat_w >= 0 and rack_power_w > 0):
        raise InputError.single("IT heat must be >= 0 W and rack power > 0 W", field="it_heat_w",
                                value=(it_heat_w, rack_power_w), expected="it_heat_w >= 0, rack_power_w > 0")
    problem = cooling_problem(tech, rack_power_w, system_liquid_fraction)
    if problem is not None:
        able = sorted(_able(cat, rack_power_w, system_liquid_fraction), key=lambda t: t.pue_typical)
        suggestion = able[0].id if able else max(_technologies(cat), key=lambda t: t.max_rack_density_w).id
        raise InputError.single(
            f"{tech.id} cannot cool {rack_power_w / 1e3:g} kW racks: {problem}",
            field="cooling", value=technology_id,
            expected=(f"a cooling technology able to cool {rack_power_w / 1e3:g} kW racks "
                      f"({system_liquid_fraction:.0%} liquid): {', '.join(t.id for t in able) or 'none in the catalog'}"),
            fix=f"use '{suggestion}'" if able else f"use smaller racks; the densest technology is '{suggestion}'",
            check="cooling-capacity",
        )
    with_redundancy(1, redundancy)  # rejects an unknown scheme before any sizing

    mode = capture_mode(tech)
    lf = liquid_heat_fraction(tech, system_liquid_fraction)
    liquid_w = it_heat_w * lf
    air_w = it_heat_w - liquid_w
    liq_on = float(trim_fraction(design_temp_c, float(tech.free_cooling_max_temp_c)))
    air_on = float(trim_fraction(design_temp_c, air_path_limit_c(tech)))
    chiller_w = liquid_w * liq_on + air_w * air_on

    def units(load_w: float, key: str) -> int:
        cap = cat.get("facility", ids[key]).capacity_w
        return math.ceil(load_w / cap - 1e-9) if load_w > 0 else 0

    groups: list[tuple[str, int]] = []
    if mode != "room_air":
        groups.append((ids["cdu"], with_redundancy(units(liquid_w, "cdu"), redundancy)))
    if mode == "rear_door":
        door_w = cat.get("facility", ids["rear_door_hx"]).capacity_w
        racks = math.ceil(it_heat_w / rack_power_w - 1e-9)
        groups.append((ids["rear_door_hx"], racks * math.ceil(rack_power_w / door_w - 1e-9)))
    if tech.heat_rejection == "dry":
        groups.append((ids["dry_cooler"], with_redundancy(units(it_heat_w, "dry_cooler"), redundancy)))
    groups.append((ids["chiller"], with_redundancy(units(chiller_w, "chiller"), redundancy)))
    if tech.heat_rejection in ("evaporative", "chiller_water_cooled"):
        tower_w = it_heat_w + chiller_w / float(tech.chiller_cop)
        groups.append((ids["cooling_tower"], with_redundancy(units(tower_w, "cooling_tower"), redundancy)))
    return CoolingPlant(
        technology_id=tech.id, it_heat_w=float(it_heat_w), liquid_heat_w=float(liquid_w), air_heat_w=float(air_w),
        equipment=tuple((i, n) for i, n in groups if n > 0), redundancy=redundancy,
        design_temp_c=float(design_temp_c), chiller_load_w=float(chiller_w),
    )


def choose_cooling(
    cat: Any,
    rack_power_w: float,
    system_liquid_fraction: float,
    mean_c: ArrayLike,
    max_c: ArrayLike | None = None,
    *,
    power_chain_loss_fraction: float = 0.03,
    relative_humidity_percent: ArrayLike | None = None,
    candidates: Iterable[str] | None = None,
) -> str:
    """The catalog cooling technology that can cool these racks with the lowest annual PUE
    in this climate (ties: catalog order).

    ``rack_power_w``: power of one rack [W]; ``system_liquid_fraction``: the system's
    liquid-cooled share [1]; ``mean_c``/``max_c``: monthly mean and mean daily maximum
    [degC]; ``candidates``: restrict the choice to these ids.  Raises
    :class:`~gigafactory.errors.InputError` when none can.
    """
    allowed = None if candidates is None else {cat.get("facility", c).id for c in candidates}
    able = [t for t in _able(cat, rack_power_w, system_liquid_fraction) if allowed is None or t.id in allowed]
    if not able:
        densest = max(_technologies(cat), key=lambda t: t.max_rack_density_w)
        raise InputError.single(
            f"no cooling technology in the catalog can cool {rack_power_w / 1e3:g} kW racks "
            f"({system_liquid_fraction:.0%} liquid-cooled)",
            field="rack_power_w", value=rack_power_w,
            expected=f"at most {densest.max_rack_density_w / 1e3:g} kW per rack ({densest.id})",
            fix="use fewer systems per rack or a cooling technology that can cool them", check="cooling-capacity",
        )
    scored = [
        (annual_pue(t, mean_c, max_c, power_chain_loss_fraction, relative_humidity_percent=relative_humidity_percent,
                    liquid_fraction=system_liquid_fraction), k, t.id)
        for k, t in enumerate(able)
    ]
    return min(scored)[2]
