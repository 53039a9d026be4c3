"""Community fixtures: real Hugging Face daily lists in the catalog, real accounts, a clock the
test sets, and a local arXiv API replaying saved real responses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from paperfeed.accounts.service import User
from paperfeed.clock import utcnow
from paperfeed.community.cards import CardService
from paperfeed.community.daily import DailyService
from paperfeed.community.discussion import DiscussionService
from paperfeed.community.moderation import ModerationService
from paperfeed.community.signals import TrendingService
from paperfeed.community.submissions import ArxivFetcher, SubmissionService
from paperfeed.papers.ids import parse_arxiv_id
from paperfeed.papers.lookup import PaperIds
from paperfeed.runtime import Runtime
from tests.support.accounts import confirmed_user
from tests.support.http import FixtureServer, Response

PASSWORD = "correct horse battery staple"
ATOM = "{http://www.w3.org/2005/Atom}"

MakeUser = Callable[..., User]


class Clock:
    """A clock the test moves by hand (naive UTC, like the service's own)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def hf_daily(seed_hf_daily_lists: None, runtime: Runtime) -> Runtime:
    """The runtime over a catalog holding the three real HF daily-papers responses (63
    papers on three daily lists), imported with the CLI as a user would (once per test
    process, into the catalog each test starts from a copy of: tests/support/catalogs.py)."""
    return runtime


@pytest.fixture
def make_user(runtime: Runtime) -> MakeUser:
    def make(name: str, *, admin: bool = False) -> User:
        user = confirmed_user(runtime.accounts, f"{name}@example.org", name, PASSWORD)
        return runtime.accounts.set_role(name, "admin") if admin else user

    return make


@dataclass
class CommunityAt:
    """The runtime's community services on another clock (named as on Runtime)."""

    cards: CardService
    paper_ids: PaperIds
    daily: DailyService
    trending: TrendingService
    discussion: DiscussionService
    moderation: ModerationService


def community_at(runtime: Runtime, clock: Callable[[], dt.datetime]) -> CommunityAt:
    cards = CardService(runtime.reader)
    return CommunityAt(
        cards=cards,
        paper_ids=runtime.paper_ids,
        daily=DailyService(runtime.reader, cards, clock=clock),
        trending=TrendingService(runtime.reader, cards, clock=clock),
        discussion=DiscussionService(runtime.engine, cards, clock=clock, reader=runtime.reader),
        moderation=ModerationService(runtime.engine, clock=clock),
    )


KEEP = object()  # submissions_at: the runtime's own arXiv fetcher


def submissions_at(
    runtime: Runtime,
    clock: Callable[[], dt.datetime] = utcnow,
    *,
    fetcher: ArxivFetcher | object | None = KEEP,
    on_added: Callable[[], None] | None = None,
) -> SubmissionService:
    """The runtime's submission service on another clock; `on_added` instead of indexing."""
    return SubmissionService(
        runtime.engine,
        runtime.catalog,
        runtime.catalog_writer,
        runtime.cards,
        runtime.arxiv_fetcher if fetcher is KEEP else fetcher,  # type: ignore[arg-type]
        clock=clock,
        on_added=on_added,
    )


def _replay(folder: Path) -> Callable[[str, dict[str, list[str]]], Response | None]:
    """Answer `id_list` queries as arXiv does: the saved entries of the asked papers, in a
    real saved feed (entries of other papers removed, the feed itself kept as saved)."""
    feeds = [etree.parse(str(path)) for path in sorted(folder.glob("*.xml"))]

    def route(path: str, params: dict[str, list[str]]) -> Response | None:
        if path != "/api/query":
            return None
        wanted = set(params.get("id_list", [""])[0].split(","))
        for tree in feeds:
            root = etree.fromstring(etree.tostring(tree))
            entries = root.findall(f"{ATOM}entry")
            matches = [e for e in entries if _entry_id(e) in wanted]
            if matches or tree is feeds[-1]:
                for entry in entries:
                    if entry not in matches:
                        root.remove(entry)
                return Response(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
        return None

    return route


def _entry_id(entry: etree._Element) -> str:
    """`http://arxiv.org/abs/2607.28628v1` -> `2607.28628`."""
    return parse_arxiv_id(entry.findtext(f"{ATOM}id") or "").canonical


@pytest.fixture(scope="module")
def _arxiv_server() -> Iterator[FixtureServer]:
    # One server per module: stopping one waits for its 0.5 s poll.
    server = FixtureServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def arxiv_api(_arxiv_server: FixtureServer, data_dir: Path) -> FixtureServer:
    """A local arXiv API answering from the saved real responses in fixtures/arxiv_api
    (tests may swap `route`; it and `requests` are reset for each test)."""
    _arxiv_server.route = _replay(data_dir / "fixtures" / "arxiv_api")
    _arxiv_server.requests.clear()
    return _arxiv_server


@pytest.fixture
def online(runtime: Runtime, arxiv_api: FixtureServer) -> Iterator[Runtime]:
    """A runtime whose arXiv API endpoint is the local replay server."""
    endpoint = f"{arxiv_api.url}/api/query"
    rt = Runtime(runtime.settings.model_copy(update={"arxiv_api_endpoint": endpoint}))
    yield rt
    rt.close()
