"""Read YAML while remembering where each value came from (line numbers for messages)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from gigafactory.errors import InputError, Problem

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    data: Any
    lines: dict[Path_, int]  # path -> 1-based line of the key (or item)
    file: str

    def line(self, path: Path_) -> int | None:
        """Line of ``path`` or of its nearest parent that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[Problem], file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(
                        f"key '{key}' appears twice (lines {seen[key]} and {line}); YAML would silently keep the last one",
                        file=file,
                        line=line,
                        field=_fmt(path + (key,)),
                        fix="delete or rename one of them",
                        check="duplicate-key",
                    )
                )
            seen[key] = line
            lines[path + (key,)] = line
            _walk(value_node, path + (key,), lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _walk(item, path + (i,), lines, problems, file)


def _fmt(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


format_path = _fmt


def read_yaml_text(text: str, file: str) -> YamlDocument:
    """Parse one YAML document from ``text``; every failure is an InputError."""
    if not text.strip():
        raise InputError.single(
            "the file is empty",
            file=file,
            expected="a YAML scenario (see docs/scenario.md)",
            fix="start from the bundled default: `gigafactory scenario init my.yaml`",
            check="not-empty",
        )
    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError.single(
            f"not valid YAML: {reason}",
            file=file,
            line=(mark.line + 1) if mark else None,
            expected="YAML mappings like `key: value`, lists with `- item`",
            fix="check indentation and quoting near that line",
            check="yaml-syntax",
        ) from None
    docs = [d for d in docs if d is not None]
    if not docs:
        raise InputError.single("the file holds no YAML content (only comments?)", file=file, fix="add the scenario sections", check="not-empty")
    if len(docs) > 1:
        raise InputError.single(
            f"the file holds {len(docs)} YAML documents; a scenario is one",
            file=file,
            line=docs[1].start_mark.line + 1,
            fix="remove the `---` separators or split into several files",
            check="single-document",
        )
    root = docs[0]
    if not isinstance(root, yaml.MappingNode):
        raise InputError.single(
            "the top level must be a mapping of sections (name, sites, systems, workloads, ...)",
            file=file,
            line=root.start_mark.line + 1,
            value=_preview(text),
            expected="`name: ...` on the first line, then the other sections",
            fix="see docs/scenario.md or `gigafactory scenario init`",
            check="top-level-mapping",
        )
    lines: dict[Path_, int] = {}
    problems: list[Problem] = []
    _walk(root, (), lines, problems, file)
    if problems:
        raise InputError(problems)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # constructor errors (e.g. bad tags)
        raise InputError.single(f"not valid YAML: {exc}", file=file, check="yaml-syntax") from None
    return YamlDocument(data=data, lines=lines, file=file)


def _preview(text: str) -> str:
    first = text.strip().splitlines()[0]
    return first[:80]
