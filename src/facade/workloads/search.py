"""Full-text search workload: an SQLite FTS5 index replicated synchronously across backends.

    python -m facade.workloads.search --name NODE --ip IP --port PORT --data-dir DIR \
        [--peers-file FILE]

A client POSTs a document to any backend; that backend stores it and pushes it to every peer
(POST /replicate, in parallel, ~0.5 s timeout) before answering 201, so a query served by any
backend finds it at once. A backend started later copies a peer's /dump in the background.
The peers file is JSON {"peers": ["IP:PORT", ...]} written by the control plane; it is re-read
on every use. Stdlib only; every response carries `X-Backend: NODE`. See docs/workloads.md.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable

from facade.workloads._http1 import parse_query, unquote
from facade.workloads._httpc import BadResponse, request
from facade.workloads._httpd import (
    Handler,
    Request,
    Response,
    Server,
    json_response,
    lean_malloc,
    log,
    options,
    serve,
)

MAX_ID_CHARS = 200
MAX_TEXT_BYTES = 1024 * 1024
MAX_BODY = 8 * MAX_TEXT_BYTES  # JSON escapes can make the body much larger than the text
REPLICATE_TIMEOUT = 0.5  # seconds per socket operation towards one peer
REPLICATE_DEADLINE = 0.8  # seconds a client POST waits for all peers in total
CATCH_UP_TIMEOUT = 30.0  # seconds per /dump request
CATCH_UP_PATIENCE = 30.0  # seconds to keep looking for a reachable peer at start
MAX_DUMP = 512 * 1024 * 1024  # bytes of a peer's /dump answer at catch-up
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
INTERNAL_PATHS = frozenset({"/replicate", "/dump"})  # between peers: not customer requests
MAX_WORKERS = 16  # requests in progress at once (a thread each); replication has its own lane

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
                                      text TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(text, content='documents', content_rowid='n');
CREATE TRIGGER IF NOT EXISTS documents_ai AFTER INSERT ON documents BEGIN
  INSERT INTO fts(rowid, text) VALUES (new.n, new.text);
END;
CREATE TRIGGER IF NOT EXISTS documents_ad AFTER DELETE ON documents BEGIN
  INSERT INTO fts(fts, rowid, text) VALUES ('delete', old.n, old.text);
END;
CREATE TRIGGER IF NOT EXISTS documents_au AFTER UPDATE ON documents BEGIN
  INSERT INTO fts(fts, rowid, text) VALUES ('delete', old.n, old.text);
  INSERT INTO fts(rowid, text) VALUES (new.n, new.text);
END;
"""
UPSERT = (
    "INSERT INTO documents (id, text) VALUES (?, ?) ON CONFLICT (id) DO UPDATE"
    " SET text = excluded.text WHERE documents.text <> excluded.text"
)
SEARCH = (
    "SELECT d.id FROM fts JOIN documents d ON d.n = fts.rowid WHERE fts MATCH ?"
    " ORDER BY bm25(fts), d.id LIMIT ?"
)


