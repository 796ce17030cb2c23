"""Importing listing dumps (CSV, JSON lines) with a mapping: researchers' and seized data.

A mapping (``spector.extract._mapping``; ready ones in ``extract/mappings``) says how the
columns of a file become listings, their vendor accounts and feedback; the market is the
mapping's (or the one given at import). One run reads many files: every file is checked
first (its name against the mapping's ``file_pattern``, its encoding, its header), so a
file that cannot be read stops the run before anything is stored. Rows that cannot be
read are recorded in ``extraction_errors`` (``spector extract errors``) with their row
number and the reason, and the import goes on; the report counts them.

Everything observed at one moment (a date column, a date in the file name, or else the
moment of the import, taken once per run) is stored with that moment as its
provenance, so the same listing seen on several days is one listing seen from its first
day to its last. Importing the same file again changes nothing but ``last_seen``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from spector.errors import InputError
from spector.extract._mapping import Mapping, load_mapping
from spector.extract._rows import RowError, RowReader, agora_feedback
from spector.extract._tables import Decoded, Row, csv_rows, decode_file, jsonl_rows
from spector.model import Market, Record, make_id
from spector.store import Store, market_ref

__all__ = [
    "ImportReport",
    "agora_feedback",
    "import_csv",
    "import_files",
    "import_jsonl",
    "load_mapping",
]

Kind = Literal["csv", "jsonl"]
_EXAMPLE = 80  # characters of an unresolved value kept as an example
_DISTINCT = 1000  # distinct unresolved values counted per kind


@dataclass
class ImportReport:
    """What the import of one file did, and how it read the file."""

    file: str  # its name
    path: str = ""  # as given
    sha256: str = ""
    encoding: str = ""
    encoding_basis: str = ""  # "mapping", "valid UTF-8", "charset-normalizer", ...
    encoding_note: str | None = None  # when the encoding found was a close call
    line_end: str = ""  # the first line break: cr, lf, crlf
    time_basis: str = ""  # where the observation time came from
    rows: int = 0
    imported: int = 0
    errors: int = 0
    first_error: str | None = None
    vendors: set[str] = field(default_factory=set)
    listings: set[str] = field(default_factory=set)
    feedback: set[str] = field(default_factory=set)  # ids: one feedback seen twice is one
    feedback_seen: int = 0  # every sighting, the same feedback on several days too
    sold_total: int = 0  # the sold counters of the rows imported, summed
    with_sales: int = 0  # rows whose sold counter is above 0
    observed: set[str] = field(default_factory=set)  # days (ISO) the rows were observed
    unresolved: Counter[str] = field(default_factory=Counter)
    unresolved_values: dict[str, Counter[str]] = field(default_factory=dict)

    def note_unresolved(self, what: str, text: str) -> None:
        """Count a value of kind ``what`` ("country") the taxonomy does not know, and keep
        it as an example (the commonest are reported; distinct values kept are bounded)."""
        self.unresolved[what] += 1
        values = self.unresolved_values.setdefault(what, Counter())
        text = text if len(text) <= _EXAMPLE else text[: _EXAMPLE - 1] + "…"
        if text in values or len(values) < _DISTINCT:
            values[text] += 1

    def unresolved_examples(self, n: int = 3) -> dict[str, list[tuple[str, int]]]:
        """Up to ``n`` of the commonest unresolved values of each kind, with their counts."""
        return {
            what: self.unresolved_values.get(what, Counter()).most_common(n)
            for what in sorted(self.unresolved)
        }

    @property
    def failed(self) -> bool:
        """The file had rows and none of them could be imported."""
        return self.rows > 0 and self.imported == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "path": self.path,
            "sha256": self.sha256,
            "encoding": self.encoding,
            "encoding_basis": self.encoding_basis,
            "encoding_note": self.encoding_note,
            "line_end": self.line_end,
            "time_basis": self.time_basis,
            "observed": sorted(self.observed),
            "rows": self.rows,
            "imported": self.imported,
            "errors": self.errors,
            "first_error": self.first_error,
            "vendors": len(self.vendors),
            "listings": len(self.listings),
            "feedback": len(self.feedback),
            "feedback_seen_again": self.feedback_seen - len(self.feedback),
            "sold_total": self.sold_total,
            "with_sales": self.with_sales,
            "unresolved": dict(self.unresolved),
            "unresolved_examples": {
                what: [value for value, _ in top]
                for what, top in self.unresolved_examples().items()
            },
        }


def import_csv(
    store: Store,
    path: Path,
    mapping: Mapping,
    *,
    market: str | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import one CSV file with ``mapping``; see the module docstring."""
    return import_files(store, [path], mapping, kind="csv", market=market, now=now)[0]


