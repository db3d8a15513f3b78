"""Sweeps over scenarios on Ray (issue 19): a spec of parameters (dotted paths into a base
scenario) sampled as a grid, random, Latin hypercube or Sobol' points; each point runs the
pipeline as a Ray task with the stage cache; results go to a resumable folder, a Parquet table
queried with DuckDB, and an analysis page (Pareto front, Sobol' indices).  See docs/sweeps.md.

Ray, DuckDB, PyArrow and SALib (the ``sweep`` extra) are imported only where used, so
``import gigafactory.sweep`` and ``gigafactory plan`` never load them.
"""
from gigafactory.sweep.analysis import feasible_mask, pareto_mask, sobol_indices
from gigafactory.sweep.metrics import METRICS
from gigafactory.sweep.spec import Sweep, SweepSpec, load_sweep, parse_sweep_text

__all__ = ["METRICS", "Sweep", "SweepSpec", "feasible_mask", "load_sweep", "pareto_mask", "parse_sweep_text", "sobol_indices"]
