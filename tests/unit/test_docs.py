"""The docs name only commands and options the `facade` command has (issue 16).

Every `facade ...` command in README.md and docs/*.md is checked against the real CLI, read from
its parser (the Typer app of facade.cli.main, as click sees it); nothing is run. A command is
found on a shell line of a fenced block (`$ facade ...`, `$ X=$(facade ...)`, or a bare
`facade ...` line in a block without prompts; `\\` continues a line) and in inline code that
starts with `facade ` (`facade appliance show NAME --json`). Its words name groups and then a
command (`a|b` names both); the options before the command must be the groups', those after
it the command's; `--` ends the options, and a pipe, `;`, `&&`, `)` or `#` ends the command.
Words after the command (arguments, placeholders such as `NAME` or `...`) are not checked.
A section headed "Not built yet" names commands to come, and is skipped.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer

from facade.cli.main import app

pytestmark = pytest.mark.no_store  # tests/conftest.py

ROOT = Path(__file__).resolve().parents[2]
SHELL_BLOCKS = {"", "console", "sh", "shell", "bash"}  # a fence's info string
FENCE = re.compile(r"^\s*```(\S*)")
FACADE_WORD = re.compile(r"(?:^|(?<=[\s(]))facade(?=\s)")  # at a command's start, not `.facade/`
INLINE = re.compile(r"(?<!`)`(facade [^`]+)`(?!`)")
HEADING = re.compile(r"^(#+)\s+(.*)")
PLANS = re.compile(r"not built", re.IGNORECASE)  # a heading over what is to come
ENDS = {"|", "||", "&&", ";", "&"}


@dataclass(frozen=True)
class Found:
    path: str  # relative to the repository
    line: int
    text: str  # from `facade` to the end of the line (or of the inline code)


# --------------------------------------------------------------------------- finding

def _docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def find_commands(path: str, text: str) -> list[Found]:
    """Every `facade` command of one Markdown file, with the line it starts on, in order."""
    return sorted(_found(path, text), key=lambda f: f.line)


def _found(path: str, text: str) -> Iterator[Found]:
    lines = _without_plans(text.splitlines())
    outside: list[str] = []  # the text outside fenced blocks, blocks blanked (lines kept)
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            outside.append(lines[i])
            i += 1
            continue
        start, i = i, i + 1
        while i < len(lines) and not FENCE.match(lines[i]):
            i += 1
        block = lines[start + 1:i]
        outside += [""] * (len(block) + 2)
        i += 1
        if fence.group(1) in SHELL_BLOCKS:
            yield from _block_commands(path, start + 2, block)
    prose = "\n".join(outside)
    for m in INLINE.finditer(prose):
        yield Found(path, prose.count("\n", 0, m.start()) + 1, " ".join(m.group(1).split()))


def _without_plans(lines: list[str]) -> list[str]:
    """The lines, those of sections headed "Not built yet" (to their next heading of the same
    level or above) blanked; a `#` line inside a fenced block is no heading."""
    out: list[str] = []
    fenced, skipping = False, 0  # skipping: the level of the heading being skipped, or 0
    for line in lines:
        heading = None if fenced else HEADING.match(line)
        if FENCE.match(line):
            fenced = not fenced
        if heading and (not skipping or len(heading.group(1)) <= skipping):
            skipping = len(heading.group(1)) if PLANS.match(heading.group(2)) else 0
        out.append("" if skipping else line)
    return out


def _block_commands(path: str, first: int, block: list[str]) -> Iterator[Found]:
    prompts = any(line.lstrip().startswith("$ ") for line in block)
    k = 0
    while k < len(block):
        line, number = block[k].strip(), first + k
        k += 1
        if prompts and not line.startswith("$ "):
            continue  # what a command printed
        line = line.removeprefix("$ ")
        if not prompts and not line.startswith("facade "):
            continue
        while line.endswith("\\") and k < len(block):
            line = line[:-1].rstrip() + " " + block[k].strip()
            k += 1
        for m in FACADE_WORD.finditer(line):
            yield Found(path, number, line[m.start():])


# --------------------------------------------------------------------------- checking

def _words(text: str) -> list[str]:
    """The command's words, up to what ends it (the rest of the line is another command)."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        words = list(lexer)
    except ValueError:  # an unbalanced quote in prose: words are enough
        words = text.split()
    out: list[str] = []
    depth = 0  # inside a usage's ( | ) or [ ]
    for word in words[1:]:
        if depth == 0 and (word in ENDS or word.startswith(")")):
            break
        depth += word.count("(") + word.count("[")
        closed = word.count(")") + word.count("]")
        if depth == 0 and closed:  # `$(facade account token acme)`: the `)` ends it
            out.append(word.rstrip(")"))
            break
        depth = max(0, depth - closed)
        if depth == 0 and word.endswith(";"):
            out.append(word.rstrip(";"))
            break
        out.append(word)
    return [w.strip("()[]") for w in out if w.strip("()[]")]


