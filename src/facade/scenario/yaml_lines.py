"""YAML with line marks: the scenario file's text as plain dicts and lists that remember the
1-based line of every key and item.

The loader is PyYAML's safe loader, refusing what a scenario never needs (aliases, merge keys,
duplicate keys, keys that are not plain values). Every YAML error is translated here, once, into
`Invalid` with `where` = "FILE:LINE[:COLUMN]". Called by the reader (reader.py); the sections
read the `Map` and `Seq` it returns.
"""

from __future__ import annotations

from typing import Any

import yaml

from facade.domain.errors import Invalid


class Map(dict[Any, Any]):
    """A YAML mapping that remembers its line and the line of each key (1-based)."""

    line: int = 1
    key_lines: dict[Any, int]


class Seq(list[Any]):
    """A YAML sequence that remembers its line and the line of each item (1-based)."""

    line: int = 1
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """A safe loader that keeps line numbers, refuses duplicate keys, aliases and merge keys."""

    filename = "<scenario>"

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not supported in scenario files",
                event.start_mark)
        return super().compose_node(parent, index)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, Invalid, RecursionError):
            raise
        except Exception as exc:  # PyYAML's own constructors, on hostile text
            # bad values for explicit or implicit tags (!!int abc, !!bool maybe,
            # 2001-13-45, !!timestamp 1...) raise ValueError, KeyError, AttributeError...
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            shown = f" {node.value!r}" if isinstance(node, yaml.ScalarNode) else ""
            why = f" ({exc})" if isinstance(exc, ValueError) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {tag} value{shown}{why}", node.start_mark) from exc

    def _construct_map(self, node: Any) -> Map:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, found {node.id}", node.start_mark)
        data = Map()
        data.line = node.start_mark.line + 1
        data.key_lines = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise Invalid("YAML merge keys (<<) are not supported in scenario files",
                              where=f"{self.filename}:{key_line}")
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise Invalid("a mapping key must be a plain word like 'name', not a list or "
                              "mapping", where=f"{self.filename}:{key_line}") from None
            if key in data.key_lines:
                raise Invalid(f"duplicate key {key!r} in this mapping (first given at line "
                              f"{data.key_lines[key]}); give each key once",
                              where=f"{self.filename}:{key_line}")
            data.key_lines[key] = key_line
            data[key] = self.construct_object(value_node, deep=True)
        return data

    def _construct_seq(self, node: Any) -> Seq:
        if not isinstance(node, yaml.SequenceNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a sequence, found {node.id}", node.start_mark)
        data = Seq(self.construct_object(child, deep=True) for child in node.value)
        data.line = node.start_mark.line + 1
        data.item_lines = [child.start_mark.line + 1 for child in node.value]
        return data


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader._construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader._construct_seq)


def _line_col(text: str, position: int) -> tuple[int, int]:
    position = max(0, min(position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return line, column


def load(text: str, filename: str) -> Any:
    loader = None
    try:
        loader = _Loader(text)  # checks every character first (ReaderError)
        loader.filename = filename
        return loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        line, column = _line_col(text, exc.position)
        raise Invalid(f"could not parse YAML: unacceptable character #x{exc.character:04x} "
                      "(special characters are not allowed)",
                      where=f"{filename}:{line}:{column}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        if isinstance(exc, yaml.composer.ComposerError) and exc.problem == \
                "but found another document":
            raise Invalid("a scenario file holds one YAML document; another one ('---') starts "
                          "here", where=where) from None
        message = f"could not parse YAML: {exc.problem or exc.context or 'malformed'}"
        if exc.problem and exc.context:
            ctx = exc.context
            if exc.context_mark is not None and exc.context_mark is not mark:
                ctx += f" started at line {exc.context_mark.line + 1}"
            message += f" ({ctx})"
        raise Invalid(message, where=where) from None
    except yaml.YAMLError as exc:
        raise Invalid(f"could not parse YAML: {exc}", where=filename) from None
    except RecursionError:
        raise Invalid("could not parse YAML: the document is nested too deeply",
                      where=filename) from None
    finally:
        if loader is not None:
            loader.dispose()
