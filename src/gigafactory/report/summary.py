"""Headline numbers of a plan result, each with its path in result.json and its displayed text.

The report shows ``text`` and embeds the whole list as JSON (``gf-summary``), so a test (or a
reader's script) can check that every displayed headline number is the one in result.json.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from gigafactory.display import human


@dataclass(frozen=True)
class Headline:
    """One headline number: where it is in result.json and how the report shows it."""

    id: str
    label: str
    path: tuple[str, ...]
    value: Any
    text: str

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = list(self.path)
        return d


def lookup(result: dict[str, Any], path: tuple[str, ...] | list[str]) -> Any:
    """The value at ``path`` (keys) in a nested result dict."""
    value: Any = result
    for key in path:
        value = value[key]
    return value


# ---- formatting (the only place the report turns numbers into text) ----

def fmt_days(days: float | None) -> str:
    """'325 days' for 324.88 [days]."""
    return "—" if days is None else f"{days:.0f} days"


def fmt_usd(usd: float | None) -> str:
    """'183.3 B USD' for 1.833e11 [USD] (the CLI's format)."""
    return human(usd, "USD")


def fmt_mw(mw: float | None) -> str:
    return "—" if mw is None else f"{mw:,.1f} MW"


def fmt_count(n: float | None) -> str:
    return "—" if n is None else f"{int(round(n)):,}"


def fmt_ratio(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def fmt_percent(x: float | None) -> str:
    """'447.4 %' for 4.474 [fraction]; '—' when undefined (e.g. no IRR)."""
    return "—" if x is None else f"{x * 100:.1f} %"


def fmt_months(months: float | None) -> str:
    return "not within the horizon" if months is None else f"{months:.1f} months"


def fmt_usd_per_mtok(usd: float | None) -> str:
    return "—" if usd is None else f"{usd:.3g} USD/Mtok"


def fmt_usd_per_gpu_hour(usd: float | None) -> str:
    return "—" if usd is None else f"{usd:.2f} USD/GPU-h"


def date_after(start: str, days: float | None) -> str | None:
    """ISO date ``days`` after ``start`` (YYYY-MM-DD), or None."""
    if days is None:
        return None
    return (dt.date.fromisoformat(str(start)[:10]) + dt.timedelta(days=float(days))).isoformat()


def headlines(result: dict[str, Any]) -> list[Headline]:
    """The report's headline numbers, in display order."""
    ro, ec = result["rollout"], result["economics"]
    items: list[Headline] = []

    def add(id_: str, label: str, path: tuple[str, ...], fmt) -> None:
        try:
            value = lookup(result, path)
        except (KeyError, IndexError, TypeError):
            return
        items.append(Headline(id_, label, path, value, fmt(value)))

    add("ttft_days_p50", "Deployment TTFT (first production token), P50", ("rollout", "ttft_days"), fmt_days)
    add("ttft_days_p10", "Deployment TTFT, P10", ("rollout", "ttft_days_p10"), fmt_days)
    add("ttft_days_p90", "Deployment TTFT, P90", ("rollout", "ttft_days_p90"), fmt_days)
    add("first_token_date", "First production token (P50 date)", ("rollout", "first_token_date"), lambda v: str(v))
    add("plan_ttft_days", "Deployment TTFT, base plan (mode durations)", ("rollout", "plan_ttft_days"), fmt_days)
    start = ro.get("start_date")
    add("full_capacity_days_p50", "Full capacity, P50", ("rollout", "full_capacity_days"),
        lambda v: f"{fmt_days(v)} ({date_after(start, v)})" if v is not None and start else fmt_days(v))
    add("full_capacity_days_p90", "Full capacity, P90", ("rollout", "full_capacity_days_p90"), fmt_days)
    m = result.get("methods") or {}
    rows = m.get("methods") or []
    chosen = next((i for i, r in enumerate(rows) if r["method"] == m.get("chosen")), None)
    if chosen is not None and m.get("chosen") != m.get("baseline"):
        base = m["baseline"]
        add("weeks_sooner_than_baseline", f"First token vs {base} ({m['chosen']})", ("methods", "methods", chosen, "weeks_sooner_than_baseline"),
            lambda v: f"{abs(v):.0f} weeks {'sooner' if v >= 0 else 'later'}")
        add("value_of_time_saved_usd", "Worth of that time (cost of delay)", ("methods", "methods", chosen, "value_of_time_saved_usd"), fmt_usd)
        if m.get("fast_track") and m.get("chosen") != m.get("fast_track"):
            add("weeks_sooner_than_fast_track", f"First token vs {m['fast_track']} ({m['chosen']})",
                ("methods", "methods", chosen, "weeks_sooner_than_fast_track"),
                lambda v: "—" if v is None else f"{abs(v):.0f} weeks {'sooner' if v >= 0 else 'later'}")
    add("gpus", "GPUs", ("design", "gpus"), fmt_count)
    add("racks", "Racks", ("design", "racks"), fmt_count)
    add("it_power_mw", "IT power (max)", ("design", "it_power_mw"), fmt_mw)
    add("facility_power_mw", "Facility power (design)", ("design", "facility_power_mw"), fmt_mw)
    add("pue", "PUE (annual, energy-weighted)", ("design", "pue"), fmt_ratio)
    add("capex_usd", "Capex", ("design", "capex_usd"), fmt_usd)
    if (result.get("demand") or {}).get("mode") == "modelled":
        add("utilisation", "Utilisation (sold / in service)", ("demand", "utilisation"), fmt_percent)
        add("revenue_per_gw_year_usd", "Revenue per GW-year (last year)", ("demand", "revenue_per_gw_year_usd"), fmt_usd)
    add("npv_usd", "NPV", ("economics", "npv_usd"), fmt_usd)
    add("irr", "IRR (yearly)", ("economics", "irr"), fmt_percent)
    add("payback_months", "Payback", ("economics", "payback_months"), fmt_months)
    mc = ec.get("monte_carlo") or {}
    if mc:
        add("npv_p10_usd", "NPV P10 (Monte Carlo)", ("economics", "monte_carlo", "npv_p10_usd"), fmt_usd)
        add("npv_p50_usd", "NPV P50 (Monte Carlo)", ("economics", "monte_carlo", "npv_p50_usd"), fmt_usd)
        add("npv_p90_usd", "NPV P90 (Monte Carlo)", ("economics", "monte_carlo", "npv_p90_usd"), fmt_usd)
    add("cost_per_gpu_hour_usd", "Cost per GPU-hour (levelised)", ("economics", "cost_per_gpu_hour_usd"), fmt_usd_per_gpu_hour)
    for model in (ec.get("cost_per_mtok_usd") or {}):
        add(f"cost_per_mtok_usd:{model}", f"Cost per Mtok, {model}", ("economics", "cost_per_mtok_usd", model), fmt_usd_per_mtok)
    return items


def summary_json(result: dict[str, Any]) -> dict[str, Any]:
    """The machine-readable headline block embedded in the report as ``gf-summary``."""
    return {
        "scenario_name": result.get("scenario_name"),
        "seed": result.get("seed"),
        "catalog_version": result.get("catalog_version"),
        "gigafactory_version": result.get("gigafactory_version"),
        "sites": [s["name"] for s in result["design"]["sites"]],
        "models": list(result.get("serving") or {}),
        "headlines": [h.as_dict() for h in headlines(result)],
    }
