"""Links out of a fetched page: <a>/<area> hrefs, <base>, meta refresh, Location.

Only navigation links are followed. Images, scripts, style sheets, frames, media and
form actions are never taken as links (forms may be orders or payments).

Hostile pages are parsed with a bounded nesting depth: lexbor (like every HTML5 tree
builder) walks the stack of open elements for many start and end tags, so a page nested
100,000 deep costs minutes. ``bound_nesting`` drops the tags (never the text, never a
link) of elements deeper than the bound before the page is parsed, in time linear in
the page. Browsers do the same (Chromium flattens the tree below depth 512).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser as HTMLParser

__all__ = ["LoginForm", "bound_nesting", "charset_of", "decode", "login_form", "page_links"]

MAX_NESTING = 256  # elements deeper than this lose their tags before parsing

_REFRESH = re.compile(r"url\s*=\s*['\"]?([^'\";]+)", re.IGNORECASE)
_CHARSET = re.compile(r"charset\s*=\s*['\"]?([\w.:-]+)", re.IGNORECASE)
_TAG_START = re.compile(r"<(!--|/?[A-Za-z][A-Za-z0-9:-]*)")
_TAG_REST = re.compile(r"[^<>]*>")  # stops at the next "<": linear however the page is cut
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta"}
    | {"param", "source", "track", "wbr"}
)
_RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed"})
# Links, forms (neither nests: the parser ignores an <a> or <form> inside another), and
# the document's frame are never dropped.
_NEVER_DROPPED = frozenset({"a", "form", "html", "head", "body"})
_CLOSE_SEARCH = 32  # how far down the stack an end tag may look for its element


def charset_of(content_type: str | None, body: bytes) -> str:
    for text in (content_type or "", body[:2048].decode("ascii", "replace")):
        match = _CHARSET.search(text)
        if match:
            return match[1].lower()
    return "utf-8"


def decode(body: bytes, content_type: str | None) -> str:
    """Text of a page: its declared charset if Python knows it, else UTF-8; never raises."""
    charset = charset_of(content_type, body)
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def bound_nesting(html: str, limit: int = MAX_NESTING) -> tuple[str, int]:
    """``html`` with the tags of elements nested deeper than ``limit`` removed, and how
    many tags were removed (0: the page is returned as it was).

    The scan is a tag tokenizer, not a parser: comments and raw-text elements (script,
    style...) are skipped, void elements do not nest, an end tag closes the nearest open
    element of its name within a few levels (else it is left alone). Text and ``<a>``
    tags are always kept, so no link is lost. Time is linear in the page's length.
    """
    stack: list[tuple[str, bool]] = []  # (element name, its tags are kept)
    out: list[str] = []
    kept_from = 0  # html[kept_from:position] is still to be copied to ``out``
    dropped = 0
    position = 0
    while (start := _TAG_START.search(html, position)) is not None:
        token = start[1]
        if token == "!--":  # noqa: S105 - a comment's opening, not a password
            end = html.find("-->", start.end())
            if end < 0:
                break  # the rest of the page is a comment
            position = end + 3
            continue
        rest = _TAG_REST.match(html, start.end())
        if rest is None:
            position = start.end()
            continue
        position = rest.end()
        closing = token.startswith("/")
        name = token.lstrip("/").lower()
        if name in _VOID:
            continue
        if not closing:
            if html[position - 2] == "/":
                continue  # self-closing (SVG, MathML)
            keep = len(stack) < limit or name in _NEVER_DROPPED
            stack.append((name, keep))
            if not keep:
                out.append(html[kept_from : start.start()])
                kept_from = position
                dropped += 1
            if name in _RAW_TEXT:  # its content is text: skip to its end tag
                close = re.compile(rf"</{name}\b", re.IGNORECASE).search(html, position)
                position = close.start() if close else len(html)
            continue
        for index in range(len(stack) - 1, max(-1, len(stack) - 1 - _CLOSE_SEARCH), -1):
            if stack[index][0] == name:
                keep = stack[index][1]
                del stack[index:]
                if not keep:
                    out.append(html[kept_from : start.start()])
                    kept_from = position
                    dropped += 1
                break
    if not dropped:
        return html, 0
    out.append(html[kept_from:])
    return "".join(out), dropped


def page_links(html: str, *, limit: int = MAX_NESTING) -> tuple[str | None, list[str], int]:
    """(the <base href> if any, the navigation links in document order, tags dropped by
    the nesting bound)."""
    bounded, dropped = bound_nesting(html, limit)
    tree = HTMLParser(bounded)
    base_node = tree.css_first("base[href]")
    base = base_node.attributes.get("href") if base_node is not None else None
    links = []
    for node in tree.css("a[href], area[href]"):
        href = node.attributes.get("href")
        if href:
            links.append(href)
    for node in tree.css("meta[http-equiv]"):
        if (node.attributes.get("http-equiv") or "").lower() == "refresh":
            match = _REFRESH.search(node.attributes.get("content") or "")
            if match:
                links.append(match[1].strip())
    return base, links, dropped


@dataclass(frozen=True)
class LoginForm:
    """What a login page holds: the form's action and hidden fields, the CAPTCHA's src."""

    found: bool
    action: str | None = None
    hidden: dict[str, str] = field(default_factory=dict)
    captcha_src: str | None = None


def login_form(html: str, form: str, captcha_image: str | None) -> LoginForm:
    """The login form matching CSS selector ``form`` (and the CAPTCHA picture matching
    ``captcha_image``) on a login page, parsed with the nesting bound."""
    tree = HTMLParser(bound_nesting(html)[0])
    node = tree.css_first(form)
    if node is None:
        return LoginForm(found=False)
    hidden = {
        n.attributes.get("name") or "": n.attributes.get("value") or ""
        for n in node.css("input[type=hidden][name]")
    }
    captcha = tree.css_first(captcha_image) if captcha_image else None
    return LoginForm(
        found=True,
        action=node.attributes.get("action"),
        hidden=hidden,
        captcha_src=captcha.attributes.get("src") if captcha is not None else None,
    )
