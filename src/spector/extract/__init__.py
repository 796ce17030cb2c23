"""Extraction: from captures and dumps to records. Selectors from any text; page templates
(``load_templates`` gives the ones a workspace uses, ``claim_template`` the one that
claims a page of a market whose family is not known)."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the package re-exports, imported on first use (spector._lazy)
    from spector.extract._selectors import Found, scan_text
    from spector.extract._template_load import TemplateSet, claim_template, load_templates
    from spector.extract._templates import Template
else:
    from spector._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = ["Found", "Template", "TemplateSet", "claim_template", "load_templates", "scan_text"]
