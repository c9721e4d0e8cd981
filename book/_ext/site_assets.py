"""What the built site loads: everything local, nothing that errors in the browser console.

1. **MathJax served by the site.** MathJax 3 comes from the npm package
   ``mathjax`` (pinned in ``package.json`` and ``package-lock.json``, installed
   into ``node_modules/`` by ``make``). When the builder starts, the parts the
   book uses (the ``tex-chtml`` component, its fonts and the components it loads
   on demand) are copied to where ``mathjax_path`` points in the output,
   ``_build/html/_mathjax/``. ``mathjax_path`` in ``_config.yml`` is relative to
   ``_static/`` (Sphinx prefixes local script paths with it), hence
   ``../_mathjax/tex-chtml.js``. The files are deliberately not in a source
   ``_static/`` folder: Jupyter Book 1 adds a ``<script>`` tag for every ``.js``
   file it finds there.
2. **No Thebe.** Jupyter Book 1 always loads ``sphinx_thebe``, which puts a
   script on every page that would fetch Thebe from unpkg.com, and declares its
   configuration twice (a JavaScript error on every page). The book launches
   notebooks on Binder and Colab instead, so unless ``launch_buttons.thebe`` is
   switched on, this extension unhooks ``sphinx_thebe``.

3. **Whole lines of code.** Lesson code is formatted to 80 columns; at the
   theme's code size the text column shows about 81 characters, so a small
   stylesheet (:data:`COURSE_CSS`, written into ``_static/`` at build time)
   sets code in cells a little smaller, and wraps the lines of outputs and of
   claim cells, whose assert messages are long strings, instead of hiding
   their ends behind a scroll bar.

(Jupyter Book also leaves the theme's colour mode empty, a console error on every
page: ``_config.yml`` sets ``html_context.default_mode``.)
"""

from __future__ import annotations

import json
import posixpath
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

# Parts of node_modules/mathjax/es5 the site needs: the entry point and the
# folders it loads from (fonts, TeX extensions, menu, accessibility, speech).
ENTRY = "tex-chtml.js"
FOLDERS = ("a11y", "adaptors", "input", "output", "sre", "ui")
INSTALL_HINT = "run `make book` (or `npm ci` in the repository root) to install it into node_modules/"

#: The course's own CSS: whole 80-column lines in code cells; wrapped outputs and claim cells.
COURSE_CSS = """\
div.cell div.highlight pre { font-size: 0.8rem; }
div.cell div.output pre, div.cell.tag_claim div.highlight pre { white-space: pre-wrap; }
"""


def mathjax_package(app: Sphinx) -> tuple[Path, str]:
    """The installed npm package's ``es5`` folder and version, checked against package.json."""
    root = Path(app.srcdir)
    package_dir = root / "node_modules" / "mathjax"
    manifest = package_dir / "package.json"
    if not manifest.is_file():
        raise ExtensionError(f"MathJax is not installed at {package_dir}: {INSTALL_HINT}")
    wanted = json.loads((root / "package.json").read_text())["dependencies"]["mathjax"]
    found = json.loads(manifest.read_text())["version"]
    if found != wanted:
        raise ExtensionError(f"node_modules has MathJax {found}, package.json pins {wanted}: {INSTALL_HINT}")
    return package_dir / "es5", found


def copy_mathjax(app: Sphinx) -> None:
    """builder-inited: copy MathJax into the output folder where ``mathjax_path`` points."""
    if app.builder.format != "html":
        return
    mathjax_path = app.config.mathjax_path
    if "://" in mathjax_path or posixpath.basename(mathjax_path) != ENTRY:
        raise ExtensionError(
            f"mathjax_path must be a local path ending in {ENTRY} (relative to _static/), "
            f"not {mathjax_path!r}: the book has to render math offline"
        )
    source, version = mathjax_package(app)
    outdir = Path(app.outdir).resolve()
    target = (outdir / "_static" / posixpath.dirname(mathjax_path)).resolve()
    if outdir not in target.parents:
        raise ExtensionError(f"mathjax_path {mathjax_path!r} points outside the built site")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / ENTRY, target / ENTRY)
    for folder in FOLDERS:
        shutil.copytree(source / folder, target / folder, dirs_exist_ok=True)
    shutil.copy2(source.parent / "LICENSE", target / "LICENSE")
    logger.info("copied MathJax %s into %s", version, target.relative_to(outdir))


def write_course_css(app: Sphinx) -> None:
    """builder-inited: write :data:`COURSE_CSS` to ``_static/course.css`` of the output."""
    if app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    (static / "course.css").write_text(COURSE_CSS, encoding="utf-8")


def _thebe_wanted(config: Config) -> bool:
    launch_buttons = (config.html_theme_options or {}).get("launch_buttons", {})
    return str(launch_buttons.get("thebe", False)).lower() == "true"


def unhook_thebe(app: Sphinx, config: Config) -> None:
    """config-inited: disconnect sphinx_thebe's event handlers and stylesheet unless Thebe is on."""
    if _thebe_wanted(config):
        return
    for listeners in app.events.listeners.values():
        for listener in list(listeners):
            if getattr(listener.handler, "__module__", "").startswith("sphinx_thebe"):
                app.disconnect(listener.id)
    app.registry.css_files = [(name, attrs) for name, attrs in app.registry.css_files if "thebe" not in name]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", unhook_thebe)
    app.connect("builder-inited", copy_mathjax)
    app.connect("builder-inited", write_course_css)
    app.add_css_file("course.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
