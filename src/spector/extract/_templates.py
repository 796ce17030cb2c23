"""Declarative page templates: URL patterns and CSS selectors per market family.

A template (TOML, in ``extract/templates`` or registered by a plugin under the entry
point group ``spector.templates``) lists page kinds. Each kind has a URL regex (named
groups become fields), single fields, and repeated items. A field is a CSS selector,
optionally with ``@attr`` for an attribute; a selector that starts with ``@`` reads the
item's own attribute. Fields named in ``lists`` (of a page or of an item) read every
match, one per line, in page order.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import metadata, resources
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from spector.errors import ConfigError

__all__ = ["PageResult", "Template", "template_for", "templates"]

MAX_HTML = 4 << 20  # characters of a page parsed; hostile pages are cut, not trusted


@dataclass(frozen=True)
class PageResult:
    kind: str
    fields: dict[str, str | None]
    items: dict[str, list[dict[str, str | None]]]


@dataclass(frozen=True)
class Template:
    family: str
    version: int
    pages: tuple[dict[str, Any], ...]

    @property
    def name(self) -> str:
        return f"{self.family}@{self.version}"

    def match(self, path: str) -> tuple[dict[str, Any], dict[str, str]] | None:
        for page in self.pages:
            found = re.match(page["url"], path)
            if found:
                return page, found.groupdict()
        return None

    def apply(self, path: str, html: str) -> PageResult | None:
        """Fields of the page at ``path``; None when no page kind's URL matches."""
        matched = self.match(path)
        if matched is None:
            return None
        page, groups = matched
        tree = LexborHTMLParser(html[:MAX_HTML])
        root = tree.root
        if root is None:
            return PageResult(page["kind"], dict(groups), {})
        fields: dict[str, str | None] = dict(groups)
        for name, selector in page.get("fields", {}).items():
            fields[name] = _read(root, selector, many=name in page.get("lists", ["contacts"]))
        items: dict[str, list[dict[str, str | None]]] = {}
        for spec in page.get("items", []):
            rows = []
            lists = spec.get("lists", [])
            for node in root.css(spec["each"]):
                rows.append(
                    {n: _read(node, s, many=n in lists) for n, s in spec.get("fields", {}).items()}
                )
            items[spec["name"]] = rows
        return PageResult(page["kind"], fields, items)


@cache
def _split(selector: str) -> tuple[str, str]:
    css, _, attr = selector.partition("@")
    return css, attr


def _read(node: LexborNode, selector: str, many: bool = False) -> str | None:
    css, attr = _split(selector)
    if not many:
        target = node.css_first(css) if css else node
        if target is None:
            return None
        value = target.attributes.get(attr) if attr else target.text(deep=True)
        if value is None:
            return None
        return value.strip() if css.startswith("pre") else " ".join(value.split())
    values = []
    for target in node.css(css):
        value = target.attributes.get(attr) if attr else target.text(deep=True)
        if value is not None:
            values.append(" ".join(value.split()))
    return "\n".join(values) if values else None


@cache
def templates() -> dict[str, Template]:
    """Every template: the built-in ones, then plugins' (entry points ``spector.templates``)."""
    found: dict[str, Template] = {}
    folder = resources.files("spector.extract").joinpath("templates")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            template = _parse(entry.read_text("utf-8"), f"template {entry.name}")
            found[template.family] = template
    for plugin in metadata.entry_points(group="spector.templates"):
        template = _parse(str(plugin.load()()), f"plugin {plugin.name}")
        found[template.family] = template
    return found


def template_for(family: str | None) -> Template | None:
    return templates().get(family or "")


def _parse(text: str, where: str) -> Template:
    try:
        data = tomllib.loads(text)
        head = data["template"]
        pages = tuple(data.get("page", []))
        for page in pages:
            re.compile(page["url"])
            page["kind"]
        return Template(str(head["family"]), int(head["version"]), pages)
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, re.error) as exc:
        raise ConfigError(f"bad template: {exc!r}", where=where) from exc
