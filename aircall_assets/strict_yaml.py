"""YAML read for a settings file: a key written twice is an error, and so is any YAML error,
in one line that says where.

PyYAML keeps the last of two equal keys silently, so the first would look in effect to whoever
reads the file; and its own error text spans several lines that a one-line-per-mistake report
cannot hold.
"""

from __future__ import annotations

from typing import Any

import yaml


def read_yaml(text: str) -> Any:
    """The document ``text`` holds; ValueError ``line L, column C: not valid YAML: ...``."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        raise ValueError(_one_line(exc)) from None
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from None


def _one_line(exc: yaml.MarkedYAMLError) -> str:
    """One line: where the YAML breaks and why (PyYAML's own text spans several)."""
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    context = exc.context or ""
    if context and exc.context_mark is not None and exc.context_mark is not mark:
        context += f" (line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
    return f"{where}not valid YAML: {exc.problem or ''}" + (f", {context}" if context else "")


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML where a key written twice in one mapping is an error: PyYAML would keep the
    last one silently, and the first would look in effect to whoever reads the file."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key '{key}' is written twice (lines {seen[key]} and {line}); keep one",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _UniqueKeyLoader.construct_mapping
)
