"""XML and HTML are built by libraries (lxml via feedgen, Jinja2 with autoescape),
never by pasting strings; what must be text comes out as text, well-formed."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from lxml import etree

from feeds.build.oneshot import build
from feeds.config import Config
from tests.conftest import REPO, SeedWriter

FEEDS = REPO / "feeds"
_TAG = re.compile(r"<[A-Za-z!?/]")

#: The one place that writes markup as text: an entry's HTML content, a payload
#: that feedgen puts into the XML as escaped text. Each value in it is escaped,
#: and the whole is re-parsed and re-serialised by the sanitiser (nh3) before
#: it leaves, so it is never trusted as written.
ALLOWED = {("render/common.py", "entry_html"), ("render/common.py", "_related_html")}
#: What those functions may interpolate: escape(...) calls, ISO dates, and
#: locals built from escaped parts or the already-sanitised summary.
SAFE_NAMES = {"summary", "items", "size", "label", "stamp", "html"}
SAFE_CALLS = {"escape", "isoformat", "_related_html"}


def _called(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return None


def _safe(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id in SAFE_NAMES) or _called(node) in SAFE_CALLS


def _literal(node: ast.AST) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_literal(part) for part in node.values)
    return ""


def _built_from(node: ast.AST) -> list[ast.expr] | None:
    """The values ``node`` pastes into a tag by formatting or concatenating
    strings; None when it builds no tag so."""
    if isinstance(node, ast.JoinedStr) and _TAG.search(_literal(node)):
        return [part.value for part in node.values if isinstance(part, ast.FormattedValue)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        if _TAG.search(_literal(node.left)) or _TAG.search(_literal(node.right)):
            return [side for side in (node.left, node.right) if not _literal(side)]
        return None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and _TAG.search(_literal(node.func.value))
    ):
        return list(node.args)
    return None


def markup_by_string(source: str, name: str) -> list[str]:
    """Places in ``source`` that build a tag by formatting or concatenating strings."""
    found: list[str] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        where = f"{name}:{getattr(node, 'lineno', '?')} in {function}"
        built = _built_from(node)
        if built is not None:
            allowed = (name, function) in ALLOWED
            if not allowed or not all(_safe(value) for value in built):
                found.append(where)
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and ("<?xml" in text or "<!DOCTYPE" in text.upper()):
            found.append(f"{where}: a hand-written declaration")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(source), "<module>")
    return found


def test_no_module_builds_markup_by_pasting_strings() -> None:
    found = []
    for path in sorted(FEEDS.rglob("*.py")):
        found += markup_by_string(path.read_text("utf-8"), path.relative_to(FEEDS).as_posix())
    assert found == []


def test_the_scanner_finds_string_built_markup() -> None:
    assert markup_by_string('x = f"<title>{title}</title>"', "a.py")
    assert markup_by_string('x = "<item>" + title', "a.py")
    assert markup_by_string('x = "<a href=%s>" % url', "a.py")
    assert markup_by_string('x = "<p>{}</p>".format(text)', "a.py")
    assert markup_by_string("X = \"<?xml version='1.0'?>\"", "a.py")
    # Even in the allowed function, an unescaped value is caught.
    assert markup_by_string(
        'def entry_html(a):\n    return f"<p>{a.title}</p>"', "render/common.py"
    )
    assert not markup_by_string(
        'def entry_html(a):\n    return f"<p>{escape(a)}</p>"', "render/common.py"
    )


def test_templates_never_switch_escaping_off() -> None:
    for path in (FEEDS / "templates").glob("*.j2"):
        text = path.read_text("utf-8")
        assert "|safe" not in text.replace(" ", "")
        assert "autoescape false" not in text


SPECIALS = 'Fish & <Chips> ]]> "q" \\x01\\x0b\\ufffe\\uffff end'
CLEAN = 'Fish & <Chips> ]]> "q" end'


def test_specials_and_illegal_characters_stay_text_in_every_format(
    write_seed: SeedWriter, make_config: object, output: Path
) -> None:
    write_seed(
        "a.txt",
        title=SPECIALS.replace('"', '\\"'),
        link="https://example.org/a?x=1&y=2",
        topics=('"R&D <lab> ]]>\\x01"',),
        extra=f"""\
        excerpt: "<p>{SPECIALS.replace('"', "'")} <b>b</b></p>"
        category: "a&b <c>"
        provider: {{name: "P&G <x>"}}
        related: [{{title: "{SPECIALS.replace('"', "'")}", webUrl: "https://example.org/r?a=1&b=2"}}]
        """,
    )
    config: Config = make_config()  # type: ignore[operator]

    build(config)

    files = sorted(path for path in output.rglob("*") if path.is_file())
    xml_files = [path for path in files if path.name.endswith((".xml", ".opml"))]
    assert len(xml_files) >= 5
    for path in xml_files:
        tree = etree.fromstring(path.read_bytes())  # well-formed, or this raises
        if path.name.endswith(".atom.xml"):
            ns = {"a": "http://www.w3.org/2005/Atom"}
            assert tree.xpath("string(a:entry/a:title)", namespaces=ns) == CLEAN
            assert tree.xpath("string(a:entry/a:link[1]/@href)", namespaces=ns) == (
                "https://example.org/a?x=1&y=2"
            )
            terms = tree.xpath("a:entry/a:category/@term", namespaces=ns)
            assert terms == ["R&D <lab> ]]>", "a&b <c>"]
            content = str(tree.xpath("string(a:entry/a:content)", namespaces=ns))
            assert "<b>b</b>" in content
            assert "\x01" not in content
        if path.name.endswith(".rss.xml"):
            assert tree.xpath("string(channel/item/title)") == CLEAN
    document = json.loads((output / "all.json").read_bytes())
    assert document["items"][0]["title"] == CLEAN
    assert document["items"][0]["tags"] == ["R&D <lab> ]]>", "a&b <c>"]
