"""The allow-list and URL rules, one trick at a time."""

from __future__ import annotations

import hashlib

import pytest
from tests.collect.harness import onion

from spector.collect import SiteProfile, canonical, signature
from spector.collect._urls import Refusal, Scope, is_media, load_blocklist, path_pattern
from spector.errors import ConfigError

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
        # look-alike hosts: the allow-list is an exact match, never a suffix or a prefix
        (f"http://x{HOME}/", "allow-list"),
        (f"http://{HOME}.{OTHER}/", "allow-list"),
        (f"http://{HOME.removesuffix('.onion')}.evil.onion/", "allow-list"),
        (f"http://www.{HOME}/", "allow-list"),
        (f"http://{HOME[1:]}/", "allow-list"),
        (f"http://{HOME}.", None),  # the root label's dot is the same host
        ("/" + "a" * 2100, "longer than 2048"),
        ("/" + "/".join("abcdefghijklmnopqrstu"), "more than 20 path segments"),
        ("/x/x/x/x/", "repeats a segment"),
        ("/x/y/x/y/x/", None),
    ],
)
def test_leak_tricks_are_refused(href, reason):
    got = decide(scope(), href)
    if reason is None:
        assert got is None
    else:
        assert got is not None
        assert reason in got


def test_look_alike_hosts_are_refused_by_an_exact_match():
    """A suffix match (``host.endswith(allowed)``) would admit the first, a prefix or
    substring match the second: both are other sites."""
    s = scope()
    for host in (f"x{HOME}", f"{HOME}.{OTHER}", f"{HOME}.onion"):
        refusal = s.admit(f"http://{host}/")
        assert refusal is not None, host
        assert refusal.reason == f"host {host} is not in the site's allow-list"
        assert s.admit_host(f"http://{host}/login") is not None
    assert s.admit(f"http://{HOME}/") is None


def test_path_patterns_fold_traps_without_digits():
    # endless folders: one pattern at every depth
    assert {path_pattern(f"http://h/a/{'/'.join('bcdefgh'[:n])}") for n in range(2, 7)} == {"/a/a+"}
    # session ids of letters in the path: one pattern whatever the letters
    assert path_pattern("http://h/s/QhvXkPzWmRt/catalog") == path_pattern(
        "http://h/s/plmoknijbuhv/about"
    )
    # a site's routes keep their own patterns
    assert path_pattern("http://h/vendor/alice") != path_pattern("http://h/listing/blue-dream")
    assert path_pattern("http://h/listing/42?page=3&sort=x") == "/listing/N+?page&sort"
    assert path_pattern("http://h/") == "/"
    # a first segment that is a token, not a route name, is folded too
    assert path_pattern("http://h/(S(lit3py55t21z5v55))/x") == path_pattern(
        "http://h/(S(qwertyuiopasdfgh))/y"
    )


def test_blocklist_formats(tmp_path):
    path = tmp_path / "abuse.txt"
    md5 = hashlib.md5(OTHER.encode()).hexdigest()  # noqa: S324 - Ahmia lists MD5s
    sha = hashlib.sha256(HOME.encode()).hexdigest()
    path.write_text(f"# banned\n{md5}\n{sha.upper()}  # a comment\n\nexample.onion\n")
    listed = load_blocklist(path)
    assert listed == {md5, sha, "example.onion"}
    profile = SiteProfile(name="t", hosts=(HOME, OTHER), start_urls=())
    s = Scope(profile, listed)
    assert "abuse blocklist" in s.admit(f"http://{OTHER}/").reason
    assert "abuse blocklist" in s.admit(f"http://{HOME}/").reason
    with pytest.raises(ConfigError, match="does not exist"):
        load_blocklist(tmp_path / "missing.txt")
    assert load_blocklist(None) == frozenset()


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
