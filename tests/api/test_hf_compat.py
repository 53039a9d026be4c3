"""The Hugging Face-compatible API, driven by the unmodified `huggingface_hub` client against
the real app on a real catalog: three saved HF daily_papers responses (63 papers) and a few
old-style arXiv records that were never on a daily list."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import BadRequestError, HfHubHTTPError

from paperfeed.config import Settings
from paperfeed.runtime import Runtime
from tests.conftest import DATA, scratch_database
from tests.support.accounts import confirmed_user
from tests.support.cli import Cli
from tests.support.server import LiveServer, live_server

HF_FIXTURES = DATA / "fixtures" / "hf_papers"
JUNE = HF_FIXTURES / "daily_papers_2026-06-12.json"  # 30 papers
JULY = HF_FIXTURES / "daily_papers_2026-07-31.json"  # 30 papers
AUGUST = HF_FIXTURES / "daily_papers_2026-08-03_3-entries_pretty.json"  # 3 papers
OLD_STYLE_PREFIX = '{"id":"acc-phys/'  # 7 records of 1994-1995 in the arxiv-browse test data


@dataclass
class HfServer:
    server: LiveServer
    api: HfApi

    @property
    def url(self) -> str:
        return self.server.url


def _old_style_records(path: Path) -> Path:
    """The acc-phys records of the real arxiv-browse test data, as a small snapshot file."""
    source = DATA / "arxiv" / "arxiv_browse_testdata_kaggle_format.jsonl.gz"
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        picked = [line for line in lines if line.startswith(OLD_STYLE_PREFIX)]
    path.write_text("".join(picked), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hf(tmp_path_factory: pytest.TempPathFactory, catalog_server: str | None) -> Iterator[HfServer]:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    home = tmp_path_factory.mktemp("hf-home")
    databases = ExitStack()
    url = databases.enter_context(scratch_database())
    cli = Cli(
        {
            "PAPERFEED_HOME": str(home),
            "PAPERFEED_DATABASE_URL": url,
            "PAPERFEED_CONFIG": None,
            "PAPERFEED_REQUEST_DELAY": "0",
        }
    )
    cli("import", "hf-daily", JUNE, JULY, AUGUST, "--no-progress")
    old_style = _old_style_records(tmp_path_factory.mktemp("records") / "acc-phys.jsonl")
    cli("import", "snapshot", old_style, "--no-progress")
    runtime = Runtime(Settings(home=home, database_url=url))
    with live_server(runtime) as server:
        yield HfServer(server, HfApi(endpoint=server.url, token=False))
    runtime.close()
    databases.close()  # drops the PostgreSQL database


# -- list_daily_papers ---------------------------------------------------------------------


def test_daily_list_of_a_date_has_that_days_papers_with_their_hf_data(hf: HfServer) -> None:
    papers = list(hf.api.list_daily_papers(date="2026-06-12"))

    assert len(papers) == 30
    assert {p.submitted_at.date() for p in papers if p.submitted_at} == {dt.date(2026, 6, 12)}
    paper = next(p for p in papers if p.id == "2606.12730")
    assert paper.title == (
        "Rethinking Psychometric Evaluation of LLMs: When and Why Self-Reports Predict Behavior"
    )
    assert paper.published_at is not None and paper.published_at.date() == dt.date(2026, 6, 10)
    assert paper.upvotes == 5
    assert paper.comments == 3
    assert (
        paper.github_repo == "https://github.com/psychology-of-AI/Rethinking-Pyschometric-Eval-LLMs"
    )
    assert paper.github_stars == 1
    assert paper.ai_summary is not None
    assert paper.ai_summary.startswith("Psychometric assessments of LLM behavior reveal")
    assert paper.submitted_by is not None and paper.submitted_by.username == "RKocielnik"
    assert paper.authors and paper.authors[0].name == "Rafal Kocielnik"


def test_a_paper_with_no_upvotes_reads_as_zero_not_none(hf: HfServer) -> None:
    papers = list(hf.api.list_daily_papers(date="2026-06-12"))

    # HF's shape loses a 0 inside `paper` in the client; the top-level mirror keeps it.
    assert next(p for p in papers if p.id == "2606.00467").upvotes == 0


def test_trending_orders_a_day_by_upvotes(hf: HfServer) -> None:
    papers = list(hf.api.list_daily_papers(date="2026-07-31", sort="trending", limit=3))

    assert [p.upvotes for p in papers] == [292, 283, 168]
    assert papers[0].title is not None
    assert papers[0].title.startswith("AskChem: Claim-Centered Infrastructure")


def test_trending_without_a_period_ranks_the_widened_window(hf: HfServer) -> None:
    papers = list(hf.api.list_daily_papers(sort="trending", limit=5))

    # The lists are months old: the window widens over all three (community/trending.py).
    # The two most upvoted and discussed papers lead; the three papers of 2026-08-03 are
    # the newest but have a handful of upvotes; June's best follow July's.
    assert [p.id for p in papers[:2]] == ["2607.28227", "2607.28618"]
    assert all(p.upvotes >= 100 for p in papers), [(p.id, p.upvotes) for p in papers]


@pytest.mark.parametrize(
    ("week", "month", "expected_days"),
    [
        ("2026-W24", None, {dt.date(2026, 6, 12)}),
        ("2026-W31", None, {dt.date(2026, 7, 31)}),  # Friday of W31
        ("2026-W32", None, {dt.date(2026, 8, 3)}),  # Monday of W32
        ("2026-W30", None, set()),
        (None, "2026-07", {dt.date(2026, 7, 31)}),
        (None, "2026-08", {dt.date(2026, 8, 3)}),
        ("2026-W32", "2026-07", set()),  # together: the days both share, none here
    ],
)
def test_week_and_month_select_by_the_day_papers_entered_the_daily_list(
    hf: HfServer, week: str | None, month: str | None, expected_days: set[dt.date]
) -> None:
    papers = list(hf.api.list_daily_papers(week=week, month=month))

    assert {p.submitted_at.date() for p in papers if p.submitted_at} == expected_days
    sizes = {dt.date(2026, 6, 12): 30, dt.date(2026, 7, 31): 30, dt.date(2026, 8, 3): 3}
    assert len(papers) == sum(sizes[day] for day in expected_days)


def test_without_parameters_the_newest_entries_come_first_in_pages(hf: HfServer) -> None:
    first = list(hf.api.list_daily_papers())
    second = list(hf.api.list_daily_papers(p=1))

    assert len(first) == 50  # the default limit
    assert len(second) == 13
    assert len({p.id for p in first + second}) == 63
    days = [p.submitted_at.date() for p in first + second if p.submitted_at]
    assert days == sorted(days, reverse=True)
    assert days[:3] == [dt.date(2026, 8, 3)] * 3
    assert len(list(hf.api.list_daily_papers(limit=10))) == 10
    assert list(hf.api.list_daily_papers(p=100)) == []


def test_submitter_filter_keeps_that_users_submissions(hf: HfServer) -> None:
    papers = list(hf.api.list_daily_papers(submitter="DogNeverSleep"))

    assert sorted(p.id for p in papers) == ["2607.28509", "2607.28595"]
    assert {p.submitted_by.username for p in papers if p.submitted_by} == {"DogNeverSleep"}
    assert list(hf.api.list_daily_papers(submitter="DogNeverSleep", month="2026-06")) == []


def test_an_invalid_period_is_a_bad_request(hf: HfServer) -> None:
    with pytest.raises(BadRequestError) as error:
        list(hf.api.list_daily_papers(date="2025-13-40"))
    assert "2025-13-40" in (error.value.server_message or "")

    with pytest.raises(BadRequestError):
        list(hf.api.list_daily_papers(week="2025-W60"))
    with pytest.raises(BadRequestError):
        list(hf.api.list_daily_papers(week="2025-W53"))  # 2025 has 52 ISO weeks
    with pytest.raises(BadRequestError):
        list(hf.api.list_daily_papers(limit=101))


# -- list_papers ---------------------------------------------------------------------------


def test_search_finds_a_paper_by_its_title(hf: HfServer) -> None:
    papers = list(hf.api.list_papers(query="MiniMax Sparse Attention", limit=5))

    assert 1 <= len(papers) <= 5
    top = papers[0]
    assert (top.id, top.title) == ("2606.13392", "MiniMax Sparse Attention")
    assert top.upvotes == 103
    assert top.github_stars == 251  # read from the top-level mirror
    assert top.submitted_at is not None and top.submitted_at.date() == dt.date(2026, 6, 12)


def test_search_finds_a_paper_by_words_of_its_abstract(hf: HfServer) -> None:
    papers = list(hf.api.list_papers(query="psychometric probes self-reports", limit=3))

    assert papers[0].id == "2606.12730"


def test_search_also_finds_papers_that_were_never_on_a_daily_list(hf: HfServer) -> None:
    papers = list(hf.api.list_papers(query="Lyapunov exponents symplectic", limit=3))

    assert papers[0].id == "acc-phys/9411001"
    assert papers[0].submitted_at is None and papers[0].submitted_by is None


def test_search_without_a_query_lists_the_most_recent_daily_papers(hf: HfServer) -> None:
    papers = list(hf.api.list_papers(limit=3))

    assert {p.submitted_at.date() for p in papers if p.submitted_at} == {dt.date(2026, 8, 3)}
    assert len(papers) == 3


# -- paper_info and read_paper -------------------------------------------------------------


def test_paper_info_has_the_paper_its_daily_entry_and_no_linked_repos(hf: HfServer) -> None:
    paper = hf.api.paper_info("2607.28227")

    assert paper.title is not None and paper.title.startswith("Qwen-UI-Agent Technical Report")
    assert paper.published_at is not None and paper.published_at.date() == dt.date(2026, 7, 30)
    assert paper.submitted_at is not None and paper.submitted_at.date() == dt.date(2026, 7, 31)
    assert paper.submitted_by is not None and paper.submitted_by.username == "kongquyu"
    assert (paper.upvotes, paper.comments) == (283, 7)
    assert paper.project_page == "https://tongyi-mai.github.io/Qwen-UI-Agent/"
    assert paper.linked_models == [] and paper.num_total_models == 0
    assert paper.linked_datasets == [] and paper.linked_spaces == []


def test_paper_info_of_an_old_style_id_never_on_a_daily_list(hf: HfServer) -> None:
    paper = hf.api.paper_info("acc-phys/9411001")

    assert paper.title == "Symplectic Computation of Lyapunov Exponents"
    assert paper.published_at is not None and paper.published_at.date() == dt.date(1994, 11, 1)
    assert paper.submitted_at is None and paper.submitted_by is None
    assert paper.upvotes == 0


def test_read_paper_is_markdown_with_abstract_links_and_ai_summary(hf: HfServer) -> None:
    text = hf.api.read_paper("2606.12730")

    assert text.startswith("# Rethinking Psychometric Evaluation of LLMs")
    assert "https://arxiv.org/abs/2606.12730" in text
    assert "https://github.com/psychology-of-AI/Rethinking-Pyschometric-Eval-LLMs" in text
    assert "## Abstract" in text and "Anticipating LLM behavioral tendencies" in text
    assert "## AI summary" in text
    assert "acc-phys/9411001" in hf.api.read_paper("acc-phys/9411001")


@pytest.mark.parametrize("paper_id", ["2601.00001", "not-a-paper", "pf-999999"])
def test_an_unknown_paper_is_not_found(hf: HfServer, paper_id: str) -> None:
    with pytest.raises(HfHubHTTPError) as info_error:
        hf.api.paper_info(paper_id)
    with pytest.raises(HfHubHTTPError) as read_error:
        hf.api.read_paper(paper_id)

    for error in (info_error.value, read_error.value):
        assert error.response.status_code == 404
        assert error.server_message == "Paper not found"


# -- the raw JSON --------------------------------------------------------------------------


def test_datetimes_are_utc_with_a_z_suffix(hf: HfServer) -> None:
    item = httpx.get(f"{hf.url}/api/daily_papers", params={"date": "2026-08-03"}).json()[0]
    detail = httpx.get(f"{hf.url}/api/papers/2607.28229").json()

    stamps = [
        item["publishedAt"],
        item["paper"]["publishedAt"],
        item["paper"]["submittedOnDailyAt"],
        detail["publishedAt"],
        detail["submittedOnDailyAt"],
    ]
    assert all(stamp.endswith("Z") for stamp in stamps)
    assert detail["publishedAt"] == "2026-07-30T14:00:27.000Z"
    assert item["submittedBy"]["user"] == item["paper"]["submittedOnDailyBy"]["user"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/daily_papers", {"date": "2025-13-40"}, 400),
        ("/api/daily_papers", {"sort": "oldest"}, 400),
        ("/api/daily_papers", {"limit": "0"}, 400),
        ("/api/papers/search", {"q": "x" * 251}, 400),
        ("/api/papers/search", {"q": "attention", "limit": "121"}, 400),
        ("/api/papers/2601.00001", {}, 404),
        ("/papers/2601.00001.md", {}, 404),
    ],
)
def test_errors_are_json_objects_with_an_error_message(
    hf: HfServer, path: str, params: dict[str, str], status: int
) -> None:
    response = httpx.get(f"{hf.url}{path}", params=params)

    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"]


# -- community changes -----------------------------------------------------------------------


def test_local_upvotes_count_and_hidden_papers_disappear(
    cli: Cli, runtime: Runtime, data_dir: Path
) -> None:
    cli("import", "hf-daily", AUGUST, "--no-progress")
    admin = confirmed_user(runtime.accounts, "ada@example.org", "ada")
    admin = runtime.accounts.set_role(admin.username, "admin")
    community = runtime
    community.discussion.upvote(admin, community.paper_ids.resolve("2607.27851"))  # 2 on HF
    community.moderation.set_paper_hidden(admin, community.paper_ids.resolve("2607.26654"), True)

    with live_server(runtime) as server:
        api = HfApi(endpoint=server.url, token=False)
        papers = list(api.list_daily_papers(date="2026-08-03"))
        upvoted = api.paper_info("2607.27851")
        with pytest.raises(HfHubHTTPError) as error:
            api.paper_info("2607.26654")

    assert sorted(p.id for p in papers) == ["2607.27851", "2607.28229"]
    assert upvoted.upvotes == 3
    assert error.value.response.status_code == 404
