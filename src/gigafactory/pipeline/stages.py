"""The stages of the twin, in one order:

    scenario ─> design ─> serving ─┬─> simulation ─────────────────────────┐
                                   └─> rollout ─> demand ─> economics ─> methods ┴─> plan
                design ─> successor ────────────────^
    scenario ─> design_choice (on demand: `gigafactory design --compare`)

Each stage is a thin wrapper over its module's orchestrator, declaring what it reads.  The
design stage reads the sites, systems, fabric and cost profile; serving reads the workloads'
models, lengths and SLOs (not their prices); the simulation reads the simulation section and
the utilisation; the rollout reads the rollout section and the sites; economics reads the
finance section and the prices; the successor (the next system generation serving the same
workloads, when the price decline is priced from it) reads what serving reads and the price
decline.  So a change of price re-runs demand, economics (and the plan's assembly) only.
"""
from __future__ import annotations

from gigafactory.pipeline.graph import Inputs, Stage
from gigafactory.scenario.model import Scenario
from gigafactory.results.design import DesignChoice, DesignResult
from gigafactory.results.demand import DemandResult
from gigafactory.results.devices import DevicesResult
from gigafactory.results.economics import EconomicsResult
from gigafactory.results.methods import MethodComparison, MethodRollouts
from gigafactory.results.operations import OperationsResult
from gigafactory.results.plan import PlanResult
from gigafactory.results.rollout import RolloutResult
from gigafactory.results.serving import ServingResult
from gigafactory.results.simulation import SimulationResult

# Scenario paths (JSON form) each stage reads.  tests/test_pipeline.py checks them against
# what the stages actually touch.
DESIGN_READS = ("name", "sites", "systems", "fabric", "finance.cost_profile")
SERVING_READS = ("workloads[*].model", "workloads[*].share", "workloads[*].precision", "workloads[*].isl_tokens",
                 "workloads[*].osl_tokens", "workloads[*].slo", "workloads[*].speculative_tokens",
                 "simulation.trace", "finance.utilisation")  # p99s are judged on the traffic the simulation replays
SUCCESSOR_READS = SERVING_READS + ("finance.price_decline_per_year",)  # 'next-generation' serves the successor system
SIMULATION_READS = SERVING_READS + ("seed", "simulation", "finance.utilisation")
ROLLOUT_READS = ("seed", "sites", "rollout", "finance.cost_profile", "finance.horizon_years")  # the horizon prices the power paths
OPERATIONS_READS = ("finance.cost_profile", "finance.horizon_years", "finance.gpu_hour_price_usd", "demand.contracts", "operations")
DEVICES_READS = ("seed", "sites[*].region", "devices", "workloads[*].model", "workloads[*].share", "workloads[*].isl_tokens",
                 "workloads[*].osl_tokens", "demand.tokens[*].model", "demand.tokens[*].output_tokens_per_day", "demand.tokens[*].profile",
                 "demand.contracts[*].share_of_gpus", "finance.cost_profile")  # not prices: a price sweep reuses it
DEMAND_READS = ("workloads", "demand", "rollout.start_date", "finance.horizon_years", "finance.price_decline_per_year",
                "finance.utilisation", "finance.cost_profile", "devices.price_discount")  # not the WACC or tax: a change of them reuses the demand
ECONOMICS_READS = ("seed", "sites", "workloads", "demand", "rollout.start_date", "finance")
PLAN_READS = tuple(Scenario.model_fields)  # the plan echoes the whole scenario


def _design(i: Inputs) -> DesignResult:
    from gigafactory.design.factory import design_factory

    return design_factory(i.cat, i.scn)


def _design_choice(i: Inputs) -> DesignChoice:
    from gigafactory.design.choice import compare_systems
    from gigafactory.design.factory import design_factory

    return compare_systems(i.cat, i.scn, design_factory)


def _serving(i: Inputs) -> ServingResult:
    from gigafactory.design.choice import serving_rates

    return serving_rates(i.cat, i.scn, i["design"])


def _successor(i: Inputs) -> ServingResult:
    from gigafactory.design.choice import successor_serving

    return successor_serving(i.cat, i.scn, i["design"])


def _simulation(i: Inputs) -> SimulationResult:
    from gigafactory.simulate.run import simulate_scenario

    o = i.options
    return simulate_scenario(i.cat, i.scn, i["design"], i["serving"], trace=o.trace, rate_rps=o.rate_rps, duration_s=o.duration_s, router=o.router,
                             workers=o.sim_workers, target_ci=o.sim_target_ci)


def _rollout(i: Inputs) -> RolloutResult:
    from gigafactory.design.choice import mix_tok_s_per_gpu
    from gigafactory.rollout.plan import plan_rollout

    return plan_rollout(i.cat, i.scn, i["design"], mix_tok_s_per_gpu(i["design"], i["serving"]),
                        samples=i.options.rollout_samples, exact=i.options.rollout_exact)


