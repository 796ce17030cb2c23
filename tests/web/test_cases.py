"""The cases area: /cases, /cases/{id}, /notices, /evidence/{id} and their API, on the
demo's case store (SQLite): BKA, Politie and FBI in the joint operation "Range Sweep";
case 1 is BKA's, 2 Politie's, 3 FBI's (distribution "agency"); BKA and Politie share a
PGP fingerprint (notices 1 for Politie and 2 for BKA); evidence 1 is a WARC capture of
BKA's with two custody events."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.web.harness import WebClient

PASSWORD = "a long test password"
FINGERPRINT = "BE1AFC1A9506842FD053155AC743FCFB3F4253BC"


# --- helpers -----------------------------------------------------------------------------


def _ago(seconds: float) -> datetime:
    """A moment just past (custody events may not be dated in the future; the demo's
    last one is from when it was built)."""
    return datetime.now(UTC) - timedelta(seconds=seconds)


def _admin(s):
    from spector.cases._who import principal_of

    return principal_of(s, 1)


def add_user(client: WebClient, username: str, agency: str, roles: list[str]) -> None:
    """A new user of the instance (through spector.cases, as the demo's admin)."""
    from spector.cases._who import create_user

    with client.app.state.web.session() as s:
        create_user(s, _admin(s), agency=agency, username=username, password=PASSWORD, roles=roles)


def add_agency(client: WebClient, name: str, country: str) -> None:
    from spector.cases._who import create_agency

    with client.app.state.web.session() as s:
        create_agency(s, _admin(s), name=name, country=country)


def token_of(client: WebClient, username: str) -> str:
    """An API token of ``username`` (issued in the store: no argon2 login)."""
    from spector.cases._tokens import issue_token
    from spector.cases._who import principal_of, user_by_name

    with client.app.state.web.session() as s:
        return issue_token(s, principal_of(s, user_by_name(s, username).id), days=1)


def bearer(client: WebClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_of(client, username)}"}


def sign_in(client: WebClient, username: str) -> None:
    """``client`` signed in as ``username`` with a session token of the store, as the
    login form would set it (the form itself is tested in test_app.py)."""
    from spector.web._auth import COOKIE, csrf_for

    client.logout_cookies()
    token = token_of(client, username)
    client._client.cookies.set(COOKIE, token)
    client.csrf = csrf_for(client.app.state.web, token)


def assert_forms_carry_csrf(html: str, csrf: str) -> int:
    """Every POST form of ``html`` carries the CSRF token; how many there are."""
    forms = re.findall(r'<form[^>]*method="post".*?</form>', html, flags=re.DOTALL)
    for found in forms:
        assert f'name="csrf" value="{csrf}"' in found, found[:200]
    return len(forms)


def form(client: WebClient, url: str, data: dict[str, str]):
    return client.post(url, data={**data, "csrf": client.csrf})


def follow_pages(client: WebClient, url: str, headers: dict[str, str]) -> list[dict]:
    """Every item of a cursor-paged list, following next_cursor to the end."""
    items: list[dict] = []
    cursor = None
    for _ in range(100):
        sep = "&" if "?" in url else "?"
        page = client.get(url + (f"{sep}cursor={cursor}" if cursor else ""), headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert set(body) == {"items", "next_cursor"}
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the pager never ended")


# --- the contract and the read-only pages ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/v1/cases"),
        ("POST", "/api/v1/cases"),
        ("GET", "/api/v1/cases/1"),
        ("POST", "/api/v1/cases/1/notes"),
        ("GET", "/api/v1/notices"),
        ("POST", "/api/v1/notices/2/acknowledge"),
        ("GET", "/api/v1/evidence/1"),
    ],
)
def test_api_without_a_token_is_401(web: WebClient, method: str, url: str):
    web.logout_cookies()
    response = web.request(method, url, json={"body": "x"} if method == "POST" else None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["type"] == "AuthError"


def test_a_forged_token_is_401(web: WebClient):
    web.logout_cookies()
    response = web.get("/api/v1/cases", headers={"Authorization": "Bearer spk_000000000000_x"})
    assert response.status_code == 401


def test_pages_send_a_signed_out_user_to_login(web: WebClient):
    web.logout_cookies()
    for url in ("/cases", "/cases/1", "/notices", "/evidence/1"):
        response = web.get(url)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


def test_case_list_shows_own_cases_only(web: WebClient):
    sign_in(web, "bka_analyst")
    page = web.get("/cases")
    assert page.status_code == 200
    assert 'href="/cases/1"' in page.text
    assert "BKA: vendor actor-dceb0b191af0" in page.text
    assert "Politie: vendor" not in page.text
    assert "FBI: vendor" not in page.text
    assert "1 case you may read" in page.text
    assert '<form method="post" action="/cases"' in page.text  # open a case: an analyst's
    api = web.get("/api/v1/cases").json()
    assert [c["id"] for c in api["items"]] == [1]
    assert api["next_cursor"] is None
    case = api["items"][0]
    assert case["agency"] == "BKA"
    assert case["officer"] == "bka_analyst"
    assert case["operation"] == "Range Sweep"
    assert case["distribution"] == "agency"


def test_case_page_shows_what_is_in_it_with_forms(web: WebClient):
    sign_in(web, "bka_analyst")
    page = web.get("/cases/1")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/actors/actor-dceb0b191af0">actor-dceb0b191af0</a>' in html
    assert FINGERPRINT in html
    assert 'href="/evidence/1"' in html
    assert "SIENA" not in html
    for section in ("targets", "selectors", "notes", "tasks", "evidence"):
        assert f'id="{section}"' in html
    for action in ("targets", "notes", "tasks", "selectors", "evidence", "close", "share"):
        assert f'action="/cases/1/{action}"' in html
    assert assert_forms_carry_csrf(html, web.csrf) == 8  # logout, share, close, 5 adds
    assert '<input type="hidden" name="version" value="1">' in html


def test_case_api_view_keys(web: WebClient):
    sign_in(web, "bka_analyst")
    view = web.get("/api/v1/cases/1").json()
    assert set(view) == {"case", "targets", "notes", "tasks", "selectors", "evidence"}
    assert [t["ref"] for t in view["targets"]] == ["actor-dceb0b191af0"]
    assert [(s["kind"], s["value"]) for s in view["selectors"]] == [
        ("pgp_fingerprint", FINGERPRINT)
    ]
    (item,) = view["evidence"]
    assert item["kind"] == "warc_capture"
    assert item["custody_events"] == 2
    assert item["last_action"] == "transferred"


def test_another_agencys_case_is_404_like_an_absent_one(web: WebClient):
    sign_in(web, "bka_analyst")
    hidden, absent = web.get("/api/v1/cases/2"), web.get("/api/v1/cases/999")
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json()["error"]["message"] == "no case 2"
    assert absent.json()["error"]["message"] == "no case 999"
    page = web.get("/cases/2")
    assert page.status_code == 404
    assert "Politie: vendor" not in page.text
    assert web.get("/api/v1/evidence/999").status_code == 404


def test_notices_page_names_the_other_side_and_nothing_of_its_case(web: WebClient):
    sign_in(web, "bka_analyst")
    page = web.get("/notices")
    assert page.status_code == 200
    assert "Politie case officer &lt;politie_analyst@politie.example&gt;" in page.text
    assert 'action="/notices/2/acknowledge"' in page.text
    assert assert_forms_carry_csrf(page.text, web.csrf) == 2  # logout, acknowledge
    assert "Politie: vendor" not in page.text  # never the other case's title
    (notice,) = web.get("/api/v1/notices").json()["items"]
    assert notice["id"] == 2
    assert notice["other_agency"] == "Politie"
    assert notice["selector_value"] == FINGERPRINT
    assert notice["case_id"] == 1
    assert notice["other_notice_id"] == 1
    assert notice["acknowledged_at"] is None


def test_evidence_page_shows_the_custody_chain(web: WebClient):
    sign_in(web, "bka_analyst")
    page = web.get("/evidence/1")
    assert page.status_code == 200
    assert "SIENA message to Politie" in page.text
    assert "Europe/Berlin" in page.text
    assert page.text.index(">collected<") < page.text.index(">transferred<")
    assert 'action="/evidence/1/verify"' in page.text
    assert 'action="/evidence/1/custody"' in page.text
    assert assert_forms_carry_csrf(page.text, web.csrf) == 3  # logout, verify, custody
    data = web.get("/api/v1/evidence/1").json()
    assert [e["action"] for e in data["custody"]] == ["collected", "transferred"]
    assert data["case_reference"] == "2026-0001"
    assert data["agency"] == "BKA"
    assert all(e["by"] == "bka_analyst" for e in data["custody"])


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/cases?cursor=not-a-cursor", 400),
        ("/api/v1/cases?sort=bogus", 422),
        ("/api/v1/cases?status=sleeping", 422),
        ("/api/v1/cases?limit=0", 422),
        ("/api/v1/cases/0", 422),
        ("/api/v1/cases/99999999999", 422),
        ("/api/v1/notices?cursor=WzEsMl0", 400),  # a list, but not a notices cursor
        ("/cases?sort=bogus", 400),
        ("/cases?status=sleeping", 400),
        ("/cases?agency=Polite", 404),
        ("/api/v1/cases?q=%00", 400),
        ("/cases/abc", 400),
    ],
)
def test_bad_input_is_refused(web: WebClient, url: str, status: int):
    sign_in(web, "bka_analyst")
    response = web.get(url)
    assert response.status_code == status, response.text


