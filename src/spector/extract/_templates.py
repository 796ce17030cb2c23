"""Declarative page templates: which pages a market family has, and where each field is.

A template (TOML; built in under ``extract/templates``, a workspace's ``templates/``,
``--templates DIR``, or a plugin's under the entry point group ``spector.templates``)
lists page kinds. A page kind is recognised by a URL regex over the path (named groups
become fields) or, failing that, by a CSS selector its pages match (``detect``). Its
fields are CSS selectors (``@attr`` reads an attribute; ``@x`` alone, the item's own),
or tables that add fallbacks, concatenation, a query parameter, a regex with named
groups, star glyphs or node counts. docs/templates.md is the reference; the schema and
its checks are in ``_template_schema``. Values come out as text: ``_pages`` turns them
into records by their names.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata, resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from spector.errors import TemplateError
from spector.extract._template_schema import (
    FieldModel,
    check_file,
    split_selector,
    validate_page,
)

__all__ = ["FieldTrace", "PageResult", "Template", "parse_template", "template_for", "templates"]

MAX_HTML = 4 << 20  # characters of a page parsed; hostile pages are cut, not trusted
_CHARSET = re.compile(rb"charset\s*=\s*['\"]?[\w.:-]+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FieldTrace:
    """Where one field's value came from, for `spector template test`."""

    scope: str  # "page", or "feedback[3]": the item it belongs to
    name: str
    value: str | None
    selector: str | None  # the selector that gave the value (of its fallbacks)
    node: str | None  # the node read: <span class="commenttime">
    attribute: str | None  # the attribute read; None for the text
    raw: str | None  # the text or attribute before query, regex and stars
    note: str | None = None  # why there is no value (not found, regex did not match)
    parts: tuple[str, ...] = ()  # a concatenation: what each of its selectors read


@dataclass(frozen=True)
class PageResult:
    kind: str
    fields: dict[str, str | None]
    items: dict[str, list[dict[str, str | None]]]
    errors: tuple[str, ...] = ()  # required fields that were not found: the page fails
    trace: tuple[FieldTrace, ...] = ()


@dataclass(frozen=True, slots=True)
class _Selector:
    text: str  # as written
    css: str  # "" reads the node itself
    attr: str | None
    pre: bool  # <pre> keeps its line breaks


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    selectors: tuple[_Selector, ...]
    concat: bool
    sep: str
    regex: re.Pattern[str] | None
    query: str | None
    stars: str | None
    count: bool
    required: bool
    many: bool
    plain: bool  # one selector, no step after it: the fast path


@dataclass(frozen=True, slots=True)
class _Items:
    name: str
    each: str
    fields: tuple[_Field, ...]


@dataclass(frozen=True, slots=True)
class _Page:
    raw: dict[str, Any]
    kind: str
    url: re.Pattern[str] | None
    detect: str | None
    query: tuple[tuple[str, str], ...]
    fields: tuple[_Field, ...]
    items: tuple[_Items, ...]


def _compile_field(name: str, spec: FieldModel, many: bool) -> _Field:
    selectors = []
    for text in spec.selectors():
        css, attr = split_selector(text)
        selectors.append(_Selector(text, css, attr, css.startswith("pre")))
    return _Field(
        name=name,
        selectors=tuple(selectors),
        concat=spec.concat is not None,
        sep=spec.sep,
        regex=re.compile(spec.regex) if spec.regex is not None else None,
        query=spec.query,
        stars=spec.stars,
        count=spec.count,
        required=spec.required,
        many=many,
        plain=len(selectors) == 1
        and not (spec.count or many or spec.regex or spec.query or spec.stars),
    )


def _compile_page(raw: dict[str, Any], where: str, at: str) -> _Page:
    model = validate_page(raw, where, at)
    return _Page(
        raw=raw,
        kind=model.kind,
        url=re.compile(model.url) if model.url is not None else None,
        detect=model.detect,
        query=tuple(model.query.items()),
        fields=tuple(_compile_field(n, s, n in model.lists) for n, s in model.fields.items()),
        items=tuple(
            _Items(
                item.name,
                item.each,
                tuple(_compile_field(n, s, n in item.lists) for n, s in item.fields.items()),
            )
            for item in model.items
        ),
    )


