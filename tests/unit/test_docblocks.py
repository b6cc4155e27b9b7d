"""How the doc test reads the pages (tests/docblocks.py): which blocks hold commands, what the
`doc-test:` markers mean and refuse, when two outputs have the same shape; and that the pages
of this checkout mark few blocks `skip`, each with its reason (issue 16)."""

from __future__ import annotations

import pytest

from tests import docblocks
from tests.docblocks import MarkerError, blocks, matches

pytestmark = pytest.mark.no_store  # tests/conftest.py

PAGE = """\
# A page

```
make up      # no prompt, no `facade `: not a command
```

<!-- doc-test: run facade apply -f examples/search.yaml -->
```
$ facade appliance scale docs 5 \\
    --timeout 30
docs ready at 10.0.1.3:80 with 5 backends

$ facade appliance delete docs
error: in_use: appliance docs is used by site
```

<!-- doc-test: skip (a benchmark of minutes) -->

```console
$ .venv/bin/python bench/scale.py
```

- indented:

  <!-- doc-test: fresh (another example) -->
  <!-- doc-test: plane shared -->
  ```
  facade topology
  facade events   # both run, no output shown
  ```

```yaml
facade: not a shell block
```
"""


def test_the_blocks_with_commands_and_their_markers() -> None:
    found = blocks("x.md", PAGE)
    assert [b.line for b in found] == [8, 19, 27]
    scale, bench, topo = found
    assert scale.run == ["facade apply -f examples/search.yaml"]
    assert [c.text for c in scale.commands] == [
        "facade appliance scale docs 5 --timeout 30", "facade appliance delete docs"]
    assert scale.commands[0].line == 9
    assert scale.commands[0].output == ["docs ready at 10.0.1.3:80 with 5 backends"]
    assert not scale.commands[0].should_fail and scale.commands[1].should_fail
    assert bench.skip == "a benchmark of minutes" and bench.fresh is None
    assert topo.fresh == "another example" and topo.plane == "shared" and scale.plane is None
    assert [c.text for c in topo.commands] == [
        "facade topology", "facade events   # both run, no output shown"]
    assert all(c.output == [] for c in topo.commands)


@pytest.mark.parametrize(("page", "message"), [
    ("<!-- doc-test: skip -->\n```\n$ facade x\n```\n",
     "x.md:1: `doc-test: skip` is none of"),  # no reason
    ("<!-- doc-test: later (why) -->\n```\n$ facade x\n```\n",
     "x.md:1: `doc-test: later (why)` is none of"),
    ("<!-- doc-test: plane two words -->\n```\n$ facade x\n```\n",
     "x.md:1: `doc-test: plane two words` is none of"),
    ("text\n<!-- doc-test: skip (why) -->\nmore text\n```\n$ facade x\n```\n",
     "x.md:2: a doc-test marker not followed by a block"),
    ("<!-- doc-test: skip (why) -->\n```\na picture\n```\n",
     "x.md:1: a doc-test marker before a block without commands"),
    ("```\n$ facade x\n```\n<!-- doc-test: fresh (why) -->\n",
     "x.md:4: a doc-test marker at the end of the file"),
])
def test_a_wrong_marker_is_refused_naming_its_line(page: str, message: str) -> None:
    with pytest.raises(MarkerError) as err:
        blocks("x.md", page)
    assert str(err.value).startswith(message)


def test_outputs_of_the_same_shape_match() -> None:
    page = ["NAME           ACCOUNT    USED", "──────────────", "acme-vpc/app   acme   2/253"]
    real = ["NAME             ACCOUNT      USED", "──────────────────",
            "acme-vpc/app     acme         12/1021"]
    assert matches(page, real)
    assert matches(["created instance web (10.0.1.4 in acme-vpc/app)"],
                   ["created instance web (10.0.1.14 in acme-vpc/app)"])
    assert matches(['{"node": "web-b1", "peers": ["10.0.1.4:80"], "n": 3, "e": null}'],
                   ['{"node": "docs-b2", "peers": [], "n": 1234, "e": null}'])
    assert matches(["deleted appliance docs", "...", "appliance docs gone"],
                   ["deleted appliance docs", "deleted instance client", "deleted account acme",
                    "appliance docs gone"])
    assert matches(["facade", "..."], ["facade"])


def test_outputs_of_another_shape_do_not() -> None:
    assert not matches(["NAME  ACCOUNT  USED"], ["NAME  ACCOUNT  CIDR  USED"])  # a column
    assert not matches(["docs ready at 10.0.1.3:80"], ["docs failed"])  # a status word
    assert not matches(["docs ready"], ["docs ready", "one line more"])
    assert not matches(["docs ready", "one line more"], ["docs ready"])
    assert not matches(['{"node": "web-b1", "client": "10.0.1.9:5"}'],
                       ['{"node": "web-b1", "server": "10.0.1.9:5"}'])  # another key
    assert not matches(['{"ids": ["p1"]}'], ['{"ids": [1]}'])  # items of another type
    assert not matches(['{"answer": {"ids": []}}'], ['{"answer": "idx-b1\\n"}'])
    assert not matches(["{not json"], ["{not json either"])


def test_the_pages_mark_few_blocks_skip_each_with_why() -> None:
    found = [b for doc in docblocks.docs()
             for b in blocks(str(doc.relative_to(docblocks.ROOT)), doc.read_text())]
    skipped = [f"{b.path}:{b.line}: {b.skip}" for b in found if b.skip is not None]
    commands = sum(len(b.commands) for b in found if b.skip is None)
    assert len(found) >= 30 and commands >= 70, (len(found), commands)
    # the benchmarks (2), a recorded billing run (1) and the chains of three and of four
    # accounts that only integration tests build (5); a new one needs a reason to be here
    assert len(skipped) <= 8, "\n".join(skipped)
    assert all(len(b.skip or "") >= 10 for b in found if b.skip is not None), skipped