def test_text_filter_and_agency_filter(web: WebClient):
    sign_in(web, "bka_analyst")
    assert [c["id"] for c in web.get("/api/v1/cases?q=DCEB0B").json()["items"]] == [1]
    assert web.get("/api/v1/cases?q=nothing-like-it").json()["items"] == []
    assert web.get("/api/v1/cases?q=%25").json()["items"] == []  # % is a character here
    assert web.get("/api/v1/cases?agency=politie").json()["items"] == []
    assert "No case matches." in web.get("/cases?q=nothing-like-it").text


# --- writes ------------------------------------------------------------------------------


def test_open_a_case_and_fill_it_through_the_forms(web_rw: WebClient):
    sign_in(web_rw, "bka_analyst")
    opened = form(
        web_rw,
        "/cases",
        {
            "title": "Night <b>market</b>",
            "summary": "watch it",
            "distribution": "agency",
            "handling": "H1",
        },
    )
    assert opened.status_code == 303
    case_url = opened.headers["location"].split("?")[0]
    case_id = int(case_url.rsplit("/", 1)[1])
    steps = [
        ("targets", {"kind": "person", "names": "Jan Test\nJT", "nationality": "nl"}, "target"),
        ("notes", {"body": "<script>alert(1)</script> seen on </textarea>"}, "note"),
        (
            "tasks",
            {"title": "ask the registrar", "assignee": "bka_analyst", "due": "2027-01-31"},
            "task",
        ),
        (
            "evidence",
            {
                "kind": "device",
                "origin": "seized phone",
                "sha256": "ab" * 32,
                "collected_at": "2026-11-30T10:15",
                "tz": "Europe/Berlin",
            },
            "evidence",
        ),
    ]
    for path, data, done in steps:
        response = form(web_rw, f"{case_url}/{path}", data)
        assert response.status_code == 303, (path, response.text)
        assert f"done={done}" in response.headers["location"]
    view = web_rw.get(f"/api/v1/cases/{case_id}").json()
    assert view["case"]["title"] == "Night <b>market</b>"
    assert view["case"]["handling"] == "H1"
    (person,) = view["targets"]
    assert person["details"] == {"names": ["Jan Test", "JT"], "nationality": "NL"}
    assert person["label"] == "Jan Test"
    assert person["handling"] == "H1"
    assert view["notes"][0]["author"] == "bka_analyst"
    assert view["tasks"][0]["assignee"] == "bka_analyst"
    assert view["tasks"][0]["due"] == "2027-01-31"
    (item,) = view["evidence"]
    assert item["sha256"] == "ab" * 32
    assert item["collected_at"] == "2026-11-30T09:15:00+00:00"
    page = web_rw.get(case_url).text
    assert "Night &lt;b&gt;market&lt;/b&gt;" in page
    assert "<b>market</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; seen on &lt;/textarea&gt;" in page
    assert "<script>alert" not in page
    # the selector form on the person target: no other agency holds this one
    target_id = person["id"]
    response = form(
        web_rw,
        f"{case_url}/selectors",
        {"target_id": str(target_id), "kind": "email", "value": "Jan@Example.org"},
    )
    assert response.status_code == 303
    assert "notices=0" in response.headers["location"]
    assert web_rw.get(f"/api/v1/cases/{case_id}").json()["selectors"][0]["value"] == (
        "jan@example.org"
    )


