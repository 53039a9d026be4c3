"""Several app processes over one database, as behind a load balancer: two real uvicorn
processes (`uvicorn paperfeed.http.server:app`, configured from the environment only) share
one catalog. What is written through one process (accounts, sessions, votes, submissions,
comments, rate-limit counts) is what the other one reads. Runs on SQLite (one file in WAL
mode) and, on the PostgreSQL leg, on a fresh PostgreSQL database."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from lxml import html

from paperfeed.accounts.rate_limit import SIGN_IN
from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from tests.conftest import DATA, scratch_database
from tests.support.accounts import confirmed_user
from tests.support.cli import HEAD200, Cli
from tests.support.outbox import link_token, outbox
from tests.support.server import csrf_token, free_port, http_client, http_transport
from tests.support.waiting import wait_until

HF_DAY = DATA / "fixtures" / "hf_papers" / "daily_papers_2026-06-12.json"
PASSWORD = "correct horse battery staple"
PAPER = "2606.13392"  # "MiniMax Sparse Attention", on the list of 2026-06-12
STARTUP_SECONDS = 60
pytestmark = pytest.mark.postgresql  # how processes share a catalog is the backend's


@dataclass
class Node:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, **kwargs: object) -> httpx.Client:
        return http_client(self.url, **{"timeout": 30, **kwargs})


@dataclass
class Cluster:
    a: Node
    b: Node
    runtime: Runtime  # the same catalog, in this process: accounts and tokens are made here

    def token(self, username: str) -> dict[str, str]:
        user = self.runtime.accounts.by_username(username)
        if user is None:
            user = confirmed_user(
                self.runtime.accounts, f"{username}@example.org", username, PASSWORD
            )
        token = self.runtime.accounts.create_api_token(user, "multiprocess")
        return {"Authorization": f"Bearer {token}"}


def _start(name: str, env: dict[str, str], folder: Path) -> Node:
    port = free_port()
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "paperfeed.http.server:app"),
                *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
                # uvicorn's own proxy headers would believe anyone on 127.0.0.1; the app reads
                # them from PAPERFEED_TRUSTED_PROXIES only (README: "Behind a reverse proxy")
                "--no-proxy-headers",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Node(name, f"http://127.0.0.1:{port}", process, log)


def _wait_until_answering(node: Node) -> None:
    client = node.client(timeout=5)

    def answering() -> bool:
        try:
            return client.get("/api/v1/trending").status_code == 200
        except httpx.TransportError:
            return False

    def log() -> str:
        return (
            f"server {node.name} did not answer (exit {node.process.poll()}):\n"
            + (node.log.read_text(errors="replace")[-3000:])
        )

    with client:
        wait_until(
            answering,
            within=STARTUP_SECONDS,
            every=0.1,
            what=log,
            gone=lambda: None if node.process.poll() is None else log(),
        )


def _stop(node: Node) -> None:
    node.process.terminate()
    try:
        node.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        node.process.kill()
        node.process.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, catalog_server: str | None
) -> Iterator[Cluster]:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    folder = tmp_path_factory.mktemp("multiprocess")
    home = folder / "home"
    databases = ExitStack()
    url = databases.enter_context(scratch_database())
    settings = {
        "PAPERFEED_HOME": str(home),
        "PAPERFEED_CONFIG": str(folder / "no-such-config.toml"),  # no user config leaks in
        "PAPERFEED_EMBEDDER": "none",  # search by words only: the test is about the database
        "PAPERFEED_TRUSTED_PROXIES": "127.0.0.1",  # as if a proxy ran on this machine
        **({"PAPERFEED_DATABASE_URL": url} if url else {}),
    }
    cli = Cli({**settings, "PAPERFEED_DATABASE_URL": url})
    cli("import", "snapshot", DATA / HEAD200, "--no-progress", "--no-index")
    cli("import", "hf-daily", HF_DAY, "--no-progress")
    # No PAPERFEED_ setting of this process leaks in, except the suite's cheap password hashes
    # (tests/conftest.py): at the default cost each wrong sign-in here hashed for ~40 ms.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PAPERFEED_") or k.startswith("PAPERFEED_PASSWORD_HASH_")
    }
    env.update(settings)
    runtime = Runtime(Settings(home=home, database_url=url, embedder="none"))
    nodes: list[Node] = []
    try:
        nodes = [_start(name, env, folder) for name in ("a", "b")]
        for node in nodes:
            _wait_until_answering(node)
        yield Cluster(nodes[0], nodes[1], runtime)
    finally:
        for node in nodes:
            _stop(node)
        runtime.close()
        databases.close()  # drops the PostgreSQL database


def test_both_processes_serve_the_same_catalog(cluster: Cluster) -> None:
    with cluster.a.client() as a, cluster.b.client() as b:
        on_a = a.get("/api/v1/daily", params={"date": "2026-06-12"}).json()
        on_b = b.get("/api/v1/daily", params={"date": "2026-06-12"}).json()
        assert len(on_a["papers"]) == 30
        assert on_a == on_b
        search = b.get("/api/v1/search", params={"q": "MiniMax Sparse Attention"}).json()
        assert search["results"][0]["id"] == PAPER
    assert cluster.a.process.pid != cluster.b.process.pid


def test_session_from_one_process_works_on_the_other(cluster: Cluster) -> None:
    with cluster.a.client() as a, cluster.b.client() as b:
        signup = a.post(
            "/signup",
            data={
                "email": "ada@example.org",
                "username": "ada",
                "password": PASSWORD,
                "csrf_token": csrf_token(a, "/signup"),
            },
        )
        assert signup.status_code == 200  # "check your inbox"
        [mail] = outbox(cluster.runtime.settings, "ada@example.org")
        base = cluster.runtime.settings.base_url
        path = "/signup/confirm/" + link_token(mail, base, "signup/confirm")
        confirmed = a.post(path, data={"password": PASSWORD, "csrf_token": csrf_token(a, path)})
        assert confirmed.status_code == 303
        b.cookies.update(a.cookies)  # the same browser, sent to the other process
        account = b.get("/account")
        assert account.status_code == 200
        assert "ada" in html.fromstring(account.text).text_content()

        # Signed out on B: the session is gone on A too (A's client still sends the cookie).
        signout = b.post("/signout", data={"csrf_token": csrf_token(b, "/account")})
        assert signout.status_code == 303
        assert "pf_session" in a.cookies
        assert a.get("/account").status_code == 401


def test_writes_through_one_process_are_read_through_the_other(cluster: Cluster) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    auth = cluster.token("grace")
    with cluster.a.client() as a, cluster.b.client() as b:
        before = b.get(f"/api/v1/papers/{PAPER}").json()

        # An upvote through A is counted on B, and withdrawn through B is gone on A.
        assert a.post(f"/api/v1/papers/{PAPER}/upvote", headers=auth).json()["voted"]
        assert b.get(f"/api/v1/papers/{PAPER}").json()["upvotes"] == before["upvotes"] + 1
        assert b.post(f"/api/v1/papers/{PAPER}/upvote", headers=auth).json()["upvotes"] == (
            before["upvotes"] + 1
        )  # still one vote: idempotent across processes
        assert not b.delete(f"/api/v1/papers/{PAPER}/upvote", headers=auth).json()["voted"]
        assert a.get(f"/api/v1/papers/{PAPER}").json()["upvotes"] == before["upvotes"]

        # A submission through A is on today's list on B; B refuses it again.
        submitted = a.post("/api/v1/submit", json={"paper": "0704.0002"}, headers=auth)
        assert submitted.status_code == 201, submitted.text
        listed = b.get("/api/v1/daily", params={"date": today}).json()["papers"]
        assert [(p["id"], p["submitted_by"]) for p in listed] == [("0704.0002", "grace")]
        page = html.fromstring(b.get(f"/papers/date/{today}").text)
        assert "Sparsity-certifying Graph Decompositions" in page.text_content()
        again = b.post("/api/v1/submit", json={"paper": "0704.0002"}, headers=auth)
        assert again.status_code == 409

        # A comment posted on A (signed in on A, with A's form) shows on B.
        form = {"email": "grace@example.org", "password": PASSWORD, "csrf_token": csrf_token(a)}
        assert a.post("/signin", data=form).status_code == 303
        token = csrf_token(a, f"/papers/{PAPER}")
        text = "Checked the sparsity pattern on our cluster: reproduces."
        posted = a.post(f"/papers/{PAPER}/comments", data={"body": text, "csrf_token": token})
        assert posted.status_code == 303
        assert text in html.fromstring(b.get(f"/papers/{PAPER}").text).text_content()
        assert b.get(f"/api/v1/papers/{PAPER}").json()["num_comments"] == (
            before["num_comments"] + 1
        )

        # A form from A posted to B (same browser, same CSRF cookie) is accepted there too.
        b.cookies.update(a.cookies)
        reply = b.post(
            f"/papers/{PAPER}/comments", data={"body": "Same here.", "csrf_token": token}
        )
        assert reply.status_code == 303
        assert "Same here." in html.fromstring(a.get(f"/papers/{PAPER}").text).text_content()


def test_concurrent_upvotes_through_both_processes_all_count(cluster: Cluster) -> None:
    paper = "2606.08063"
    voters = [cluster.token(f"voter{i}") for i in range(16)]
    nodes = [cluster.a, cluster.b]
    with cluster.a.client() as a:
        before = a.get(f"/api/v1/papers/{paper}").json()["upvotes"]

    def vote(index: int) -> int:
        with nodes[index % 2].client(timeout=60) as client:
            return client.post(f"/api/v1/papers/{paper}/upvote", headers=voters[index]).status_code

    with ThreadPoolExecutor(max_workers=len(voters)) as pool:
        statuses = list(pool.map(vote, range(len(voters))))
    assert statuses == [200] * len(voters)
    for node in nodes:
        with node.client() as client:
            assert client.get(f"/api/v1/papers/{paper}").json()["upvotes"] == before + len(voters)


def test_rate_limits_are_counted_across_processes(cluster: Cluster) -> None:
    """Sign-in attempts alternate between the processes: each sees only half of them, yet
    the 11th of the window is refused, because the count lives in the shared database.

    The server processes read the wall clock and count in fixed 5-minute windows. Rather than
    wait for a fresh window, a burst that straddled a boundary (rare: it takes about a second)
    is run again from another address: just after a boundary, the next is minutes away."""
    window = int(SIGN_IN.per.total_seconds())
    # Client addresses of their own (any 127.x address reaches the servers on Linux), so the
    # sign-ins of the other tests do not count here.
    for address in ("127.0.0.2", "127.0.0.3"):
        started = int(time.time()) // window
        answers = _sign_in_burst(cluster, address, attempts=11)
        if int(time.time()) // window == started:
            break
    else:
        raise AssertionError("two bursts of sign-ins in a row straddled a window boundary")
    assert [r.status_code for r in answers] == [400] * 10 + [429]
    assert int(answers[-1].headers["retry-after"]) > 0


def test_forwarded_addresses_are_believed_from_the_trusted_proxy_only(cluster: Cluster) -> None:
    """The nodes trust 127.0.0.1 as their proxy: behind it, the client is the address it
    forwards, counted across both processes; a client elsewhere that forges a new
    X-Forwarded-For with each attempt is still one client."""
    window = int(SIGN_IN.per.total_seconds())
    for attempt in (4, 5):  # a second try, from other addresses, if a window boundary fell in
        started = int(time.time()) // window
        proxied = _sign_in_burst(cluster, "127.0.0.1", 11, [f"203.0.113.{attempt}"] * 11)
        forged = _sign_in_burst(
            cluster, f"127.0.0.{attempt}", 11, [f"198.51.100.{i}" for i in range(11)]
        )
        if int(time.time()) // window == started:
            break
    else:
        raise AssertionError("two bursts of sign-ins in a row straddled a window boundary")
    assert [r.status_code for r in proxied] == [400] * 10 + [429]
    assert [r.status_code for r in forged] == [400] * 10 + [429]


def _sign_in_burst(
    cluster: Cluster,
    address: str,
    attempts: int,
    forwarded_for: Sequence[str] | None = None,
) -> list[httpx.Response]:
    """Wrong sign-ins from `address`, alternating between the processes; the i-th with the
    X-Forwarded-For header `forwarded_for[i]` if given."""
    transport = {"transport": http_transport(local_address=address)}
    with cluster.a.client(**transport) as a, cluster.b.client(**transport) as b:
        clients = [a, b]
        tokens = [csrf_token(a), csrf_token(b)]
        return [
            clients[i % 2].post(
                "/signin",
                data={"email": f"guess{i}@x.org", "password": "x", "csrf_token": tokens[i % 2]},
                headers={"X-Forwarded-For": forwarded_for[i]} if forwarded_for else {},
            )
            for i in range(attempts)
        ]
