"""Keep every lesson's Colab install cell in step with ``repository`` in ``_config.yml``.

Each lesson's first code cell, right after its title, installs the course's
``utils`` package from the repository and branch in ``_config.yml`` when the
notebook runs in Google Colab, and does nothing anywhere else (JupyterLab,
Binder, nbval, the book). The book hides it (tag ``remove-cell``).

Usage::

    python tools/colab_cell.py           # write the cell into every lesson (after a fork)
    python tools/colab_cell.py --check   # exit 1, naming the lessons whose cell is stale

``make colab-cells`` runs the first form; ``tests/test_lessons.py`` the check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TAG = "remove-cell"  # myst-nb leaves the cell out of the rendered page
MARKER = "# Colab only:"  # how the cell is recognised


def install_url(config_path: Path = ROOT / "_config.yml") -> str:
    """``git+<repository url>@<branch>`` from ``_config.yml``: what pip installs in Colab."""
    repository = yaml.safe_load(config_path.read_text())["repository"]
    url = repository["url"].rstrip("/")
    return f"git+{url}@{repository.get('branch', 'main')}"


def install_source(config_path: Path = ROOT / "_config.yml") -> str:
    """The source of the install cell for the repository named in ``config_path``."""
    return (
        f"{MARKER} install the course's `utils` package from its repository.\n"
        "# Everywhere else (JupyterLab, Binder, the tests) this cell does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        f'    url = "{install_url(config_path)}"\n'
        '    pip = [sys.executable, "-m", "pip", "install", "--quiet"]\n'
        "    subprocess.run([*pip, url], check=True)"
    )


def lessons() -> list[Path]:
    """Every lesson notebook, in order."""
    return sorted(p for p in (ROOT / "lessons").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def install_cell_index(cells: list[dict]) -> int | None:
    """Index of the existing install cell, if any."""
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code" and "".join(cell["source"]).startswith(MARKER):
            return i
    return None


def refresh(path: Path, source: str) -> bool:
    """Put the install cell (with ``source``) right after the title; return True if the file changed."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    cells = nb["cells"]
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {"tags": [TAG]},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }
    index = install_cell_index(cells)
    if index is None:  # a new cell: later cells' execution counts move up by one
        for other in cells:
            if other["cell_type"] == "code" and other.get("execution_count"):
                other["execution_count"] += 1
        cells.insert(1, cell)
    else:
        cells[index] = cell
    new = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def stale(paths: list[Path], source: str) -> list[str]:
    """Lessons whose install cell is missing, misplaced, untagged or differs from ``source``."""
    bad = []
    for path in paths:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        index = install_cell_index(cells)
        ok = (
            index == 1
            and "".join(cells[1]["source"]) == source
            and cells[1].get("metadata", {}).get("tags") == [TAG]
        )
        if not ok:
            bad.append(path.relative_to(ROOT).as_posix())
    return bad


def main(argv: list[str]) -> int:
    source = install_source()
    if argv == ["--check"]:
        bad = stale(lessons(), source)
        for name in bad:
            print(f"{name}: the Colab install cell is not in step with _config.yml")
        if bad:
            print("Run `make colab-cells` (python tools/colab_cell.py) to refresh them.")
        return 1 if bad else 0
    if argv:
        print(__doc__)
        return 2
    for path in lessons():
        if refresh(path, source):
            print(f"updated {path.relative_to(ROOT).as_posix()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
