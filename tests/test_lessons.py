"""Structure tests: every lesson follows the template in CONTRIBUTING.md.

These read the stored notebooks (they do not execute them; nbval does that).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab_cell  # noqa: E402

LESSONS = sorted(p for p in (ROOT / "lessons").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
NAME = re.compile(r"^\d\d_[a-z0-9_]+$")


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    return files


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _src(cell: dict) -> str:
    return "".join(cell["source"])


def test_there_are_lessons():
    assert LESSONS, "no lesson notebooks found under lessons/"


def test_toc_lists_every_lesson_and_every_toc_file_exists():
    toc = _toc_files()
    for entry in toc:
        matches = [ROOT / f"{entry}{ext}" for ext in (".md", ".ipynb")]
        assert any(m.exists() for m in matches), f"_toc.yml lists {entry}, which does not exist"
    for lesson in LESSONS:
        rel = lesson.relative_to(ROOT).with_suffix("").as_posix()
        assert rel in toc, f"{rel} is not listed in _toc.yml"


@pytest.fixture(params=LESSONS, ids=lambda p: p.relative_to(ROOT / "lessons").as_posix())
def lesson(request) -> tuple[Path, dict]:
    return request.param, _load(request.param)


def test_names(lesson):
    path, _ = lesson
    assert NAME.match(path.stem), f"{path.name}: lesson files are named NN_slug.ipynb"
    assert NAME.match(path.parent.name), f"{path.parent.name}: chapter folders are named NN_chapter"


def test_title_hook_goals_prerequisites(lesson):
    path, nb = lesson
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown", f"{path.name}: the first cell must be markdown"
    text = _src(first)
    assert text.startswith("# "), f"{path.name}: the first cell starts with '# Title'"
    assert "You will learn" in text, f"{path.name}: the first cell lists 'You will learn'"
    assert "Prerequisites" in text, f"{path.name}: the first cell lists 'Prerequisites'"
    titles = [c for c in nb["cells"] if c["cell_type"] == "markdown" and re.search(r"^# ", _src(c), re.M)]
    assert len(titles) == 1, f"{path.name}: exactly one top-level '# ' heading"


def test_setup_cell(lesson):
    path, nb = lesson
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    src = _src(code[1])
    assert re.search(r"\bsetup\(seed=\d+(, dtype=\"float64\")?\)", src), (
        f"{path.name}: the code cell after the Colab install cell calls setup(seed=...)"
    )
    for cell in code:
        assert "import *" not in _src(cell), f"{path.name}: no 'import *'"
        assert "set_num_threads" not in _src(cell), f"{path.name}: threads are fixed by setup() only"
    assert sum("setup(seed=" in _src(c) for c in code) == 1, f"{path.name}: one setup(seed) per notebook"


def test_no_two_code_cells_in_a_row(lesson):
    path, nb = lesson
    kinds = [c["cell_type"] for c in nb["cells"]]
    for i in range(3, len(kinds)):  # cells 1 and 2 are the (hidden) Colab install cell and the setup
        assert not (kinds[i] == kinds[i - 1] == "code"), (
            f"{path.name}: cells {i} and {i + 1} are two code cells without prose between them"
        )


def test_sections_and_endings(lesson):
    path, nb = lesson
    md = "\n".join(_src(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    sections = re.findall(r"^## (.+)$", md, re.M)
    assert len(sections) >= 5, f"{path.name}: expected sections plus Exercises/Summary, got {sections}"
    for heading in ("Summary", "Further reading"):
        assert any(s.strip().startswith(heading) for s in sections), f"{path.name}: missing '## {heading}'"
    assert "{cite}" in md or "{cite:" in md, f"{path.name}: cite at least one reference"
    assert "In PyTorch" in md, f"{path.name}: has an 'In PyTorch' part checking against the library"


def test_claims_are_tagged_asserts(lesson):
    path, nb = lesson
    claims = [c for c in nb["cells"] if "claim" in c.get("metadata", {}).get("tags", [])]
    assert len(claims) >= 3, f"{path.name}: expected at least 3 claim-check cells, got {len(claims)}"
    for cell in claims:
        tree = ast.parse(_src(cell))
        asserts = [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]
        assert asserts, f"{path.name}: a cell tagged 'claim' must contain an assert"
        assert all(a.msg is not None for a in asserts), (
            f"{path.name}: every claim assert states the claim in words (assert cond, 'message')"
        )


def test_exercises_have_checked_solutions(lesson):
    path, nb = lesson
    cells = nb["cells"]
    md = [_src(c) for c in cells if c["cell_type"] == "markdown"]
    labels = [m for text in md for m in re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text)]
    assert len(labels) >= 2, f"{path.name}: at least two exercises with labels, got {labels}"
    for label in labels:
        start = next(
            (
                i
                for i, c in enumerate(cells)
                if re.search(r"\{solution-start\}\s*" + re.escape(label), _src(c))
            ),
            None,
        )
        exercise = next(t for t in md if re.search(r":label: " + re.escape(label) + r"\n", t))
        assert ":nonumber:" in exercise, f"{path.name}: exercise {label} is unnumbered (:nonumber:)"
        assert start is not None, f"{path.name}: exercise {label} has no solution-start"
        assert ":class: dropdown" in _src(cells[start]), f"{path.name}: solution {label} is a dropdown"
        end = next(i for i in range(start, len(cells)) if "{solution-end}" in _src(cells[i]))
        body = [c for c in cells[start:end] if c["cell_type"] == "code"]
        assert body, f"{path.name}: solution {label} has executed code"
        assert any("check_" in _src(c) and "assert" in _src(c) for c in body), (
            f"{path.name}: solution {label} asserts that its checker passes"
        )


def test_outputs_are_clean_and_in_order(lesson):
    path, nb = lesson
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: run top to bottom once (counts {counts})"
    for i, cell in enumerate(code, start=1):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name}: code cell {i} stored an error"
            data = out.get("data", {})
            assert "image/svg+xml" not in data, f"{path.name}: code cell {i} has an SVG figure"
            text = "".join(data.get("text/plain", "")) + "".join(out.get("text", ""))
            assert not re.search(r"at 0x[0-9a-f]{6,}", text), f"{path.name}: code cell {i} prints an address"
            assert "Warning" not in "".join(out.get("text", "")), f"{path.name}: code cell {i} warns"
    assert nb["metadata"]["kernelspec"]["name"] == "python3", f"{path.name}: kernel python3"
    assert path.stat().st_size < 2_000_000, f"{path.name}: keep notebooks under 2 MB"


def test_numbers_in_prose_are_glued(lesson):
    path, nb = lesson
    code = "\n".join(_src(c) for c in nb["cells"] if c["cell_type"] == "code")
    md = "\n".join(_src(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "glue(" in code and "{glue:" in md, f"{path.name}: glue measured numbers into the prose"
    keys = set(re.findall(r"glue\(\s*[\"']([^\"']+)[\"']", code))
    for used in re.findall(r"\{glue:\w+\}`([^`:]+)", md):
        assert used in keys, f"{path.name}: prose uses glue key {used!r} that no cell defines"


# --------------------------------------------------------------------------- numbers typed into prose
# A measured number reaches the prose through glue, so that the text always says what the cell
# printed. This check finds numbers typed by hand into the prose of a lesson or a book page: a
# decimal (0.59, .5, 1e-4), a percentage (40%, 40 percent) or a multiple (16 times, 4x, 3×,
# 10-fold). It does not look inside maths ($...$, $$...$$), inline code, code fences, MyST roles
# ({glue:text}, {cite}, {doc}, {ref}), link targets and directive options. Settings that are not
# measurements (a learning rate, a std to draw from, an exact value such as sigmoid(0)) go into
# code or maths: `lr=0.5`, $\sigma = 0.3$, $\tfrac12$. Integers alone (sizes, counts, epochs) are
# not flagged.
_MATH = re.compile(r"\$\$.*?\$\$|\$(?:[^$\n]|\n(?![ \t]*\n))+\$|\{math\}`[^`]*`", re.S)
_FENCE = re.compile(r"^(```+|~~~+)(?!\{)[^\n]*\n.*?^\1[ \t]*$", re.S | re.M)  # not ```{directive}
_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
_MARKER = re.compile(r"^(```+|~~~+).*$", re.M)  # the first and last line of a directive
_CODE = re.compile(r"`(?:[^`\n]|\n(?![ \t]*\n))+`")
_LINK = re.compile(r"\]\([^)]*\)|https?://\S+")
_OPTION = re.compile(r"^:[\w-]+:.*$", re.M)
_NUMBER = r"\d+(?:\.\d+)?"
TYPED_NUMBER = re.compile(
    rf"(?<![\w.]){_NUMBER}\s*(?:%|percent\b|per\s*cent\b|×|x\b|times\b|-fold\b)"
    r"|(?<![\w.])\d*\.\d+(?:e[-+]?\d+)?(?!\w|\.\d)"
    r"|(?<![\w.])\d+e[-+]?\d+\b"
)
# Numbers that are not measurements: section, chapter and lesson numbers, versions, image sizes.
_REF = r"\d+(?:\.\d+)+"  # 4.2, 2.13.0
NOT_MEASURED = re.compile(
    rf"(?:sections?|chapters?|lessons?|§|python|torch|version)\s*{_REF}(?:(?:,\s*|\s+and\s+){_REF})*"
    r"|\b\d+\s*×\s*\d+\b",
    re.I,
)
PAGES = sorted((ROOT / "book").glob("*.md"))


def typed_numbers(markdown: str) -> list[str]:
    """The numbers typed into the prose of ``markdown``, each with the words around it."""
    text = markdown
    for pattern in (_FENCE, _MARKER, _MATH, _ROLE, _CODE, _LINK, _OPTION, NOT_MEASURED):
        text = pattern.sub(" ", text)
    return [
        f"{m.group(0)!r} in '...{line[max(0, m.start() - 40) : m.end() + 20].strip()}...'"
        for line in text.splitlines()
        for m in TYPED_NUMBER.finditer(line)
    ]


def test_typed_number_detector():
    flagged = "It reaches 0.59, 40% of them, 16 times over, 4x faster, 10-fold, 1e-4 and .5 here."
    assert [t.split(" in ")[0] for t in typed_numbers(flagged)] == [
        "'0.59'", "'40%'", "'16 times'", "'4x'", "'10-fold'", "'1e-4'", "'.5'",
    ]  # fmt: skip
    clean = (
        "Glued {glue:text}`acc:.3f`, maths $0.5$ and $$x = 0.25$$, code `lr=0.1`, {cite}`he2015delving`,"
        " [a link](https://example.org/v1.2), section 4.2.1, sections 4.2 and 4.3, Python 3.11,"
        " 8×8 images, 3 seeds, 60 epochs, `check(x,\nrtol=0.25)` across a line break."
        "\n```python\nx = 0.3\n```\n```{exercise} A title\n:label: ex-1.5\n```"
    )
    assert typed_numbers(clean) == []
    assert typed_numbers("```{exercise} Predict\nwithin 10% of it\n```")  # directive bodies are prose
    assert typed_numbers("$\\sqrt{8\n\\times 22.6}$ spans two lines") == []  # inline maths may wrap
    assert typed_numbers("$x$ is 0.5.\n\nA new paragraph, $y$.") == ["'0.5' in '...is 0.5....'"]


@pytest.mark.parametrize("path", LESSONS + PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_numbers_typed_into_prose(path):
    if path.suffix == ".ipynb":
        cells = _load(path)["cells"]
        texts = [(i, _src(c)) for i, c in enumerate(cells) if c["cell_type"] == "markdown"]
    else:
        texts = [(0, path.read_text(encoding="utf-8"))]
    where = "cell {}: " if path.suffix == ".ipynb" else ""
    found = [where.format(i) + hit for i, text in texts for hit in typed_numbers(text)]
    assert not found, (
        f"{path.name}: numbers typed into the prose; glue measured ones, put settings in code or maths:\n"
        + "\n".join(found)
    )


# --------------------------------------------------------------------------- the Colab install cell
def test_every_lesson_has_the_colab_install_cell_of_config_yml():
    stale = colab_cell.stale(LESSONS, colab_cell.install_source())
    assert not stale, f"stale Colab install cells (run `make colab-cells`): {stale}"


def test_a_fork_makes_every_install_cell_stale(tmp_path):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["repository"]["url"] = "https://github.com/someone/their-fork"
    config["repository"]["branch"] = "teaching"
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    source = colab_cell.install_source(tmp_path / "_config.yml")
    assert '"git+https://github.com/someone/their-fork@teaching"' in source
    assert colab_cell.stale(LESSONS, source) == [p.relative_to(ROOT).as_posix() for p in LESSONS]
    copy = tmp_path / "lesson.ipynb"
    copy.write_text(LESSONS[0].read_text(encoding="utf-8"), encoding="utf-8")
    assert colab_cell.refresh(copy, source) and not colab_cell.refresh(copy, source)
    assert colab_cell.stale([copy], source) == []
    assert json.loads(copy.read_text())["cells"][1]["source"] == source.splitlines(keepends=True)


def _run_install_cell(monkeypatch, in_colab: bool) -> list[list[str]]:
    """Execute the install cell as a kernel would; return the commands it ran."""
    import subprocess
    import sys

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append(cmd))
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", object())
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(colab_cell.install_source(), {})
    return calls


def test_the_install_cell_installs_only_in_colab(monkeypatch):
    assert _run_install_cell(monkeypatch, in_colab=False) == []
    (command,) = _run_install_cell(monkeypatch, in_colab=True)
    assert command[1:5] == ["-m", "pip", "install", "--quiet"]
    assert command[-1] == colab_cell.install_url()


def test_references_parse_with_unique_keys():
    """book/references.bib parses as a whole (a merge can leave an entry unclosed) and keys are unique."""
    from pybtex.database import parse_string

    text = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    keys = re.findall(r"^@\w+\{([^,\s]+),", text, re.M)
    assert len(keys) == len(set(keys)), f"duplicate keys: {sorted(k for k in keys if keys.count(k) > 1)}"
    entries = parse_string(text, "bibtex").entries
    assert sorted(entries) == sorted(keys), "some entries did not parse (an unclosed brace swallows the next)"
