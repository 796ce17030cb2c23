"""Site profiles: what to crawl on one market and how to log in (TOML or YAML).

A profile is validated as a schema before anything is fetched: an unknown key or table
is an error naming the closest known one (a typo must never silently change a crawl),
a string where a list belongs is an error, numbers have bounds, the allow-list of hosts
cannot be empty, every URL in the profile (start URLs, the login page) must be on that
allow-list, and a blocklist file named by the profile must exist. v2 onions (16
characters) are refused with the reason: Tor no longer routes them; they belong to
imported and archived data only.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from selectolax.lexbor import LexborHTMLParser

from spector.collect._urls import Refusal, Scope, load_blocklist
from spector.errors import ConfigError, SelectorInvalid
from spector.model import selector_kind

__all__ = ["LoginFlow", "SiteProfile", "load_profile"]

# Never follow these, whatever a profile says: leaving a session, buying, paying.
ALWAYS_DENY = (
    r"/logout",
    r"/signout",
    r"/order",
    r"/checkout",
    r"/cart",
    r"/payment",
    r"/withdraw",
)


@dataclass(frozen=True)
class LoginFlow:
    url: str  # absolute, on one of the site's hosts (checked at load)
    username: str
    password: str
    username_field: str = "username"
    password_field: str = "password"  # noqa: S105 - the form field's name
    captcha_field: str | None = "captcha"
    captcha_image: str | None = "img#captcha"  # CSS selector of the CAPTCHA picture
    form: str = "form"  # CSS selector of the login form
    logged_in_marker: str = "/logout"  # text a page holds once logged in


@dataclass(frozen=True)
class SiteProfile:
    name: str
    hosts: tuple[str, ...]  # normalised onion hosts: main address and mirrors
    start_urls: tuple[str, ...]
    family: str | None = None  # template family for extraction
    market_id: str | None = None
    allow: tuple[str, ...] = ("^/",)  # regexes on path+query
    deny: tuple[str, ...] = ()
    caps: dict[str, int] = field(default_factory=dict)  # regex -> max pages
    max_pages: int = 100_000
    max_depth: int = 50
    max_per_pattern: int = 10_000  # pages of one path pattern (crawl traps without digits)
    max_path_segments: int = 20
    max_links_per_page: int = 10_000
    concurrency: int = 8
    delay: float = 0.0  # seconds between requests to the site, per worker
    jitter: float = 0.0  # extra random delay, up to this many seconds
    timeout: float | None = None  # seconds for connection and headers, and between reads
    deadline: float | None = None  # seconds for one whole exchange (slow-loris guard)
    media: str = "none"  # none, or allow
    max_body_bytes: int = 8 << 20
    login: LoginFlow | None = None
    blocklist: str | None = None  # the abuse blocklist file the profile names
    blocked: frozenset[str] = frozenset()  # its entries
    source: str = ""  # the file it came from

    def denied(self, path_query: str) -> bool:
        if any(re.search(p, path_query) for p in ALWAYS_DENY):
            return True
        if self.deny and any(re.search(p, path_query) for p in self.deny):
            return True
        return not any(re.search(p, path_query) for p in self.allow)


# -- the schema -----------------------------------------------------------------------
Count = Annotated[int, Field(ge=1, le=100_000_000)]
Seconds = Annotated[float, Field(ge=0, le=3600)]
Text = Annotated[str, Field(min_length=1, max_length=500)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _LoginTable(_Table):
    url: Text
    username: Text
    password: Text
    username_field: Text = "username"
    password_field: Text = "password"  # noqa: S105 - the form field's name
    captcha_field: Annotated[str, Field(max_length=500)] = "captcha"  # "": no CAPTCHA
    captcha_image: Annotated[str, Field(max_length=500)] = "img#captcha"
    form: Text = "form"
    logged_in_marker: Text = "/logout"

    @field_validator("form", "captcha_image")
    @classmethod
    def _css(cls, value: str) -> str:
        if value:
            try:
                LexborHTMLParser("<p></p>").css_first(value)
            except Exception as exc:  # selectolax raises ValueError or its own errors
                raise ValueError(f"not a CSS selector: {value!r} ({exc})") from None
        return value


class _SiteTable(_Table):
    name: Text
    hosts: Annotated[list[str], Field(min_length=1, max_length=1000)]
    start_urls: Annotated[list[Text], Field(min_length=1, max_length=1_000_000)]
    family: Text | None = None
    market_id: Text | None = None
    allow: Annotated[list[Text], Field(min_length=1)] = ["^/"]
    deny: list[Text] = []
    caps: dict[str, Count] = {}
    max_pages: Count = 100_000
    max_depth: Annotated[int, Field(ge=0, le=1000)] = 50
    max_per_pattern: Count = 10_000
    max_path_segments: Annotated[int, Field(ge=1, le=200)] = 20
    max_links_per_page: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    concurrency: Annotated[int, Field(ge=1, le=256)] = 8
    delay: Seconds = 0.0
    jitter: Seconds = 0.0
    timeout: float | None = Field(None, ge=0.1, le=600)
    deadline: float | None = Field(None, ge=0.1, le=3600)
    media: Literal["none", "allow"] = "none"
    max_body_bytes: Annotated[int, Field(ge=1024, le=1 << 30)] = 8 << 20
    blocklist: Text | None = None

    @field_validator("hosts")
    @classmethod
    def _onions(cls, hosts: list[str]) -> list[str]:
        onion = selector_kind("onion")
        out = []
        for host in hosts:
            label = host.strip().lower().removesuffix(".onion").rsplit(".", 1)[-1]
            if re.fullmatch(r"[a-z2-7]{16}", label):
                raise ValueError(
                    f"host {host!r} is a v2 onion address (16 characters): Tor no longer "
                    "routes v2 services, so they cannot be crawled (v2 addresses are for "
                    "imported and archived data only)"
                )
            try:
                out.append(onion.normalise(host))
            except SelectorInvalid:
                raise ValueError(f"host {host!r} is not a valid v3 onion address") from None
        return out

    @field_validator("allow", "deny")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            _compile(pattern)
        return patterns

    @field_validator("caps")
    @classmethod
    def _cap_patterns(cls, caps: dict[str, int]) -> dict[str, int]:
        for pattern in caps:
            _compile(pattern)
        return caps


class _ProfileFile(_Table):
    site: _SiteTable
    login: _LoginTable | None = None


def _compile(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad pattern {pattern!r}: {exc}") from None


# -- loading --------------------------------------------------------------------------
def load_profile(path: Path) -> SiteProfile:
    """Read and check a profile; a ConfigError names the file, the key and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read profile: {exc.strerror}", where=path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"profile is not UTF-8 text: {exc.reason}", where=path) from exc
    try:
        data = _ProfileFile.model_validate(_parse(path, text))
    except ValidationError as exc:
        raise ConfigError(_explain(exc), where=path) from None
    site, login = data.site, data.login
    blocklist_file = None
    if site.blocklist is not None:
        blocklist_file = (path.parent / site.blocklist).resolve()
        if not blocklist_file.is_file():
            raise ConfigError(
                f"[site] blocklist {site.blocklist!r}: no such file {blocklist_file}",
                where=path,
                expected="the abuse blocklist file, relative to the profile",
            )
    profile = SiteProfile(
        name=site.name,
        hosts=tuple(dict.fromkeys(site.hosts)),
        start_urls=(),
        family=site.family,
        market_id=site.market_id,
        allow=tuple(site.allow),
        deny=tuple(site.deny),
        caps=dict(site.caps),
        max_pages=site.max_pages,
        max_depth=site.max_depth,
        max_per_pattern=site.max_per_pattern,
        max_path_segments=site.max_path_segments,
        max_links_per_page=site.max_links_per_page,
        concurrency=site.concurrency,
        delay=site.delay,
        jitter=site.jitter,
        timeout=site.timeout,
        deadline=site.deadline,
        media=site.media,
        max_body_bytes=site.max_body_bytes,
        blocklist=str(blocklist_file) if blocklist_file else None,
        blocked=load_blocklist(blocklist_file),
        source=str(path),
    )
    scope = Scope(profile)
    home = f"http://{profile.hosts[0]}/"
    starts = []
    for number, url in enumerate(site.start_urls):
        target = _profile_url(scope, home, url, f"[site] start_urls[{number}]", path)
        refusal = scope.admit(target)
        if refusal is not None:
            raise ConfigError(
                f"[site] start_urls[{number}] {url!r} would be refused: {refusal.reason}",
                where=path,
                expected="a URL on one of the site's hosts that its allow and deny rules admit",
            )
        starts.append(target)
    flow = None
    if login is not None:
        target = _profile_url(scope, home, login.url, "[login] url", path)
        if (refusal := scope.admit_host(target)) is not None:
            raise ConfigError(f"[login] url {login.url!r}: {refusal.reason}", where=path)
        flow = LoginFlow(
            url=target,
            username=login.username,
            password=login.password,
            username_field=login.username_field,
            password_field=login.password_field,
            captcha_field=login.captcha_field or None,
            captcha_image=login.captcha_image or None,
            form=login.form,
            logged_in_marker=login.logged_in_marker,
        )
    return SiteProfile(
        **{**profile.__dict__, "start_urls": tuple(dict.fromkeys(starts)), "login": flow}
    )


