"""The appendix "Claims checked by this book", collected from the lessons at build time.

A claim is a code cell tagged ``claim`` whose code is
``assert <condition>, "<the claim in words>"``. myst-nb renders the cell as a
container with the CSS class ``tag_claim``. This extension

- gives every claim cell an HTML id (``claim-1``, ``claim-2``, ... in page order),
  so a link can point at it,
- gives a claim cell that also carries a tag ``claim-name:<name>`` a stable
  name: its first HTML id becomes ``claim-<name>`` (``claim-N`` stays as a second
  one), and ``claim-<name>`` is registered as a Sphinx label, so any page links
  to the cell with ``{ref}`claim-<name>``` (the link text defaults to the claim
  in words) and the nitpicky build fails when the name disappears,
- reads the claim in words from the assert message with :mod:`ast`,
- and provides the directive ``{claims-list}``, which ``book/claims.md`` uses to
  list every claim with its lesson, its words, the condition checked and a link
  to the cell (to its named id when it has one).

Nothing is written to the source tree, so the appendix cannot go stale: it is
rebuilt from the lessons on every build. A ``claim`` cell without an ``assert``
carrying a message in words, a malformed or repeated claim name, and a name tag
on a cell that is not a claim are build warnings (errors under ``-W``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

CLAIM_TAG = "claim"
CLAIM_TAG_CLASS = f"tag_{CLAIM_TAG}"
ID_PREFIX = "claim-"
NAME_TAG = "claim-name:"  # a cell tag claim-name:<name> names the claim cell
NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")  # lower-case words joined by hyphens


@dataclass(frozen=True)
class Claim:
    """One checked claim: where it is and what it says."""

    docname: str
    anchor: str  # the HTML id links use: claim-<name> for a named cell, else claim-1, claim-2, ...
    ordinal: int  # 1-based position among the page's claims
    message: str  # the claim in words
    condition: str  # the source of the asserted condition
    name: str | None = None  # the cell's claim name (its tag claim-name:<name>), if any


def claim_name(tags: Iterable[str]) -> str | None:
    """The name a cell's tags give it (``claim-name:<name>``), or ``None`` when it has none.

    Raises ``ValueError`` with a reason when a name is malformed or the cell has two.
    """
    names = [tag[len(NAME_TAG) :] for tag in tags if tag.startswith(NAME_TAG)]
    if not names:
        return None
    if len(names) > 1:
        raise ValueError(f"the cell has {len(names)} claim names ({', '.join(names)}); give it one")
    name = names[0]
    if not NAME.fullmatch(name):
        raise ValueError(
            f"claim name {name!r} is not lower-case words joined by hyphens "
            "(letters and digits, starting with a letter), e.g. claim-name:dropout-noisy-labels"
        )
    return name


def claim_label(name: str) -> str:
    """The HTML id and Sphinx label of a named claim cell: ``claim-<name>``."""
    return f"{ID_PREFIX}{name}"


def repeated_names(store: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """Claim names given to more than one cell, each with the pages of its cells."""
    pages: dict[str, list[str]] = {}
    for docname in sorted(store):
        cells = {claim["anchor"]: claim["name"] for claim in store[docname] if claim.get("name")}
        for name in cells.values():
            pages.setdefault(name, []).append(docname)
    return {name: where for name, where in pages.items() if len(where) > 1}


def _source_segment(source: str, node: ast.AST) -> str:
    return (ast.get_source_segment(source, node) or ast.unparse(node)).strip()


def claim_message(source: str, node: ast.expr) -> str | None:
    """The words of an assert message: a string, or an f-string's text with ``{...}`` kept."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                parts.append("{" + _source_segment(source, value.value) + "}")
        return "".join(parts)
    return None


def _one_line(code: str) -> str:
    """Join a multi-line expression into one line; only the line breaks change."""
    lines = [line.strip() for line in code.splitlines() if line.strip()]
    joined = lines[0] if lines else ""
    for line in lines[1:]:
        if line[0] in ")]}":
            joined = joined.removesuffix(",") + line  # drop a trailing comma before the bracket
        elif joined[-1] in "([{":
            joined += line
        else:
            joined += " " + line
    return joined


