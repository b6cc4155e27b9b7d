"""The shell examples of README.md and docs/*.md, run on a real control plane (issues 14, 16).

Every block of commands (tests/docblocks.py says what one is and how the page marks it) runs
in document order, on a control plane of its own per document, or per part of a document that
starts with a `doc-test: fresh` block, or one that the pages naming it (`doc-test: plane NAME`)
share: each command through `bash -c` in the repository (so
`examples/...` resolves), as the operator, with the `facade` of this checkout first on PATH. A
command exits 0, or non-zero where the page shows it failing; where the page shows its output,
the real output has its shape. Every problem of a part is reported at once, each naming the
page's line. Blocks marked `skip` are not run; tests/unit/test_docblocks.py keeps them few.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests import docblocks
from tests.docblocks import Block, Command
from tests.integration.controlplane import FACADE, ControlPlane
from tests.integration.planes import plane

pytestmark = pytest.mark.root

ASSIGN = re.compile(r"^([A-Z_][A-Z0-9_]*)=\$\(.*\)$")  # `ACME=$(facade account token acme)`
# the docs' outputs were made in the lead's checkout: a path in it is this checkout's
CHECKOUT = "/work/main"
# what a command waiting for appliances prints on stderr when it is no terminal: on the
# terminal the page's output came from, a spinner that is gone once the command ends
PROGRESS = re.compile(r"^\S+: (provisioning|ready|degraded|failed|deleting|scaling|gone)\b")


def _parts() -> list[tuple[str, list[Block]]]:
    """The blocks that share one control plane, by the name of the plane: a document's own
    (its path), a part's that a `fresh` block starts (path:line), or a shared `plane NAME`."""
    parts: dict[str, list[Block]] = {}
    for doc in docblocks.docs():
        path = str(doc.relative_to(docblocks.ROOT))
        name = path
        for block in docblocks.blocks(path, doc.read_text()):
            if block.plane or block.fresh:
                name = f"plane {block.plane}" if block.plane else f"{path}:{block.line}"
            if block.skip is None:
                parts.setdefault(name, []).append(block)
    return list(parts.items())


PARTS = _parts()


def _run(cp: ControlPlane, text: str, names: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**cp.env, **names,
           "PATH": f"{Path(FACADE).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    assign = ASSIGN.match(text)
    script = f'{text}; printf %s "${assign.group(1)}"' if assign else text
    # stderr into stdout, in the order a terminal shows them
    res = subprocess.run(["bash", "-c", script], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=120, cwd=docblocks.ROOT)
    if assign and res.returncode == 0:
        names[assign.group(1)] = res.stdout
    return res


def _problems(block: Block, command: Command, res: subprocess.CompletedProcess[str]) -> list[str]:
    at = f"{block.path}:{command.line}: `{command.text}`"
    real = "".join(line for line in res.stdout.splitlines(keepends=True)
                   if not PROGRESS.match(line)).replace(str(docblocks.ROOT), CHECKOUT)
    problems = []
    if (res.returncode != 0) != command.should_fail:
        problems.append(f"{at}: exit {res.returncode}, the page shows it"
                        f" {'failing' if command.should_fail else 'working'}")
    elif command.output and not docblocks.matches(command.output, real.splitlines()):
        problems.append(f"{at}: the output is not what the page shows")
    if os.environ.get("DOC_TEST_SHOW"):  # every real output (pytest -s), to fix a page from
        print(f"{at}\n{real}")
    if problems:
        problems[-1] += ("\n--- the page:\n" + "\n".join(command.output)
                         + f"\n--- real (exit {res.returncode}):\n{real.rstrip()}\n")
    return problems


@pytest.mark.parametrize("blocks", [blocks for _, blocks in PARTS],
                         ids=[name for name, _ in PARTS])
def test_the_docs_commands_do_what_the_page_shows(
        blocks: list[Block], tmp_path_factory: pytest.TempPathFactory) -> None:
    problems: list[str] = []
    names: dict[str, str] = {}  # shell variables the page set (`ACME=$(...)`)
    with plane(tmp_path_factory) as cp:
        for block in blocks:
            for given in block.run:
                res = _run(cp, given, names)
                if res.returncode != 0:
                    problems.append(f"{block.path}:{block.line}: `doc-test: run {given}`:"
                                    f" exit {res.returncode}\n{res.stdout}{res.stderr}")
            for command in block.commands:
                problems += _problems(block, command, _run(cp, command.text, names))
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