@dataclass(frozen=True)
class Template:
    """One market family's template. ``pages`` are the page tables as written (TOML
    tables); they are checked and compiled when the template is made, so a bad one is a
    TemplateError naming ``source``. ``name`` (family@version) is what extraction records."""

    family: str
    version: int
    pages: tuple[dict[str, Any], ...]
    source: str = "built-in"
    description: str | None = None
    locale: str | None = None
    date_order: str | None = None
    currency: str | None = None  # the listing currency, when a price shows several or none
    encoding: str | None = None  # of the market's pages when they declare none
    hosts: tuple[str, ...] = ()  # claims captures of markets without a family
    detect_title: str | None = None  # claims pages whose <title> this regex finds
    detect_css: str | None = None  # claims pages this selector matches
    _compiled: tuple[_Page, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = tuple(
            _compile_page(page, self.source, f"page[{i}] ({page.get('kind', '?')})")
            for i, page in enumerate(self.pages, start=1)
        )
        object.__setattr__(self, "_compiled", compiled)

    @property
    def name(self) -> str:
        return f"{self.family}@{self.version}"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.kind for p in self._compiled))

    @property
    def detects(self) -> bool:
        """Whether some page kind is recognised by its content (not only by its URL)."""
        return any(p.detect for p in self._compiled)

    def match(self, path: str) -> tuple[dict[str, Any], dict[str, str]] | None:
        """The page table whose URL regex matches ``path`` (a query after "?" is not
        matched), with the regex's named groups and the page's query fields."""
        found = self._match(path)
        return (found[0].raw, found[1]) if found else None

    def _match(self, path: str) -> tuple[_Page, dict[str, str]] | None:
        bare, _, query = path.partition("?")
        for page in self._compiled:
            if page.url is None:
                continue
            found = page.url.match(bare)
            if found:
                groups = {k: v for k, v in found.groupdict().items() if v is not None}
                return page, groups | _query_fields(page, query)
        return None

    def claims(self, host: str | None, tree: LexborHTMLParser | None) -> bool:
        """Whether this template claims a page of a market without a family: its host is
        one of ``hosts``, or the page matches ``detect`` (title regex and css, as given)."""
        if host and host.lower() in self.hosts:
            return True
        if tree is None or (self.detect_title is None and self.detect_css is None):
            return False
        if self.detect_css is not None and tree.css_first(self.detect_css) is None:
            return False
        if self.detect_title is not None:
            node = tree.css_first("title")
            title = " ".join((node.text() if node is not None else "").split())
            if not re.search(self.detect_title, title):
                return False
        return True

    def decode(self, body: bytes, content_type: str | None) -> str:
        """A page's text: its declared charset, else the template's ``encoding``, else
        UTF-8; undecodable bytes are replaced, never raised."""
        from spector.collect import decode

        declared = _CHARSET.search((content_type or "").encode("latin-1", "replace"))
        if declared or _CHARSET.search(body[:2048]) or not self.encoding:
            return decode(body, content_type)
        return body.decode(self.encoding, errors="replace")

    def apply(self, path: str, html: str, *, trace: bool = False) -> PageResult | None:
        """Fields of the page at ``path`` (a URL path, optionally with its query); None
        when no page kind's URL matches and no page kind's ``detect`` matches the page.
        With ``trace``, every field's provenance is in ``PageResult.trace``."""
        found = self._match(path)
        if found is None and not self.detects:
            return None
        tree = LexborHTMLParser(html[:MAX_HTML])
        if found is None:
            page = next(
                (p for p in self._compiled if p.detect and tree.css_first(p.detect) is not None),
                None,
            )
            if page is None:
                return None
            found = page, _query_fields(page, path.partition("?")[2])
        page, groups = found
        root = tree.root
        if root is None:
            return PageResult(page.kind, dict(groups), {})
        traces: list[FieldTrace] | None = [] if trace else None
        errors: list[str] = []
        fields: dict[str, str | None] = dict(groups)
        _read_fields(root, page.fields, fields, traces, errors, "page")
        items: dict[str, list[dict[str, str | None]]] = {}
        for spec in page.items:
            rows = []
            for i, node in enumerate(root.css(spec.each), start=1):
                row: dict[str, str | None] = {}
                _read_fields(node, spec.fields, row, traces, errors, f"{spec.name}[{i}]")
                rows.append(row)
            items[spec.name] = rows
        return PageResult(page.kind, fields, items, tuple(errors), tuple(traces or ()))


