"""Request routers, by name: how a pool picks the replica for a request.

Each router sees the replicas' live state (work outstanding, prefix cache) at the instant
the request arrives, as a gateway such as NVIDIA Dynamo, llm-d or vLLM's router does.
"""
from __future__ import annotations

import difflib
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable

from gigafactory.errors import InputError, Problem

if TYPE_CHECKING:
    from gigafactory.simulate.engine import Replica


class Router:
    name = "base"
    central = False  # True: requests wait at the pool and free replicas pull them

    def choose(self, replicas: list["Replica"], rid: int, req: Any) -> "Replica":
        raise NotImplementedError


class RoundRobin(Router):
    """Replicas in turn, blind to load."""

    name = "round-robin"

    def __init__(self) -> None:
        self._next = 0

    def choose(self, replicas, rid, req):
        rep = replicas[self._next % len(replicas)]
        self._next += 1
        return rep


class LeastOutstanding(Router):
    """The replica with the fewest tokens of work routed to it and not yet done
    (prompt + output tokens); ties go to the lowest index."""

    name = "least-outstanding"

    def choose(self, replicas, rid, req):
        return min(replicas, key=_outstanding)


class PrefixAware(Router):
    """KV/prefix-aware: the replica whose outstanding work, less the prompt tokens it already
    holds in its prefix cache, is smallest (the scoring idea of Mooncake's Conductor and
    llm-d's prefix scorer: a cache hit saves prefill work, load still counts)."""

    name = "prefix-aware"

    def choose(self, replicas, rid, req):
        if req.hashes is None:
            return min(replicas, key=_outstanding)
        return min(replicas, key=lambda r: r.outstanding - r.cached_prefix_tokens(rid))


class CentralQueue(Router):
    """One first-come-first-served queue per pool; a replica takes the head request when it
    has a free slot (work-conserving, as an M/M/c queue)."""

    name = "central-queue"
    central = True

    def choose(self, replicas, rid, req):  # pragma: no cover - the pool pulls instead
        raise RuntimeError("central-queue pools dispatch by pulling")


#: a replica's outstanding work; attrgetter is C code: the routers' min over a pool of hundreds of
#: replicas, once per request, is the simulator's hottest loop
_outstanding = attrgetter("outstanding")


ROUTERS: dict[str, Callable[[], Router]] = {
    RoundRobin.name: RoundRobin,
    LeastOutstanding.name: LeastOutstanding,
    PrefixAware.name: PrefixAware,
    CentralQueue.name: CentralQueue,
}


def make_router(name: str, field: str = "simulation.router", file: str | None = None) -> Router:
    try:
        return ROUTERS[name]()
    except KeyError:
        near = difflib.get_close_matches(name, list(ROUTERS), n=1)
        raise InputError([Problem(
            f"unknown router {name!r}" + (f"; did you mean {near[0]!r}?" if near else ""),
            file=file, field=field, value=name, expected="one of " + ", ".join(ROUTERS),
            fix="pick a router from the list")]) from None