def _options(cmd: Any) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for param in cmd.params:
        if param.param_type_name == "option":
            names.update({name: param for name in param.opts + param.secondary_opts})
    names.update({name: None for name in ("--help", "-h")})
    return names


def _subcommands(cmd: Any) -> dict[str, Any] | None:
    return getattr(cmd, "commands", None)  # a group's; a command has none


def check(found: Found, root: Any) -> list[str]:
    """What `found` names that the CLI does not have, one message each."""
    words = _words(found.text)
    at = f"{found.path}:{found.line}: `{' '.join(['facade', *words])}`"
    problems: list[str] = []
    i = 0
    while i < len(words) and words[i].startswith("-"):  # `facade`'s own, before any command
        name, _, value = words[i].partition("=")
        option = _options(root).get(name, False)
        if option is False:
            problems.append(f"{at}: no option {name} for `facade`")
        elif option is not None and not option.is_flag and not value:
            i += 1  # its value
        i += 1
    for path, cmd, rest in _commands(words[i:], root):
        if isinstance(cmd, str):
            problems.append(f"{at}: {cmd}")
            continue
        known = _options(cmd)
        for word in rest:
            if word == "--":
                break
            name = word.partition("=")[0]
            if name.startswith("-") and name != "-" and name not in known:
                problems.append(f"{at}: no option {name} for"
                                f" `{' '.join(['facade', *path])}` (it has"
                                f" {', '.join(sorted(known))})")
    return problems


def _commands(words: list[str], cmd: Any,
              path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any, list[str]]]:
    """Each command `words` name from `cmd` on (a word `a|b` names two): its path, the command
    (a group, if no command follows) or why there is none, and the words after the path."""
    sub = _subcommands(cmd)
    if sub is None or not words or words[0].startswith("-"):
        yield path, cmd, words
        return
    for name in words[0].split("|"):
        if name in sub:
            yield from _commands(words[1:], sub[name], (*path, name))
        else:
            yield path, (f"no command `{name}` in `{' '.join(['facade', *path])}`"
                         f" (it has {', '.join(sorted(sub))})"), []


# --------------------------------------------------------------------------- tests

@pytest.fixture(scope="module")
def cli() -> Any:
    return typer.main.get_command(app)


def _all_found() -> list[Found]:
    return [f for doc in _docs()
            for f in find_commands(str(doc.relative_to(ROOT)), doc.read_text())]


def test_every_facade_command_in_the_docs_exists(cli: Any) -> None:
    found = _all_found()
    problems = [p for f in found for p in check(f, cli)]
    assert not problems, (f"{len(problems)} of {len(found)} `facade` commands in README.md and"
                          " docs/ name what the CLI does not have:\n" + "\n".join(problems))


def test_the_finder_sees_the_docs_commands() -> None:
    texts = {(f.path, f.text.split("  #")[0].strip()) for f in _all_found()}
    assert len(texts) > 80
    for expected in [
        ("README.md", "facade apply -f examples/search.yaml"),  # a `$` line
        ("README.md", "facade account token acme)"),  # inside $( )
        ("docs/health.md", "facade service health-check files --health-codes 200-399"
                           " --health-interval 2"),  # a block without prompts
        ("docs/composition.md", "facade appliance delete site-index"),  # an indented block
        ("docs/security.md", "facade rule add (--subnet NET/SUB | --interface INSTANCE/eth0)"
                             " --direction ingress"),  # inline code over two lines
    ]:
        assert any(path == expected[0] and text.startswith(expected[1])
                   for path, text in texts), expected


DOC = """\
Run `facade show appliance docs --json`, or `facade usage [--period P] [--by-node]`.

```
$ facade appliance scale docs 5 --wait
docs ready
$ X=$(facade acount token acme) && facade exec client -- curl --nope http://x | grep -v y
$ facade --url http://h appliance list --json      # fine
```

```yaml
facade show: not a command, a YAML block
```

- a list:

  ```console
  $ facade service create web --port 80 \\
      --no-such-thing 1
  ```
`facade account|netwrk list`, `facade rule list (--subnet ... | --interface ...) [--json]`

## Not built yet

`facade vpn` is to come.

### Its parts

`facade vpn site`, also to come.

## Built

`facade vpm`
"""


def test_the_failures_name_file_line_and_what_is_missing(cli: Any) -> None:
    problems = [p for f in find_commands("x.md", DOC) for p in check(f, cli)]
    expected = [
        "x.md:1: `facade show appliance docs --json`: no command `show` in `facade` (it has"
        " account, appliance, apply,",
        "x.md:4: `facade appliance scale docs 5 --wait`: no option --wait for"
        " `facade appliance scale` (it has --help, --no-wait, --timeout, -h)",
        "x.md:6: `facade acount token acme`: no command `acount` in `facade` (it has",
        "x.md:17: `facade service create web --port 80 --no-such-thing 1`: no option"
        " --no-such-thing for `facade service create` (it has --account,",
        "x.md:20: `facade account|netwrk list`: no command `netwrk` in `facade` (it has",
        "x.md:32: `facade vpm`: no command `vpm` in `facade` (it has",
    ]
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), (problem, start)
