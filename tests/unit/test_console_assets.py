"""The console's files as the control plane serves them (api/console.py): `/` is the page with
a policy that lets it load only this server's files; every file it loads, and every module
those import, is served with its type; no shipped file names another site; the page's own
script and styles stay within 300 kB compressed; the modules pass TypeScript's checker (JSDoc
types, `tsc --checkJs`) and the topology's layout (js/layout.js) keeps its promises, run in
node."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import get_args

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from facade.api import console
from facade.domain.states import ApplianceStatus, NodeStatus
from facade.readmodels import topology

pytestmark = pytest.mark.no_store  # tests/conftest.py

ASSETS = console.assets()
TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",),
         ".svg": ("image/svg+xml",), ".html": ("text/html",)}
SVG_NS = "http://www.w3.org/2000/svg"  # a namespace name in markup, never fetched


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    console.mount(app)
    return TestClient(app)


def shipped() -> list[Path]:
    return sorted(p for p in ASSETS.rglob("*") if p.is_file() and p.suffix in TYPES)


def test_the_page_is_served_at_the_root_with_a_policy_of_this_server_only(
        client: TestClient) -> None:
    resp = client.get("/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/console/js/app.js">' in resp.text
    policy = resp.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert resp.headers["referrer-policy"] == "no-referrer"


def test_every_file_the_page_loads_is_served_with_its_type(client: TestClient) -> None:
    page = client.get("/").text
    wanted = set(re.findall(r'(?:src|href)="(/console/[^"]+)"', page))
    for path in ASSETS.joinpath("js").glob("*.js"):  # and every module's imports
        for name in re.findall(r'^import .*? from "\./([a-z_]+\.js)";', path.read_text(), re.M):
            wanted.add(f"/console/js/{name}")
    assert "/console/js/topology.js" in wanted and "/console/console.css" in wanted
    for url in sorted(wanted):
        resp = client.get(url)
        assert resp.status_code == 200, url
        kind = resp.headers["content-type"].split(";")[0]
        assert kind in TYPES[Path(url).suffix], (url, kind)
    assert client.get("/console/js/nothing.js").status_code == 404


def test_no_shipped_file_names_another_site() -> None:
    assert shipped()
    for path in shipped():
        text = path.read_text()
        urls = re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s\"'`)]*", text)
        assert all(u == SVG_NS for u in urls), (path.name, urls)
        assert "@import" not in text and "url(" not in text.replace("url(#arrow)", ""), path


def test_the_script_and_styles_are_within_300_kb_compressed() -> None:
    own = [p for p in shipped() if p.suffix in (".js", ".css")]
    size = sum(len(gzip.compress(p.read_bytes(), 9)) for p in own)
    assert 0 < size <= 300_000, size


@pytest.mark.skipif(shutil.which("tsc") is None, reason="tsc: make deps installs node-typescript")
def test_the_modules_pass_the_type_checker() -> None:
    run = subprocess.run(["tsc", "-p", str(ASSETS / "tsconfig.json")], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


TYPEDEF = re.compile(r"@typedef \{\{(.*?)\}\} (\w+)", re.S)
# the console's name of each topology model (js/types.js)
TOPOLOGY = {"Topology": topology.TopologyRead, "TopoNetwork": topology.TopologyNetworkRead,
            "TopoSubnet": topology.TopologySubnetRead, "TopoNode": topology.TopologyNodeRead,
            "TopoChannel": topology.TopologyChannelRead,
            "TopoAppliance": topology.TopologyApplianceRead}


def _typedefs() -> dict[str, list[tuple[str, str]]]:
    """js/types.js's object typedefs: name -> its (field, type) in order."""
    text = re.sub(r"\n\s*\*\s*", " ", (ASSETS / "js" / "types.js").read_text())
    out = {}
    for body, name in TYPEDEF.findall(text):
        if "{" not in body:  # a flat object (the topology's are): fields split at commas
            out[name] = [(f.split(":")[0].strip(), f.split(":", 1)[1].strip())
                         for f in body.split(",")]
    return out