def _operations(i: Inputs) -> OperationsResult:
    from gigafactory.operations.stage import OperationsSpec, run_operations

    return run_operations(i.cat, i.scn, i["design"], i["serving"], i["rollout"], OperationsSpec(**i.scn.operations.model_dump()))


def _devices(i: Inputs) -> DevicesResult:
    from gigafactory.devices.stage import run_devices

    return run_devices(i.cat, i.scn, i["design"], i["serving"])


def _demand(i: Inputs) -> DemandResult:
    from gigafactory.demand.serve import run_demand

    return run_demand(i.cat, i.scn, i["design"], i["serving"], i["rollout"], i["devices"], i["operations"], i["successor"])


def _economics(i: Inputs) -> EconomicsResult:
    from gigafactory.economics.run import run_economics

    return run_economics(i.cat, i.scn, i["design"], i["rollout"], i["serving"], i.options.economics_samples, demand=i["demand"],
                         operations=i["operations"])


def _method_rollouts(i: Inputs) -> MethodRollouts:
    from gigafactory.methods import schedule_methods

    return schedule_methods(i.cat, i.scn, i["design"], i["serving"], rollout_samples=i.options.rollout_samples, exact=i.options.rollout_exact)


def _methods(i: Inputs) -> MethodComparison:
    from gigafactory.methods import compare_methods

    return compare_methods(i.cat, i.scn, i["design"], i["serving"], i["rollout"], i["economics"], i["method_rollouts"], i["demand"],
                           i["devices"], i["operations"], i["successor"])


def _plan(i: Inputs) -> PlanResult:
    from gigafactory.plan import assemble_plan

    return assemble_plan(i.cat, i.scn, i["design"], i["serving"], i["simulation"], i["rollout"], i["economics"], i["methods"], i["demand"],
                         i["devices"], i["operations"])


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("design", (), DESIGN_READS, (), DesignResult, _design,
          "SUs, racks, fabric, power chain, cooling, PUE/WUE, floor, BOM and capex per site"),
    Stage("design_choice", (), DESIGN_READS + SERVING_READS, (), DesignChoice, _design_choice,
          "the whole programme designed with each candidate system, ranked by tokens/s per MW and per capex dollar"),
    Stage("serving", ("design",), SERVING_READS, (), ServingResult, _serving,
          "best serving configuration per (system, model) under the model's SLO"),
    Stage("successor", ("design",), SUCCESSOR_READS, (), ServingResult, _successor,
          "the main system's successor serving the same workloads, when the price decline is priced from it"),
    Stage("simulation", ("design", "serving"), SIMULATION_READS, ("trace", "rate_rps", "duration_s", "router", "sim_target_ci"), SimulationResult, _simulation,
          "discrete-event serving simulation of the fleet"),
    Stage("rollout", ("design", "serving"), ROLLOUT_READS, ("rollout_samples", "rollout_exact"), RolloutResult, _rollout,
          "build plan, deployment time to first token, ramp, risk"),
    Stage("operations", ("design", "serving", "rollout"), OPERATIONS_READS, (), OperationsResult, _operations,
          "failures, blast radius, spares and technicians, availability per site and month"),
    Stage("devices", ("design", "serving"), DEVICES_READS, (), DevicesResult, _devices,
          "device fleets: requests routed between device and factory, latency, energy, the offloaded load and what it needs"),
    Stage("demand", ("design", "serving", "successor", "rollout", "operations", "devices"), DEMAND_READS, (), DemandResult, _demand,
          "demand against capacity under SLO hour by hour: served tokens, contracts, utilisation, revenue"),
    Stage("economics", ("design", "serving", "rollout", "operations", "demand"), ECONOMICS_READS, ("economics_samples",), EconomicsResult, _economics,
          "cash flows, levelised costs, NPV/IRR, tornado, Monte Carlo"),
    Stage("method_rollouts", ("design", "serving"), ROLLOUT_READS, ("rollout_samples", "rollout_exact"), MethodRollouts, _method_rollouts,
          "the design scheduled under every other build method"),
    Stage("methods", ("design", "serving", "successor", "rollout", "operations", "devices", "demand", "economics", "method_rollouts"),
          tuple(dict.fromkeys(ROLLOUT_READS + DEMAND_READS + ECONOMICS_READS)), (), MethodComparison, _methods,
          "the same design under every build method: first token, NPV, weeks sooner than stick-built and their worth"),
    Stage("plan", ("design", "serving", "simulation", "rollout", "operations", "devices", "demand", "economics", "methods"), PLAN_READS, (), PlanResult, _plan,
          "result.json: every stage's figures with provenance"),
)}
