"""Deterministic discrete-event core: a heap of events ordered by (time, priority, sequence).

Why our own and not SimPy: the replica engine advances whole runs of identical decode steps
in closed form and must cut such a run short when a request arrives.  With SimPy that is a
process interrupt per arrival plus a generator switch per event (several microseconds each);
here a run is one heap entry, and cutting it short is a version bump that makes the old
entry stale (lazy deletion).  Ties at the same time are broken by priority, then by the
order of scheduling, so a run is reproducible bit for bit.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, Callable

#: replica step boundaries run before arrivals at the same instant, so capacity freed by a
#: finishing step is visible to the arrival that lands on it.
PRIORITY_STEP = 0
PRIORITY_TRANSFER = 1
PRIORITY_ARRIVAL = 2
PRIORITY_SAMPLE = 3
#: interrupts (a replica failing or coming back) run first at their instant: a step that would
#: end at the moment its replica dies is lost with it.  Negative so that no existing ordering moves.
PRIORITY_INTERRUPT = -1


@dataclass(frozen=True)
class Interrupt:
    """A typed cause that stops (``up`` False) or restarts (``up`` True) one replica of a pool.

    ``cause`` names the component class (``operations/data/failures.yaml``: "gpu", "hbm",
    "nvlink_switch_tray", ...) or "repaired"; ``pool`` and ``replica`` address the target by the
    pool's name and the replica's position in ``Pool.members()``.  ``down_s`` is how long the
    replica stays out [s] when the interrupt is a failure and its recovery is scheduled with it
    (None: the caller schedules the recovery itself).
    """

    cause: str
    pool: str
    replica: int
    up: bool = False
    down_s: float | None = None


class EventQueue:
    """Future events; ``action(time, arg)`` is called when an event is due."""

    __slots__ = ("_heap", "_seq", "processed")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, Callable[[float, Any], None], Any]] = []
        self._seq = 0
        self.processed = 0

    def push(self, time_s: float, priority: int, action: Callable[[float, Any], None], arg: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (time_s, priority, self._seq, action, arg))

    def next_key(self) -> tuple[float, int]:
        """(time, priority) of the next event; (inf, 0) when empty."""
        if not self._heap:
            return (float("inf"), 0)
        head = self._heap[0]
        return (head[0], head[1])

    def pop_and_run(self) -> float:
        time_s, _, _, action, arg = heapq.heappop(self._heap)
        self.processed += 1
        action(time_s, arg)
        return time_s

    def __len__(self) -> int:
        return len(self._heap)
