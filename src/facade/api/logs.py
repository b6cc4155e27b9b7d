"""The control plane's log lines: text as always (`time logger message`), or one JSON object a
line (`facade up --log-format json`, FACADE_LOG_FORMAT=json) for a log shipper.

A JSON line has `time` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message`,
`request_id` when the line was written while a request was served or its change reconciled
(service/request_ids.py), and `exception` (the traceback) when there is one. A text line ends
with `request_id=ID` then. The request id is read when the line is formatted: the handler here
writes in the thread that logs (no queue between), where the id is still the current one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os

from facade.service import request_ids

FORMATS = ("text", "json")
ENV = "FACADE_LOG_FORMAT"
TEXT = "%(asctime)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        rid = request_ids.current.get()
        if rid is not None:
            line["request_id"] = rid
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["exception"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        rid = request_ids.current.get()
        return text if rid is None else f"{text} request_id={rid}"


def default_format() -> str:
    """FACADE_LOG_FORMAT, or text; the server refuses a value that is neither."""
    return os.environ.get(ENV, "text")


def configure(form: str, level: int = logging.INFO) -> None:
    """Every log line of the process (the root logger's one handler, on stderr) in `form`."""
    if form not in FORMATS:
        raise ValueError(f"log format {form!r}: use one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if form == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
