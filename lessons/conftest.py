"""How nbval starts the lessons' kernels: loaded by `pytest --nbval lessons`.

1. Kernels talk over Unix sockets (POSIX), not TCP ports. With TCP, jupyter_client
   picks free ports and closes them before the kernel binds them; when two pytest-xdist
   workers start kernels at once, another socket can take a port in between, and the
   new kernel dies with "Kernel died before replying to kernel_info" (the likely cause
   of one failed CI run). A socket file in a private directory cannot be taken that way.
2. nbval discards a kernel's own stderr; here it goes to a log file. A kernel that dies
   while starting, before it has run any of the lesson, is started once more, with a
   warning that shows its stderr; a second death raises an error that ends with it.
"""

import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path

import nbval.kernel
from jupyter_client.manager import KernelManager

# A socket's path must stay under about 100 characters: a long $TMPDIR falls back to /tmp.
_TMP = tempfile.gettempdir()
_RUN_DIR = Path(
    tempfile.mkdtemp(
        prefix="tnn-kernels-",
        dir="/tmp" if len(_TMP) > 60 and os.path.isdir("/tmp") else _TMP,
    )
)
_start_new_kernel = nbval.kernel.start_new_kernel
STDERR_TAIL = 3000  # characters of a dead kernel's stderr shown in the error


class SocketKernelManager(KernelManager):
    """A KernelManager whose kernel listens on socket files in `_RUN_DIR`."""

    def __init__(self, **kwargs):
        prefix = str(_RUN_DIR / uuid.uuid4().hex[:12])
        super().__init__(transport="ipc", ip=prefix, **kwargs)


class KernelStartError(RuntimeError):
    """A kernel did not start; the message ends with the kernel's stderr."""


def _start_logged(startup_timeout, kernel_name, kwargs):
    """nbval's start_new_kernel, with the kernel's stderr kept in a log file."""
    log_path = _RUN_DIR / f"kernel-{uuid.uuid4().hex[:12]}.log"
    with open(log_path, "w") as log:
        try:
            return _start_new_kernel(
                startup_timeout, kernel_name, **(kwargs | {"stderr": log})
            )
        except RuntimeError as err:
            log.flush()
            tail = log_path.read_text(errors="replace")[-STDERR_TAIL:]
            raise KernelStartError(
                f"{err}. The kernel's stderr ({log_path}) ended with:\n"
                f"{tail or '(nothing)'}"
            ) from err


def start_new_kernel(startup_timeout=60, kernel_name="python", **kwargs):
    """Start a kernel as nbval does; if it dies while starting, warn and try once more."""
    try:
        return _start_logged(startup_timeout, kernel_name, kwargs)
    except KernelStartError as first:
        warnings.warn(
            f"{first}\n(Starting it again.)", RuntimeWarning, stacklevel=2
        )
    return _start_logged(startup_timeout, kernel_name, kwargs)


if os.name == "posix":
    nbval.kernel.KernelManager = SocketKernelManager
nbval.kernel.start_new_kernel = start_new_kernel


def pytest_unconfigure(config):
    shutil.rmtree(_RUN_DIR, ignore_errors=True)
