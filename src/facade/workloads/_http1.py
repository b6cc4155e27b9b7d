"""The HTTP/1.1 wire format of the built-in workloads, as pure functions on bytes and strings.

Used by the server (`_httpd`) to parse request heads under strict limits and to write response
heads, and by the client (`_httpc`) to parse response heads. Also the two URL helpers the
workloads need (percent-decoding, query strings), so that none of them imports `urllib`,
`email` or `http`: each of those costs a workload about a megabyte of private memory.
Stdlib only, and only `time`.
"""

from __future__ import annotations

import time

MAX_REQUEST_LINE = 16 * 1024  # bytes; longer -> 414 (a search query of 5,000 words fits)
MAX_HEAD = 32 * 1024  # request line and header fields together; more -> 431
MAX_FIELDS = 100  # header fields per head; more -> 431

REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
    301: "Moved Permanently", 302: "Found", 304: "Not Modified", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 409: "Conflict", 411: "Length Required",
    413: "Content Too Large", 414: "URI Too Long", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported", 508: "Loop Detected",
}
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789"
                   b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_HEX = frozenset("0123456789abcdefABCDEF")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class HttpError(Exception):
    """A request refused before any route sees it: the status to answer and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def head_end(buf: bytes | bytearray, start: int = 0) -> int:
    """The index just past the empty line that ends the head at the start of `buf`, or -1.

    Lines end in CRLF or a bare LF. `start` lets a caller that appends to `buf` skip what it
    searched already (give the old length minus 2)."""
    i = buf.find(b"\n", start)
    while i >= 0:
        if buf[i + 1:i + 2] == b"\n":
            return i + 2
        if buf[i + 1:i + 3] == b"\r\n":
            return i + 3
        i = buf.find(b"\n", i + 1)
    return -1


def oversized(buf: bytes | bytearray) -> HttpError | None:
    """The error for a buffer that holds no complete head yet but may not grow further."""
    if len(buf) > MAX_REQUEST_LINE and b"\n" not in buf[:MAX_REQUEST_LINE + 2]:
        return HttpError(414, f"request line longer than {MAX_REQUEST_LINE} bytes")
    if len(buf) > MAX_HEAD:
        return HttpError(431, f"request head larger than {MAX_HEAD} bytes")
    return None


def request_path(buf: bytes | bytearray) -> str | None:
    """The path (without query) of the request line at the start of buf, if it has one."""
    end = buf.find(b"\n", 0, MAX_REQUEST_LINE + 2)
    parts = bytes(buf[:end]).rstrip(b"\r").split(b" ") if end >= 0 else []
    if len(parts) != 3:
        return None
    return parts[1].split(b"?", 1)[0].decode("latin-1")


def _line(raw: bytes) -> bytes:
    return raw[:-1] if raw.endswith(b"\r") else raw


def parse_request_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    """(method, target, version, fields) of a complete request head; raises HttpError.

    Field names are lower-cased; a repeated field is joined with ", " (its list form), except
    Content-Length, which must not disagree with itself. The target is returned in origin form
    ("/path?query"; an absolute-form target loses its scheme and authority)."""
    if len(head) > MAX_HEAD + 4:
        raise HttpError(431, f"request head larger than {MAX_HEAD} bytes")
    lines = head.split(b"\n")
    request_line = _line(lines[0])
    if len(request_line) > MAX_REQUEST_LINE:
        raise HttpError(414, f"request line longer than {MAX_REQUEST_LINE} bytes")
    parts = request_line.split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise HttpError(400, "malformed request line: want METHOD TARGET HTTP/1.x")
    method, target, version = parts
    if not all(c in _TOKEN for c in method):
        raise HttpError(400, "malformed method")
    if len(version) != 8 or not version.startswith(b"HTTP/") or version[6:7] != b"." \
            or not version[5:6].isdigit() or not version[7:8].isdigit():
        raise HttpError(400, "malformed HTTP version")
    if version[5:6] != b"1":
        raise HttpError(505, "only HTTP/1.0 and HTTP/1.1 are spoken here")
    if not all(0x21 <= c <= 0x7E for c in target):
        raise HttpError(400, "the target holds a control character, space or non-ASCII byte")
    if target[:1] != b"/" and target != b"*":
        scheme, sep, rest = target.partition(b"://")
        if not sep or scheme.lower() not in (b"http", b"https"):
            raise HttpError(400, "the target must be a path (/...) or an absolute http URL")
        slash = rest.find(b"/")
        target = b"/" if slash < 0 else rest[slash:]
    fields: dict[str, str] = {}
    count = 0
    for raw in lines[1:]:
        line = _line(raw)
        if not line:
            break
        count += 1
        if count > MAX_FIELDS:
            raise HttpError(431, f"more than {MAX_FIELDS} header fields")
        if line[:1] in (b" ", b"\t"):
            raise HttpError(400, "folded header lines are not accepted")
        name, sep, value = line.partition(b":")
        if not sep or not name or not all(c in _TOKEN for c in name):
            raise HttpError(400, "malformed header field")
        value = value.strip(b" \t")
        if any((c < 0x20 and c != 0x09) or c == 0x7F for c in value):
            raise HttpError(400, "a header value holds a control character")
        key, text = name.decode("ascii").lower(), value.decode("latin-1")
        if key in fields:
            if key == "content-length":
                if fields[key] != text:
                    raise HttpError(400, "conflicting Content-Length fields")
                continue
            text = f"{fields[key]}, {text}"
        fields[key] = text
    return method.decode("ascii"), target.decode("ascii"), version.decode("ascii"), fields


def content_length(fields: dict[str, str]) -> int:
    """The declared body length (0 if none); raises HttpError 400 if it is not a number."""
    value = fields.get("content-length")
    if value is None:
        return 0
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise HttpError(400, "invalid Content-Length")
    return int(value)


def wants_close(version: str, fields: dict[str, str]) -> bool:
    """Whether the client asked for the connection to end after this exchange."""
    tokens = {t.strip().lower() for t in fields.get("connection", "").split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" not in tokens
    return "close" in tokens


def http_date(now: float | None = None) -> str:
    """An IMF-fixdate (RFC 9110), without the locale that time.strftime would consult."""
    t = time.gmtime(now)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


def response_head(status: int, fields: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, '')}".rstrip(" ")]
    lines += [f"{name}: {value}" for name, value in fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_response_head(head: bytes) -> tuple[int, dict[str, str]]:
    """(status, fields) of a response head (lower-cased names); raises ValueError."""
    lines = head.split(b"\n")
    parts = _line(lines[0]).split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3 \
            or not parts[1].isdigit():
        raise ValueError(f"not an HTTP/1.x status line: {_line(lines[0])[:80]!r}")
    fields: dict[str, str] = {}
    for raw in lines[1:]:
        line = _line(raw)
        if not line:
            break
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError("malformed header field in the response")
        key, text = name.strip().decode("latin-1").lower(), value.strip().decode("latin-1")
        fields[key] = f"{fields[key]}, {text}" if key in fields else text
    return int(parts[1]), fields


def unquote(text: str) -> str:
    """Percent-decoding as urllib.parse.unquote does it: UTF-8, invalid bytes replaced, and a
    '%' not followed by two hex digits kept as it is."""
    if "%" not in text:
        return text
    pieces = text.split("%")
    raw = bytearray(pieces[0].encode("utf-8", "surrogatepass"))
    for piece in pieces[1:]:
        if len(piece) >= 2 and piece[0] in _HEX and piece[1] in _HEX:
            raw.append(int(piece[:2], 16))
            raw += piece[2:].encode("utf-8", "surrogatepass")
        else:
            raw += b"%" + piece.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def parse_query(query: str) -> dict[str, list[str]]:
    """A query string's fields as urllib.parse.parse_qs gives them: '&'-separated, '+' is a
    space, percent-decoded, fields without '=' or with an empty value left out."""
    out: dict[str, list[str]] = {}
    for field in query.split("&"):
        name, sep, value = field.partition("=")
        if sep and value:
            key = unquote(name.replace("+", " "))
            out.setdefault(key, []).append(unquote(value.replace("+", " ")))
    return out
