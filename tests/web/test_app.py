"""The app's shell: login, logout, CSRF, rate limiting, headers, errors."""

from __future__ import annotations

import re

from tests.web.harness import WebClient

STRICT = ("default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'")


def _headers_ok(response) -> None:
    csp = response.headers["content-security-policy"]
    for part in STRICT:
        assert part in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_login_page_answers_with_the_headers(web: WebClient):
    response = web.get("/login")
    assert response.status_code == 200
    assert "<form" in response.text
    assert 'name="password"' in response.text
    _headers_ok(response)


def test_the_front_door_answers_the_login_form_with_the_headers(web: WebClient, logins):
    web.logout_cookies()
    response = web.get("/")
    assert response.status_code == 200
    assert 'name="password"' in response.text
    assert 'name="next" value="/"' in response.text
    _headers_ok(response)
    # The form it shows works: it signs in and lands on the dashboard.
    token = re.search(r'name="csrf" value="([^"]+)"', response.text)[1]
    signed = web.post(
        "/login",
        data={"username": "bka_analyst", "password": logins["bka_analyst"], "csrf": token},
    )
    assert signed.status_code == 303
    assert "<h1>Dashboard</h1>" in web.get("/").text


def test_pages_redirect_to_login_and_api_answers_401(web: WebClient):
    web.logout_cookies()
    response = web.get("/?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/%3Fx%3D1"
    api = web.get("/api/v1/me")
    assert api.status_code == 401
    assert api.headers["www-authenticate"] == "Bearer"
    assert api.json()["error"]["type"] == "AuthError"
    _headers_ok(api)


def test_login_sets_a_strict_cookie_and_me_answers(web: WebClient, logins):
    web.logout_cookies()
    response = web.login("bka_analyst", logins["bka_analyst"])
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "spector_session=spk_" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie.replace("Strict", "strict")
    me = web.get("/api/v1/me").json()
    assert me["username"] == "bka_analyst"
    assert me["agency"] == "BKA"


def test_wrong_password_is_refused_then_rate_limited(web_rw: WebClient):
    codes = [web_rw.login("bka_analyst", "wrong password").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


def test_login_form_needs_its_csrf_cookie(web: WebClient, logins):
    web.logout_cookies()
    response = web.post(
        "/login",
        data={"username": "bka_analyst", "password": logins["bka_analyst"], "csrf": "x"},
    )
    assert response.status_code == 403
    assert "spector_session" not in response.headers.get("set-cookie", "")


def test_logout_needs_csrf_and_revokes_the_session(web_rw: WebClient, logins):
    assert web_rw.login("bka_analyst", logins["bka_analyst"]).status_code == 303
    assert web_rw.post("/logout", data={"csrf": "wrong"}).status_code == 403
    token = web_rw._client.cookies.get("spector_session")
    response = web_rw.post("/logout", data={"csrf": web_rw.csrf})
    assert response.status_code == 303
    again = web_rw.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401


def test_cross_site_post_is_refused(web_rw: WebClient, logins):
    web_rw.login("bka_analyst", logins["bka_analyst"])
    response = web_rw.post(
        "/logout", data={"csrf": web_rw.csrf}, headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403


def test_next_goes_to_this_site_only(web: WebClient, logins):
    web.logout_cookies()
    form = web.get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in form.text
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
    response = web.post(
        "/login",
        data={
            "username": "bka_analyst",
            "password": logins["bka_analyst"],
            "csrf": token,
            "next": "https://evil.example/",
        },
    )
    assert response.headers["location"] == "/"


def test_openapi_schema_is_served_and_has_bearer_auth(web: WebClient):
    schema = web.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    schemes = schema["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert "/api/v1/me" in schema["paths"]


def test_origin_null_with_the_token_passes_and_cross_site_fetch_is_refused(
    web_rw: WebClient, logins
):
    # Chromium sends "Origin: null" on form posts under Referrer-Policy no-referrer: the
    # token decides. Sec-Fetch-Site, when a browser sends it, says cross-site plainly.
    web_rw.login("bka_analyst", logins["bka_analyst"])
    refused = web_rw.post(
        "/logout",
        data={"csrf": web_rw.csrf},
        headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    )
    assert refused.status_code == 403
    assert web_rw.get("/api/v1/me").status_code == 200  # still signed in
    accepted = web_rw.post("/logout", data={"csrf": web_rw.csrf}, headers={"Origin": "null"})
    assert accepted.status_code == 303
    assert web_rw.get("/api/v1/me").status_code == 401


def test_error_messages_keep_what_was_expected(web: WebClient, logins):
    web.logout_cookies()
    response = web.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert "expected spk_" in response.json()["error"]["message"]


def test_memo_serves_the_kept_value_while_one_thread_makes_a_new_one(web: WebClient):
    import threading
    import time

    state = web.app.state.web
    made: list[int] = []
    gate = threading.Event()

    def make() -> int:
        if made:
            gate.wait(5)  # a slow refresh
        made.append(len(made) + 1)
        return made[-1]

    assert state.memo("t-memo", 0.05, make) == 1
    time.sleep(0.06)
    # Stale: the kept value comes back at once, and one refresh starts (not one per call).
    assert [state.memo("t-memo", 0.05, make) for _ in range(5)] == [1] * 5
    gate.set()
    deadline = time.monotonic() + 5
    while state.memo("t-memo", 60, make) == 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state.memo("t-memo", 60, make) == 2
    assert made == [1, 2]
    with state.writing():
        pass  # a write through the app forgets every kept value
    assert state.memo("t-memo", 60, make) == 3


def test_head_answers_like_get_without_the_body(web: WebClient):
    web.logout_cookies()
    head = web.request("HEAD", "/")
    get = web.get("/")
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-security-policy"] == get.headers["content-security-policy"]
    assert web.request("HEAD", "/api/v1/cases").status_code == 401


def test_closing_waits_for_a_background_refresh(demo_template, tmp_path):
    import threading
    import time

    from spector.web import create_app
    from tests.web.harness import copy_demo

    app = create_app(copy_demo(demo_template, tmp_path / "ws"))
    state = app.state.web
    started, finished = threading.Event(), threading.Event()

    def make() -> int:
        with state.workspace() as ws:
            count = ws.store.con.execute("SELECT count(*) FROM listings").fetchone()[0]
        if not started.is_set():
            return int(count)
        time.sleep(0.3)  # a slow refresh, still reading when close() is called
        finished.set()
        return int(count)

    first = state.memo("t-close", 0.01, make)
    time.sleep(0.02)
    started.set()
    assert state.memo("t-close", 0.01, make) == first  # stale: a refresh starts
    state.close()  # must wait for it: closing the connection under it would fail
    assert finished.is_set()