def test_a_form_without_its_csrf_token_is_refused(web_rw: WebClient):
    sign_in(web_rw, "bka_analyst")
    response = web_rw.post("/cases/1/notes", data={"body": "no token"})
    assert response.status_code == 403
    assert web_rw.get("/api/v1/cases/1").json()["notes"] == []


def test_bad_form_input_is_a_400_page_naming_the_field(web_rw: WebClient):
    sign_in(web_rw, "bka_analyst")
    response = form(web_rw, "/cases/1/targets", {"kind": "actor", "ref": "actor-nothex"})
    assert response.status_code == 400
    assert "is not a actor ref" in response.text or "actor ref" in response.text
    response = form(web_rw, "/cases/1/tasks", {"title": "x", "due": "soon"})
    assert response.status_code == 400
    assert "due" in response.text
    response = form(web_rw, "/cases", {"title": ""})
    assert response.status_code == 400
    assert "title" in response.text


def test_api_writes_and_cursor_pagination_in_every_order(web_rw: WebClient):
    headers = bearer(web_rw, "bka_analyst")
    titles = ["delta", "alpha", "echo", "bravo", "charlie", "alpha"]
    for title in titles:
        made = web_rw.post("/api/v1/cases", json={"title": title}, headers=headers)
        assert made.status_code == 201, made.text
        assert made.json()["title"] == title
        assert made.json()["agency"] == "BKA"
    everything = follow_pages(web_rw, "/api/v1/cases?limit=500", headers)
    assert len(everything) == 7
    for sort in ("-id", "id", "title", "-title", "reference", "-updated", "status"):
        paged = follow_pages(web_rw, f"/api/v1/cases?limit=2&sort={sort}", headers)
        ids = [c["id"] for c in paged]
        assert sorted(ids) == sorted(c["id"] for c in everything), sort
        name = sort.lstrip("-")
        key = "updated_at" if name == "updated" else name
        expected = sorted(everything, key=lambda c: (c[key], c["id"]), reverse=sort[0] == "-")
        assert ids == [c["id"] for c in expected], sort
    page = web_rw.get("/api/v1/cases?limit=3&sort=title&q=LPH", headers=headers).json()
    assert [c["title"] for c in page["items"]] == ["alpha", "alpha"]
    assert page["next_cursor"] is None
    page = web_rw.get("/api/v1/cases?limit=1&sort=title&q=LPH", headers=headers).json()
    assert len(page["items"]) == 1
    assert page["next_cursor"] is not None


