"""A site profile is validated as a schema before anything is fetched: every mistake is a
ConfigError naming the file and the key, and the CLI prints it as one `error:` line."""

from __future__ import annotations

import hashlib

import pytest
import tomli_w
from tests.collect.harness import onion

from spector.cli import main
from spector.collect import load_profile, start_crawl
from spector.errors import ConfigError
from spector.store import Workspace

HOME, OTHER = onion("home"), onion("other")
SITE = {"name": "home", "hosts": [HOME], "start_urls": [f"http://{HOME}/"]}
LOGIN = {"url": "/login", "username": "u", "password": "p"}


def _write(tmp_path, data, name="p.toml"):
    path = tmp_path / name
    path.write_text(tomli_w.dumps(data))
    return path


def _error(tmp_path, data) -> str:
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message  # the file is named
    return message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # unknown keys and tables, with the closest known one
        (
            {"site": {**SITE, "concurency": 4}},
            "unknown key 'concurency' in [site] (did you mean 'concurrency'?)",
        ),
        ({"site": {**SITE, "max_page": 4}}, "did you mean 'max_pages'?"),
        ({"site": SITE, "logn": LOGIN}, "unknown table [logn] (did you mean [login]?)"),
        (
            {"site": SITE, "login": {**LOGIN, "pasword": "x"}},
            "unknown key 'pasword' in [login] (did you mean 'password'?)",
        ),
        ({"site": {**SITE, "zzz": 1}}, "unknown key 'zzz' in [site] (known keys: name, hosts,"),
        ({"site": SITE, "crawl": {}}, "unknown table [crawl] (known tables: [site], [login])"),
        # strings where lists belong
        ({"site": {**SITE, "hosts": HOME}}, "[site] hosts must be a list, got '"),
        ({"site": {**SITE, "start_urls": f"http://{HOME}/"}}, "[site] start_urls must be a list"),
        ({"site": {**SITE, "deny": "^/logout"}}, "[site] deny must be a list"),
        # numbers with bounds, and types
        (
            {"site": {**SITE, "concurrency": 0}},
            "[site] concurrency = 0: input should be greater than or equal to 1 "
            "(expected a number from 1 to 256)",
        ),
        ({"site": {**SITE, "concurrency": 10_000}}, "(expected a number from 1 to 256)"),
        ({"site": {**SITE, "delay": -1.5}}, "[site] delay = -1.5"),
        ({"site": {**SITE, "delay": 86400}}, "(expected a number from 0 to 3600)"),
        ({"site": {**SITE, "timeout": 0}}, "[site] timeout = 0"),
        ({"site": {**SITE, "deadline": 1e9}}, "[site] deadline = 1000000000.0"),
        ({"site": {**SITE, "max_body_bytes": 10}}, "[site] max_body_bytes = 10"),
        (
            {"site": {**SITE, "concurrency": "8"}},
            "[site] concurrency = '8': input should be a valid integer",
        ),
        ({"site": {**SITE, "concurrency": True}}, "[site] concurrency = True"),
        ({"site": {**SITE, "caps": {"/calendar": 0}}}, "[site] caps./calendar = 0"),
        (
            {"site": {**SITE, "media": "yes"}},
            "[site] media = 'yes': input should be 'none' or 'allow'",
        ),
        # the allow-list and the URLs on it
        (
            {"site": {**SITE, "hosts": []}},
            "[site] hosts is empty: the allow-list needs at least one onion host",
        ),
        ({"site": {**SITE, "start_urls": []}}, "[site] start_urls is empty"),
        ({"site": {**SITE, "allow": []}}, "[site] allow is empty: no path would be allowed"),
        (
            {"site": {**SITE, "hosts": ["example.com"]}},
            "host 'example.com' is not a valid v3 onion address",
        ),
        (
            {"site": {**SITE, "start_urls": [f"http://{OTHER}/"]}},
            f"[site] start_urls[0] 'http://{OTHER}/': host {OTHER} is not in the site's allow-list",
        ),
        ({"site": {**SITE, "start_urls": [f"http://x{HOME}/"]}}, "is not in the site's allow-list"),
        (
            {"site": {**SITE, "start_urls": [f"http://{HOME}.{OTHER}/"]}},
            "is not in the site's allow-list",
        ),
        ({"site": {**SITE, "start_urls": [f"http://{HOME}@{OTHER}/"]}}, "user-info in URL"),
        (
            {"site": {**SITE, "start_urls": [f"http://{HOME}/logout"]}},
            "would be refused: denied by the profile",
        ),
        (
            {"site": {**SITE, "start_urls": ["catalog"]}},
            "[site] start_urls[0] 'catalog' is neither an absolute URL nor a path from /",
        ),
        (
            {"site": SITE, "login": {**LOGIN, "url": f"@{OTHER}/login"}},
            f"[login] url '@{OTHER}/login' is neither an absolute URL nor a path from /",
        ),
        (
            {"site": SITE, "login": {**LOGIN, "url": f".{OTHER}/"}},
            "[login] url '." + OTHER + "/' is neither",
        ),
        (
            {"site": SITE, "login": {**LOGIN, "url": f"//{OTHER}/login"}},
            "is neither an absolute URL nor a path from /",
        ),
        (
            {"site": SITE, "login": {**LOGIN, "url": f"http://{HOME}@{OTHER}/login"}},
            "[login] url 'http://" + HOME + "@" + OTHER + "/login': user-info in URL",
        ),
        (
            {"site": SITE, "login": {**LOGIN, "url": f"http://{OTHER}/login"}},
            f"[login] url 'http://{OTHER}/login': host {OTHER} is not in the site's allow-list",
        ),
        ({"site": SITE, "login": {**LOGIN, "url": f"http://{HOME}:8080/login"}}, "port 8080"),
        ({"site": SITE, "login": {"url": "/login"}}, "[login] lacks 'username'"),
        (
            {"site": SITE, "login": {**LOGIN, "form": "form[["}},
            "[login] form: not a CSS selector: 'form[['",
        ),
        ({"site": {"hosts": [HOME], "start_urls": [f"http://{HOME}/"]}}, "[site] lacks 'name'"),
        ({"login": LOGIN}, "missing [site] table"),
        ({"site": {**SITE, "allow": ["(unclosed"]}}, "[site] allow: bad pattern '(unclosed'"),
        ({"site": {**SITE, "caps": {"[": 3}}}, "[site] caps: bad pattern '['"),
    ],
)
def test_profile_mistakes_are_errors_naming_the_key(tmp_path, data, expected):
    assert expected in _error(tmp_path, data)


