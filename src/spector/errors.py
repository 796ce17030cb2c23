"""Every error Spector raises on purpose.

The tree::

    SpectorError                    base of everything below
    ├── UserError                   bad input or environment; CLI: exit 2, one line "error: ..."
    │   ├── ConfigError             malformed spector.toml, a site profile, a mapping file
    │   │   └── TemplateError       a page template: bad TOML, CSS selector, regex (file, field)
    │   ├── WorkspaceError          the workspace cannot be used as asked
    │   │   ├── NotAWorkspace       the folder has no spector.toml
    │   │   ├── WorkspaceExists     `init` on a folder that already is one
    │   │   ├── WorkspaceLocked     another process holds the write lock
    │   │   ├── StoreCorrupt        store.duckdb is not a DuckDB file, or not Spector's
    │   │   └── SchemaTooNew        written by a newer Spector; nothing is touched
    │   ├── InputError              a file or value we were given is wrong
    │   │   ├── ParseError          bytes that do not follow their format (file, offset)
    │   │   ├── SelectorInvalid     a selector value fails its kind's validation
    │   │   ├── PageError           a page matched a template but a field cannot be read
    │   │   └── RpcError            a Bitcoin node's JSON-RPC answer (spector.chain)
    │   ├── SiteError               a site or the way to it will not serve the crawl
    │   │   ├── LoginFailed         a site's login did not succeed (form, CAPTCHA, answer)
    │   │   └── ProxyError          the SOCKS proxy is missing, refused, or not socks5h://
    │   ├── CaseError               the case store refuses an action (spector.cases)
    │   │   ├── AuthError           bad password; forged, expired or revoked token or user
    │   │   ├── AccessDenied        the user's role or agency does not allow it
    │   │   ├── NotFound            no such record, or one the user may not see
    │   │   └── ConflictError       the record changed since it was read; a duplicate
    │   └── UsageError              options that do not fit together
    └── InternalError               a bug in Spector; CLI: exit 1 with a traceback on --debug

A user-facing error says what was wrong, where (file, line, offset, URL) and what was
expected. Third-party errors are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AccessDenied",
    "AuthError",
    "CaseError",
    "ConfigError",
    "ConflictError",
    "InputError",
    "InternalError",
    "LoginFailed",
    "NotAWorkspace",
    "NotFound",
    "PageError",
    "ParseError",
    "ProxyError",
    "SchemaTooNew",
    "SelectorInvalid",
    "SiteError",
    "SpectorError",
    "StoreCorrupt",
    "TemplateError",
    "UsageError",
    "UserError",
    "WorkspaceError",
    "WorkspaceExists",
    "WorkspaceLocked",
]


class SpectorError(Exception):
    """Base of every error Spector raises on purpose."""


class UserError(SpectorError):
    """Something the user can fix: the message says what, where and what was expected.

    ``where`` is a file path (optionally ``:line[:column]``), a byte offset, or a URL;
    ``expected`` says what should have been there; ``hint`` says what to do.
    """

    exit_code = 2

    def __init__(
        self,
        what: str,
        *,
        where: str | Path | None = None,
        expected: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.what = what
        self.where = str(where) if where is not None else None
        self.expected = expected
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message as one line, without a trailing period."""
        parts = []
        if self.where:
            parts.append(f"{self.where}: ")
        parts.append(self.what)
        if self.expected:
            parts.append(f" (expected {self.expected})")
        if self.hint:
            parts.append(f"; {self.hint}")
        return "".join(parts).replace("\n", " ")


class ConfigError(UserError):
    """A configuration file (spector.toml, a site profile, a mapping) is malformed."""


class TemplateError(ConfigError):
    """A page template is wrong: ``where`` names its file and field (bad TOML, a CSS
    selector or a regex that does not compile, an unknown key)."""


class WorkspaceError(UserError):
    """The workspace cannot be used as asked."""


class NotAWorkspace(WorkspaceError):
    """The folder (and none of its parents) holds a spector.toml."""


class WorkspaceExists(WorkspaceError):
    """`spector init` on a folder that already holds a workspace."""


class WorkspaceLocked(WorkspaceError):
    """Another process holds the store's write lock."""


class StoreCorrupt(WorkspaceError):
    """store.duckdb is unreadable, not a DuckDB file, or a DuckDB file that is not Spector's."""


class SchemaTooNew(WorkspaceError):
    """The store was written by a newer Spector: opening it would risk the data."""


class InputError(UserError):
    """A file or value given to Spector is wrong."""


class ParseError(InputError):
    """Bytes that do not follow their format; ``where`` names file and byte offset."""

    def __init__(
        self,
        what: str,
        *,
        file: str | Path | None = None,
        offset: int | None = None,
        expected: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.offset = offset
        where = self.file or ""
        if offset is not None:
            where = f"{where}@{offset}" if where else f"offset {offset}"
        super().__init__(what, where=where or None, expected=expected)


class SelectorInvalid(InputError):
    """A selector value fails its kind's validation (bad checksum, bad length, ...)."""

    def __init__(self, kind: str, value: str, reason: str) -> None:
        self.kind = kind
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {kind} {value!r}: {reason}")


class PageError(InputError):
    """A page matched a template but a field could not be read (the layout changed?)."""


class SiteError(UserError):
    """A site, or the way to it, will not serve the crawl as configured."""


class LoginFailed(SiteError):
    """A site's login did not succeed: no form, a CAPTCHA not answered, credentials refused."""


class ProxyError(SiteError):
    """The SOCKS proxy is not ``socks5h://HOST:PORT``, or is missing or unreachable."""


class CaseError(UserError):
    """The case store refuses an action (spector.cases)."""


class AuthError(CaseError):
    """No valid identity: a wrong password, a forged, expired or revoked token, a revoked user."""


class AccessDenied(CaseError):
    """The user's role or agency does not allow the action."""


class NotFound(CaseError):
    """No such record, or one the user may not see (the two are indistinguishable)."""


class ConflictError(CaseError):
    """Optimistic locking: the record changed since the user read it (or a unique value exists)."""


class UsageError(UserError):
    """Options or arguments that do not fit together."""


class InternalError(SpectorError):
    """A bug in Spector, not something the user did. Reported with exit code 1."""

    exit_code = 1
