"""Collection: a leak-proof, resumable crawler over Tor (SOCKS5h) that writes WARC evidence,
and the import of saved pages, mirrors and other crawlers' WARCs as captures."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the package re-exports, imported on first use (spector._lazy)
    from spector.collect._browse import (
        answer_captcha,
        captcha_image,
        captcha_row,
        captcha_rows,
        crawl_run,
        crawl_runs,
        crawl_sites,
    )
    from spector.collect._browse_captures import (
        CapturePayload,
        capture_page,
        capture_payload,
        capture_row,
        capture_sites,
        capture_sort_key,
    )
    from spector.collect._capture_index import list_captures
    from spector.collect._crawler import Crawler, CrawlOptions
    from spector.collect._import import ImportOptions, ImportReport, import_pages, parse_observed_at
    from spector.collect._links import decode
    from spector.collect._profile import LoginFlow, SiteProfile, load_profile
    from spector.collect._run import resume_crawl, start_crawl, state_for
    from spector.collect._state import CrawlState
    from spector.collect._urls import Scope, canonical, signature
    from spector.collect._warc import StoredPage, read_stored
else:
    from spector._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "CapturePayload",
    "CrawlOptions",
    "CrawlState",
    "Crawler",
    "ImportOptions",
    "ImportReport",
    "LoginFlow",
    "Scope",
    "SiteProfile",
    "StoredPage",
    "answer_captcha",
    "canonical",
    "captcha_image",
    "captcha_row",
    "captcha_rows",
    "capture_page",
    "capture_payload",
    "capture_row",
    "capture_sites",
    "capture_sort_key",
    "crawl_run",
    "crawl_runs",
    "crawl_sites",
    "decode",
    "import_pages",
    "list_captures",
    "load_profile",
    "parse_observed_at",
    "read_stored",
    "resume_crawl",
    "signature",
    "start_crawl",
    "state_for",
]
