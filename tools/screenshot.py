"""Screenshot built book pages in headless Chromium, to look at what readers see.

Usage (after ``make book``)::

    python tools/screenshot.py lessons/03_activations/01_why_nonlinearity [more pages] [--dark] [--width 1280]

Each page of ``_build/html`` is served on 127.0.0.1 and saved, full length, as
``tests/screenshots/pages/<page>.png`` (``-dark.png`` with ``--dark``). Open the
PNG with an image viewer; a long page comes out as one tall image.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from booksite import CHROMIUM, CHROMIUM_ARGS, HTML, SCREENSHOTS  # noqa: E402


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", help="docnames, e.g. lessons/01_weights/02_bias or book/intro")
    parser.add_argument("--dark", action="store_true", help="dark colour scheme")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in pixels")
    args = parser.parse_args()
    if not (HTML / "index.html").exists():
        sys.exit(f"no built book in {HTML}: run `make book` first")
    from playwright.sync_api import sync_playwright

    handler = functools.partial(_Quiet, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    out_dir = SCREENSHOTS / "pages"
    out_dir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": args.width, "height": 900}, color_scheme="dark" if args.dark else "light"
        )
        page = context.new_page()
        for docname in args.pages:
            docname = re.sub(r"\.(html|ipynb|md)$", "", docname)
            page.goto(base + docname + ".html", wait_until="networkidle")
            page.evaluate("async () => { if (window.MathJax) await MathJax.startup.promise; }")
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", docname) + ("-dark" if args.dark else "") + ".png"
            page.screenshot(path=str(out_dir / name), full_page=True, animations="disabled")
            print(out_dir / name)
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
