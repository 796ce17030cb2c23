"""What a target points at: the ``ref`` of each target kind, and a person's details.

A target of a case is one of:

- ``actor``: an actor of [H]'s vendor resolution, ``actor-`` + 12 hex (``actor_accounts``);
- ``vendor_account``: a vendor account of the records, ``vendor_account-`` + 40 hex;
- ``selector``: ``"kind:value"`` with a selector kind of ``spector.cases._canon``, stored
  canonical (``pgp_fingerprint:ABCD...``, ``btc_address:bc1...``, ``handle:bigvendor``);
- ``cluster``: a wallet cluster of [G] (``chain_clusters.cluster_id``, a non-negative
  integer);
- ``person``: no ref; ``details`` holds only what the agency enters (names, dob,
  nationality, notes), never anything Spector looked up.

With a workspace whose store holds rows of the table a kind points into, the ref must be
there (NotFound otherwise); without one (a case store on a PostgreSQL server, or a stage
that has not run: its table is empty) the ref is stored as given after its format check.
"""

from __future__ import annotations

import difflib
import re
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from spector.errors import InputError, NotFound

if TYPE_CHECKING:
    from spector.store import Workspace

__all__ = ["TARGET_KINDS", "PersonDetails", "check_ref", "person_details"]

#: The kinds of target a case holds.
TARGET_KINDS: tuple[str, ...] = ("actor", "vendor_account", "selector", "cluster", "person")

_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "actor": (re.compile(r"actor-[0-9a-f]{12}"), "an actor id: actor- and 12 hex digits"),
    "vendor_account": (
        re.compile(r"vendor_account-[0-9a-f]{40}"),
        "a vendor account id: vendor_account- and 40 hex digits",
    ),
    "cluster": (re.compile(r"[0-9]{1,18}"), "a cluster id: a non-negative integer"),
}

#: kind -> (table, column, what writes it), for the workspace check.
_TABLES: dict[str, tuple[str, str, str]] = {
    "actor": ("actor_accounts", "actor_id", "spector resolve"),
    "vendor_account": ("vendor_accounts", "id", "spector extract"),
    "cluster": ("chain_clusters", "cluster_id", "spector chain cluster"),
}


def _check_kind(kind: str) -> None:
    if kind not in TARGET_KINDS:
        close = difflib.get_close_matches(kind, TARGET_KINDS, n=1)
        raise InputError(
            f"unknown target kind {kind!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
            expected=f"one of {', '.join(TARGET_KINDS)}",
        )


def check_ref(kind: str, ref: str | None, workspace: Workspace | None = None) -> str | None:
    """The ref to store for a target of ``kind``: checked for its format (and, for a
    selector, made canonical) and, when ``workspace`` holds the table of that kind,
    checked to exist there. A person has no ref."""
    _check_kind(kind)
    if kind == "person":
        if ref is not None:
            raise InputError(
                "a person target has no ref",
                expected="the person's details (names, dob, nationality, notes)",
            )
        return None
    if ref is None or not ref.strip():
        raise InputError(f"a {kind} target needs a ref", expected=_expected(kind))
    ref = ref.strip()
    if kind == "selector":
        return _selector_ref(ref)
    pattern, expected = _FORMATS[kind]
    if not pattern.fullmatch(ref):
        raise InputError(f"{ref!r} is not a {kind} ref", expected=expected)
    if workspace is not None:
        _check_in_workspace(kind, ref, workspace)
    return ref


def _expected(kind: str) -> str:
    if kind == "selector":
        return '"kind:value", e.g. "pgp_fingerprint:0123...", "btc_address:bc1..."'
    return _FORMATS[kind][1]


def _selector_ref(ref: str) -> str:
    from spector.cases._canon import canonical, deconfliction_kinds

    kind, sep, value = ref.partition(":")
    kinds = deconfliction_kinds()
    if not sep or kind not in kinds:
        close = difflib.get_close_matches(kind, kinds, n=1)
        raise InputError(
            f"{ref!r} is not a selector ref" + (f" (did you mean {close[0]!r}?)" if close else ""),
            expected=f'"kind:value" with a kind of {", ".join(kinds)}',
        )
    return f"{kind}:{canonical(kind, value)}"


def _check_in_workspace(kind: str, ref: str, workspace: Workspace) -> None:
    table, column, writer = _TABLES[kind]
    if table not in workspace.store.tables():
        return
    con = workspace.store.con
    # table and column names are ours (_TABLES), never the user's
    if con.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is None:
        return  # the stage has not run here: nothing to check against
    value: object = int(ref) if kind == "cluster" else ref
    row = con.execute(f"SELECT 1 FROM {table} WHERE {column} = ? LIMIT 1", [value]).fetchone()
    if row is None:
        raise NotFound(
            f"no {kind.replace('_', ' ')} {ref} in the workspace {workspace.root}",
            hint=f"{writer} writes them; check the id",
        )


class PersonDetails(BaseModel):
    """A person target: only what the agency enters. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    names: list[str] = []
    dob: date | None = None
    nationality: str | None = None
    notes: str | None = None

    @field_validator("names")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        if any(not n.strip() or len(n) > 200 for n in value):
            raise ValueError("each name is 1 to 200 characters")
        return value

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise ValueError("an ISO 3166-1 alpha-2 country code, e.g. DE")
        return value.upper()


def person_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """``details`` checked as :class:`PersonDetails` and returned as JSON-ready data
    (dob as YYYY-MM-DD, empty fields left out). An unknown key names the closest known."""
    data = details or {}
    known = list(PersonDetails.model_fields)
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            raise InputError(
                f"person details: unknown key {key!r}"
                + (f" (did you mean {close[0]!r}?)" if close else ""),
                expected=f"keys among {', '.join(known)}",
            )
    try:
        person = PersonDetails.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "details"
        raise InputError(f"person details: {field}: {err['msg']}") from exc
    out = person.model_dump(mode="json", exclude_none=True)
    if not out.get("names"):
        out.pop("names", None)
    if not out:
        raise InputError(
            "a person target needs at least one detail",
            expected="names, dob, nationality or notes",
        )
    return out
