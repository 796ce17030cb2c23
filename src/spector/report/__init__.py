"""Operation reports and infographics (HTML, PNG, PDF) made from the case store.

``write_operation_report(store, p, name, out)`` writes ``report.html``, ``report.png``,
``report.pdf`` and ``totals.json`` for one joint operation, from the records the
principal ``p`` may see.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the package re-exports, imported on first use (spector._lazy)
    from spector.report._model import ReportData, TimelineEvent
    from spector.report._operation import (
        REPORT_FILES,
        ReportError,
        render_report,
        write_operation_report,
    )
else:
    from spector._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "REPORT_FILES",
    "ReportData",
    "ReportError",
    "TimelineEvent",
    "render_report",
    "write_operation_report",
]
