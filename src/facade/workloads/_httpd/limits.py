"""The server's limits and timeouts, and the paths it answers for the control plane.

Request line 16 KiB (414), head 32 KiB or 100 fields (431), body the workload's `max_body` from
Content-Length (413; a request with Transfer-Encoding gets 411), a malformed request 400 (the
head's limits are the wire format's, in `_http1`); each of those closes the connection. A body
must arrive, and an answer be taken, within `body_timeout` (10 s) plus one second per 64 KiB.
At most `max_connections` (512) are open: beyond that the one idle longest is closed, or new
ones wait in the listen backlog.
"""

from __future__ import annotations

STATS_PATH = "/_facade/stats"
NOT_COUNTED = frozenset({"/health", STATS_PATH})  # the control plane's own requests
CHUNK = 64 * 1024
IDLE_TIMEOUT = 120.0  # seconds a keep-alive connection may wait for its next request
HEAD_TIMEOUT = 10.0  # seconds from a request's first byte to the end of its head
BODY_TIMEOUT = 10.0  # seconds to read a body or write an answer, plus 1 s per MIN_RATE bytes
MIN_RATE = 64 * 1024
MAX_CONNECTIONS = 512
MAX_WORKERS = 32  # a web chain of 16 hops through one server needs 17 at once
RESERVED_WORKERS = 16  # more, for health checks, stats and peers' requests only
WORKER_IDLE = 10.0  # seconds a worker thread without work stays
LINGER, LINGER_BYTES = 1.0, 1024 * 1024  # after a refusal; see answers.refuse
SEND_IN_ONE = 64 * 1024  # answers up to this size go out in one write with their head
