"""Tests for book/_ext/claims.py: claim names, their Sphinx labels, a nitpicky build, the cheatsheet."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

from claims import claim_label, claim_name, parse_claims, repeated_names  # noqa: E402


def test_claim_name_reads_the_tag():
    assert claim_name(["claim"]) is None
    assert claim_name(["claim", "claim-name:dropout-noisy-labels"]) == "dropout-noisy-labels"
    assert claim_name(["claim-name:he-30-layers", "remove-input"]) == "he-30-layers"
    assert claim_label("he-30-layers") == "claim-he-30-layers"


@pytest.mark.parametrize("name", ["Dropout", "two_words", "-lead", "trail-", "9lives", "a--b", ""])
def test_claim_name_rejects_a_malformed_name(name):
    with pytest.raises(ValueError, match="lower-case words joined by hyphens"):
        claim_name(["claim", f"claim-name:{name}"])


def test_claim_name_rejects_two_names():
    with pytest.raises(ValueError, match="the cell has 2 claim names"):
        claim_name(["claim-name:a", "claim-name:b"])


def test_repeated_names_across_pages():
    store = {
        "lessons/a": [
            {"anchor": "claim-x", "name": "x"},
            {"anchor": "claim-x", "name": "x"},
        ],  # one cell, 2 asserts
        "lessons/b": [{"anchor": "claim-x", "name": "x"}, {"anchor": "claim-2", "name": None}],
        "lessons/c": [{"anchor": "claim-y", "name": "y"}],
    }
    assert repeated_names(store) == {"x": ["lessons/a", "lessons/b"]}
    assert repeated_names({"lessons/c": store["lessons/c"]}) == {}


def test_parse_claims_needs_a_message():
    assert parse_claims('assert x > 1, "x exceeds one"') == [("x exceeds one", "x > 1")]
    with pytest.raises(ValueError, match="no message in words"):
        parse_claims("assert x > 1")


# --------------------------------------------------------------------------- a real build
def _lesson(path: Path, cells: list[tuple[str, list[str]]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}")]
    nb.cells += [nbformat.v4.new_code_cell(src, metadata={"tags": tags}) for src, tags in cells]
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(nb, path)


def _build(src: Path, index: str) -> tuple[subprocess.CompletedProcess, Path]:
    """Build ``src`` as the book does (-W -n: warnings are errors, every reference checked)."""
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        'extensions = ["myst_nb", "claims"]\nnb_execution_mode = "off"\nexclude_patterns = ["_build"]\n'
    )
    (src / "index.md").write_text(index + "\n\n```{toctree}\nlesson\nother\n```\n")
    out = src.parent / "html"  # outside src: myst-nb writes jupyter_execute/ next to it
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "-n", "-q", str(src), str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120), out


NAMED = ('x = 1\nassert x == 1, "one is one"', ["claim", "claim-name:one-is-one"])
UNNAMED = ('assert 2 > 1, "two exceeds one"', ["claim"])


def test_a_named_claim_is_a_label_and_a_broken_one_fails_the_build(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _lesson(src / "lesson.ipynb", [UNNAMED, NAMED])
    _lesson(src / "other.ipynb", [UNNAMED, UNNAMED, UNNAMED])
    done, out = _build(
        tmp_path / "src", "# Home\n\nSee {ref}`claim-one-is-one` and {ref}`the cell <claim-one-is-one>`."
    )
    assert done.returncode == 0, done.stderr
    index, lesson = (out / "index.html").read_text(), (out / "lesson.html").read_text()
    link = 'href="lesson.html#claim-one-is-one"><span class="std std-ref">'
    assert link + "one is one</span>" in index  # the link text defaults to the claim in words
    assert link + "the cell</span>" in index
    assert 'id="claim-one-is-one"' in lesson and 'id="claim-2"' in lesson  # the numbered id stays

    done, _ = _build(tmp_path / "src", "# Home\n\nSee {ref}`claim-one-is-two`.")
    assert done.returncode != 0 and "undefined label: 'claim-one-is-two'" in done.stderr


def test_a_name_given_twice_or_malformed_fails_the_build(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _lesson(src / "lesson.ipynb", [NAMED])
    _lesson(src / "other.ipynb", [NAMED])
    done, _ = _build(tmp_path / "src", "# Home")
    assert done.returncode != 0 and "claim name 'one-is-one'" in done.stderr

    _lesson(src / "other.ipynb", [('assert True, "fine"', ["claim", "claim-name:Not_Valid"])])
    done, _ = _build(tmp_path / "src", "# Home")
    assert done.returncode != 0 and "lower-case words joined by hyphens" in done.stderr

    _lesson(src / "other.ipynb", [("x = 1", ["claim-name:no-claim"])])
    done, _ = _build(tmp_path / "src", "# Home")
    assert done.returncode != 0 and "only claim cells are named" in done.stderr


# --------------------------------------------------------------------------- the cheatsheet's links
def _claim_names() -> dict[str, list[str]]:
    """Every claim name given in the lessons, with the lessons that give it."""
    names: dict[str, list[str]] = {}
    for path in sorted((ROOT / "lessons").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            tags = cell.get("metadata", {}).get("tags", [])
            name = claim_name(tags)  # raises on a malformed name
            if name is not None:
                assert "claim" in tags, f"{path.name}: claim-name:{name} on a cell not tagged claim"
                names.setdefault(name, []).append(path.stem)
    return names


def test_every_cheatsheet_link_names_one_claim_cell():
    """The build fails on a broken link (test above); this finds one without building the book."""
    names = _claim_names()
    assert not {n: where for n, where in names.items() if len(where) > 1}, "a claim name is given twice"
    text = (ROOT / "book" / "cheatsheet.md").read_text(encoding="utf-8")
    labels = re.findall(r"\{ref\}`(?:[^`<]*<)?claim-([a-z0-9-]+)>?`", text)
    assert len(labels) >= 40, f"the cheatsheet links to only {len(labels)} claims"
    missing = sorted(set(labels) - set(names))
    assert not missing, f"the cheatsheet links to claim names no lesson gives: {missing}"