def test_v2_onions_are_refused_with_the_reason(tmp_path):
    message = _error(tmp_path, {"site": {**SITE, "hosts": ["expyuzz4wqqyqhjn.onion"]}})
    assert "'expyuzz4wqqyqhjn.onion' is a v2 onion address (16 characters)" in message
    assert "Tor no longer routes v2 services" in message
    assert "imported and archived data only" in message


def test_a_good_profile_loads_with_absolute_urls(tmp_path):
    data = {
        "site": {**SITE, "hosts": [HOME.upper(), f"www.{OTHER}"], "start_urls": ["/", "/c/x"]},
        "login": {**LOGIN, "captcha_field": ""},
    }
    profile = load_profile(_write(tmp_path, data))
    assert profile.hosts == (HOME, OTHER)  # normalised; a subdomain is the same service
    assert profile.start_urls == (f"http://{HOME}/", f"http://{HOME}/c/x")
    assert profile.login is not None
    assert profile.login.url == f"http://{HOME}/login"
    assert profile.login.captcha_field is None  # "" means the form has no CAPTCHA
    assert (profile.concurrency, profile.max_pages, profile.media) == (8, 100_000, "none")


def test_a_missing_blocklist_is_an_error_and_a_present_one_is_applied(tmp_path):
    message = _error(tmp_path, {"site": {**SITE, "blocklist": "abuse.txt"}})
    assert "[site] blocklist 'abuse.txt': no such file" in message
    listed = hashlib.sha256(OTHER.encode()).hexdigest()
    (tmp_path / "abuse.txt").write_text(f"# Ahmia style\n{listed}\n\n")
    profile = load_profile(_write(tmp_path, {"site": {**SITE, "blocklist": "abuse.txt"}}))
    assert profile.blocked == frozenset({listed})
    (tmp_path / "abuse.txt").write_text("not a hash\n")
    with pytest.raises(ConfigError, match=r"abuse.txt:1: blocklist line 'not a hash'"):
        load_profile(_write(tmp_path, {"site": {**SITE, "blocklist": "abuse.txt"}}))


def test_a_site_on_the_abuse_blocklist_is_never_crawled(tmp_path):
    Workspace.init(tmp_path / "ws").close()
    path = _write(tmp_path, {"site": SITE})
    for entry in (hashlib.md5(HOME.encode()).hexdigest(), HOME):  # noqa: S324 - Ahmia's hashes
        (tmp_path / "abuse.txt").write_text(entry + "\n")
        with pytest.raises(ConfigError, match="on the abuse blocklist; Spector never crawls"):
            start_crawl(
                tmp_path / "ws",
                [path],
                proxy="socks5h://127.0.0.1:9",
                blocklist=tmp_path / "abuse.txt",
            )
    with pytest.raises(ConfigError, match="blocklist file does not exist"):
        start_crawl(
            tmp_path / "ws", [path], proxy="socks5h://127.0.0.1:9", blocklist=tmp_path / "no"
        )
    assert not (tmp_path / "ws" / "collect.sqlite").exists()


def test_the_cli_prints_one_error_line(tmp_path, capsys):
    Workspace.init(tmp_path / "ws").close()
    path = _write(tmp_path, {"site": {**SITE, "concurency": 4, "hosts": HOME}})
    assert main(["crawl", "start", str(path), "-w", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path}: ")
    assert "\n" not in err
    assert "did you mean 'concurrency'?" in err
    assert "[site] hosts must be a list" in err  # every problem at once, in one line
