"""Hourly demand shapes: 168-value hour-of-week relative rates (mean 1) from real traces.

The shapes are derived by ``bench/demand_profiles.py`` from the shared ServeGen traces
(Alibaba Bailian, 10-minute per-client rates) and stored in ``demand/data/profiles.yaml``; this
module only reads that file.  Hour-of-week index 0 is Monday 00:00-01:00 of the source's clock
(see the file's ``weekday_alignment`` and ``clock`` notes: the weekday mapping is a convention).

Pure functions first (``profile_stats``, ``expand``), then the loader and the name-based
accessors the demand stage calls (``hourly_profile``, ``peak_to_mean``, ``expand_profile``).
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

from gigafactory.errors import CatalogDataError, InputError, Problem

HOURS_PER_WEEK = 168
#: tolerance on a stored profile's mean before it is rejected (values are rounded to 1e-4)
MEAN_TOLERANCE = 1e-3
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# ---------------------------------------------------------------------------------------------
# pure functions


def profile_stats(values: np.ndarray) -> dict[str, float]:
    """Summary statistics of a 168-hour relative-rate profile.

    Parameters
    ----------
    values : array of 168 relative rates, hour 0 = Monday 00:00 [1]

    Returns
    -------
    dict with ``peak_to_mean`` and ``trough_to_mean`` (hourly max / min over the mean),
    ``weekday_to_weekend`` (mean of hours 0-119 over mean of hours 120-167) and
    ``day_of_week_max_to_min`` (busiest over quietest daily mean; independent of the weekday
    alignment) [1].
    """
    v = np.asarray(values, dtype=float)
    if v.shape != (HOURS_PER_WEEK,):
        raise ValueError(f"a weekly profile has {HOURS_PER_WEEK} hourly values, got shape {v.shape}")
    mean = v.mean()
    daily = v.reshape(7, 24).mean(axis=1)
    return {
        "peak_to_mean": float(v.max() / mean),
        "trough_to_mean": float(v.min() / mean),
        "weekday_to_weekend": float(v[:120].mean() / v[120:].mean()),
        "day_of_week_max_to_min": float(daily.max() / daily.min()),
    }


def expand(values: np.ndarray, hours: int, start_weekday: int = 0, start_hour: int = 0) -> np.ndarray:
    """Repeat a 168-hour profile over ``hours`` hours starting at a given weekday and hour.

    Parameters
    ----------
    values : 168 relative rates, hour 0 = Monday 00:00 [1]
    hours : length of the horizon [h]
    start_weekday : weekday of the first hour, 0 = Monday ... 6 = Sunday (``date.weekday()``) [1]
    start_hour : hour of day of the first hour, 0-23; use it to shift the source's clock to
        the factory's time zone [h]

    Returns
    -------
    array of ``hours`` relative rates [1]
    """
    v = np.asarray(values, dtype=float)
    if v.shape != (HOURS_PER_WEEK,):
        raise ValueError(f"a weekly profile has {HOURS_PER_WEEK} hourly values, got shape {v.shape}")
    if hours < 0:
        raise ValueError(f"hours must be >= 0, got {hours}")
    if not 0 <= int(start_weekday) <= 6:
        raise ValueError(f"start_weekday must be 0 (Monday) .. 6 (Sunday), got {start_weekday}")
    if not 0 <= int(start_hour) <= 23:
        raise ValueError(f"start_hour must be 0..23, got {start_hour}")
    offset = int(start_weekday) * 24 + int(start_hour)
    return v[(offset + np.arange(int(hours))) % HOURS_PER_WEEK]


# ---------------------------------------------------------------------------------------------
# typed, validated contents of profiles.yaml


@dataclass(frozen=True)
class DemandProfile:
    """One hourly demand shape with its provenance and summary statistics."""

    name: str
    description: str
    values: np.ndarray = field(repr=False)  # (168,), read-only, mean 1 [1]
    rate_unit: str  # unit of the source's mean rate (requests/s or tokens/s)
    mean_rate: float  # mean aggregate rate of the source trace [rate_unit]
    source: tuple[str, ...]
    source_files: tuple[str, ...]
    date: str
    confidence: str
    span_days: float  # length of the source trace [day]
    weekly_shape: str
    stats: Mapping[str, float] = field(repr=False)

    @property
    def peak_to_mean(self) -> float:
        return float(self.values.max() / self.values.mean())


@dataclass(frozen=True)
class ProfileSet:
    """Every profile in profiles.yaml, alias resolution and the Azure burstiness records."""

    profiles: Mapping[str, DemandProfile]
    aliases: Mapping[str, str]
    burstiness: Mapping[str, Mapping[str, Any]]
    notes: Mapping[str, str]
    file: str

    def resolve(self, name: str) -> str:
        key = name.strip().lower()
        if key in self.profiles:
            return key
        if key in self.aliases:
            return self.aliases[key]
        names = sorted(set(self.profiles) | set(self.aliases))
        hint = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
        raise InputError([Problem(
            f"unknown demand profile '{name}'" + (f" - did you mean '{hint[0]}'?" if hint else ""),
            field="profile", value=name, expected="a profile name or alias from gigafactory.demand.profiles.load_profiles()",
            fix=f"use one of: {', '.join(names)}",
        )])

    def __getitem__(self, name: str) -> DemandProfile:
        return self.profiles[self.resolve(name)]


def _bad(file: str, bundled: bool, message: str, entry: str | None, fld: str | None, value: Any = None, fix: str | None = None):
    where = ".".join(p for p in (entry, fld) if p)
    if bundled:
        return CatalogDataError(f"{file}: {where or 'file'}: {message}" + (f" (value {value!r})" if value is not None else "") + (f"; fix: {fix}" if fix else ""))
    kwargs: dict[str, Any] = {"file": file, "field": where or None, "fix": fix}
    if value is not None:
        kwargs["value"] = value
    return InputError.single(message, **kwargs)


def parse_profiles(doc: Any, file: str, bundled: bool = True) -> ProfileSet:
    """Validate a loaded profiles.yaml mapping into a ProfileSet (errors name file, entry, field, fix)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("profiles"), dict) or not doc["profiles"]:
        raise _bad(file, bundled, "expected a mapping with a non-empty 'profiles' section", None, "profiles",
                   fix="regenerate the file with python bench/demand_profiles.py")
    profiles: dict[str, DemandProfile] = {}
    for name, raw in doc["profiles"].items():
        entry = f"profiles.{name}"
        if not isinstance(raw, dict):
            raise _bad(file, bundled, "profile must be a mapping", entry, None, raw)
        for key in ("values", "source", "date", "confidence", "stats"):
            if key not in raw:
                raise _bad(file, bundled, f"missing '{key}'", entry, key, fix=f"add '{key}' (see bench/demand_profiles.py)")
        rows = raw["values"]
        flat = [x for row in rows for x in (row if isinstance(row, list) else [row])] if isinstance(rows, list) else None
        if flat is None or len(flat) != HOURS_PER_WEEK or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in flat):
            raise _bad(file, bundled, f"'values' must hold {HOURS_PER_WEEK} numbers (7 rows of 24)", entry, "values",
                       None if flat is None else f"{len(flat)} values", fix="regenerate with python bench/demand_profiles.py")
        vals = np.asarray(flat, dtype=float)
        if (vals < 0).any() or not np.isfinite(vals).all():
            raise _bad(file, bundled, "values must be finite and >= 0", entry, "values")
        if abs(vals.mean() - 1.0) > MEAN_TOLERANCE:
            raise _bad(file, bundled, f"values must have mean 1 (+-{MEAN_TOLERANCE})", entry, "values", round(float(vals.mean()), 6),
                       fix="divide every value by their mean")
        vals = vals / vals.mean()
        vals.setflags(write=False)
        source = raw["source"] if isinstance(raw["source"], list) else [raw["source"]]
        if not source or not all(isinstance(s, str) and s.startswith(("http://", "https://")) for s in source):
            raise _bad(file, bundled, "source must be one or more http(s) URLs", entry, "source", raw["source"])
        stats = raw["stats"]
        if not isinstance(stats, dict) or not all(isinstance(v, (int, float)) for v in stats.values()):
            raise _bad(file, bundled, "stats must map names to numbers", entry, "stats", stats)
        profiles[name] = DemandProfile(
            name=name,
            description=str(raw.get("description", "")),
            values=vals,
            rate_unit=str(raw.get("rate_unit", "1")),
            mean_rate=float(raw.get("mean_rate", 1.0)),
            source=tuple(source),
            source_files=tuple(str(s) for s in raw.get("source_files", [])),
            date=str(raw["date"]),
            confidence=str(raw["confidence"]),
            span_days=float(raw.get("span_days", 7.0)),
            weekly_shape=str(raw.get("weekly_shape", "")),
            stats=MappingProxyType({k: float(v) for k, v in stats.items()}),
        )
    aliases = {str(k).lower(): str(v) for k, v in (doc.get("aliases") or {}).items()}
    for alias, target in aliases.items():
        if target not in profiles:
            raise _bad(file, bundled, f"alias points at unknown profile '{target}'", "aliases", alias,
                       fix=f"point it at one of: {', '.join(sorted(profiles))}")
    notes = {k: str(doc[k]) for k in ("index", "normalisation", "weekday_alignment", "clock", "method") if k in doc}
    burst = {k: MappingProxyType(dict(v)) for k, v in (doc.get("burstiness") or {}).items()}
    return ProfileSet(MappingProxyType(profiles), MappingProxyType(aliases), MappingProxyType(burst), MappingProxyType(notes), file)


