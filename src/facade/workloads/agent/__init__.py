"""The management agent: one process that serves every node over the provider's management subnet.

    python -m facade.workloads.agent --config FOLDER

FOLDER (written by the control plane, every file replaced atomically, mode 0600;
domain/agent_layout.py):

    settings.json      {"secret": "<64 hex chars>", "port": 9700}
    nodes/NAME.json    {"name": "docs-b1", "netns": "fcd-i3-docs-b1", "mgmt_ip": "10.0.200.3",
                        "role": "backend" | "frontend",
                        "workload": {"ip": "10.0.1.3", "port": 80,
                                     "health_path": "/health" | null,
                                     "check": "http" | "tcp" | "listen", "codes": "200-299",
                                     "stats": true | false} | null}

or one FILE with the settings and every node: {"secret", "port", "nodes": [NODE, ...]}.

A workload is checked as its service says (domain/health.py): `http` GETs health_path and
expects one of `codes`, `tcp` connects, `listen` connects to nothing and reads the node's
socket table (/proc/thread-self/net/tcp and tcp6, in the node's namespace) for a socket
listening on the workload's address and port: for servers that serve one client at a time,
which a probe would occupy. Without `check`, health_path decides (http, or else tcp).

For every node the agent listens on mgmt_ip:port INSIDE the node's namespace: the listening socket
is made by a short-lived thread that entered the namespace (the thread ends at once and is never
reused); the main thread serves all of them with one selector and hands each accepted connection
to a thread of its own (one request, `Connection: close`, 8 KiB, 2 s). The agent re-reads what
changed of its config (polled every 0.1 s: a node's file, not all of them) and converges; a node whose namespace or address is missing
is retried on the next poll; a listener whose namespace is deleted or replaced (looked at when
/run/netns changed) is dropped (so the agent never keeps a deleted namespace alive) and
retried. It prints "agent serving N nodes" after every convergence that changed something and
exits on SIGTERM/SIGINT.

Every request is signed (see `agent_auth`): `Authorization: Facade-HMAC <ts>:<hex>`, bound to the
method, the path with query, and the node's name.

    GET /v1/health    {"node", "role", "netns", "uptime_s", "workload": {"ok", "detail"} | null}
    GET /v1/counters  front-end: {"node", "backends", "conntrack", "counters", "meters", "epoch"};
                      backend: {"node", "counters", "workload": {"requests", "boot"} | null}

The hub: the agent also listens on 127.0.0.1:port in its own namespace (the router namespace
it runs in: only the control plane's requests reach it), where

    GET /v1/counters[?nodes=NAME,...]  {"nodes": {NAME: <that node's /v1/counters answer>},
                                        "missing": {NAME: why}, "more": [NAME, ...]}

is signed for the node name "*" (`agent_auth.HUB`, which no node may have) and answers for all
its nodes, or those named, read side by side by a small pool, bounded in time and size (`hub`).

Work inside a namespace (workload probes, nftables, conntrack) runs in a fresh thread that entered
the namespace of the node's listening socket, through a file descriptor the agent holds: the
namespace probed is always the one served, even when a namespace of the same name replaced it.

The package, by role (each module's docstring says more):

    config       the config: its nodes and their workloads, checked
    sources      where the config is read: a folder of a file per node, or one file
    listeners    a node's listening socket, made inside its namespace
    wire         HTTP on the wire: one bounded request read, one answer written
    probes       a workload's health and numbers, seen from inside its node
    counters     a front-end's rotation, meters and conntrack count
    routes       one connection: its request authenticated and answered
    hub          the agent's own listener: many nodes' counters in one answer
    loop         the process: the config poll, the selector, the accepts; `main`
    diagnostics  the agent's stderr lines and an OS error in a probe's words

`python -m facade.workloads.agent` runs `loop.main` (`__main__`).
"""
