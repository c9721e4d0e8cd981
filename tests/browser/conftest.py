"""Fixtures for the browser suite: the built book served on 127.0.0.1 and Debian's Chromium.

``make browser`` (part of ``make test``) builds ``_build/html`` and then runs
this suite; pytest itself builds nothing and downloads no browser, and run
alone it refuses a missing or stale build. Chromium is ``/usr/bin/chromium`` from
Debian's package (``TNN_CHROMIUM`` overrides the path); when it is missing
every test fails with the command that installs it.

Every page is opened in a fresh browser context that lets requests reach
127.0.0.1 only: any other request is aborted and reported, because a page that
needs the internet to look right fails the book's promise to work offline.
When a test fails, a screenshot of its page is saved in ``tests/screenshots/``.
``pytest -m browser tests/browser --screenshots`` also saves every page of the
table of contents in light and dark mode there, for a person to look at.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from booksite import (
    BUILD_INPUTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    HTML,
    INSTALL_CHROMIUM,
    ROOT,
    SCREENSHOTS,
    PageLog,
    open_context,
    toc_pages,
    watch,
)


# --------------------------------------------------------------------------- options and reports
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        action="store_true",
        help="save a light and a dark screenshot of every page in tests/screenshots/pages/",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# --------------------------------------------------------------------------- the site
def _stale_inputs() -> list[str]:
    """Sources changed since the last build (its search index is written last)."""
    built = (HTML / "searchindex.js").stat().st_mtime
    sources = {page.source for page in toc_pages()}
    sources.update(path for pattern in BUILD_INPUTS for path in ROOT.glob(pattern))
    return sorted(str(p.relative_to(ROOT)) for p in sources if p.exists() and p.stat().st_mtime > built)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    """Ignores a browser that closes a connection mid-response (a page that moved on)."""

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """The base URL of ``_build/html`` served by Python's http.server on 127.0.0.1."""
    if not (HTML / "searchindex.js").exists():
        pytest.fail(f"no built book in {HTML}: run `make browser`, which builds the book and then tests it")
    if stale := _stale_inputs():
        pytest.fail(
            f"the build in {HTML} is older than {', '.join(stale[:5])}: run `make browser`, "
            "which builds the book and then tests it"
        )
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- the browser
@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(INSTALL_CHROMIUM, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser, site, page_log: PageLog, request: pytest.FixtureRequest):
    """A Chromium page in a fresh offline context; on failure its screenshot is saved."""
    context = open_context(browser, page_log)
    page = context.new_page()
    watch(page, page_log)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and not page.is_closed() and page.url != "about:blank":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
        path = SCREENSHOTS / f"FAILED-{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        print(f"screenshot of the failing page: {path}")
    context.close()


@pytest.fixture(scope="session")
def screenshots_dir(request: pytest.FixtureRequest) -> Path | None:
    """``tests/screenshots/pages`` when ``--screenshots`` is given (emptied first), else None."""
    if not request.config.getoption("--screenshots"):
        return None
    target = SCREENSHOTS / "pages"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    return target