def bundled_path() -> Path:
    return Path(str(resources.files("gigafactory.demand") / "data" / "profiles.yaml"))


@lru_cache(maxsize=1)
def _bundled() -> ProfileSet:
    path = bundled_path()
    return parse_profiles(yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), "demand/data/profiles.yaml", bundled=True)


def load_profiles(path: str | Path | None = None) -> ProfileSet:
    """The bundled profiles (cached), or a user file at ``path`` (errors raise InputError)."""
    if path is None:
        return _bundled()
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError.single(f"cannot read demand profiles: {exc.strerror}", file=str(p), fix="check the path") from None
    except yaml.YAMLError as exc:
        raise InputError.single(f"not valid YAML: {exc}", file=str(p), fix="fix the YAML syntax") from None
    return parse_profiles(doc, str(p), bundled=False)


# ---------------------------------------------------------------------------------------------
# name-based accessors


def hourly_profile(name: str) -> np.ndarray:
    """The 168 hour-of-week relative rates (mean 1, hour 0 = Monday 00:00) of a named profile [1]."""
    return load_profiles()[name].values.copy()


def peak_to_mean(name: str) -> float:
    """Peak hourly rate over the mean rate of a named profile [1]."""
    return load_profiles()[name].peak_to_mean


def expand_profile(name: str, hours: int, start_weekday: int | str = 0, start_hour: int = 0) -> np.ndarray:
    """A named profile repeated over ``hours`` hours from a start weekday (0 = Monday or a name) and hour [1]."""
    if isinstance(start_weekday, str):
        key = start_weekday.strip().lower()
        matches = [i for i, d in enumerate(_WEEKDAYS) if d.startswith(key[:3])] if len(key) >= 3 else []
        if len(matches) != 1:
            raise InputError.single(f"unknown weekday '{start_weekday}'", field="start_weekday", value=start_weekday,
                                    fix="use monday..sunday or 0 (Monday) .. 6 (Sunday)")
        start_weekday = matches[0]
    return expand(load_profiles()[name].values, hours, start_weekday, start_hour)
