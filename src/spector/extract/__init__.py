"""Extraction: from captures and dumps to records. So far: selectors from any text."""

from spector.extract._selectors import Found, scan_text

__all__ = ["Found", "scan_text"]
