"""Demand and market data: who buys tokens and GPU-hours, at what price, when.

Sourced data in ``demand/data/`` (prices.yaml, market.yaml, profiles.yaml) and the pure loaders
and profile functions the demand stage reads.  Every number carries its unit, source, date and
confidence; see docs/market.md.
"""
from gigafactory.demand.market import (
    MarketData,
    PriceBook,
    PriceQuote,
    PriceSummary,
    Sourced,
    load_market,
    load_prices,
    price_summary,
)
from gigafactory.demand.profiles import (
    HOURS_PER_WEEK,
    DemandProfile,
    ProfileSet,
    expand_profile,
    hourly_profile,
    load_profiles,
    peak_to_mean,
    profile_stats,
)

__all__ = [
    "HOURS_PER_WEEK",
    "DemandProfile",
    "MarketData",
    "PriceBook",
    "PriceQuote",
    "PriceSummary",
    "ProfileSet",
    "Sourced",
    "expand_profile",
    "hourly_profile",
    "load_market",
    "load_prices",
    "load_profiles",
    "peak_to_mean",
    "price_summary",
    "profile_stats",
]
