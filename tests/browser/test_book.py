"""The built book as a reader sees it, in headless Chromium (``make browser``, part of ``make test``).

Every page of ``_toc.yml`` must load offline with no console error, no failed
request and no request to another host; its images must have loaded; no raw
TeX may be left in its visible text, and its math must have been typeset by the
MathJax the site serves itself. The sidebar lists every chapter, search finds
lesson text, exercise solutions open, the dark-mode toggle works, lesson pages
offer the notebook download and the Colab and Binder launch buttons, and the
appendix "Claims checked by this book" lists every claim cell and links to it.

Each page is loaded once and every check of that page runs on that load, so the
suite costs about one page load per page; ``make browser`` runs it on two workers.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path
from urllib.parse import quote, urljoin

import pytest
from booksite import (
    HTML,
    ROOT,
    PageLog,
    TocPage,
    config,
    lesson_pages,
    open_context,
    page_by_docname,
    toc_pages,
    watch,
)

pytestmark = pytest.mark.browser

PAGES = toc_pages()
LESSONS = lesson_pages()
PINNED_MATHJAX = json.loads((ROOT / "package.json").read_text())["dependencies"]["mathjax"]
SEARCH_WORD = "Kaiming"  # the example: a name every initialization lesson uses

# Visible text outside code that still holds TeX delimiters, so math was not typeset.
FIND_RAW_TEX = """() => {
  const skip = "pre, code, kbd, samp, script, style, textarea, mjx-container, .MathJax, .highlight";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip) || !parent.checkVisibility()) continue;
    const text = node.textContent;
    if (text.includes("$$") || text.includes("\\\\(") || text.includes("\\\\[")) {
      found.push(text.trim().slice(0, 120));
    }
  }
  return found;
}"""

WAIT_FOR_MATHJAX = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  await document.fonts.ready;
}"""

LOAD_ALL_IMAGES = """async () => {
  const images = Array.from(document.images);
  for (const img of images) img.loading = "eager";
  await Promise.all(images.map((img) => img.decode().catch(() => null)));
  return images.map((img) => ({
    src: img.currentSrc || img.src,
    ok: img.complete && img.naturalWidth > 0,
  }));
}"""

MATH_STATE = """() => ({
  math: document.querySelectorAll("#main-content .math").length,
  untypeset: Array.from(document.querySelectorAll("#main-content .math"))
    .filter((el) => !el.querySelector("mjx-container")).map((el) => el.textContent.slice(0, 80)),
  typeset: document.querySelectorAll("#main-content mjx-container").length,
  errors: Array.from(document.querySelectorAll("mjx-merror")).map((el) => el.textContent.slice(0, 80)),
  version: window.MathJax && MathJax.version,
  scripts: Array.from(document.scripts).map((s) => s.src).filter((src) => /mathjax/i.test(src)),
})"""


def open_page(page, site: str, path: str) -> None:
    """Go to ``path`` on the site and wait until it is fully loaded and typeset."""
    response = page.goto(urljoin(site, path), wait_until="load")
    assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
    page.evaluate(WAIT_FOR_MATHJAX)
    page.wait_for_load_state("networkidle")


def visible_article_text(html_path: Path) -> str:
    """The prose and code of a built page's article, from the HTML file (no browser)."""
    html = html_path.read_text(encoding="utf-8")
    match = re.search(r'<article class="bd-article">(.*?)</article>', html, re.S)
    body = match.group(1) if match else html
    return re.sub(r"<[^>]+>", " ", body)


