"""Deconfliction between two instances that share no database: files of keyed hashes.

The two sides agree on a key out of band (at least 32 random bytes, as hex or base64 in
a key file). Each exports the keyed hashes of its own agency's selectors,
``HMAC-SHA-256(shared key, "kind:canonical")``, and imports the other's file: the importer
recomputes the hashes of its local selectors under the shared key and makes a notice
for every local agency whose selector matches, naming the remote instance, agency and
contact. No cleartext value leaves either instance; without the key a digest cannot be
tested against a guessed value.

File format ``spector-deconfliction/1`` (JSON)::

    {"format": "spector-deconfliction/1", "instance": "<instance id>",
     "agency": "<exporting agency>", "contact": "Name <email>",
     "created": "<ISO 8601, aware>", "entries": [{"digest": "<64 hex>", "kind": "<kind>"}]}

Only selectors that may leave the instance are exported: the exporting agency's own,
not restricted (handling not H2/H3, ``RESTRICTED_HANDLING``), not noisy. A malformed
file is one clear error and nothing is written.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from spector.cases._access import require_role, select_visible
from spector.cases._audit import log
from spector.cases._base import RESTRICTED_HANDLING, Principal, utcnow
from spector.cases._canon import deconfliction_kinds
from spector.cases._deconflict import (
    DeconflictionNotice,
    Selector,
    contact_of,
    digest,
)
from spector.cases._who import Agency, instance_value
from spector.errors import InputError, UsageError

__all__ = ["FORMAT", "MIN_KEY_BYTES", "export_hashes", "import_hashes", "read_key_file"]

FORMAT = "spector-deconfliction/1"
MIN_KEY_BYTES = 32
MAX_ENTRIES = 2_000_000
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def read_key_file(path: Path) -> bytes:
    """The shared key in ``path``: hex (tried first) or base64, at least 32 bytes."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise InputError("key file not found", where=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"key file unreadable: {exc}", where=path) from exc
    return parse_key(text, where=str(path))


def parse_key(text: str, *, where: str | None = None) -> bytes:
    """Decode a shared key written as hex or base64; a short or undecodable key is an error."""
    expected = f"at least {MIN_KEY_BYTES} random bytes as hex or base64"
    if _HEX.match(text) and len(text) % 2 == 0:
        key = bytes.fromhex(text)
    else:
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(
                "the key is neither hex nor base64", where=where, expected=expected
            ) from None
    if len(key) < MIN_KEY_BYTES:
        raise InputError(f"the key has {len(key)} bytes, too short", where=where, expected=expected)
    return key


def _check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise UsageError(
            f"the shared key has {len(key)} bytes", expected=f"at least {MIN_KEY_BYTES}"
        )


def export_hashes(s: Session, p: Principal, key: bytes) -> dict[str, Any]:
    """The exchange file of the principal's agency (liaison or admin), as a dict.

    Entries are unique and sorted; the export is audited (how many, never which).
    """
    require_role(p, "liaison", "admin")
    _check_key(key)
    rows = s.execute(
        select_visible(p, Selector)
        .with_only_columns(Selector.kind, Selector.value)
        .where(
            Selector.agency_id == p.agency_id,
            Selector.handling.not_in(sorted(RESTRICTED_HANDLING)),
            Selector.noisy.is_(False),
        )
    ).all()
    entries = sorted({(digest(key, kind, value), kind) for kind, value in rows})
    agency = s.get(Agency, p.agency_id)
    data: dict[str, Any] = {
        "format": FORMAT,
        "instance": instance_value(s, "instance_id"),
        "agency": agency.name if agency else str(p.agency_id),
        "contact": contact_of(s, p.user_id),
        "created": utcnow().isoformat(),
        "entries": [{"digest": d, "kind": k} for d, k in entries],
    }
    log(s, p, "export", "selectors", None, {"entries": len(entries), "format": FORMAT})
    return data


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    kind: str

    @field_validator("kind")
    @classmethod
    def _known(cls, kind: str) -> str:
        if kind not in deconfliction_kinds():
            raise ValueError(f"unknown selector kind {kind!r}")
        return kind


class _ExchangeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["spector-deconfliction/1"]
    instance: str = Field(min_length=1, max_length=100)
    agency: str = Field(min_length=1, max_length=200)
    contact: str | None = Field(default=None, max_length=400)
    created: datetime
    entries: list[_Entry] = Field(max_length=MAX_ENTRIES)

    @field_validator("created")
    @classmethod
    def _aware(cls, created: datetime) -> datetime:
        if created.tzinfo is None:
            raise ValueError("has no time zone")
        return created


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the file"


