"""Operation reports for the web app: ``spector.report.write_operation_report`` into a
cache folder of the signed-in user, remade when what the user may see has changed.

A report shows the records its principal may read, so each user has a folder of their
own: ``WORKSPACE/cache/web-reports/user-<id>/<hash of the operation name>/``. Beside the
four files lies ``view.sha256``, the digest of the operation's overview (every figure,
record count and timeline entry the report draws, as the user sees them) when the files
were written; a request whose overview digests the same reuses them. Writing takes
seconds (matplotlib, WeasyPrint), so one lock per folder lets one request write while
the others wait and then read what it wrote. Files are written into a fresh folder and
swapped in, so a reader never sees half a report.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spector.cases import Principal
    from spector.web._state import WebState

__all__ = ["REPORT_CSP", "REPORT_KINDS", "overview_digest", "report_bytes", "report_folder"]

#: kind -> (file name, media type)
REPORT_KINDS: dict[str, tuple[str, str]] = {
    "html": ("report.html", "text/html; charset=utf-8"),
    "png": ("report.png", "image/png"),
    "pdf": ("report.pdf", "application/pdf"),
    "totals": ("totals.json", "application/json"),
}

# The report page in <iframe sandbox="">: its own <style> and its charts as data: SVG
# images; nothing else (no script, no fetch, no form).
REPORT_CSP = "; ".join(
    [
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src data:",
        "sandbox",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
    ]
)

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(folder: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(folder, threading.Lock())


def report_folder(ws_root: Path, p: Principal, name: str) -> Path:
    """Where the report of operation ``name`` as ``p`` sees it is cached."""
    key = hashlib.sha256(" ".join(name.split()).lower().encode()).hexdigest()[:24]
    return ws_root / "cache" / "web-reports" / f"user-{p.user_id}" / key


def overview_digest(overview: dict[str, Any]) -> str:
    """The SHA-256 of an operation overview (``spector.cases.operation_overview``)."""
    text = json.dumps(overview, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def report_bytes(state: WebState, p: Principal, name: str, kind: str) -> bytes:
    """The ``kind`` file (html, png, pdf, totals) of the report of operation ``name`` as
    ``p`` sees it, written first if there is none or the overview changed. NotFound for
    an unknown operation; ReportError when the PDF engine cannot load."""
    from spector.cases import operation_overview
    from spector.report import write_operation_report

    filename = REPORT_KINDS[kind][0]
    folder = report_folder(state.ws_root, p, name)
    with _lock(folder):
        with state.session() as s:  # a writing session: reads of H2/H3 records are audited
            digest = overview_digest(operation_overview(s, p, name))
        stamp = folder / "view.sha256"
        fresh = stamp.is_file() and stamp.read_text().strip() == digest
        if not fresh or not (folder / filename).is_file():
            staging = folder.with_name(folder.name + ".new")
            shutil.rmtree(staging, ignore_errors=True)
            write_operation_report(state.cases, p, name, staging)
            (staging / "view.sha256").write_text(digest + "\n")
            old = folder.with_name(folder.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if folder.exists():
                folder.rename(old)
            staging.rename(folder)
            shutil.rmtree(old, ignore_errors=True)
        return (folder / filename).read_bytes()