def test_the_page_pager_walks_every_case(web_rw: WebClient):
    from spector.web import _r_cases

    headers = bearer(web_rw, "bka_analyst")
    for n in range(4):
        web_rw.post("/api/v1/cases", json={"title": f"paged {n}"}, headers=headers)
    sign_in(web_rw, "bka_analyst")
    old = _r_cases.PAGE_SIZE
    _r_cases.PAGE_SIZE = 2
    try:
        url, seen = "/cases?sort=title", []
        while url:
            html = web_rw.get(url.replace("&amp;", "&")).text
            seen += re.findall(r'<a href="/cases/(\d+)">', html)
            found = re.search(r'<a class="next" href="([^"]+)"', html)
            url = found[1] if found else ""
    finally:
        _r_cases.PAGE_SIZE = old
    assert sorted(map(int, seen)) == [1, 4, 5, 6, 7]


def test_agency_distribution_is_hidden_and_operation_shows_it_to_members(web_rw: WebClient):
    add_agency(web_rw, "Europol", "EU")  # on the instance, not in "Range Sweep"
    add_user(web_rw, "europol_analyst", "Europol", ["analyst"])
    bka, politie = bearer(web_rw, "bka_analyst"), bearer(web_rw, "politie_analyst")
    europol = bearer(web_rw, "europol_analyst")
    assert web_rw.get("/api/v1/cases/1", headers=politie).status_code == 404
    assert web_rw.get("/api/v1/evidence/1", headers=politie).status_code == 404
    shared = web_rw.post(
        "/api/v1/cases/1/share",
        headers=bka,
        json={
            "distribution": "operation",
            "operation": "Range Sweep",
            "version": 1,
            "children": True,
        },
    )
    assert shared.status_code == 200, shared.text
    assert shared.json()["distribution"] == "operation"
    assert shared.json()["version"] == 2
    seen = web_rw.get("/api/v1/cases/1", headers=politie)
    assert seen.status_code == 200
    assert seen.json()["targets"][0]["ref"] == "actor-dceb0b191af0"  # carried along
    assert web_rw.get("/api/v1/evidence/1", headers=politie).status_code == 200
    listed = web_rw.get("/api/v1/cases", headers=politie).json()["items"]
    assert sorted(c["id"] for c in listed) == [1, 2]
    assert web_rw.get("/api/v1/cases/1", headers=europol).status_code == 404
    assert web_rw.get("/api/v1/cases", headers=europol).json()["items"] == []
    # a member reads it but does not write into it
    note = web_rw.post("/api/v1/cases/1/notes", headers=politie, json={"body": "ours?"})
    assert note.status_code == 403
    sign_in(web_rw, "politie_analyst")
    page = web_rw.get("/cases/1").text
    assert "BKA: vendor actor-dceb0b191af0" in page
    assert 'action="/cases/1/notes"' not in page


