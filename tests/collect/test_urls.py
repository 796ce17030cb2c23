"""The allow-list and URL rules, one trick at a time."""

from __future__ import annotations

import hashlib

import pytest
from tests.collect.harness import onion

from spector.collect import SiteProfile, canonical, signature
from spector.collect._urls import Refusal, Scope, is_media

HOME = onion("home")
OTHER = onion("other")


def scope(**kw) -> Scope:
    profile = SiteProfile(name="t", hosts=(HOME,), start_urls=(f"http://{HOME}/",), **kw)
    return Scope(profile, kw.pop("blocklist", frozenset()))


def decide(s: Scope, href: str, base: str = f"http://{HOME}/a/b") -> str | None:
    target = s.resolve(base, href)
    if isinstance(target, Refusal):
        return target.reason
    refusal = s.admit(target)
    return refusal.reason if refusal else None


@pytest.mark.parametrize(
    ("href", "reason"),
    [
        ("/c/x?page=2", None),
        ("../up", None),
        (f"http://{HOME.upper()}/caps", None),
        (f"http://{HOME}:80/port", None),
        (f"http://{OTHER}/", "allow-list"),
        (f"//{OTHER}/protocol-relative", "allow-list"),
        (f"http://{HOME}@{OTHER}/", "user-info"),
        (f"http://{OTHER}#{HOME}", "allow-list"),
        (f"http://{HOME}\\@{OTHER}/", "backslash"),
        ("http://127.0.0.1/", "allow-list"),
        ("http://localhost:9050/", "allow-list"),
        ("http://[::1]/", "allow-list"),
        ("file:///etc/passwd", "scheme"),
        ("ftp://x/", "scheme"),
        ("javascript:alert(1)", "not a web link"),
        ("data:text/html,hi", "not a web link"),
        (f"http://{HOME}:8080/", "port 8080"),
        ("/media/a.jpg", "media"),
        ("/static/app.js", "media"),
        ("/style.css?v=2", "media"),
        ("/logout", "denied"),
        ("/order/17", "denied"),
        (f"http://{HOME}:99999/", "unparseable"),
    ],
)
def test_leak_tricks_are_refused(href, reason):
    got = decide(scope(), href)
    if reason is None:
        assert got is None
    else:
        assert got is not None
        assert reason in got


def test_media_allowed_when_the_profile_says_so():
    assert decide(scope(media="allow"), "/media/a.jpg") is None


def test_abuse_blocklist_refuses_and_says_so():
    listed = frozenset({hashlib.sha256(HOME.encode()).hexdigest()})
    profile = SiteProfile(name="t", hosts=(HOME,), start_urls=())
    assert "abuse blocklist" in Scope(profile, listed).admit(f"http://{HOME}/").reason


def test_canonical_form():
    assert canonical(f"HTTP://{HOME.upper()}:80/a?b=1#frag") == f"http://{HOME}/a?b=1"
    assert canonical(f"http://{HOME}") == f"http://{HOME}/"
    assert canonical(f"http://{HOME}/x%2Fy?q=a%26b") == f"http://{HOME}/x%2Fy?q=a%26b"


def test_signature_folds_numbers():
    assert signature("http://h/calendar?month=2031-07") == signature(
        "http://h/calendar?month=1999-01"
    )
    assert signature("http://h/c/x?page=2") != signature("http://h/vendor/x")


def test_media_by_extension():
    assert is_media("http://h/a/b.PNG")
    assert not is_media("http://h/listing/1001")
    assert not is_media("http://h/c/drugs.stimulants")
