"""Scenario files: YAML in, a validated, frozen :class:`Scenario` out."""
from gigafactory.scenario.load import default_scenario_path, load_scenario, parse_scenario_text
from gigafactory.scenario.model import Scenario

__all__ = ["Scenario", "default_scenario_path", "load_scenario", "parse_scenario_text"]