def match_expression(query: str) -> str:
    """AND of the query's \\w+ words, each quoted so no input can be FTS5 syntax."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in re.findall(r"\w+", query))


class Store:
    """One SQLite connection behind a lock (WAL). Tracks ids written while catching up."""

    def __init__(self, path: str) -> None:
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.execute("PRAGMA cache_size=-256")  # KiB, not 2 MB: the kernel caches the file
        self.db.executescript(SCHEMA)
        self._fresh: set[str] | None = set()  # ids written since start; None once caught up

    def put(self, doc_id: str, text: str) -> None:
        with self.lock, self.db:
            self.db.execute(UPSERT, (doc_id, text))
            if self._fresh is not None:
                self._fresh.add(doc_id)

    def merge(self, docs: Iterable[tuple[str, str]]) -> int:
        """Store catch-up documents, keeping any newer copy written since start; end tracking."""
        with self.lock, self.db:
            fresh = self._fresh or set()
            stored = 0
            for doc_id, text in docs:
                if doc_id not in fresh:
                    self.db.execute(UPSERT, (doc_id, text))
                    stored += 1
            self._fresh = None
            return stored

    def stop_tracking(self) -> None:
        with self.lock:
            self._fresh = None

    def get(self, doc_id: str) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT text FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return None if row is None else str(row[0])

    def search(self, query: str, limit: int) -> list[str]:
        expression = match_expression(query)
        if not expression:
            return []
        with self.lock:
            try:
                rows = self.db.execute(SEARCH, (expression, limit)).fetchall()
            except sqlite3.OperationalError:  # defensive: quoting should make this unreachable
                return []
        return [str(row[0]) for row in rows]

    def count(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT count(*) FROM documents").fetchone()[0])

    def dump(self) -> list[dict[str, str]]:
        with self.lock:
            rows = self.db.execute("SELECT id, text FROM documents ORDER BY n").fetchall()
        return [{"id": str(doc_id), "text": str(text)} for doc_id, text in rows]

    def close(self) -> None:
        if self.lock.acquire(timeout=1.0):
            self.db.close()


def parse_document(body: bytes) -> tuple[str, str] | str:
    """(id, text) from a JSON body, or a message saying what is wrong with it."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return "body is not valid JSON"
    if not isinstance(doc, dict):
        return 'body must be a JSON object {"id": "...", "text": "..."}'
    doc_id, text = doc.get("id"), doc.get("text")
    if not isinstance(doc_id, str) or not 0 < len(doc_id) <= MAX_ID_CHARS:
        return f'"id" must be a non-empty string of at most {MAX_ID_CHARS} characters'
    if not isinstance(text, str):
        return '"text" must be a string'
    try:
        doc_id.encode()
        size = len(text.encode())
    except UnicodeEncodeError:
        return '"id" and "text" must be valid Unicode (no lone surrogates)'
    if size > MAX_TEXT_BYTES:
        return f'"text" is larger than {MAX_TEXT_BYTES} bytes'
    return doc_id, text


def split_peer(peer: str) -> tuple[str, int]:
    """("10.0.0.5", 80) from "10.0.0.5:80" (or "[fd00::5]:80"); ValueError if malformed."""
    host, _, port = peer.rpartition(":")
    if not host:
        raise ValueError(f"peer {peer!r} is not IP:PORT")
    return host.strip("[]"), int(port)


class Peers:
    """The other backends, from the control plane's peers file (re-read on every use)."""

    def __init__(self, path: str | None, own: tuple[str, int]) -> None:
        self.path, self.own = path, own
        self._last: list[str] = []

    def current(self) -> list[str]:
        if not self.path:
            return []
        try:
            with open(self.path, encoding="utf-8") as f:
                entries = json.load(f)["peers"]
            peers = [p for p in dict.fromkeys(entries) if split_peer(p) != self.own]
        except FileNotFoundError:
            peers = []
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return self._last  # half-written or broken file: keep the last good list
        self._last = peers
        return peers


def post_json(peer: str, path: str, body: bytes, timeout: float) -> int:
    host, port = split_peer(peer)
    status, _, _ = request(host, port, "POST", path, body,
                           {"Content-Type": "application/json"}, timeout=timeout)
    return status


