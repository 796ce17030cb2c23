"""The schema of a page template file, and the checks a template passes before it is used.

``check_file`` validates a template file's parsed TOML (pydantic: types, unknown keys with
the closest known one, missing keys), then what a schema cannot say: every CSS selector
parses (each is tried at load on an empty document: selectolax raises on some), every
regex compiles, field and group names are fields of their page kind, the locale and the
encoding exist. Every failure is a TemplateError naming the file, the field (its place in
the file) and what was expected. docs/templates.md documents each key.
"""

from __future__ import annotations

import codecs
import difflib
import re
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from spector.errors import TemplateError
from spector.extract._dates import check_locale
from spector.model import resolve_currency

__all__ = [
    "ITEMS_OF_KIND",
    "ITEM_FIELDS",
    "KINDS",
    "PAGE_FIELDS",
    "FieldModel",
    "FileModel",
    "ItemModel",
    "PageModel",
    "check_css",
    "check_file",
    "check_page",
    "check_regex",
    "split_selector",
    "validate_page",
]

Kind = Literal["listing", "listing_index", "vendor", "feedback", "forum_thread"]
KINDS: tuple[str, ...] = typing.get_args(Kind)

_VENDOR = {
    "rating", "level", "feedback_score", "feedback_counts", "feedback_positive",
    "feedback_negative", "feedback_count", "transactions", "sales", "joined",
}  # fmt: skip
_LISTING = {
    "ref", "title", "price", "price_usd", "currency", "quantity", "ships_from", "ships_to",
    "vendor", "category", "sold", "sold_count", "sold_since", "stock",
    "victim_country", "os", "cookies", "logins",  # the bot shop's listings
    *(f"vendor_{name}" for name in _VENDOR),
}  # fmt: skip
# The fields each page kind reads (a name starting with "x_" is the writer's own: read
# and shown by `spector template test`, never stored).
PAGE_FIELDS: dict[str, frozenset[str]] = {
    "listing": frozenset(_LISTING),
    "listing_index": frozenset({"list_end", "category_code"}),
    "vendor": frozenset({"handle", "profile", "pgp", "contacts", "ships_from", *_VENDOR}),
    "feedback": frozenset({"vendor", "handle"}),
    "forum_thread": frozenset({"thread_ref", "thread_title", "board", "page"}),
}
ITEM_FIELDS: dict[str, frozenset[str]] = {
    "feedback": frozenset({"ref", "rating", "text", "buyer", "when", "listing", "item"}),
    "listings": frozenset({*_LISTING, "link"}),
    "posts": frozenset({"ref", "author", "when", "text", "media"}),
}
ITEMS_OF_KIND: dict[str, frozenset[str]] = {
    "listing": frozenset({"feedback"}),
    "listing_index": frozenset({"listings"}),
    "vendor": frozenset(),
    "feedback": frozenset({"feedback"}),
    "forum_thread": frozenset({"posts"}),
}
_EMPTY = LexborHTMLParser("<html><head></head><body></body></html>")
_HOST = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z0-9-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldModel(_Strict):
    """One field: where its value is (one selector, fallbacks, or a concatenation), then
    what is done to it (a query parameter, a regex, star glyphs counted)."""

    css: str | None = None
    first: list[str] | None = Field(default=None, min_length=1)
    concat: list[str] | None = Field(default=None, min_length=1)
    sep: str = " "
    regex: str | None = None
    query: str | None = None
    stars: str | None = Field(default=None, min_length=1)
    count: bool = False
    required: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"css": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_source(self) -> FieldModel:
        given = [k for k in ("css", "first", "concat") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of css, first or concat")
        if self.count and self.css is None:
            raise ValueError("count = true counts the nodes of one css selector")
        if self.count and (self.stars or self.regex or self.query):
            raise ValueError("count = true cannot be combined with stars, regex or query")
        return self

    def selectors(self) -> list[str]:
        return [self.css] if self.css is not None else list(self.first or self.concat or [])


class ItemModel(_Strict):
    name: str
    each: str
    fields: dict[str, FieldModel] = Field(default_factory=dict)
    lists: list[str] = Field(default_factory=list)


class PageModel(_Strict):
    kind: Kind
    url: str | None = None
    detect: str | None = None
    query: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, FieldModel] = Field(default_factory=dict)
    items: list[ItemModel] = Field(default_factory=list)
    lists: list[str] = Field(default_factory=lambda: ["contacts"])

    @model_validator(mode="after")
    def _recognised(self) -> PageModel:
        if self.url is None and self.detect is None:
            raise ValueError("give url (a regex over the URL path) or detect (a css selector)")
        return self


