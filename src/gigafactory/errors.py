"""Error types shared by every entry point.

Bad user input raises :class:`InputError` carrying one or more :class:`Problem` records;
the CLI prints them and exits with code 2.  Anything else escaping is an internal error
(exit code 1).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_MISSING = object()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, phrased so a person can fix it."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    value: Any = _MISSING
    expected: str | None = None
    fix: str | None = None
    check: str | None = None

    def location(self) -> str:
        if not self.file:
            return self.field or "input"
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f": {self.field}"
        return where

    def render(self) -> str:
        lines = [f"{self.location()}: {self.message}"]
        if self.value is not _MISSING:
            lines.append(f"  value:    {_short(self.value)}")
        if self.expected:
            lines.append(f"  expected: {self.expected}")
        if self.fix:
            lines.append(f"  fix:      {self.fix}")
        if self.check:
            lines.append(f"  check:    {self.check}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "expected": self.expected,
            "fix": self.fix,
            "check": self.check,
        }
        if self.value is not _MISSING:
            out["value"] = _jsonable(self.value)
        return out


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


@dataclass
class InputError(Exception):
    """Bad input from a user: a file, a field, a flag.  Exit code 2."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.render())

    @classmethod
    def single(cls, message: str, **kwargs: Any) -> "InputError":
        return cls([Problem(message, **kwargs)])

    def render(self) -> str:
        head = "1 problem" if len(self.problems) == 1 else f"{len(self.problems)} problems"
        return f"invalid input ({head}):\n" + "\n".join(p.render() for p in self.problems)

    def __str__(self) -> str:  # dataclass would otherwise print the field list
        return self.render()


class CatalogDataError(Exception):
    """The bundled catalog data is inconsistent: a bug in the package, not user input."""
