"""Dotted paths into a scenario's JSON form: ``finance.wacc``, ``sites[0].facility_power_mw``,
``sites[*].region`` (every element), ``demand.contracts[0].price_usd_per_gpu_hour``.

Pure functions over plain dicts and lists.  A path must name a key that the validated base
scenario has (its JSON dump lists every field, unset optional ones as null), so a typo is found
before any point runs, with a "did you mean" from the keys that exist there.
"""
from __future__ import annotations

import copy
import difflib
import re
from typing import Any

Step = str | int  # a key, an index, or "*" for every element

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")


class PathError(ValueError):
    """A path that does not parse or does not exist; ``expected`` and ``fix`` are for the Problem."""

    def __init__(self, message: str, expected: str | None = None, fix: str | None = None):
        super().__init__(message)
        self.expected = expected
        self.fix = fix


def parse_path(path: str) -> tuple[Step, ...]:
    """``"sites[0].region"`` -> ``("sites", 0, "region")``; ``[*]`` becomes ``"*"``."""
    text = path.strip()
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "." and steps and pos + 1 < len(text):
            pos += 1
        m = _TOKEN.match(text, pos)
        if m is None:
            raise PathError(f"cannot read the path {path!r} at character {pos + 1}", expected="keys joined by dots, list items as [0] or [*], "
                            "e.g. sites[0].facility_power_mw", fix="write the path as in docs/sweeps.md")
        key, index = m.groups()
        steps.append(key if key is not None else ("*" if index == "*" else int(index)))
        pos = m.end()
    if not steps or not isinstance(steps[0], str):
        raise PathError(f"the path {path!r} must start with a scenario section", expected="e.g. finance.wacc", fix="start with a top-level key")
    return tuple(steps)


def format_steps(steps: tuple[Step, ...]) -> str:
    out = ""
    for s in steps:
        out += f"[{s}]" if isinstance(s, int) or s == "*" else (f".{s}" if out else s)
    return out


def check_path(data: Any, steps: tuple[Step, ...]) -> None:
    """Raise :class:`PathError` unless every step of ``steps`` exists in ``data``."""
    node = data
    for depth, step in enumerate(steps):
        here = format_steps(steps[:depth]) or "the scenario"
        rest = steps[depth + 1:]
        if isinstance(step, str) and step != "*":
            if not isinstance(node, dict):
                raise PathError(f"{here} is a {_kind(node)}, it has no key {step!r}", expected=f"a path ending at {here}",
                                fix=f"drop .{step} from the path")
            if step not in node:
                close = difflib.get_close_matches(step, [str(k) for k in node], n=1, cutoff=0.5)
                raise PathError(f"{here} has no key {step!r}" + (f" — did you mean {close[0]!r}?" if close else ""),
                                expected=f"one of: {', '.join(map(str, node))}",
                                fix=f"write {format_steps(steps[:depth] + (close[0],) + rest)}" if close else "use a key listed in docs/scenario.md")
            node = node[step]
            continue
        if not isinstance(node, list):
            raise PathError(f"{here} is a {_kind(node)}, not a list", expected=f"{here}.<key>", fix="index only lists with [i] or [*]")
        if step == "*":
            if not node:
                raise PathError(f"{here} is an empty list, so [*] sets nothing", fix="add entries to the base scenario or drop the parameter")
            for item in node:
                check_path(item, rest)
            return
        if not 0 <= step < len(node):
            raise PathError(f"{here} has {len(node)} entries, so index [{step}] does not exist",
                            expected=f"an index from 0 to {len(node) - 1}", fix=f"use {format_steps(steps[:depth] + (len(node) - 1,) + rest)} or add an entry")
        node = node[step]


def get_path(data: Any, steps: tuple[Step, ...]) -> Any:
    """The value at ``steps`` (a list of values under ``[*]``)."""
    node = data
    for i, step in enumerate(steps):
        if step == "*":
            return [get_path(item, steps[i + 1:]) for item in node]
        node = node[step]
    return node


def set_path(data: Any, steps: tuple[Step, ...], value: Any) -> None:
    """Set ``value`` at ``steps`` in place (every element under ``[*]``)."""
    node = data
    for i, step in enumerate(steps[:-1]):
        if step == "*":
            for item in node:
                set_path(item, steps[i + 1:], value)
            return
        node = node[step]
    last = steps[-1]
    if last == "*":
        for j in range(len(node)):
            node[j] = copy.deepcopy(value)
    else:
        node[last] = copy.deepcopy(value)


def apply_values(base: dict[str, Any], assignments: list[tuple[tuple[Step, ...], Any]]) -> dict[str, Any]:
    """A deep copy of ``base`` with each ``(steps, value)`` set, in order (a later one wins)."""
    out = copy.deepcopy(base)
    for steps, value in assignments:
        set_path(out, steps, value)
    return out


def _kind(node: Any) -> str:
    return {dict: "mapping", list: "list", type(None): "null value"}.get(type(node), f"{type(node).__name__} value")
