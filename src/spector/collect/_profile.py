"""Site profiles: what to crawl on one market and how to log in (TOML or YAML)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spector.errors import ConfigError
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
    url: str
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
    concurrency: int = 8
    delay: float = 0.0  # seconds between requests to the site, per worker
    jitter: float = 0.0  # extra random delay, up to this many seconds
    media: str = "none"  # none, or allow
    max_body_bytes: int = 8 << 20
    login: LoginFlow | None = None
    source: str = ""  # the file it came from

    def denied(self, path_query: str) -> bool:
        if any(re.search(p, path_query) for p in ALWAYS_DENY):
            return True
        if self.deny and any(re.search(p, path_query) for p in self.deny):
            return True
        return not any(re.search(p, path_query) for p in self.allow)


def load_profile(path: Path) -> SiteProfile:
    """Read and check a profile; a ConfigError names the file and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read profile: {exc.strerror}", where=path) from exc
    data = _parse(path, text)
    site = data.get("site")
    if not isinstance(site, dict):
        raise ConfigError("missing [site] table", where=path)
    for key in ("name", "hosts", "start_urls"):
        if key not in site:
            raise ConfigError(f"[site] lacks {key!r}", where=path)
    onion = selector_kind("onion")
    hosts = []
    for host in site["hosts"]:
        if not onion.validate(str(host)):
            raise ConfigError(f"host {host!r} is not a valid v3 onion address", where=path)
        hosts.append(onion.normalise(str(host)))
    for pattern in [*site.get("allow", []), *site.get("deny", []), *site.get("caps", {})]:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"bad pattern {pattern!r}: {exc}", where=path) from exc
    media = site.get("media", "none")
    if media not in ("none", "allow"):
        raise ConfigError(f"media = {media!r}", where=path, expected='"none" or "allow"')
    login = data.get("login")
    flow = None
    if isinstance(login, dict):
        try:
            flow = LoginFlow(
                **{k: v for k, v in login.items() if k in LoginFlow.__dataclass_fields__}
            )
        except TypeError as exc:
            raise ConfigError(f"[login] {exc}", where=path) from exc
    numbers = {}
    for key, kind in (
        ("max_pages", int),
        ("max_depth", int),
        ("concurrency", int),
        ("delay", float),
        ("jitter", float),
        ("max_body_bytes", int),
    ):
        if key in site:
            value = site[key]
            if not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"[site] {key} = {value!r}", where=path, expected="a number >= 0")
            numbers[key] = kind(value)
    if numbers.get("concurrency", 1) < 1:
        raise ConfigError("[site] concurrency must be at least 1", where=path)
    return SiteProfile(
        name=str(site["name"]),
        hosts=tuple(hosts),
        start_urls=tuple(str(u) for u in site["start_urls"]),
        family=site.get("family"),
        market_id=site.get("market_id"),
        allow=tuple(site.get("allow", ["^/"])),
        deny=tuple(site.get("deny", [])),
        caps={str(k): int(v) for k, v in site.get("caps", {}).items()},
        media=media,
        login=flow,
        source=str(path),
        **numbers,  # type: ignore[arg-type]
    )


def _parse(path: Path, text: str) -> dict[str, Any]:
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped]
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
