"""Rollout planner: deployment schedule to first production token and full capacity (CP-SAT), with risk."""