def parse_claims(source: str) -> list[tuple[str, str]]:
    """Return ``(message, condition)`` for each top-level ``assert`` of a cell.

    Raises ``ValueError`` with a reason when the cell is not a valid claim cell.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ValueError(f"the cell is not valid Python ({err.msg}, line {err.lineno})") from err
    asserts = [stmt for stmt in tree.body if isinstance(stmt, ast.Assert)]
    if not asserts:
        raise ValueError('the cell has no top-level `assert <condition>, "<the claim in words>"`')
    claims = []
    for stmt in asserts:
        message = claim_message(source, stmt.msg) if stmt.msg is not None else None
        if not message or not message.strip():
            raise ValueError(
                f"the assert on line {stmt.lineno} has no message in words "
                '(write `assert <condition>, "<the claim in words>"`)'
            )
        condition = _one_line(_source_segment(source, stmt.test))
        claims.append((" ".join(message.split()), condition))
    return claims


def _is_code_cell(node: nodes.Node) -> bool:
    return isinstance(node, nodes.container) and node.get("nb_element") == "cell_code"


def _is_claim_cell(node: nodes.Node) -> bool:
    return _is_code_cell(node) and CLAIM_TAG_CLASS in node.get("classes", [])


def _cell_tags(cell: nodes.container) -> list[str]:
    """The notebook tags of a cell, from the metadata myst-nb keeps on its container."""
    tags = (cell.get("cell_metadata") or {}).get("tags")
    if tags is None:  # fall back on the CSS classes myst-nb makes of the tags
        tags = [c[len("tag_") :] for c in cell.get("classes", []) if c.startswith("tag_")]
    return list(tags)


def _register_label(env: BuildEnvironment, cell: nodes.container, label: str, message: str) -> None:
    """Make ``label`` a Sphinx label for ``cell``, so that {ref} links to it and -n checks them."""
    std = env.get_domain("std")
    existing = std.anonlabels.get(label)  # type: ignore[attr-defined]
    claimed = env.tnn_claims.get(existing[0], []) if existing else []  # type: ignore[attr-defined]
    if existing is not None and existing != (env.docname, label):
        if not any(claim["anchor"] == label for claim in claimed):  # a claim name is reported later
            logger.warning(
                "claim name %r makes the label %r, which %s already defines",
                label.removeprefix(ID_PREFIX),
                label,
                existing[0],
                location=cell,
                type="claims",
            )
        return
    std.anonlabels[label] = (env.docname, label)  # type: ignore[attr-defined]
    std.labels[label] = (env.docname, label, message)  # type: ignore[attr-defined]


def collect_claims(app: Sphinx, doctree: nodes.document) -> None:
    """doctree-read: give each claim cell an id and record its claims in the environment."""
    env = app.env
    docname = env.docname
    store: dict[str, list[dict[str, Any]]] = env.tnn_claims  # type: ignore[attr-defined]
    store.pop(docname, None)
    found: list[dict[str, Any]] = []
    cells = 0
    named: set[str] = set()
    for cell in doctree.findall(_is_code_cell):
        tags = _cell_tags(cell)
        if CLAIM_TAG not in tags and any(tag.startswith(NAME_TAG) for tag in tags):
            logger.warning(
                "a %s tag on a cell that is not tagged %r: only claim cells are named",
                NAME_TAG + "...",
                CLAIM_TAG,
                location=cell,
                type="claims",
            )
    for cell in doctree.findall(_is_claim_cell):
        blocks = [
            block
            for source_part in cell.findall(nodes.container)
            if source_part.get("nb_element") == "cell_code_source"
            for block in source_part.findall(nodes.literal_block)
        ]
        if not blocks:
            logger.warning(
                "claim cell shows no code (remove the remove-input tag)",
                location=cell,
                type="claims",
            )
            continue
        source = blocks[0].astext()
        try:
            parsed = parse_claims(source)
        except ValueError as err:
            logger.warning("claim cell: %s", err, location=cell, type="claims")
            continue
        try:
            name = claim_name(_cell_tags(cell))
        except ValueError as err:  # the claim still counts, without a name
            logger.warning("claim cell: %s", err, location=cell, type="claims")
            name = None
        cells += 1
        anchor = f"{ID_PREFIX}{cells}"  # one id per cell; a cell's asserts share it
        if anchor not in cell["ids"]:
            cell["ids"].insert(0, anchor)
        if name in named:
            logger.warning(
                "claim name %r is given to two cells of this page", name, location=cell, type="claims"
            )
            name = None
        if name is not None:  # the stable id comes first: it is the element's id in the HTML
            named.add(name)
            anchor = claim_label(name)
            if anchor not in cell["ids"]:
                cell["ids"].insert(0, anchor)
            _register_label(env, cell, anchor, parsed[0][0])
        for message, condition in parsed:
            found.append(asdict(Claim(docname, anchor, len(found) + 1, message, condition, name)))
    if found:
        store[docname] = found


class claims_list(nodes.General, nodes.Element):
    """Placeholder replaced by the list of claims once every document is read."""


class ClaimsListDirective(SphinxDirective):
    """``{claims-list}``: every claim of the book, grouped by lesson in reading order."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        self.env.tnn_claims_pages.add(self.env.docname)  # type: ignore[attr-defined]
        node = claims_list()
        self.set_source_info(node)
        return [node]


