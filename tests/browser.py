"""Debian's Chromium, headless, driven by Playwright for Python (never a downloaded browser):
what the console's browser tests and bench/console.py share. A page opened here records every
message the browser's console logged at error level, every uncaught page error, and the bodies
of the /v1 answers it fetched (the tests look for what must not be in them)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

CHROMIUM = "/usr/bin/chromium"


def available() -> str | None:
    """Why a browser test cannot run here, or None when it can."""
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is not installed (make deps installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (requirements/dev.lock)"
    return None


@dataclass
class Watched:
    page: Any
    errors: list[str] = field(default_factory=list)
    answers: list[tuple[str, str]] = field(default_factory=list)  # (url, body) of /v1 answers


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright's Browser); as root its own sandbox is off (it refuses
    to start otherwise; the tests run it in their sandbox)."""
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args,
                                     env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")})
        try:
            yield browser
        finally:
            browser.close()


def watched_page(browser: Any, *, width: int = 1400, height: int = 900) -> Watched:
    """A new page (a fresh context: its own session storage) whose console errors, page errors
    and /v1 answers are recorded."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    seen = Watched(page)
    page.on("console", lambda msg: seen.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: seen.errors.append(f"page error: {exc}"))

    def answered(resp: Any) -> None:
        if "/v1/" in resp.url:
            try:
                seen.answers.append((resp.url, resp.text()))
            except Exception as exc:  # a body already gone (the page navigated): say so
                seen.answers.append((resp.url, f"<unread: {exc}>"))
    page.on("response", answered)
    return seen


def sign_in(seen: Watched, base: str, token: str) -> None:
    page = seen.page
    page.goto(base + "/")
    page.fill("#token", token)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#who")

