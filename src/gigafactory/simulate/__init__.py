"""Serving simulator: discrete-event simulation of request traffic on the factory's fleet.

Layers: ``kernel`` (event queue) -> ``cost`` (step times from the performance model) ->
``engine`` (replicas and pools) -> ``router`` -> ``sim`` (the loop) -> ``metrics``;
``workload`` reads traces and makes synthetic arrivals; ``run`` builds the scenario's fleet.
"""
