"""What the browser suite knows about the book: its pages, its build, and an offline browser context.

Shared by ``conftest.py`` (fixtures) and ``test_book.py`` (checks).
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "tests" / "screenshots"
CHROMIUM = Path(os.environ.get("TNN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_CHROMIUM = (
    f"Chromium is not installed at {CHROMIUM}. The browser tests drive Debian's Chromium "
    "(never a browser download). Install it with:\n\n"
    "    sudo apt-get update && sudo apt-get install -y chromium\n\n"
    "or point TNN_CHROMIUM at another Chromium binary."
)
# Besides the pages of the table of contents, what a build depends on.
BUILD_INPUTS = (
    "_config.yml",
    "_toc.yml",
    "book/**/*.bib",
    "book/*.svg",
    "book/_ext/*.py",
    "package-lock.json",
)


# --------------------------------------------------------------------------- the table of contents
@dataclass(frozen=True)
class TocPage:
    """One page of ``_toc.yml``: its docname, the part it is in, and whether it is a chapter."""

    docname: str
    part: str
    is_chapter: bool  # a top-level entry of a part (listed in the sidebar at level 1)

    @property
    def path(self) -> str:
        return f"{self.docname}.html"

    @property
    def is_lesson(self) -> bool:
        return self.docname.startswith("lessons/")

    @property
    def source(self) -> Path:
        for suffix in (".ipynb", ".md"):
            candidate = ROOT / f"{self.docname}{suffix}"
            if candidate.exists():
                return candidate
        return ROOT / f"{self.docname}.md"

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", self.docname)


def _docname(entry: dict) -> str:
    return re.sub(r"\.(md|ipynb)$", "", entry["file"])


@functools.cache
def toc_pages() -> tuple[TocPage, ...]:
    """Every page of ``_toc.yml`` in reading order (the root first)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [TocPage(_docname({"file": toc["root"]}), "", True)]

    def walk(entries: list[dict], part: str, depth: int) -> None:
        for entry in entries:
            if "file" in entry:
                pages.append(TocPage(_docname(entry), part, depth == 0))
            for key in ("sections", "chapters"):
                walk(entry.get(key, []), part, depth + 1)

    for part in toc.get("parts", []):
        walk(part.get("chapters", []), part.get("caption", ""), 0)
    walk(toc.get("chapters", []), "", 0)
    return tuple(pages)


def lesson_pages() -> tuple[TocPage, ...]:
    return tuple(page for page in toc_pages() if page.is_lesson)


def page_by_docname(docname: str) -> TocPage:
    return next(page for page in toc_pages() if page.docname == docname)


def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


@dataclass
class PageLog:
    """What went wrong while a page was open: the suite fails on any of it."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"console error: {text}" for text in self.console_errors]
            + [f"uncaught JavaScript error: {text}" for text in self.page_errors]
            + [f"failed local request: {text}" for text in self.failed_requests]
            + [
                f"request to another host (the page must work offline): {url}"
                for url in self.outside_requests
            ]
        )

    def clear(self) -> None:
        for problems in (self.console_errors, self.page_errors, self.failed_requests, self.outside_requests):
            problems.clear()


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == "127.0.0.1"


def open_context(browser, log: PageLog, color_scheme: str = "light"):
    """A fresh context (empty storage) that only lets requests reach 127.0.0.1, logging the rest."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=color_scheme)
    context.set_default_timeout(15_000)

    def route(route) -> None:
        url = route.request.url
        if _is_local(url):
            route.continue_()
        else:
            log.outside_requests.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", route)
    return context


def watch(page, log: PageLog) -> None:
    """Record console errors, uncaught errors and failed local requests of ``page`` in ``log``."""
    page.on("console", lambda msg: log.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))

    def failed(request) -> None:
        if _is_local(request.url):
            log.failed_requests.append(f"{request.url} ({request.failure})")

    def response(response) -> None:
        if _is_local(response.url) and response.status >= 400:
            log.failed_requests.append(f"{response.url} (HTTP {response.status})")

    page.on("requestfailed", failed)
    page.on("response", response)