@pytest.mark.parametrize("name", sorted(TOPOLOGY))
def test_the_topology_typedefs_are_the_read_models(name: str) -> None:
    """Field for field, in order, nullable where the model is, enums as their members."""
    fields = _typedefs()[name]
    model = TOPOLOGY[name]
    assert [f for f, _ in fields] == list(model.model_fields), name
    for field, typed in fields:
        annotation = model.model_fields[field].annotation
        assert ("| null" in typed) == (type(None) in get_args(annotation)), (name, field)
        if annotation in (NodeStatus, ApplianceStatus):
            members = _typedefs_union(annotation.__name__)
            assert typed == annotation.__name__ and members == [m.value for m in annotation]


def _typedefs_union(name: str) -> list[str]:
    text = re.sub(r"\n\s*\*\s*", " ", (ASSETS / "js" / "types.js").read_text())
    found = re.search(r"@typedef \{([^{}]*)\} " + name + r"\b", text)
    assert found, name
    return [m.strip().strip('"') for m in found.group(1).split("|")]


LAYOUT_CHECK = """
import { layout, search, SIZE } from "%s";
const node = (name, ip) => ({name, ip, account: "acme", role: "instance", appliance: null,
  netns: "fcd-" + name, status: "active", interface: "eth0"});
const nets = [0, 1, 2].map((n) => ({name: "net" + n, account: "acme", cidr: "10.0.0.0/16",
  subnets: [0, 1].map((s) => ({name: "s" + s, cidr: "10.0." + s + ".0/24", gateway: "",
    internal: [], granted_to: [], nodes: Array.from({length: 7 * (n + 1)},
      (_, i) => node("n" + n + s + "-" + i, "10.0." + s + "." + (i + 2)))}))}));
const lay = layout(nets, new Set(["acme/net1"]), 900);
const boxes = lay.networks.flatMap((net) => net.subnets.flatMap((sub) => sub.nodes));
console.log(JSON.stringify({
  width: lay.width, height: lay.height, boxes,
  nets: lay.networks.map((n) => ({key: n.key, y: n.y, h: n.h, collapsed: n.collapsed,
    subnets: n.subnets.length, count: n.count})),
  found: search(nets, "10.0.1.3").map((n) => n.subnets.map((s) => s.nodes.map((x) => x.name))),
  byNet: search(nets, "net2").map((n) => n.name), none: search(nets, "zzz").length,
  size: SIZE}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node: make deps installs it")
def test_the_layout_places_every_node_once_without_overlap() -> None:
    script = LAYOUT_CHECK % (ASSETS / "js" / "layout.js").as_uri()
    run = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    boxes = out["boxes"]
    # net1 is collapsed: its header alone, its nodes counted but not placed
    assert [n["collapsed"] for n in out["nets"]] == [False, True, False]
    assert out["nets"][1]["subnets"] == 0 and out["nets"][1]["count"] == 28
    assert out["nets"][1]["h"] == out["size"]["header"]
    assert len(boxes) == 2 * 7 + 2 * 21
    assert len({b["node"]["name"] for b in boxes}) == len(boxes)
    for i, a in enumerate(boxes):
        assert 0 <= a["x"] and a["x"] + a["w"] <= out["width"]
        assert 0 <= a["y"] and a["y"] + a["h"] <= out["height"]
        for b in boxes[i + 1:]:
            apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                     or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
            assert apart, (a["node"]["name"], b["node"]["name"])
    # networks are stacked, never overlapping
    nets = out["nets"]
    assert all(p["y"] + p["h"] <= n["y"] for p, n in zip(nets, nets[1:], strict=False))
    # search: a node by address keeps only the nodes that match; a network by name keeps all
    assert out["found"] == [[["n01-1"]], [["n11-1"]], [["n21-1"]]]
    assert out["byNet"] == ["net2"] and out["none"] == 0
