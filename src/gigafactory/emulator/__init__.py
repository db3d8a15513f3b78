"""The virtual factory behind an OpenAI-compatible endpoint (``gigafactory serve``; docs/emulator.md).

Layers: ``fleet`` (serving configurations from the pipeline -> live pools of the simulator's
replica engine) -> ``driver`` (the engines advanced in wall-clock time, tokens to streams) ->
``protocol`` (OpenAI requests and errors, pure) -> ``app`` (FastAPI routes, SSE, metrics).
FastAPI, uvicorn, prometheus-client and tokenizers are the ``serve`` extra; importing this
package does not import them.
"""
from gigafactory.emulator.fleet import LivePool, build_pool, explicit_spec, scenario_specs, with_replicas

__all__ = ["LivePool", "build_pool", "explicit_spec", "scenario_specs", "with_replicas"]
