"""The sourced catalog: hardware, models, network, facility equipment, regions and costs.

Data lives in ``catalog/data/<kind>.yaml``; each kind's attributes (type, unit,
description) are declared once in ``catalog/data/schema/<kind>.yaml``.  Every numeric
value carries its unit, source and date; values are converted to the schema's unit at
load time and kept with their provenance.
"""
from gigafactory.catalog.loader import (
    KINDS,
    Catalog,
    Entry,
    Provenance,
    load_catalog,
)

__all__ = ["KINDS", "Catalog", "Entry", "Provenance", "load_catalog"]