def claims_in_notebook(path: Path) -> int:
    """How many ``assert`` statements the cells tagged ``claim`` of a notebook hold."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    count = 0
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and "claim" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"])
            count += sum(isinstance(stmt, ast.Assert) for stmt in ast.parse(source).body)
    return count


def appendix_claim_links() -> dict[str, list[str]]:
    """The claim anchors the built appendix links to, by lesson docname (read from its HTML)."""
    appendix = next((p for p in PAGES if p.docname.endswith("claims")), None)
    if appendix is None:
        return {}
    html = (HTML / appendix.path).read_text(encoding="utf-8")
    links: dict[str, list[str]] = {}
    for target in re.findall(r'href="([^"#]*#claim-[a-z0-9-]+)"', html):
        path, anchor = target.split("#")
        docname = re.sub(r"^(\.\./)+", "", path).removesuffix(".html")
        links.setdefault(docname, []).append(anchor)
    return links


# Display equations wider than the text column (MathJax hides the rest behind a scroll bar).
WIDE_MATH = """() => Array.from(document.querySelectorAll('#main-content mjx-container[display="true"]'))
  .map((c) => [c.querySelector("mjx-math").getBoundingClientRect().width, c.getBoundingClientRect().width,
    (c.closest(".math") || c).textContent.trim().slice(0, 60)])
  .filter(([wide, shown]) => wide > shown + 1)"""

# Code cells whose longest line does not fit the text column (lesson code is formatted to 80
# columns, and book/_ext/site_assets.py sizes the code font so that 80 columns fit).
CUT_CODE_LINES = """() => Array.from(document.querySelectorAll("div.cell div.cell_input pre"))
  .filter((pre) => pre.scrollWidth > pre.clientWidth + 1)
  .map((pre) => [pre.scrollWidth, pre.clientWidth,
    pre.textContent.split("\\n").reduce((a, b) => (b.length > a.length ? b : a), "")])"""


def check_page(page, site: str, toc_page: TocPage) -> list[str]:
    """Everything about one loaded page a reader relies on; returns the problems found."""
    problems: list[str] = []
    images = page.evaluate(LOAD_ALL_IMAGES)
    problems += [f"image did not load: {image['src']}" for image in images if not image["ok"]]
    problems += [f"raw TeX in the visible text: {text!r}" for text in page.evaluate(FIND_RAW_TEX)]

    math = page.evaluate(MATH_STATE)
    if math["math"]:
        if not math["typeset"]:
            problems.append(f"{math['math']} math elements but no MathJax output")
        problems += [f"math not typeset: {text!r}" for text in math["untypeset"]]
        problems += [f"MathJax error: {text!r}" for text in math["errors"]]
        if not [src for src in math["scripts"] if src.startswith(site)]:
            problems.append(f"MathJax is not served by the site: {math['scripts']}")
        problems += [
            f"a display equation is cut off ({wide:.0f} px of {shown:.0f} px shown): {text!r}"
            for wide, shown, text in page.evaluate(WIDE_MATH)
        ]
        if math["version"] != PINNED_MATHJAX:
            problems.append(f"MathJax {math['version']} is running, package.json pins {PINNED_MATHJAX}")

    sidebar = page.locator("nav.bd-docs-nav")
    links = sidebar.locator("a").evaluate_all(
        "els => els.map(e => [e.href.split('#')[0], e.checkVisibility() && e.textContent.trim() !== ''])"
    )
    for chapter in (p for p in PAGES if p.is_chapter and p.docname != PAGES[0].docname):
        visible = [shown for href, shown in links if href == urljoin(site, chapter.path)]
        if not visible:
            problems.append(f"the sidebar does not link to the chapter {chapter.docname}")
        elif not any(visible):
            problems.append(f"the sidebar link to the chapter {chapter.docname} is not visible")
    listed = {href for href, _ in links}
    problems += [
        f"the sidebar does not list {other.docname}"
        for other in PAGES[1:]
        if urljoin(site, other.path) not in listed
    ]
    for caption in {p.part for p in PAGES if p.part}:
        if not sidebar.locator("p.caption", has_text=caption).count():
            problems.append(f"the sidebar has no part caption {caption!r}")
    if not page.locator("#main-content h1").count():
        problems.append("the page has no title (h1)")
    if toc_page.is_lesson:
        problems += [
            f"a code line is cut off ({width} px of {shown} px shown): {line!r}"
            for width, shown, line in page.evaluate(CUT_CODE_LINES)
        ]
        problems += check_lesson_buttons(page, toc_page)
        problems += check_solutions(page)
        problems += check_claim_anchors(page, appendix_claim_links().get(toc_page.docname, []))
    return problems


def check_lesson_buttons(page, lesson: TocPage) -> list[str]:
    """The notebook downloads from the site; Colab and Binder open it from the configured repository."""
    problems = []
    download = page.locator(f'.dropdown-download-buttons a[href$="_sources/{lesson.docname}.ipynb"]')
    if download.count() != 1:
        problems.append("no notebook download button")
    else:
        notebook = page.request.get(download.first.evaluate("a => a.href"))
        if not (notebook.ok and "cells" in notebook.json()):
            problems.append("the notebook download does not serve the notebook")
    repository = config()["repository"]
    owner_repo = re.sub(r"^https://github\.com/|/$", "", repository["url"])
    branch = repository.get("branch", "main")
    notebook_path = quote(f"{lesson.docname}.ipynb")
    launch = page.locator(".dropdown-launch-buttons a")
    hrefs = launch.evaluate_all("els => els.map(e => e.href)")
    colab = f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{notebook_path}"
    binder = f"https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=tree/{notebook_path}"
    for name, url in (("Colab", colab), ("Binder", binder)):
        if url not in hrefs:
            problems.append(f"no {name} launch link {url} in {hrefs}")
    page.locator(".dropdown-launch-buttons button.dropdown-toggle").click()
    if not launch.first.is_visible():
        problems.append("the launch menu does not open")
    page.keyboard.press("Escape")
    return problems


SOLUTION_BODIES = """() => Array.from(document.querySelectorAll("#main-content .solution.dropdown"))
  .map((d) => {
    const body = d.querySelector(":scope > :not(.admonition-title)");
    const button = d.querySelector(".toggle-button");
    const shown = Boolean(body && body.checkVisibility({visibilityProperty: true, opacityProperty: true}));
    return [shown, button && button.getAttribute("aria-expanded")];
  })"""


def check_solutions(page) -> list[str]:
    """Each solution dropdown starts closed and opens on a click of its toggle button."""
    exercises = page.locator("#main-content .exercise").count()
    before = page.evaluate(SOLUTION_BODIES)
    if exercises and not before:
        return [f"{exercises} exercises but no solution dropdown"]
    problems = [f"solution {i + 1} is open before a click" for i, (shown, _) in enumerate(before) if shown]
    toggles = page.locator("#main-content .solution.dropdown .toggle-button")
    for index in range(toggles.count()):
        toggles.nth(index).dispatch_event("click")  # a real click event, without scrolling to each
    try:
        page.wait_for_function(f"() => ({SOLUTION_BODIES})().every(([shown]) => shown)", timeout=5_000)
    except Exception:
        pass
    after = page.evaluate(SOLUTION_BODIES)
    problems += [
        f"solution {i + 1} does not open on a click (visible {shown}, aria-expanded {expanded})"
        for i, (shown, expanded) in enumerate(after)
        if not (shown and expanded == "true")
    ]
    return problems


CLAIM_ANCHORS = """anchors => anchors.map((anchor) => {
  const cells = document.querySelectorAll(`[id='${anchor}']`);
  if (cells.length !== 1) return `#${anchor}: no single element with this id`;
  const cell = cells[0];
  if (!cell.classList.contains("tag_claim")) return `#${anchor} is not a claim cell`;
  if (!cell.innerText.includes("assert")) return `#${anchor}: the claim cell shows no assert`;
  location.hash = anchor;
  const top = cell.getBoundingClientRect().top;
  if (!cell.checkVisibility() || top < -5 || top >= innerHeight) {
    return `#${anchor}: the link does not bring the cell into view (top ${Math.round(top)})`;
  }
  return null;
}).filter((problem) => problem !== null)"""


def check_claim_anchors(page, anchors: list[str]) -> list[str]:
    """Every claim the appendix links to on this page is a visible claim cell that the link scrolls to."""
    return page.evaluate(CLAIM_ANCHORS, anchors)


# --------------------------------------------------------------------------- every page
@pytest.mark.parametrize("toc_page", PAGES, ids=[p.docname for p in PAGES])
def test_page(page, site, page_log: PageLog, toc_page: TocPage, screenshots_dir) -> None:
    """One load of each page: complete offline; for lessons, also buttons, solutions and claim anchors."""
    open_page(page, site, toc_page.path)
    problems = check_page(page, site, toc_page)
    problems = page_log.problems() + problems  # console errors and requests, while the checks ran too

    if screenshots_dir is not None:
        page.screenshot(
            path=str(screenshots_dir / f"{toc_page.slug}-light.png"), full_page=True, animations="disabled"
        )
        dark_log = PageLog()
        dark = open_context(page.context.browser, dark_log, color_scheme="dark")
        dark_page = dark.new_page()
        watch(dark_page, dark_log)
        open_page(dark_page, site, toc_page.path)
        dark_page.screenshot(
            path=str(screenshots_dir / f"{toc_page.slug}-dark.png"), full_page=True, animations="disabled"
        )
        problems += [f"in dark mode: {problem}" for problem in dark_log.problems()]
        dark.close()

    assert not problems, f"{toc_page.path}:\n  " + "\n  ".join(problems)


def test_every_toc_page_was_built() -> None:
    missing = [p.path for p in PAGES if not (HTML / p.path).exists()]
    assert not missing, f"pages in _toc.yml missing from {HTML}: {missing}"


def test_every_toc_page_names_the_course_icon() -> None:
    """Each page links book/favicon.svg; without a link, browsers ask for /favicon.ico (a 404)."""
    wrong = []
    for p in PAGES:
        icon = re.search(r'<link rel="icon" href="([^"]+)"', (HTML / p.path).read_text(encoding="utf-8"))
        if not icon or not ((HTML / p.path).parent / icon.group(1)).resolve().is_file():
            wrong.append(f"{p.path}: {icon.group(1) if icon else 'no icon link'}")
    assert not wrong, f"pages without the course icon: {wrong}"


def test_some_lesson_has_exercise_dropdowns() -> None:
    if not LESSONS:
        pytest.skip("no lesson in _toc.yml yet")
    with_dropdowns = [
        p.docname
        for p in LESSONS
        if 'class="solution dropdown' in (HTML / p.path).read_text(encoding="utf-8")
    ]
    assert with_dropdowns, "no lesson page has an exercise solution dropdown"


# --------------------------------------------------------------------------- search
SEARCH_API = """query => Search._performSearch(...Search._parseQuery(query)).map(r => r[0])"""


def _title_word(lesson: TocPage) -> str:
    title = re.search(r"<h1>(.*?)<", (HTML / lesson.path).read_text(encoding="utf-8"), re.S)
    words = re.findall(r"[A-Za-z]{4,}", title.group(1) if title else lesson.docname)
    return max(words, key=len)


def test_search(page, site, page_log: PageLog) -> None:
    """The search page finds every page naming Kaiming, and each lesson by its title's longest word."""
    word = re.compile(rf"\b{SEARCH_WORD}\b", re.IGNORECASE)  # a whole word: not kaiming_normal
    expected = {p.docname for p in PAGES if word.search(visible_article_text(HTML / p.path))}
    assert expected, f"no page mentions {SEARCH_WORD!r}"
    open_page(page, site, f"search.html?q={quote(SEARCH_WORD)}")
    page.wait_for_function(
        """() => {
          const s = document.querySelector("#search-results .search-summary");
          return s && /finished|did not match/.test(s.textContent);
        }""",
        timeout=20_000,
    )
    hrefs = page.locator("#search-results ul.search li a").evaluate_all("els => els.map(e => e.href)")
    found = {re.sub(r"\.html.*$", "", href.removeprefix(site)) for href in hrefs}
    assert expected <= found, f"search for {SEARCH_WORD!r} misses {sorted(expected - found)} (found {found})"
    missing = []
    for lesson in LESSONS:  # the same index and ranking, queried without re-rendering the page
        title_word = _title_word(lesson)
        if lesson.docname not in page.evaluate(SEARCH_API, title_word):
            missing.append(f"{title_word!r} -> {lesson.docname}")
    assert not missing, f"search does not return the lesson for: {missing}"
    assert not page_log.problems(), "\n".join(page_log.problems())


