"""Re-execute lessons in place in the pinned environment (``make regen``).

Usage: python tools/regen.py lessons/01_weights/01_neurons_and_layers.ipynb [...]

Each notebook runs top to bottom in a fresh kernel from its own folder, with
the default thread count, and is written back with volatile metadata dropped.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def clean(nb: nbformat.NotebookNode) -> None:
    """Drop metadata that changes from run to run; keep tags and outputs."""
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    for cell in nb.cells:
        tags = cell.metadata.get("tags")
        cell.metadata = {"tags": tags} if tags else {}
        cell.pop("id", None)
    nb.nbformat, nb.nbformat_minor = 4, 4


def run(nb: nbformat.NotebookNode, folder: Path) -> float:
    """Execute ``nb`` top to bottom in a fresh kernel started in ``folder``; return seconds.

    The kernel talks over local IPC sockets (no TCP ports, no warning about them) and
    runs with the default thread count: ``TNN_NUM_THREADS`` is not passed on.
    """
    env_threads = os.environ.pop("TNN_NUM_THREADS", None)
    sockets = Path(tempfile.mkdtemp(prefix="tnn-kernel-"))
    km = KernelManager(kernel_name="python3", transport="ipc")
    km.connection_file = str(sockets / "kernel.json")
    start = time.perf_counter()
    try:
        NotebookClient(
            nb, km=km, timeout=600, record_timing=False, resources={"metadata": {"path": str(folder)}}
        ).execute()
        elapsed = time.perf_counter() - start
    finally:
        if km.has_kernel:  # nbclient leaves a kernel manager it was given running
            km.shutdown_kernel(now=True)
        shutil.rmtree(sockets, ignore_errors=True)
        if env_threads is not None:
            os.environ["TNN_NUM_THREADS"] = env_threads
    return elapsed


def execute(path: Path) -> float:
    """Execute ``path`` in place, drop volatile metadata, and return the wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = KERNELSPEC
    elapsed = run(nb, path.parent)
    clean(nb)
    nbformat.write(nb, path)
    return elapsed


def main(paths: list[str]) -> None:
    if not paths:
        sys.exit("usage: python tools/regen.py NOTEBOOK.ipynb [...]")
    for p in paths:
        print(f"{p}: {execute(Path(p)):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
