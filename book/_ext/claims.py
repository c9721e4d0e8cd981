"""The appendix "Claims checked by this book", collected from the lessons at build time.

A claim is a code cell tagged ``claim`` whose code is
``assert <condition>, "<the claim in words>"``. myst-nb renders the cell as a
container with the CSS class ``tag_claim``. This extension

- gives every claim cell an HTML id (``claim-1``, ``claim-2``, ... in page order),
  so a link can point at it,
- reads the claim in words from the assert message with :mod:`ast`,
- and provides the directive ``{claims-list}``, which ``book/claims.md`` uses to
  list every claim with its lesson, its words, the condition checked and a link
  to the cell.

Nothing is written to the source tree, so the appendix cannot go stale: it is
rebuilt from the lessons on every build. A ``claim`` cell without an ``assert``
carrying a message in words is a build warning (an error under ``-W``).
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

CLAIM_TAG_CLASS = "tag_claim"
ID_PREFIX = "claim-"


@dataclass(frozen=True)
class Claim:
    """One checked claim: where it is and what it says."""

    docname: str
    anchor: str  # the HTML id of the cell (claim-1, claim-2, ... for the page's claim cells)
    ordinal: int  # 1-based position among the page's claims
    message: str  # the claim in words
    condition: str  # the source of the asserted condition


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


def _is_claim_cell(node: nodes.Node) -> bool:
    return (
        isinstance(node, nodes.container)
        and node.get("nb_element") == "cell_code"
        and CLAIM_TAG_CLASS in node.get("classes", [])
    )


def collect_claims(app: Sphinx, doctree: nodes.document) -> None:
    """doctree-read: give each claim cell an id and record its claims in the environment."""
    env = app.env
    docname = env.docname
    store: dict[str, list[dict[str, Any]]] = env.tnn_claims  # type: ignore[attr-defined]
    store.pop(docname, None)
    found: list[dict[str, Any]] = []
    cells = 0
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
        cells += 1
        anchor = f"{ID_PREFIX}{cells}"  # one id per cell; a cell's asserts share it
        if anchor not in cell["ids"]:
            cell["ids"].insert(0, anchor)
        for message, condition in parsed:
            found.append(asdict(Claim(docname, anchor, len(found) + 1, message, condition)))
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
    app.connect("doctree-resolved", render_claims)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