class DetectModel(_Strict):
    title: str | None = None
    css: str | None = None

    @model_validator(mode="after")
    def _something(self) -> DetectModel:
        if self.title is None and self.css is None:
            raise ValueError("give title (a regex over <title>) or css (a selector)")
        return self


class HeadModel(_Strict):
    family: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    version: int = Field(ge=1)
    description: str | None = None
    locale: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,4})?$")
    date_order: Literal["DMY", "MDY", "YMD"] | None = None
    currency: str | None = None
    encoding: str | None = None
    hosts: list[str] = Field(default_factory=list)
    detect: DetectModel | None = None


class FileModel(_Strict):
    template: HeadModel
    page: list[PageModel] = Field(min_length=1)


def check_css(selector: str, where: str, field: str) -> None:
    """A TemplateError unless selectolax parses ``selector`` (tried on an empty document)."""
    try:
        _EMPTY.css(selector)
    except (SelectolaxError, ValueError, TypeError) as exc:
        raise TemplateError(
            f"{field}: bad CSS selector {selector!r} ({exc})",
            where=where,
            expected="a CSS selector selectolax (lexbor) parses, optionally ending in @attribute",
        ) from exc


def check_regex(pattern: str, where: str, field: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise TemplateError(
            f"{field}: bad regex {pattern!r} ({exc})",
            where=where,
            expected="a Python regular expression",
        ) from exc


def _field_name_error(name: str, known: frozenset[str], where: str, field: str) -> TemplateError:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return TemplateError(
        f"{field}: unknown field {name!r}",
        where=where,
        expected=f"one of {', '.join(sorted(known))} (or an x_ name of your own)",
        hint=f"did you mean {close[0]!r}?" if close else None,
    )


def _known(name: str, known: frozenset[str]) -> bool:
    return name in known or name.startswith("x_")


def split_selector(selector: str) -> tuple[str, str | None]:
    """("css", "attr") of "css@attr"; the attribute is read instead of the text."""
    css, at, attr = selector.rpartition("@")
    if at and re.fullmatch(r"[\w:.-]+", attr) and not css.endswith(("[", "=", '"', "'")):
        return css.strip(), attr
    return selector.strip(), None


def _check_field(name: str, spec: FieldModel, known: frozenset[str], where: str, at: str) -> None:
    if not _known(name, known):
        raise _field_name_error(name, known, where, at)
    for selector in spec.selectors():
        css, _ = split_selector(selector)
        if css:
            check_css(css, where, f"{at}.{name}")
        elif len(spec.selectors()) > 1 or spec.count:
            raise TemplateError(
                f"{at}.{name}: an empty selector (the item itself) in a list of selectors",
                where=where,
                expected="a CSS selector",
            )
    if spec.regex is not None:
        pattern = check_regex(spec.regex, where, f"{at}.{name}.regex")
        for group in pattern.groupindex:
            if group != name and not _known(group, known):
                raise _field_name_error(group, known, where, f"{at}.{name}.regex group")


def check_page(page: PageModel, where: str, at: str) -> None:
    """The checks a page kind passes beyond its schema (see the module docstring)."""
    known = PAGE_FIELDS[page.kind]
    if page.url is not None:
        for group in check_regex(page.url, where, f"{at}.url").groupindex:
            if not _known(group, known):
                raise _field_name_error(group, known, where, f"{at}.url group")
    if page.detect is not None:
        check_css(page.detect, where, f"{at}.detect")
    for name in page.query:
        if not _known(name, known):
            raise _field_name_error(name, known, where, f"{at}.query")
    for name, spec in page.fields.items():
        _check_field(name, spec, known, where, f"{at}.fields")
    for name in page.lists:
        if name not in page.fields and name != "contacts":
            raise TemplateError(
                f"{at}.lists: {name!r} is not a field of this page", where=where,
                expected=f"one of {', '.join(page.fields) or 'its fields'}",
            )  # fmt: skip
    for i, item in enumerate(page.items, start=1):
        item_at = f"{at}.items[{i}] ({item.name})"
        if item.name not in ITEMS_OF_KIND[page.kind]:
            raise TemplateError(
                f"{item_at}: a {page.kind} page has no items named {item.name!r}",
                where=where,
                expected=", ".join(sorted(ITEMS_OF_KIND[page.kind])) or "no items",
            )
        check_css(item.each, where, f"{item_at}.each")
        for name, spec in item.fields.items():
            _check_field(name, spec, ITEM_FIELDS[item.name], where, f"{item_at}.fields")
        for name in item.lists:
            if name not in item.fields:
                raise TemplateError(
                    f"{item_at}.lists: {name!r} is not a field of this item", where=where,
                    expected=f"one of {', '.join(item.fields)}",
                )  # fmt: skip


def validate_page(raw: Any, where: str, at: str) -> PageModel:
    """One page table (as written) validated and checked; TemplateError on a fault."""
    try:
        page = PageModel.model_validate(raw)
    except ValidationError as exc:
        error = _translate(exc, raw if isinstance(raw, dict) else {}, where, PageModel)
        raise TemplateError(f"{at}.{error.what}", where=where, expected=error.expected,
                            hint=error.hint) from None  # fmt: skip
    check_page(page, where, at)
    return page


def check_file(data: dict[str, Any], where: str) -> FileModel:
    """The validated model of a template file's TOML; TemplateError on the first fault."""
    try:
        model = FileModel.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc, data, where) from None
    head = model.template
    if head.locale is not None or head.date_order is not None:
        try:
            check_locale(head.locale, head.date_order)
        except ValueError as exc:
            raise TemplateError(
                f"template.locale: {exc}",
                where=where,
                expected="a language or locale dateparser knows (en, de, ru, en-GB, ...)",
            ) from exc
    if head.encoding is not None:
        try:
            codecs.lookup(head.encoding)
        except LookupError as exc:
            raise TemplateError(
                f"template.encoding: unknown encoding {head.encoding!r}",
                where=where,
                expected="an encoding Python knows (utf-8, cp1251, mac_roman, ...)",
            ) from exc
    if head.currency is not None and resolve_currency(head.currency) is None:
        raise TemplateError(
            f"template.currency: unknown currency {head.currency!r}",
            where=where,
            expected="a code of spector/model/data/currencies.toml (USD, EUR, BTC, ...)",
        )
    for host in head.hosts:
        if not _HOST.match(host):
            raise TemplateError(
                f"template.hosts: {host!r} is not a host name",
                where=where,
                expected="lower-case host names such as 4yjes6zfucnh7vcj.onion",
            )
    if head.detect is not None:
        if head.detect.title is not None:
            check_regex(head.detect.title, where, "template.detect.title")
        if head.detect.css is not None:
            check_css(head.detect.css, where, "template.detect.css")
    for i, page in enumerate(model.page, start=1):
        check_page(page, where, f"page[{i}] ({page.kind})")
    return model