def _explain(exc: ValidationError) -> str:
    # an unknown key first: a misspelt key also makes the right one "missing"
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    error = errors[0]
    loc = tuple(error["loc"])
    where = _path(loc)
    if error["type"] == "extra_forbidden":
        model = _Entry if "entries" in loc[:1] else _ExchangeFile
        close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(model.model_fields)
        return f"{_path(loc[:-1])}: unknown key {loc[-1]!r}; {hint}"
    if error["type"] == "literal_error" and loc == ("format",):
        return f"format {error['input']!r} is not {FORMAT!r}"
    if error["type"] == "missing":
        inside = f" in {_path(loc[:-1])}" if len(loc) > 1 else ""
        return f"required key {loc[-1]!r} is missing{inside}"
    if error["type"] == "string_pattern_mismatch":
        return f"{where}: not 64 lower-case hex digits (a keyed hash)"
    return f"{where}: {error['msg']}"


def parse_exchange(data: object, *, where: str | None = None) -> _ExchangeFile:
    """Validate an exchange file's content; InputError naming the field otherwise."""
    if not isinstance(data, Mapping):
        raise InputError("not a deconfliction file (a JSON object)", where=where, expected=FORMAT)
    try:
        return _ExchangeFile.model_validate(dict(data))
    except ValidationError as exc:
        raise InputError(_explain(exc), where=where, expected=f"a {FORMAT} file") from None


def load_exchange_file(path: Path) -> dict[str, Any]:
    """Read an exchange file as JSON (validation happens in :func:`import_hashes`)."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError("file not found", where=path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not JSON: {exc}", where=path, expected=f"a {FORMAT} file") from exc
    if not isinstance(data, dict):
        raise InputError("not a JSON object", where=path, expected=f"a {FORMAT} file")
    return data


def import_hashes(
    s: Session, p: Principal, data: Mapping[str, Any], key: bytes, *, where: str | None = None
) -> list[DeconflictionNotice]:
    """Match another instance's exchange file against every local agency's selectors.

    Makes one notice per (local agency, remote agency, local digest) that does not exist
    yet, pointing at the local agency's selector and naming the remote instance, agency
    and contact. The file is validated whole before anything is written.
    """
    require_role(p, "liaison", "admin")
    _check_key(key)
    parsed = parse_exchange(data, where=where)
    own = instance_value(s, "instance_id")
    if parsed.instance == own:
        raise UsageError(
            f"the file was exported by this instance ({own})", hint="import the other side's file"
        )
    remote = {(e.digest, e.kind) for e in parsed.entries}
    # Outside the access filter, as add_selector's comparison: every local agency's
    # selectors are matched, and only their own agency is told (pointers, no content).
    rows = s.execute(  # access-filter: documented exception (pointers only)
        select(Selector.id, Selector.agency_id, Selector.kind, Selector.value, Selector.digest)
        .where(Selector.noisy.is_(False))
        .order_by(Selector.id)
    ).all()
    first: dict[tuple[int, str], tuple[int, str]] = {}
    for sel_id, agency_id, kind, value, local_digest in rows:
        if (digest(key, kind, value), kind) in remote:
            first.setdefault((agency_id, local_digest), (sel_id, kind))
    counterpart = f"remote:{parsed.instance}:{parsed.agency}"[:300]
    have = {  # one notice per (local agency, remote agency, digest): a second import adds none
        (agency_id, local_digest)
        for agency_id, local_digest in s.execute(
            select(DeconflictionNotice.agency_id, DeconflictionNotice.digest).where(
                DeconflictionNotice.counterpart == counterpart
            )
        ).all()
    }
    made = [
        DeconflictionNotice(
            agency_id=agency_id,
            selector_id=sel_id,
            digest=local_digest,
            counterpart=counterpart,
            remote_instance=parsed.instance,
            remote_agency=parsed.agency,
            remote_contact=parsed.contact,
            contact=parsed.contact,
            kind=kind,
        )
        for (agency_id, local_digest), (sel_id, kind) in first.items()
        if (agency_id, local_digest) not in have
    ]
    s.add_all(made)
    s.flush()
    for notice in made:
        log(
            s,
            p,
            "notice",
            "deconfliction_notices",
            notice.id,
            {
                "agency_id": notice.agency_id,
                "selector_id": notice.selector_id,
                "remote": counterpart,
            },
        )
    log(
        s,
        p,
        "import",
        "deconfliction_notices",
        None,
        {
            "remote_instance": parsed.instance,
            "remote_agency": parsed.agency,
            "entries": len(parsed.entries),
            "notices": len(made),
        },
    )
    return made