def test_a_viewer_reads_sees_no_forms_and_every_write_is_403(web_rw: WebClient):
    add_user(web_rw, "bka_viewer", "BKA", ["viewer"])
    headers = bearer(web_rw, "bka_viewer")
    assert web_rw.get("/api/v1/cases/1", headers=headers).status_code == 200
    writes = [
        ("/api/v1/cases", {"title": "mine"}),
        ("/api/v1/cases/1/notes", {"body": "a note"}),
        ("/api/v1/cases/1/tasks", {"title": "a task"}),
        ("/api/v1/cases/1/targets", {"kind": "cluster", "ref": "7"}),
        ("/api/v1/cases/1/selectors", {"target_id": 1, "kind": "handle", "value": "x"}),
        ("/api/v1/cases/1/evidence", {"kind": "other", "origin": "x", "sha256": "0" * 64}),
        ("/api/v1/cases/1/close", {}),
        ("/api/v1/cases/1/share", {"distribution": "all"}),
        ("/api/v1/notices/2/acknowledge", None),
        (
            "/api/v1/evidence/1/custody",
            {"action": "examined", "at": _ago(5).isoformat(), "where": "lab"},
        ),
    ]
    for url, body in writes:
        response = web_rw.post(url, json=body, headers=headers)
        assert response.status_code == 403, (url, response.text)
        assert response.json()["error"]["type"] == "AccessDenied"
    sign_in(web_rw, "bka_viewer")
    page = web_rw.get("/cases/1").text
    assert '<form method="post" action="/cases/1/' not in page
    assert 'method="post" action="/cases"' not in web_rw.get("/cases").text
    assert 'action="/notices/2/acknowledge"' not in web_rw.get("/notices").text
    assert 'action="/evidence/1/custody"' not in web_rw.get("/evidence/1").text
    assert form(web_rw, "/cases/1/notes", {"body": "sneaky"}).status_code == 403
    assert web_rw.get("/api/v1/cases/1", headers=headers).json()["notes"] == []


def test_a_stale_version_is_409(web_rw: WebClient):
    sign_in(web_rw, "bka_analyst")
    assert (
        form(web_rw, "/cases/1/share", {"distribution": "all", "version": "1"}).status_code == 303
    )
    stale = form(web_rw, "/cases/1/close", {"version": "1"})  # the page read version 1
    assert stale.status_code == 409
    assert "changed since you read it" in stale.text
    assert form(web_rw, "/cases/1/close", {"version": "2"}).status_code == 303
    case = web_rw.get("/api/v1/cases/1").json()["case"]
    assert case["status"] == "closed"
    assert case["version"] == 3
    headers = bearer(web_rw, "bka_analyst")
    again = web_rw.post("/api/v1/cases/1/close", json={"version": 3}, headers=headers)
    assert again.status_code == 409