def _reading_order(env: BuildEnvironment) -> list[str]:
    order: list[str] = []

    def visit(docname: str) -> None:
        if docname in order:
            return
        order.append(docname)
        for child in env.toctree_includes.get(docname, []):
            visit(child)

    visit(env.config.root_doc)
    return order


def _paragraph(*children: nodes.Node) -> nodes.paragraph:
    para = nodes.paragraph()
    para.extend(children)
    return para


def render_claims(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    """doctree-resolved: replace each ``{claims-list}`` placeholder with the claims."""
    env = app.env
    store: dict[str, list[dict[str, Any]]] = env.tnn_claims  # type: ignore[attr-defined]
    order = _reading_order(env)
    docnames = sorted(store, key=lambda d: (order.index(d) if d in order else len(order), d))
    for placeholder in list(doctree.findall(claims_list)):
        total = sum(len(store[d]) for d in docnames)
        if not total:
            placeholder.replace_self(_paragraph(nodes.Text("No lesson has a claim cell yet.")))
            continue
        claims = "claim" if total == 1 else "claims"
        lessons = "lesson" if len(docnames) == 1 else "lessons"
        summary = f"{total} {claims} in {len(docnames)} {lessons}."
        content: list[nodes.Node] = [_paragraph(nodes.Text(summary))]
        for docname in docnames:
            title = env.titles[docname].astext() if docname in env.titles else docname
            page_uri = app.builder.get_relative_uri(fromdocname, docname)
            section = nodes.container(classes=["claims-lesson"], ids=[f"claims-{docname.replace('/', '-')}"])
            heading = nodes.rubric()
            heading += nodes.reference("", title, internal=True, refuri=page_uri)
            section += heading
            items = nodes.enumerated_list(enumtype="arabic", classes=["claims-list"])
            for claim in store[docname]:
                link = nodes.reference(
                    "", "see the cell", internal=True, refuri=f"{page_uri}#{claim['anchor']}"
                )
                item = nodes.list_item(classes=["claim-item"])
                item += _paragraph(
                    nodes.Text(claim["message"] + " "),
                    nodes.Text("("),
                    link,
                    nodes.Text(")"),
                )
                item += _paragraph(
                    nodes.Text("Checked: "),
                    nodes.literal(claim["condition"], claim["condition"]),
                )
                items += item
            section += items
            content.append(section)
        placeholder.replace_self(content)


def init_env(app: Sphinx) -> None:
    env = app.env
    if not hasattr(env, "tnn_claims"):
        env.tnn_claims = {}  # type: ignore[attr-defined]
    if not hasattr(env, "tnn_claims_pages"):
        env.tnn_claims_pages = set()  # type: ignore[attr-defined]


def purge_doc(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    env.tnn_claims.pop(docname, None)  # type: ignore[attr-defined]
    env.tnn_claims_pages.discard(docname)  # type: ignore[attr-defined]


def merge_info(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    for docname in docnames:
        if docname in other.tnn_claims:  # type: ignore[attr-defined]
            env.tnn_claims[docname] = other.tnn_claims[docname]  # type: ignore[attr-defined]
    env.tnn_claims_pages |= other.tnn_claims_pages & docnames  # type: ignore[attr-defined]


def check_names(app: Sphinx, env: BuildEnvironment) -> None:
    """env-check-consistency: a claim name given to cells on two pages (parallel reads miss it)."""
    for name, pages in repeated_names(env.tnn_claims).items():  # type: ignore[attr-defined]
        logger.warning(
            "claim name %r is given to cells in %s; names must be unique in the book",
            name,
            " and ".join(pages),
            type="claims",
        )


def outdated_appendix(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    """Rebuild the appendix whenever any page was added, changed or removed."""
    if added or changed or removed:
        return sorted(env.tnn_claims_pages - added - changed)  # type: ignore[attr-defined]
    return []


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_node(claims_list)
    app.add_directive("claims-list", ClaimsListDirective)
    app.connect("builder-inited", init_env)
    app.connect("env-purge-doc", purge_doc)
    app.connect("env-merge-info", merge_info)
    app.connect("env-get-outdated", outdated_appendix)
    app.connect("doctree-read", collect_claims)
    app.connect("env-check-consistency", check_names)
    app.connect("doctree-resolved", render_claims)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 2}
