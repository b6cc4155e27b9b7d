"""The shell examples of README.md and docs/*.md, read as commands to run and output to expect.

A fenced block (info string empty, `console`, `sh`, `shell` or `bash`) holds commands when some
line starts with `$ ` (each such line a command, the lines up to the next one what it printed)
or, in a block without prompts, when a line starts with `facade ` (each one a command, no output
shown). A trailing `\\` continues a command on the next line. Other blocks (pictures, tables,
usage lines with placeholders) hold no commands.

HTML comments just before a block (blank lines between are fine) say how to run it:

    <!-- doc-test: skip (WHY) -->       the block is not run; WHY is required
    <!-- doc-test: fresh (WHY) -->      a new control plane from this block on (a new example)
    <!-- doc-test: run COMMAND -->      COMMAND runs first, its output unchecked (what the page
                                        takes as given, e.g. `facade apply -f examples/X.yaml`)
    <!-- doc-test: plane NAME -->       from this block on, the control plane called NAME, which
                                        the pages that name it share (in the order of docs()),
                                        instead of the page's own: a plane costs seconds

Output is compared by shape, not byte for byte (`shape_problems`): numbers, addresses, times
and the digits of names may differ, and so may the width of columns; a line `...` stands for any
number of lines; a JSON line must have the same keys, recursively, and values of the same type.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHELL_BLOCKS = {"", "console", "sh", "shell", "bash"}
FENCE = re.compile(r"^(\s*)```(\S*)")
MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(.*?)\s*-->\s*$")
MARKER_KINDS = re.compile(r"^(skip|fresh) \((.+)\)$|^run (.+)$|^plane ([\w-]+)$")
# the last line a failed command prints: the command's `error: ...`, curl's, cat's
FAILED = re.compile(r"^(error: |curl: \(\d+\) |cat: )")
NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
RULE = re.compile(r"[─-]{3,}")  # a table's rule, as wide as its columns


@dataclass
class Command:
    line: int  # of the document, 1-based
    text: str  # the command, continuation lines joined
    output: list[str] = field(default_factory=list)  # what the page shows it printed

    @property
    def should_fail(self) -> bool:
        """The page shows the command failing: its last line is an error."""
        return bool(self.output) and bool(FAILED.match(self.output[-1].strip()))


@dataclass
class Block:
    path: str  # relative to the repository
    line: int  # of its opening fence
    commands: list[Command]
    skip: str | None = None  # why it is not run
    fresh: str | None = None  # why it needs a new control plane
    plane: str | None = None  # the shared control plane it runs on from here
    run: list[str] = field(default_factory=list)  # commands run first, unchecked


class MarkerError(ValueError):
    """A `doc-test:` comment that is not one of the four, or that no block follows."""


def docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: str, text: str) -> list[Block]:
    """The blocks of one Markdown file that hold commands, in order, with their markers."""
    lines = text.splitlines()
    found: list[Block] = []
    pending: list[tuple[int, str]] = []  # markers waiting for their block
    i = 0
    while i < len(lines):
        marker, fence = MARKER.match(lines[i]), FENCE.match(lines[i])
        if marker:
            pending.append((i + 1, marker.group(1)))
        elif fence:
            end = i + 1
            while end < len(lines) and not FENCE.match(lines[end]):
                end += 1
            body = [line.removeprefix(fence.group(1)) for line in lines[i + 1:end]]
            commands = _commands(i + 2, body) if fence.group(2) in SHELL_BLOCKS else []
            if commands:
                found.append(_marked(Block(path, i + 1, commands), pending))
            elif pending:
                raise MarkerError(f"{path}:{pending[0][0]}: a doc-test marker before a block"
                                  " without commands")
            pending, i = [], end
        elif lines[i].strip() and pending:
            raise MarkerError(f"{path}:{pending[0][0]}: a doc-test marker not followed by a block")
        i += 1
    if pending:
        raise MarkerError(f"{path}:{pending[0][0]}: a doc-test marker at the end of the file")
    return found


def _marked(block: Block, markers: list[tuple[int, str]]) -> Block:
    for line, text in markers:
        m = MARKER_KINDS.match(text)
        if not m:
            raise MarkerError(f"{block.path}:{line}: `doc-test: {text}` is none of"
                              " `skip (WHY)`, `fresh (WHY)`, `run COMMAND`, `plane NAME`")
        if m.group(1) == "skip":
            block.skip = m.group(2)
        elif m.group(1) == "fresh":
            block.fresh = m.group(2)
        elif m.group(3):
            block.run.append(m.group(3))
        else:
            block.plane = m.group(4)
    return block


def _commands(first: int, body: list[str]) -> list[Command]:
    prompts = any(line.startswith("$ ") for line in body)
    out: list[Command] = []
    k = 0
    while k < len(body):
        line, number = body[k], first + k
        k += 1
        if prompts and not line.startswith("$ "):
            if out:
                out[-1].output.append(line)
            continue
        if not prompts and not line.startswith("facade "):
            continue
        text = line.removeprefix("$ ")
        while text.endswith("\\") and k < len(body):
            text = text[:-1].rstrip() + " " + body[k].strip()
            k += 1
        out.append(Command(number, text))
    for command in out:  # a blank line between two commands is no output
        while command.output and not command.output[-1].strip():
            command.output.pop()
    return out


# --------------------------------------------------------------------------- output shapes

def shape(line: str) -> str:
    """A line with what varies from run to run made the same: numbers (addresses, counts,
    times, the digits in names) are `0`, a table rule is one `─`, spaces are one space."""
    line = RULE.sub("─", line)
    return " ".join(NUMBER.sub("0", line).split())


def _json(line: str) -> Any:
    if not line.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.loads(line)
    except ValueError:
        return None


def _alike(want: Any, got: Any) -> bool:
    """Same keys, recursively, and values of the same type; a list's items may be more or
    fewer (an empty list is like any list), each like one of the other's."""
    if isinstance(want, dict):
        return (isinstance(got, dict) and want.keys() == got.keys()
                and all(_alike(want[k], got[k]) for k in want))
    if isinstance(want, list):
        return isinstance(got, list) and (not want or not got or all(
            any(_alike(w, g) for w in want) for g in got))
    if isinstance(want, bool) or want is None or isinstance(got, bool) or got is None:
        return want is got or (isinstance(want, bool) and isinstance(got, bool))
    if isinstance(want, int | float):
        return isinstance(got, int | float)
    return isinstance(got, type(want))


def _same(expected: str, actual: str) -> bool:
    want = _json(expected)
    if want is not None:
        got = _json(actual)
        return got is not None and _alike(want, got)
    return shape(expected) == shape(actual)


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether the real output has the page's shape; a `...` line stands for any lines."""
    want = [line for line in expected if line.strip()]
    got = [line for line in actual if line.strip()]
    memo: dict[tuple[int, int], bool] = {}

    def at(i: int, j: int) -> bool:
        if (i, j) not in memo:
            if i == len(want):
                memo[i, j] = j == len(got)
            elif want[i].strip() == "...":
                memo[i, j] = at(i + 1, j) or (j < len(got) and at(i, j + 1))
            else:
                memo[i, j] = j < len(got) and _same(want[i], got[j]) and at(i + 1, j + 1)
        return memo[i, j]

    return at(0, 0)
