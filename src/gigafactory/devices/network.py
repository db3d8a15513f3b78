"""Round-trip time from a device to a factory site: access network + wide area.

RTT = access RTT of the connectivity (Ofcom crowdsourced response times) + slope x great-circle
distance, the slope fitted on one client's measured pings to cloud regions (`data/network.yaml`).
The fit's intercept is the client's own access round trip, so it is replaced by the access term.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gigafactory.errors import InputError, Problem

DATA = Path(__file__).with_name("data") / "network.yaml"
EARTH_RADIUS_KM = 6371.0
CONNECTIVITY = ("wifi", "5g", "4g", "offline")


def great_circle_km(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Haversine distance on a sphere of the Earth's mean radius [km]."""
    p1, l1, p2, l2 = map(math.radians, (lat1_deg, lon1_deg, lat2_deg, lon2_deg))
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def fit_wan(client: tuple[float, float], points: list[tuple[float, float, float]]) -> tuple[float, float]:
    """Least-squares (intercept [ms], slope [ms/km]) of RTT against great-circle distance."""
    d = np.array([great_circle_km(client[0], client[1], lat, lon) for lat, lon, _ in points])
    y = np.array([rtt for _, _, rtt in points], dtype=float)
    a = np.vstack([np.ones_like(d), d]).T
    intercept, slope = np.linalg.lstsq(a, y, rcond=None)[0]
    return float(intercept), float(slope)


@dataclass(frozen=True)
class UserRegion:
    name: str
    lat_deg: float
    lon_deg: float
    utc_offset_h: float


@dataclass(frozen=True)
class Network:
    access_rtt_ms: dict[str, float]
    connectivity_shares: dict[str, float]
    wan_intercept_ms: float
    wan_ms_per_km: float
    wan_fit_median_ape: float
    regions: dict[str, UserRegion]

    def rtt_ms(self, region: str, site_lat_deg: float, site_lon_deg: float, connectivity: str) -> float:
        """Round trip from a user in ``region`` on ``connectivity`` to a site [ms]."""
        r = self.regions[region]
        return self.access_rtt_ms[connectivity] + self.wan_ms_per_km * great_circle_km(r.lat_deg, r.lon_deg, site_lat_deg, site_lon_deg)


@functools.lru_cache(maxsize=1)
def load_network() -> Network:
    """The bundled network data, with the wide-area slope fitted on its measured points."""
    import yaml

    doc = yaml.load(DATA.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    fit = doc["wan_fit_points"]
    pts = [(float(p[1]), float(p[2]), float(p[3])) for p in fit["points"]]
    client = (float(fit["client"]["lat_deg"]), float(fit["client"]["lon_deg"]))
    intercept, slope = fit_wan(client, pts)
    pred = [intercept + slope * great_circle_km(*client, lat, lon) for lat, lon, _ in pts]
    ape = float(np.median([abs(p - y) / y for p, (_, _, y) in zip(pred, pts)]))
    regions = {k: UserRegion(k, float(v["lat_deg"]), float(v["lon_deg"]), float(v["utc_offset_h"])) for k, v in doc["user_regions"].items()}
    access = {k: float(v["value"]) for k, v in doc["access_rtt_ms"].items()}
    shares = {k: float(v) for k, v in doc["connectivity_shares"]["value"].items()}
    return Network(access, shares, intercept, slope, ape, regions)


def check_region(name: str, field: str) -> None:
    """InputError naming the field when ``name`` is not a user region of the network data."""
    known = load_network().regions
    if name not in known:
        raise InputError([Problem(f"unknown user region '{name}'", field=field, value=name, expected="one of " + ", ".join(known),
                                  fix="pick a listed region (devices/data/network.yaml)", check="device-regions")])