def import_jsonl(
    store: Store,
    path: Path,
    mapping: Mapping,
    *,
    market: str | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import one JSON-lines file (one object per line; keys as the mapping's columns)."""
    return import_files(store, [path], mapping, kind="jsonl", market=market, now=now)[0]


def import_files(
    store: Store,
    paths: Sequence[Path],
    mapping: Mapping,
    *,
    kind: Kind = "csv",
    market: str | None = None,
    now: datetime | None = None,
    on_report: Callable[[ImportReport], None] | None = None,
) -> list[ImportReport]:
    """Import ``paths`` in one run: a report per file, in order (each also handed to
    ``on_report`` as its file is done). ``market`` replaces the mapping's market name;
    ``now`` is the observation time of rows the mapping gives no date for (default: the
    moment the run starts, the same for every row).

    Every file is checked before any is imported: an InputError for a file that cannot
    be read, whose name does not match ``file_pattern``, that is not in the mapping's
    encoding, or whose header lacks a column the mapping names; nothing is stored then."""
    moment = now or datetime.now(UTC)
    checked = [_check(path, mapping, kind) for path in paths]
    name = market or mapping.source.market
    record = Market(name=name, ref=market_ref(store, name=name))
    reports = []
    for path, file_values, found in checked:
        # read as the check found it: no second detection
        decoded = decode_file(path, found.encoding)
        report = _import(store, path, decoded, file_values, mapping, kind, record, moment)
        report.encoding_basis, report.encoding_note = found.basis, found.note
        reports.append(report)
        if on_report is not None:
            on_report(report)
    return reports


def _check(path: Path, mapping: Mapping, kind: Kind) -> tuple[Path, dict[str, str], Decoded]:
    """(path, the file name's values, the file as decoded: its codec and why), or an
    InputError."""
    file_values = {"name": path.name, "stem": path.stem}
    pattern = mapping.source.file_regex
    if pattern is not None:
        match = pattern.search(path.name)
        if match is None:
            raise InputError(
                f"the file name does not match the mapping's file_pattern '{pattern.pattern}'",
                where=path,
                expected="a file named as the mapping's [source] file_pattern says",
            )
        file_values.update({k: v for k, v in match.groupdict().items() if v is not None})
    decoded = decode_file(path, mapping.source.encoding)
    if kind == "csv":
        csv_rows(path, decoded, mapping.csv, mapping.columns())  # checks the header
    return path, file_values, dataclasses.replace(decoded, text="")  # the text is read again


def _import(
    store: Store,
    path: Path,
    decoded: Decoded,
    file_values: dict[str, str],
    mapping: Mapping,
    kind: Kind,
    market: Market,
    now: datetime,
) -> ImportReport:
    report = ImportReport(
        file=path.name,
        path=str(path),
        sha256=decoded.sha256,
        encoding=decoded.encoding,
        encoding_basis=decoded.basis,
        line_end=decoded.line_end if kind == "csv" else "lf",
        time_basis=_time_basis(mapping),
    )
    rows: Iterator[Row] = (
        csv_rows(path, decoded, mapping.csv, mapping.columns())
        if kind == "csv"
        else jsonl_rows(decoded)
    )
    reader = RowReader(mapping, market, file_values, now, report)
    unit = "row" if kind == "csv" else "line"
    by_moment: dict[datetime, list[Record]] = {}
    errors: list[tuple[str, str]] = []
    for row in rows:
        report.rows += 1
        try:
            seen, records = reader.records(row)
        except RowError as exc:
            at = f" (line {row.line})" if kind == "csv" and row.line != row.number else ""
            errors.append((f"{unit} {row.number}", f"{exc}{at}"))
            continue
        by_moment.setdefault(seen, []).extend(records)
        report.observed.add(seen.date().isoformat())
        report.imported += 1
    report.errors = len(errors)
    report.first_error = f"{errors[0][0]}: {errors[0][1]}" if errors else None
    source = f"import:{path.name}"
    stamp = now.astimezone(UTC).replace(tzinfo=None)
    with store.transaction():
        store.con.execute("DELETE FROM extraction_errors WHERE source = ?", [source])
        if errors:
            store.con.executemany(
                "INSERT INTO extraction_errors VALUES (?, ?, ?, 'mapping', ?, ?, ?)",
                [
                    (make_id("extraction_error", source, ref), source, ref, reason, stamp, stamp)
                    for ref, reason in errors
                ],
            )
    for seen in sorted(by_moment):
        store.upsert([market, *by_moment[seen]], source=source, seen_at=seen)
    return report


def _time_basis(mapping: Mapping) -> str:
    """Where the observation time comes from, in words ("file name", "column date")."""
    spec = mapping.source.observed_at
    if spec is None:
        return "import time"
    said = []
    while spec is not None:
        if spec.column is not None:
            said.append(f"column {spec.column}")
        else:
            said.append("file name" if spec.file is not None else "mapping")
        spec = spec.fallback
    return ", else ".join(said)