def _query_fields(page: _Page, query: str) -> dict[str, str]:
    if not page.query or not query:
        return {}
    params = parse_qs(query)
    return {name: params[key][0] for name, key in page.query if params.get(key)}


def _text(target: LexborNode, selector: _Selector) -> str | None:
    value = target.attributes.get(selector.attr) if selector.attr else target.text(deep=True)
    if value is None:
        return None
    return value.strip() if selector.pre else " ".join(value.split())


def _describe(node: LexborNode) -> str:
    attrs = "".join(f' {k}="{v}"' for k, v in node.attributes.items() if k in ("id", "class") and v)
    return f"<{node.tag}{attrs}>"


def _read_fields(
    node: LexborNode,
    specs: tuple[_Field, ...],
    out: dict[str, str | None],
    traces: list[FieldTrace] | None,
    errors: list[str],
    scope: str,
) -> None:
    """Read ``specs`` under ``node`` into ``out``. A field that finds nothing leaves a
    value the URL gave (a group of the same name) in place; named regex groups become
    fields; a required field that finds nothing is an error."""
    for spec in specs:
        if spec.plain and traces is None:  # the fast path: most fields, when not traced
            one = spec.selectors[0]
            found = node.css_first(one.css) if one.css else node
            text = None
            if found is not None:
                text = found.attributes.get(one.attr) if one.attr else found.text()
                if text is not None:
                    text = text.strip() if one.pre else " ".join(text.split())
            if text is not None or spec.name not in out:
                out[spec.name] = text
            if spec.required and not out.get(spec.name):
                errors.append(_missing(scope, spec, None))
            continue
        value, selector, target, raw, note = _read(node, spec, out)
        if value is not None or spec.name not in out:
            out[spec.name] = value
        if spec.required and not out.get(spec.name):
            errors.append(_missing(scope, spec, note))
        if traces is not None:
            parts = _concat_parts(node, spec) if spec.concat else ()
            traces.append(
                FieldTrace(
                    scope,
                    spec.name,
                    out.get(spec.name) if value is None else value,
                    " + ".join(s.text for s in spec.selectors)
                    if parts
                    else (selector.text if selector else None),
                    _describe(target) if target is not None else None,
                    selector.attr if selector else None,
                    raw,
                    note,
                    parts,
                )
            )


def _concat_parts(node: LexborNode, spec: _Field) -> tuple[str, ...]:
    """What each selector of a concatenation read, in order, for `template test`:
    "sel  <node> text 'value'", or "sel  not found"."""
    parts = []
    for selector in spec.selectors:  # each has a css: the schema refuses "" in a list
        first = node.css_first(selector.css)
        targets = node.css(selector.css) if spec.many else [first] if first is not None else []
        if not targets:
            parts.append(f"{selector.text}  not found")
            continue
        how = f"@{selector.attr}" if selector.attr else "text"
        more = f" (and {len(targets) - 1} more)" if len(targets) > 1 else ""
        text = _text(targets[0], selector)
        shown = repr(text) if text is not None else f"no {how}"
        parts.append(f"{selector.text}  {_describe(targets[0])}{more} {how} {shown}")
    return tuple(parts)


def _missing(scope: str, spec: _Field, note: str | None) -> str:
    why = f": {note}" if note and note != "not found" else ""
    return (
        f"{scope}: required field {spec.name!r} not found "
        f"({' | '.join(s.text for s in spec.selectors)}{why})"
    )


def _read(
    node: LexborNode, spec: _Field, out: dict[str, str | None]
) -> tuple[str | None, _Selector | None, LexborNode | None, str | None, str | None]:
    """(value, selector, node, raw, note) of one field."""
    if spec.count:
        selector = spec.selectors[0]
        nodes = node.css(selector.css)
        return str(len(nodes)), selector, nodes[0] if nodes else None, None, None
    if spec.many:
        return _read_many(node, spec)
    found: list[tuple[_Selector, LexborNode, str]] = []
    for selector in spec.selectors:
        target = node.css_first(selector.css) if selector.css else node
        if target is None:
            continue
        text = _text(target, selector)
        if text is None:
            continue
        found.append((selector, target, text))
        if not spec.concat and text:
            break
    if not found:
        return None, None, None, None, "not found"
    if spec.concat:
        raw: str | None = spec.sep.join(t for _, _, t in found if t)
        selector, target = found[0][0], found[0][1]
    else:
        selector, target, raw = next((f for f in found if f[2]), found[0])
    value, note = _transform(raw, spec, out)
    return value, selector, target, raw, note