def test_task_status_form_carries_the_version(web_rw: WebClient):
    headers = bearer(web_rw, "bka_analyst")
    task = web_rw.post("/api/v1/cases/1/tasks", json={"title": "t"}, headers=headers).json()
    sign_in(web_rw, "bka_analyst")
    page = web_rw.get("/cases/1").text
    assert f'action="/tasks/{task["id"]}/status"' in page
    moved = form(web_rw, f"/tasks/{task['id']}/status", {"status": "doing", "version": "1"})
    assert moved.status_code == 303
    stale = form(web_rw, f"/tasks/{task['id']}/status", {"status": "done", "version": "1"})
    assert stale.status_code == 409
    done = web_rw.post(
        f"/api/v1/tasks/{task['id']}/status", headers=headers, json={"status": "done", "version": 2}
    )
    assert done.status_code == 200
    assert done.json()["status"] == "done"


def test_a_selector_hit_notifies_both_sides_with_contacts_only(web_rw: WebClient):
    fbi = bearer(web_rw, "fbi_analyst")
    added = web_rw.post(
        "/api/v1/cases/3/selectors",
        headers=fbi,
        json={"target_id": 3, "kind": "pgp_fingerprint", "value": FINGERPRINT.lower()},
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["selector"]["value"] == FINGERPRINT
    others = sorted(n["other_agency"] for n in body["notices"])
    assert others == ["BKA", "Politie"]
    assert {n["contact"] for n in body["notices"]} == {
        "BKA case officer <bka_analyst@bka.example>",
        "Politie case officer <politie_analyst@politie.example>",
    }
    assert sorted(t["agency"] for t in body["told"]) == ["BKA", "Politie"]
    bka = web_rw.get("/api/v1/notices", headers=bearer(web_rw, "bka_analyst")).json()["items"]
    fresh = [n for n in bka if n["other_agency"] == "FBI"]
    assert len(fresh) == 1
    assert fresh[0]["contact"] == "FBI case officer <fbi_analyst@fbi.example>"
    assert "FBI: vendor" not in str(bka)  # the other case's title never travels
    # through the form: the page says there was a hit
    sign_in(web_rw, "politie_analyst")
    response = form(
        web_rw,
        "/cases/2/selectors",
        {"target_id": "2", "kind": "btc_address", "value": "2MsV8J8cqDtgJc1vbXBPYgHXd56K5crZfYw"},
    )
    assert response.status_code == 303
    assert "notices=1" in response.headers["location"]
    page = web_rw.get(response.headers["location"]).text
    assert "Another agency holds it: 1 new notice(s)" in page
    # a selector on a target of another case is refused
    wrong = web_rw.post(
        "/api/v1/cases/3/selectors",
        headers=fbi,
        json={"target_id": 1, "kind": "handle", "value": "x"},
    )
    assert wrong.status_code == 404  # target 1 is BKA's: not visible to the FBI


def test_acknowledge_a_notice(web_rw: WebClient):
    sign_in(web_rw, "bka_analyst")
    response = form(web_rw, "/notices/2/acknowledge", {})
    assert response.status_code == 303
    page = web_rw.get("/notices").text
    assert "acknowledged" in page
    assert "by bka_analyst" in page
    assert 'action="/notices/2/acknowledge"' not in page
    headers = bearer(web_rw, "bka_analyst")
    assert web_rw.get("/api/v1/notices?open=true", headers=headers).json()["items"] == []
    assert "No notices open." in web_rw.get("/notices?open=1").text
    first = web_rw.get("/api/v1/notices", headers=headers).json()["items"][0]["acknowledged_at"]
    again = web_rw.post("/api/v1/notices/2/acknowledge", headers=headers)
    assert again.status_code == 200
    assert again.json()["acknowledged_at"] == first
    # Politie's notice is not BKA's to acknowledge: 404, as an absent one
    assert web_rw.post("/api/v1/notices/1/acknowledge", headers=headers).status_code == 404
    assert web_rw.post("/api/v1/notices/99/acknowledge", headers=headers).status_code == 404


def test_notices_paginate(web_rw: WebClient):
    fbi = bearer(web_rw, "fbi_analyst")
    web_rw.post(
        "/api/v1/cases/3/selectors",
        headers=fbi,
        json={"target_id": 3, "kind": "pgp_fingerprint", "value": FINGERPRINT},
    )
    headers = bearer(web_rw, "bka_analyst")
    one_by_one = follow_pages(web_rw, "/api/v1/notices?limit=1", headers)
    whole = web_rw.get("/api/v1/notices?limit=500", headers=headers).json()["items"]
    assert len(whole) == 2
    assert [n["id"] for n in one_by_one] == [n["id"] for n in whole]
    assert whole[0]["id"] > whole[1]["id"]  # newest first


def test_custody_form_and_the_verify_button(web_rw: WebClient):
    sign_in(web_rw, "bka_analyst")
    checked = form(web_rw, "/evidence/1/verify", {})
    assert checked.status_code == 200
    assert "Matches." in checked.text
    when = _ago(20).astimezone(ZoneInfo("Europe/Amsterdam")).replace(microsecond=0)
    recorded = form(
        web_rw,
        "/evidence/1/custody",
        {
            "action": "examined",
            "at": when.replace(tzinfo=None).isoformat(),
            "tz": "Europe/Amsterdam",
            "where": "Politie lab <Driebergen>",
            "note": "hash checked",
        },
    )
    assert recorded.status_code == 303, recorded.text
    page = web_rw.get("/evidence/1").text
    assert "Politie lab &lt;Driebergen&gt;" in page
    assert "Europe/Amsterdam" in page
    events = web_rw.get("/api/v1/evidence/1").json()["custody"]
    assert events[-1]["action"] == "examined"
    assert events[-1]["at"] == when.isoformat()
    assert events[-1]["at_utc"] == when.astimezone(UTC).isoformat()
    # out of order, and an unknown zone: 400 pages naming what is wrong
    early = form(
        web_rw,
        "/evidence/1/custody",
        {"action": "examined", "at": "2026-01-01T00:00", "tz": "UTC", "where": "x"},
    )
    assert early.status_code == 400
    assert "before the previous event" in early.text
    zone = form(
        web_rw,
        "/evidence/1/custody",
        {
            "action": "examined",
            "at": _ago(10).replace(tzinfo=None).isoformat(),
            "tz": "Europe/Berlinn",
            "where": "x",
        },
    )
    assert zone.status_code == 400
    assert "unknown time zone" in zone.text


def test_verify_finds_a_changed_warc_record(web_rw: WebClient):
    headers = bearer(web_rw, "bka_analyst")
    ev = web_rw.get("/api/v1/evidence/1", headers=headers).json()
    ws_root = web_rw.app.state.web.ws_root
    ok = web_rw.post("/api/v1/evidence/1/verify", headers=headers).json()
    assert ok["matches"] is True
    assert ok["actual"] == ev["sha256"]
    # re-register the capture's hash by hand under another item: its file is the same
    other = web_rw.post(
        "/api/v1/cases/1/evidence",
        headers=headers,
        json={"kind": "other", "origin": "by hand", "sha256": "0" * 64},
    )
    assert other.status_code == 201
    nothing = web_rw.post(f"/api/v1/evidence/{other.json()['id']}/verify", headers=headers)
    assert nothing.status_code == 400
    assert "no file to re-hash" in nothing.json()["error"]["message"]
    warc = ws_root / ev["path"]
    warc.rename(warc.with_suffix(".moved"))
    gone = web_rw.post("/api/v1/evidence/1/verify", headers=headers)
    assert gone.status_code == 400


def test_api_input_is_checked(web_rw: WebClient):
    headers = bearer(web_rw, "bka_analyst")
    cases = [
        ({"title": "x", "colour": "red"}, 422),  # unknown key
        ({"title": "x\x00y"}, 422),  # NUL: no store takes it
        ({"title": "x" * 301}, 422),
        ({"title": "x", "distribution": "everyone"}, 400),
        ({"title": "x", "handling": "H3"}, 400),  # H3 needs its note
        ({"title": "x", "operation": "Rnage Sweep"}, 404),
    ]
    for body, status in cases:
        response = web_rw.post("/api/v1/cases", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
    custody = web_rw.post(
        "/api/v1/evidence/1/custody",
        headers=headers,
        json={"action": "examined", "at": "0001-01-01T00:00:00+05:00", "where": "x"},
    )
    assert custody.status_code == 422
    assert (
        web_rw.post("/api/v1/cases/1/targets", headers=headers, json={"kind": "person"}).status_code
        == 400
    )
    duplicate = web_rw.post(
        "/api/v1/cases", json={"title": "x", "reference": "2026-0001"}, headers=headers
    )
    assert duplicate.status_code == 409
