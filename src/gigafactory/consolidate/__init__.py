"""Consolidation: N separate clusters (one per tenant, each sized for its own peak and SLO)
against one shared factory serving the same demand, by simulation on real per-client demand
(ServeGen).  ``consolidate_scenario`` is the entry point; docs/consolidation.md the method."""
from __future__ import annotations

from gigafactory.consolidate.demand import Tenant, servegen_tenants
from gigafactory.consolidate.run import consolidate_scenario, consolidate_tenants
from gigafactory.consolidate.sizing import UnitModel, queue_unit, scenario_unit, size_pool

__all__ = ["Tenant", "UnitModel", "consolidate_scenario", "consolidate_tenants", "queue_unit", "scenario_unit", "servegen_tenants",
           "size_pool"]