def _read_many(
    node: LexborNode, spec: _Field
) -> tuple[str | None, _Selector | None, LexborNode | None, str | None, str | None]:
    """Every match of a list field, one per line, in page order (the first selector of
    its fallbacks that matches; every selector, for a concatenation)."""
    values: list[str] = []
    first: tuple[_Selector, LexborNode] | None = None
    for selector in spec.selectors:
        targets = node.css(selector.css) if selector.css else [node]
        for target in targets:
            text = _text(target, selector)
            if text is None:
                continue
            value, _ = _transform(" ".join(text.split()), spec, {})
            if value is not None:
                values.append(value)
                first = first or (selector, target)
        if values and not spec.concat:
            break
    if not values:
        return None, None, None, None, "not found"
    return "\n".join(values), first[0] if first else None, first[1] if first else None, None, None


def _transform(
    raw: str | None, spec: _Field, out: dict[str, str | None]
) -> tuple[str | None, str | None]:
    """(value, note): the query parameter, the regex, the star count of a read value."""
    value = raw
    if value is not None and spec.query is not None:
        found = parse_qs(urlsplit(value).query).get(spec.query)
        if not found:
            return None, f"no query parameter {spec.query!r} in {value!r}"
        value = found[0]
    if value is not None and spec.regex is not None:
        match = spec.regex.search(value)
        if match is None:
            return None, f"regex {spec.regex.pattern!r} did not match {value!r}"
        groups = match.groupdict()
        for group, text in groups.items():
            if group != spec.name and text is not None:
                out[group] = text.strip()
        own = groups.get(spec.name) if spec.name in groups else match[0]
        value = own.strip() if own is not None else None
    if value is not None and spec.stars is not None:
        value = str(sum(value.count(glyph) for glyph in spec.stars))
    return value, None


def parse_template(text: str | bytes, where: str, source: str | None = None) -> Template:
    """The template a file holds (bytes must be UTF-8); TemplateError naming ``where``, the
    field and what was expected when it is not a valid template."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TemplateError(
                f"not UTF-8 at byte {exc.start}", where=where, expected="a UTF-8 text file"
            ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"not TOML: {exc}", where=where) from exc
    model = check_file(data, where)
    head = model.template
    detect = head.detect
    return Template(
        family=head.family,
        version=head.version,
        pages=tuple(data["page"]),
        source=source or where,
        description=head.description,
        locale=head.locale,
        date_order=head.date_order,
        currency=head.currency.upper() if head.currency else None,
        encoding=head.encoding,
        hosts=tuple(h.lower() for h in head.hosts),
        detect_title=detect.title if detect else None,
        detect_css=detect.css if detect else None,
    )


@cache
def builtin_templates() -> tuple[dict[str, Template], tuple[TemplateError, ...]]:
    """The built-in templates, then plugins' (entry points ``spector.templates``, each a
    callable returning TOML text), by family; and the plugins' templates that failed."""
    found: dict[str, Template] = {}
    skipped: list[TemplateError] = []
    folder = resources.files("spector.extract").joinpath("templates")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            where = f"spector/extract/templates/{entry.name}"
            template = parse_template(entry.read_bytes(), where, f"built-in {entry.name}")
            found[template.family] = template
    for plugin in metadata.entry_points(group="spector.templates"):
        try:
            template = parse_template(str(plugin.load()()), f"plugin {plugin.name}")
        except TemplateError as exc:
            skipped.append(exc)
            continue
        found[template.family] = template
    return found, tuple(skipped)


def templates() -> dict[str, Template]:
    """Every built-in and plugin template, by family."""
    return builtin_templates()[0]


def template_for(family: str | None) -> Template | None:
    """The built-in (or plugin) template of ``family``; workspace templates are in
    ``load_templates``."""
    return templates().get(family or "")