def replicate(peers: list[str], body: bytes) -> tuple[list[str], list[str]]:
    """Push to every peer in parallel; (acknowledged, failed) within REPLICATE_DEADLINE."""
    acked: dict[str, bool] = {}

    def push(peer: str) -> None:
        try:
            acked[peer] = 200 <= post_json(peer, "/replicate", body, REPLICATE_TIMEOUT) < 300
        except (OSError, ValueError, BadResponse):
            acked[peer] = False

    threads = [threading.Thread(target=push, args=(p,), daemon=True) for p in peers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + REPLICATE_DEADLINE
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    done = dict(acked)
    return [p for p in peers if done.get(p)], [p for p in peers if not done.get(p)]


def fetch_dump(peer: str) -> list[tuple[str, str]]:
    host, port = split_peer(peer)
    status, _, body = request(host, port, "GET", "/dump", timeout=CATCH_UP_TIMEOUT,
                              limit=MAX_DUMP)
    if status != 200:
        raise ValueError(f"/dump answered {status}")
    return [(str(d["id"]), str(d["text"])) for d in json.loads(body)["documents"]]


def catch_up(store: Store, peers: Peers, name: str) -> None:
    """Copy the first reachable peer's documents; give up after CATCH_UP_PATIENCE seconds."""
    give_up, pause = time.monotonic() + CATCH_UP_PATIENCE, 0.2
    while True:
        for peer in peers.current():
            try:
                docs = fetch_dump(peer)
            except (OSError, ValueError, KeyError, TypeError, BadResponse):
                continue
            stored = store.merge(docs)
            log(f"{name}: caught up {stored} of {len(docs)} documents from {peer}")
            return
        if time.monotonic() > give_up:
            store.stop_tracking()
            log(f"{name}: no peer reachable for catch-up; starting with local documents only")
            return
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


def handler(backend: str, store: Store, peers: Peers) -> Handler:
    """The search routes of node `backend` over its store, replicating to its peers."""

    def handle(req: Request) -> Response:
        return get(req) if req.method == "GET" else post(req)

    def get(req: Request) -> Response:
        path = req.path
        if path == "/health":
            return json_response(200, {"status": "ok", "documents": store.count(),
                                       "backend": backend})
        if path == "/search":
            params = parse_query(req.query)
            query = params.get("q", [""])[0]
            try:
                limit = min(max(int(params.get("limit", [str(DEFAULT_LIMIT)])[0]), 1),
                            MAX_LIMIT)
            except ValueError:
                limit = DEFAULT_LIMIT
            ids = store.search(query, limit)
            return json_response(200, {"query": query, "ids": ids, "backend": backend})
        if path == "/dump":
            return json_response(200, {"documents": store.dump()})
        if path.startswith("/documents/") and len(path) > len("/documents/"):
            doc_id = unquote(path[len("/documents/"):])
            text = store.get(doc_id)
            if text is None:
                return json_response(404, {"error": f"no document {doc_id!r}"})
            return json_response(200, {"id": doc_id, "text": text, "backend": backend})
        return json_response(404, {"error": f"no route GET {path}"})

    def post(req: Request) -> Response:
        path = req.path
        if path not in ("/documents", "/replicate"):
            return json_response(404, {"error": f"no route POST {path}"})
        parsed = parse_document(req.body())
        if isinstance(parsed, str):
            return json_response(400, {"error": parsed})
        doc_id, text = parsed
        store.put(doc_id, text)
        if path == "/replicate":  # from a peer: store only, never forward
            return json_response(200, {"id": doc_id, "backend": backend})
        payload = json.dumps({"id": doc_id, "text": text}).encode()
        acked, failed = replicate(peers.current(), payload)
        return json_response(201, {"id": doc_id, "backend": backend,
                                   "replicated_to": acked, "failed": failed})

    return handle


def main(argv: list[str] | None = None) -> None:
    args = options(argv, "python -m facade.workloads.search",
                   ("name", "ip", "port", "data-dir"), ("peers-file",))
    lean_malloc()
    name, peers_file = args["name"], args.get("peers-file")
    os.makedirs(args["data-dir"], exist_ok=True)
    store = Store(os.path.join(args["data-dir"], f"{name}.sqlite"))
    peers = Peers(peers_file, (args["ip"], int(args["port"])))
    server = Server(args["ip"], int(args["port"]), handler(name, store, peers), name,
                    max_body=MAX_BODY, internal_paths=INTERNAL_PATHS, max_workers=MAX_WORKERS)
    peers.own = server.address  # the bound port, if --port was 0
    if peers_file:
        threading.Thread(target=catch_up, args=(store, peers, name), daemon=True).start()
    else:
        store.stop_tracking()
    serve(server, on_stop=store.close)


if __name__ == "__main__":
    main()