# --------------------------------------------------------------------------- dark mode
@pytest.mark.parametrize("docname", [PAGES[0].docname, *[p.docname for p in LESSONS[:1]]])
def test_dark_mode_toggle(page, site, page_log: PageLog, docname: str) -> None:
    """The theme button switches to dark colours, and the choice survives a reload."""
    open_page(page, site, page_by_docname(docname).path)
    background = "() => getComputedStyle(document.body).backgroundColor"

    def luminance() -> float:
        red, green, blue = (int(v) for v in re.findall(r"\d+", page.evaluate(background))[:3])
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    light = luminance()
    for _ in range(3):  # the button cycles through auto, dark and light
        page.locator(".theme-switch-button").first.click()
        if page.evaluate("document.documentElement.dataset.theme") == "dark":
            break
    assert page.evaluate("document.documentElement.dataset.theme") == "dark", "the toggle never reached dark"
    page.wait_for_timeout(500)  # the theme fades colours in
    dark = luminance()
    assert dark < light - 100, f"the background did not turn dark (luminance {light:.0f} -> {dark:.0f})"
    page.reload(wait_until="load")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark", "dark mode is lost on reload"
    assert not page_log.problems(), "\n".join(page_log.problems())


# --------------------------------------------------------------------------- the claims appendix
def test_claims_appendix_lists_every_claim(page, site, page_log: PageLog) -> None:
    """The appendix links to every claim cell of every lesson (test_page follows each link)."""
    appendix = next((p for p in PAGES if p.docname.endswith("claims")), None)
    if appendix is None:
        pytest.fail("_toc.yml has no claims appendix (book/claims.md)")
    expected = {p.docname: claims_in_notebook(p.source) for p in LESSONS if p.source.suffix == ".ipynb"}
    open_page(page, site, appendix.path)
    links = page.locator("#main-content a[href*='#claim-']").evaluate_all("els => els.map(e => e.href)")
    listed: dict[str, int] = {}
    for href in links:
        docname = re.sub(r"\.html#.*$", "", href.removeprefix(site))
        listed[docname] = listed.get(docname, 0) + 1
    assert listed == {d: n for d, n in expected.items() if n}, "the appendix does not list every claim cell"
    parsed = {d: len(a) for d, a in appendix_claim_links().items()}
    assert parsed == listed, "the appendix links read from its HTML differ from those in the browser"
    assert not page_log.problems(), "\n".join(page_log.problems())


def test_references_and_notation_pages() -> None:
    references = next((p for p in PAGES if p.docname.endswith("references")), None)
    notation = next((p for p in PAGES if p.docname.endswith("notation")), None)
    assert references and notation, "_toc.yml needs book/references and book/notation"
    html = (HTML / references.path).read_text(encoding="utf-8")
    assert 'class="citation' in html or "bibtex" in html, "the references page lists no entry"
    assert "<table" in (HTML / notation.path).read_text(encoding="utf-8"), "the notation page has no table"


def test_claim_messages_are_read_from_the_assert() -> None:
    """The appendix's parser: plain, multi-line and f-string messages; a claim needs words."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from claims import parse_claims

    source = 'ratio = 2.0\nassert ratio > 1.5 and (\n    ratio < 3\n), (\n    "the ratio is near two"\n)\n'
    assert parse_claims(source) == [("the ratio is near two", "ratio > 1.5 and (ratio < 3)")]
    source = 'assert x < tol, f"the error stays below {tol:.0e} at width {width}"'
    assert parse_claims(source) == [("the error stays below {tol} at width {width}", "x < tol")]
    for bad in ("x = 1", "assert x", "assert x, ''", "assert (x"):
        with pytest.raises(ValueError):
            parse_claims(bad)
