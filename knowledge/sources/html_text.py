"""HTML fragments to clean plain text: scripts, styles and embeds never survive."""

from __future__ import annotations

import html
import re

from lxml import etree
from lxml import html as lxml_html

from knowledge.text import normalise_whitespace

# Elements whose content is never text a reader should see.
DROPPED = frozenset(
    {
        "script",
        "style",
        "noscript",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "template",
        "svg",
        "math",
        "canvas",
        "form",
        "button",
        "select",
        "textarea",
        "input",
        "head",
        "meta",
        "link",
        "base",
    }
)
BLOCKS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "tr",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "nav",
        "figure",
        "figcaption",
        "hr",
        "address",
        "main",
        "details",
        "summary",
        "caption",
    }
)
# Control characters lxml refuses (XML 1.0 forbids them) and that no reader wants.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_TAG_LIKE = re.compile(r"<\s*/?\s*[a-zA-Z!?]")
_TAG = re.compile(r"<[^>]*>")
_HIDDEN_BLOCK = re.compile(
    r"<(script|style|noscript|iframe|object|embed|applet|template|svg|math|textarea)\b"
    r".*?(</\1\s*>|$)",
    re.IGNORECASE | re.DOTALL,
)


def _regex_text(markup: str) -> str:
    """Plain text without a parser (what lxml cannot read, or nests too deeply to keep)."""
    return html.unescape(_TAG.sub(" ", _HIDDEN_BLOCK.sub(" ", markup)))


def _collect(element: lxml_html.HtmlElement, out: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    tag = tag.rsplit("}", 1)[-1].lower()
    if tag in BLOCKS:
        out.append("\n\n" if tag not in ("br", "li", "tr", "dt", "dd") else "\n")
    if element.text:
        out.append(element.text)
    for child in element:
        if not isinstance(child.tag, str):  # a comment or processing instruction
            if child.tail:
                out.append(child.tail)
            continue
        _collect(child, out)
        if child.tail:
            out.append(child.tail)
    if tag in BLOCKS:
        out.append("\n\n" if tag not in ("br", "li", "tr", "dt", "dd") else "\n")


def _one_pass(markup: str) -> str:
    markup = _CONTROL.sub("", markup)
    if not markup.strip():
        return ""
    try:
        root = lxml_html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return _regex_text(markup)
    for element in list(root.iter()):
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag.rsplit("}", 1)[-1].lower() in DROPPED and element is not root:
            element.drop_tree()
    out: list[str] = []
    try:
        _collect(root, out)
    except RecursionError:
        return _regex_text(markup)
    text = "".join(out)
    if not text.strip() and _regex_text(markup).strip():
        return _regex_text(markup)  # lxml gave up on the markup (nesting deeper than it keeps)
    return text


def html_to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment (or plain text): tags removed, entities decoded,
    scripts/styles/embeds dropped with their content, paragraphs kept as blank lines."""
    if not markup:
        return ""
    text = markup
    # Twice at most: double-escaped markup ("&lt;script&gt;") becomes tags after one pass.
    for _ in range(2):
        if not _TAG_LIKE.search(text) and "&" not in text:
            break
        text = _one_pass(text)
    if _TAG_LIKE.search(text):
        text = _TAG.sub(" ", text)
    text = text.replace("\u00a0", " ")
    return normalise_whitespace(_CONTROL.sub("", text))


def one_line(text: str) -> str:
    """Whitespace collapsed to single spaces (titles)."""
    return " ".join(text.split())
