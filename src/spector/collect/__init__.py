"""Collection: a leak-proof, resumable crawler over Tor (SOCKS5h) that writes WARC evidence."""

from spector.collect._crawler import Crawler, CrawlOptions
from spector.collect._links import decode
from spector.collect._profile import LoginFlow, SiteProfile, load_profile
from spector.collect._run import resume_crawl, start_crawl, state_for
from spector.collect._state import CrawlState
from spector.collect._urls import Scope, canonical, signature
from spector.collect._warc import StoredPage, read_stored

__all__ = [
    "CrawlOptions",
    "CrawlState",
    "Crawler",
    "LoginFlow",
    "Scope",
    "SiteProfile",
    "StoredPage",
    "canonical",
    "decode",
    "load_profile",
    "read_stored",
    "resume_crawl",
    "signature",
    "start_crawl",
    "state_for",
]
