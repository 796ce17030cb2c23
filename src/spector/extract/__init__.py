"""Extraction: from captures and dumps to records. Selectors from any text; page templates
(``load_templates`` gives the ones a workspace uses, ``claim_template`` the one that
claims a page of a market whose family is not known)."""

from spector.extract._selectors import Found, scan_text
from spector.extract._template_load import TemplateSet, claim_template, load_templates
from spector.extract._templates import Template

__all__ = ["Found", "Template", "TemplateSet", "claim_template", "load_templates", "scan_text"]