def _translate(
    exc: ValidationError, data: dict[str, Any], where: str, root: type[BaseModel] = FileModel
) -> TemplateError:
    """The first pydantic error as a TemplateError: the place in the file (page[2]
    (listing).fields.price), what is wrong, what was expected, the closest known key."""
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    kind = error["type"]
    place = _place(loc[:-1] if kind in ("extra_forbidden", "missing") else loc, data)
    if kind == "extra_forbidden":
        known = sorted(_model_at(loc[:-1], root).model_fields)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        return TemplateError(
            f"{place}: unknown key {loc[-1]!r}",
            where=where,
            expected=f"one of {', '.join(known)}",
            hint=f"did you mean {close[0]!r}?" if close else None,
        )
    if kind == "missing":
        return TemplateError(
            f"{place}: {loc[-1]!r} missing", where=where, expected=f"a key {loc[-1]!r}"
        )
    message = str(error["msg"]).removeprefix("Value error, ")
    shown = error.get("input")
    got = "" if isinstance(shown, dict) else f", got {shown!r}"
    return TemplateError(f"{place}: {message}{got}", where=where)


def _place(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for i, key in enumerate(loc):
        if isinstance(key, int):
            label = f"[{key + 1}]"
            if isinstance(node, list) and key < len(node) and isinstance(node[key], dict):
                named = node[key].get("kind") or node[key].get("name")
                if named and loc[i - 1] in ("page", "items"):
                    label += f" ({named})"
            parts.append(label)
        elif key in ("function-after[_shorthand(), FieldModel]",) or "[" in str(key):
            continue  # pydantic's name for a validator step, not a place in the file
        else:
            parts.append(f".{key}" if parts else str(key))
        node = node[key] if isinstance(node, (dict, list)) and _has(node, key) else None
    return "".join(parts) or "the file"


def _has(node: dict[str, Any] | list[Any], key: Any) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(key, int) and 0 <= key < len(node)


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel]:
    """The model class a location in the file is validated by."""
    model = root
    for key in loc:
        if isinstance(key, int) or key not in model.model_fields:
            continue
        inner = _inner_model(model.model_fields[key].annotation)
        if inner is not None:
            model = inner
        elif isinstance(key, str) and model is not root:
            break
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, dict, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None
