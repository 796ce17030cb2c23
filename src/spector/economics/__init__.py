"""Market economics: sales and revenue estimated from feedback and sold counters, per
vendor, actor, market, category, ships-from country and week, with their intervals; the
feedback-to-sales calibration; charts, CSV tables and an HTML report."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the package re-exports, imported on first use (spector._lazy)
    from spector.economics._aggregate import Estimate, estimate
    from spector.economics._calibrate import Calibration, calibrate
    from spector.economics._charts import write_charts
    from spector.economics._report import write_report
    from spector.economics._sales import Evidence, Sale, is_holding, read_sales
    from spector.economics._shill import shill_signs
else:
    from spector._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "Calibration",
    "Estimate",
    "Evidence",
    "Sale",
    "calibrate",
    "estimate",
    "is_holding",
    "read_sales",
    "shill_signs",
    "write_charts",
    "write_report",
]
