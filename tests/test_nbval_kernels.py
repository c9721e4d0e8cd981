"""lessons/conftest.py: nbval's kernels use socket files, and a dying kernel shows its stderr."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import nbval.kernel
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def lesson_conftest(monkeypatch):
    """Load lessons/conftest.py as a module; undo its patches of nbval afterwards."""
    monkeypatch.setattr(nbval.kernel, "KernelManager", nbval.kernel.KernelManager)
    monkeypatch.setattr(nbval.kernel, "start_new_kernel", nbval.kernel.start_new_kernel)
    spec = importlib.util.spec_from_file_location("lessons_conftest", ROOT / "lessons" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    module.pytest_unconfigure(None)
    assert not module._RUN_DIR.exists()


@pytest.mark.skipif(os.name != "posix", reason="Unix sockets")
def test_kernels_listen_on_socket_files_not_ports(lesson_conftest):
    assert nbval.kernel.start_new_kernel is lesson_conftest.start_new_kernel
    km, kc = nbval.kernel.start_new_kernel(kernel_name="python3", stderr=None)
    try:
        assert km.transport == "ipc"
        sockets = {p.name for p in lesson_conftest._RUN_DIR.iterdir()}
        assert f"{Path(km.ip).name}-{km.shell_port}" in sockets
        reply = kc.execute_interactive("x = 6 * 7", timeout=30)
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _kernel_spec(tmp_path, monkeypatch, code: str) -> str:
    """A kernel spec named "flaky" that runs `code` with the connection file as argv[1]."""
    spec_dir = tmp_path / "kernels" / "flaky"
    spec_dir.mkdir(parents=True)
    kernel = {
        "argv": [sys.executable, "-c", code, "{connection_file}"],
        "display_name": "flaky",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(kernel))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    return "flaky"


def test_a_kernel_that_always_dies_while_starting_shows_its_stderr(lesson_conftest, tmp_path, monkeypatch):
    name = _kernel_spec(tmp_path, monkeypatch, "import sys; sys.stderr.write('boom: no kernel'); sys.exit(3)")
    with (
        pytest.warns(RuntimeWarning, match=r"(?s)Kernel died.*stderr.*boom: no kernel.*Starting it again"),
        pytest.raises(RuntimeError, match=r"(?s)Kernel died.*stderr.*boom: no kernel") as failure,
    ):
        nbval.kernel.start_new_kernel(startup_timeout=20, kernel_name=name)
    assert isinstance(failure.value, lesson_conftest.KernelStartError)


def test_a_kernel_that_dies_once_is_started_again(lesson_conftest, tmp_path, monkeypatch):
    marker = tmp_path / "died-once"
    code = (
        "import os, sys\n"
        f"if not os.path.exists({str(marker)!r}):\n"
        f"    open({str(marker)!r}, 'w').close(); sys.stderr.write('boom: first start'); sys.exit(3)\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher', '-f', sys.argv[1]])\n"
    )
    name = _kernel_spec(tmp_path, monkeypatch, code)
    with pytest.warns(RuntimeWarning, match="boom: first start"):
        km, kc = nbval.kernel.start_new_kernel(startup_timeout=30, kernel_name=name)
    try:
        assert km.is_alive()
        assert kc.execute_interactive("x = 1", timeout=30)["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
