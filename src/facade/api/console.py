"""The console on the API's own port: `GET /` answers the page and `/console/...` its ES
modules, styles and icon, all shipped in the package (src/facade/console/, package data; no
asset is fetched from anywhere else, docs/console.md). The page is a client of the public /v1
API like the `facade` command; nothing here reads the store. create_app mounts it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

# The page may load only what this server serves, and no other site may frame it (it holds a
# token in its session storage).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def assets() -> Path:
    """The folder of the console's files, inside the installed package."""
    return Path(str(resources.files("facade") / "console"))


def mount(app: FastAPI) -> None:
    folder = assets()

    @app.get("/", include_in_schema=False)
    def console_page() -> FileResponse:
        return FileResponse(folder / "index.html", media_type="text/html; charset=utf-8",
                            headers=PAGE_HEADERS)

    app.mount("/console", StaticFiles(directory=folder), name="console")