def _profile_url(scope: Scope, home: str, url: str, key: str, path: Path) -> str:
    """A profile's URL made absolute: an absolute http(s) URL, or a path from "/"
    (joined to the first host). Anything else (``@other.onion/login``, ``.other.onion/``,
    ``//other.onion/``) is refused: it would not mean a page of this site."""
    raw = url.strip()
    absolute = re.match(r"https?://", raw, re.IGNORECASE) is not None
    if not absolute and not (raw.startswith("/") and not raw.startswith("//")):
        raise ConfigError(
            f"{key} {url!r} is neither an absolute URL nor a path from /",
            where=path,
            expected='"http://HOST.onion/…" on one of the hosts, or "/path"',
        )
    target = scope.resolve(home, raw)
    if isinstance(target, Refusal):
        raise ConfigError(f"{key} {url!r}: {target.reason}", where=path)
    refusal = scope.admit_host(target)
    if refusal is not None:
        raise ConfigError(f"{key} {url!r}: {refusal.reason}", where=path)
    return str(target)


def _explain(error: ValidationError) -> str:
    """pydantic's errors as one line a person can act on."""
    messages = []
    for item in error.errors(include_url=False)[:3]:
        loc = [str(part) for part in item["loc"]]
        table = f"[{loc[0]}]" if loc else "the profile"
        key = ".".join(loc[1:])
        kind = item["type"]
        if kind == "extra_forbidden":
            messages.append(_unknown(loc))
        elif kind == "missing":
            messages.append(f"{table} lacks {key!r}" if key else f"missing {table} table")
        elif kind == "too_short" and key in _EMPTY:
            messages.append(f"{table} {key} is empty: {_EMPTY[key]}")
        elif kind == "list_type":
            messages.append(f"{table} {key} must be a list, got {_shown(item['input'])}")
        elif kind == "value_error":
            messages.append(f"{table} {key}: {item['msg'].removeprefix('Value error, ')}")
        else:
            bounds = _bounds(loc)
            expected = f" (expected {bounds})" if bounds else ""
            what = f"{table} {key} = {_shown(item['input'])}" if key else table
            messages.append(f"{what}: {item['msg'].lower()}{expected}")
    more = len(error.errors()) - len(messages)
    return "; ".join(messages) + (f"; and {more} more" if more > 0 else "")


