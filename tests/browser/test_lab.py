"""``make lab`` as a reader uses it: JupyterLab serves a lesson, and its kernel runs it.

The test starts ``make lab`` on a free port of 127.0.0.1 (with a token, no browser, and
its own Jupyter settings and runtime folders), over a temporary copy of one lesson with
its outputs cleared, so that JupyterLab's autosave never touches the repository and an
execution count shows that a cell really ran. In headless Chromium it opens the
notebook, checks that it renders, waits for the kernel, runs the Colab install cell and
the setup cell, and then asks the kernel which Python it is and where ``utils`` comes from.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from booksite import ROOT, SCREENSHOTS, PageLog, open_context, watch

pytestmark = pytest.mark.browser

LESSON = ROOT / "lessons" / "01_weights" / "01_neurons_and_layers.ipynb"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
ANNOUNCEMENTS = "@jupyterlab/apputils-extension:announcements"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``make lab`` serving a copy of one lesson; yields (base URL, token)."""
    tmp = tmp_path_factory.mktemp("lab")
    # The copy has no outputs or execution counts, as after "Clear All Outputs": the
    # prompts then show [ ], and a count appears only when the cell has really run.
    notebook = json.loads(LESSON.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    (tmp / LESSON.name).write_text(json.dumps(notebook, indent=1))
    port, token = _free_port(), secrets.token_hex(16)
    env = os.environ | {
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
    }
    env.pop("TNN_NUM_THREADS", None)
    args = f"--no-browser --ServerApp.port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    log = open(tmp / "lab.log", "w")
    server = subprocess.Popen(
        ["make", "-s", "lab", f"LAB_DIR={tmp}", f"LAB_ARGS={args}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # make and jupyter in one process group, stopped together
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"make lab did not start:\n{(tmp / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield base, token, tmp / "lab.log"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        log.close()


def _output_of(cell) -> str:
    return cell.locator(".jp-OutputArea-output").all_inner_texts()


def test_make_lab_serves_a_lesson_whose_kernel_runs_it(browser, lab) -> None:
    base, token, lab_log = lab
    context = open_context(browser, PageLog())
    page = context.new_page()
    log = PageLog()
    watch(page, log)
    try:
        page.goto(f"{base}/lab/tree/{LESSON.name}?token={token}", wait_until="load")
        notebook = page.locator(".jp-NotebookPanel .jp-Notebook")
        notebook.wait_for(timeout=120_000)
        title = notebook.locator(".jp-MarkdownCell h1").first
        title.wait_for(timeout=60_000)
        assert title.inner_text().startswith("Neurons and layers"), "the lesson's title is not rendered"
        # The status bar's kernel item reads "Initializing", "Connecting", "Unknown", then
        # "Idle" once the kernel has answered. (The toolbar's execution indicator says idle
        # before the kernel has even started; Shift+Enter pressed then is dropped: no
        # execute request is sent.)
        kernel = page.locator(".jp-StatusBar-TextItem[title^='Change kernel']")
        kernel.filter(has_text="| Idle").wait_for(timeout=120_000)

        # Run the Colab install cell and the setup cell, as a reader does: click into each
        # cell and press Shift+Enter; its prompt must show the kernel's count, [1] then [2].
        code = notebook.locator(".jp-CodeCell")
        for index in (0, 1):
            code.nth(index).locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            prompt = code.nth(index).locator(".jp-InputPrompt")
            prompt.filter(has_text=f"[{index + 1}]").wait_for(timeout=120_000)
        errors = notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, f"the first cells wrote errors: {errors.all_inner_texts()}"

        # Which Python runs the kernel, and which utils it imports.
        page.keyboard.press("Escape")
        page.keyboard.press("b")
        page.keyboard.press("Enter")
        page.keyboard.type("import sys, utils; print(sys.executable); print(utils.__file__)")
        page.keyboard.press("Shift+Enter")
        probe = notebook.locator(".jp-CodeCell").filter(has_text="print(sys.executable)")
        output = probe.locator(".jp-OutputArea-output").first
        output.wait_for(timeout=60_000)
        assert probe.locator(".jp-InputPrompt").inner_text() == "[3]:", "the probe was not the third run"
        executable, utils_file = output.inner_text().split()[:2]
        assert Path(executable).resolve() == VENV_PYTHON.resolve(), f"the kernel runs {executable}"
        assert Path(utils_file).resolve() == (ROOT / "utils" / "__init__.py").resolve(), utils_file

        # No prompt to fetch Jupyter news: tools/jupyter/labconfig disables the plugin.
        config = json.loads(page.locator("#jupyter-config-data").text_content())
        assert ANNOUNCEMENTS in config["disabledExtensions"], config["disabledExtensions"]
    except Exception as error:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / "lab-failure.png"
        page.screenshot(path=str(shot), full_page=True)
        server_log = lab_log.read_text()[-3000:] if lab_log.exists() else "(no log)"
        problems = "\n".join(log.problems()) or "(none)"
        raise AssertionError(
            f"{error}\n\nscreenshot: {shot}\npage problems:\n{problems}\nmake lab log:\n{server_log}"
        ) from error
    finally:
        context.close()
