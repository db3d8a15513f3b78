"""gigafactory: an open digital twin of an AI factory.

catalog -> scenario -> the pipeline's stages (design -> serving -> simulation -> rollout ->
economics -> plan, see gigafactory.pipeline) -> report.  The public API is re-exported here.
"""
from importlib.metadata import PackageNotFoundError, version

from gigafactory.catalog import Catalog, load_catalog
from gigafactory.checks import CHECKS, run_checks
from gigafactory.errors import InputError, Problem
from gigafactory.scenario import Scenario, load_scenario, parse_scenario_text

try:
    __version__ = version("gigafactory")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = [
    "CHECKS",
    "Catalog",
    "InputError",
    "Problem",
    "Scenario",
    "__version__",
    "load_catalog",
    "load_scenario",
    "parse_scenario_text",
    "run_checks",
]