_EMPTY = {
    "hosts": "the allow-list needs at least one onion host",
    "start_urls": "a crawl starts from at least one URL",
    "allow": "no path would be allowed",
}


def _unknown(loc: list[str]) -> str:
    if len(loc) == 1:
        known = list(_ProfileFile.model_fields)
        close = difflib.get_close_matches(loc[0], known, n=1, cutoff=0.5)
        hint = f"did you mean [{close[0]}]?" if close else "known tables: [site], [login]"
        return f"unknown table [{loc[0]}] ({hint})"
    model: type[_Table] = _SiteTable if loc[0] == "site" else _LoginTable
    known = list(model.model_fields)
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else "known keys: " + ", ".join(known)
    return f"unknown key {loc[-1]!r} in [{loc[0]}] ({hint})"


def _bounds(loc: list[str]) -> str | None:
    tables: dict[str, type[_Table]] = {"site": _SiteTable, "login": _LoginTable}
    model = tables.get(loc[0]) if loc else None
    if model is None or len(loc) < 2 or loc[1] not in model.model_fields:
        return None
    low = high = None
    for meta in model.model_fields[loc[1]].metadata:
        low = getattr(meta, "ge", low)
        high = getattr(meta, "le", high)
    if low is None or high is None:
        return None
    return f"a number from {low:g} to {high:g}"


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse(path: Path, text: str) -> dict[str, Any]:
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise ConfigError(
                "YAML profiles need PyYAML: pip install 'spector[interop]'", where=path
            ) from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"malformed YAML: {exc}", where=path) from exc
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"malformed TOML: {exc}", where=path) from exc
    if not isinstance(data, dict):
        raise ConfigError("a profile is a table of settings", where=path)
    return data
