"""A captured page made inert for the sandboxed preview.

The preview is served with ``PREVIEW_CSP`` (no script, no fetch of any kind, no form,
``sandbox``) into ``<iframe sandbox="">``; those already stop a hostile page. On top of
them the page itself is stripped here, so that nothing depends on one layer alone:

- every element that shows media, runs code, loads something or navigates is removed
  with its content (``STRIPPED``: img, picture, video, audio, source, track, object,
  embed, iframe, frame, script, noscript, link, meta, base, svg, math, canvas, template…);
- every attribute that names a URL or runs code is dropped (``on*``, href, src, srcset,
  action, formaction, poster, background, data, ping, xlink:href…), so a click in the
  frame goes nowhere;
- CSS ``url(``, ``image-set(`` and ``@import`` in style elements and attributes are
  defused (the CSP blocks the fetch anyway; this keeps it from being tried).

``inert_html`` never raises on arbitrary text.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["STRIPPED", "URL_ATTRIBUTES", "inert_html"]

STRIPPED = (
    "img",
    "image",
    "picture",
    "video",
    "audio",
    "source",
    "track",
    "object",
    "embed",
    "applet",
    "iframe",
    "frame",
    "frameset",
    "portal",
    "fencedframe",
    "script",
    "noscript",
    "link",
    "meta",
    "base",
    "svg",
    "math",
    "canvas",
    "template",
    "slot",
)
URL_ATTRIBUTES = frozenset(
    {
        "href",
        "src",
        "srcset",
        "srcdoc",
        "action",
        "formaction",
        "poster",
        "background",
        "data",
        "ping",
        "codebase",
        "archive",
        "lowsrc",
        "dynsrc",
        "manifest",
        "longdesc",
        "usemap",
        "imagesrcset",
        "attributionsrc",
    }
)
_CSS_URL = re.compile(r"url\s*\([^)]*\)?", re.I)
_CSS_IMPORT = re.compile(r"@import[^;]*;?", re.I)
_CSS_FETCH = re.compile(r"(image-set|image|cross-fade|element|src)\s*\(", re.I)


def _defuse_css(text: str) -> str:
    """``text`` without url(…) (now ``none``), @import rules and the other functions that
    fetch; CSS escapes could spell them otherwise, so backslashes go first."""
    text = text.replace("\\", "")
    text = _CSS_IMPORT.sub("", _CSS_URL.sub("none", text))
    return _CSS_FETCH.sub("blocked(", text)


def inert_html(page: str) -> str:
    """``page`` (HTML text) with every media, code, loading and navigating element and
    attribute removed, as a whole HTML document."""
    tree = LexborHTMLParser(page)
    tree.strip_tags(list(STRIPPED))
    for node in tree.css("*"):
        attrs = node.attrs
        for name in list(attrs.keys()):
            low = name.lower()
            if low.startswith("on") or low in URL_ATTRIBUTES or low.endswith(":href"):
                del attrs[name]
            elif low == "style":
                attrs[name] = _defuse_css(attrs[name] or "")
    for node in tree.css("style"):
        css = node.text(deep=True)
        node.replace_with(_style_node(css))
    return tree.html or "<html><head></head><body></body></html>"


def _style_node(css: str) -> LexborNode | str:
    """A fresh <style> element holding the defused ``css`` (text, not markup)."""
    fragment = LexborHTMLParser("<style></style>")
    style = fragment.css_first("style")
    if style is None:  # pragma: no cover - lexbor always parses this
        return ""
    style.insert_child(_defuse_css(css).replace("</", "<\\/"))
    return style
