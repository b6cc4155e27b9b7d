"""Test-side access to the management plane and to accounts' tokens: an account token made
through the API, a management network's signing secret read from the state folder, and a signed
request to a node's agent listener made from inside a namespace (docs/management.md)."""

from __future__ import annotations

from facade.domain import agent_auth
from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

AGENT_PORT = 9700  # the management agent's port on every node's management address


def token(cp: ControlPlane, account: str) -> str:
    """A new API token of `account`, made by the operator."""
    r = cp.api("POST", f"/v1/accounts/{account}/tokens")
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def secret(cp: ControlPlane, router: str) -> str:
    """The management network's signing secret, read from the state folder (the agent's)."""
    net_id = int(router.removeprefix("fcd-r"))  # the router namespace is fcd-r<ID>
    return (cp.home / "agents" / f"n{net_id}.secret").read_text().strip()


def agent_status(netns: str, ip: str, node: str, key: str) -> int:
    """The HTTP status of GET /v1/health for `node`, signed with `key`, sent from `netns` to
    the agent listening on the node's management address `ip`."""
    conn = nsclient.NsHTTPConnection(netns, ip, AGENT_PORT, timeout=3.0)
    try:
        conn.request("GET", "/v1/health", headers={
            "Authorization": agent_auth.sign(key, "GET", "/v1/health", node)})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()
