"""What lists and paper pages show of a paper, in a real browser (#19): one card for every
list (authors as links, date, categories, upvotes, Hugging Face's data), TeX as MathML,
comment counts that agree, the "new" badge by the daily list, authors' pages and feeds, and
thumbnails only with PAPERFEED_REMOTE_IMAGES."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from lxml import etree
from playwright.sync_api import Locator, Page, expect

from paperfeed.clock import FrozenClock
from tests.support.cli import Cli
from tests.web.support import Site, Watch, sign_up

HF = "fixtures/hf_papers"
HF_FILES = (
    "daily_papers_2026-06-12.json",  # AI summaries, organisations
    "daily_papers_2026-07-31.json",  # GitHub repositories and stars
    "daily_papers_2026-08-03_3-entries_pretty.json",  # thumbnails, a project page
)
OAI = "arxiv/oaipmh_oai_dc_2017Q1"
OAI_NS = {"oai": "http://www.openarchives.org/OAI/2.0/"}
# The two papers of the issue, with their TeX (OAI-PMH records of January 2017).
MATH_PAPERS = {
    "oai:arXiv.org:1701.07477": "2017-01-27-00.xml.gz",  # $m=c_\epsilon K\log \frac{c_1N}{K}$
    "oai:arXiv.org:1608.06066": "2017-01-03-00.xml.gz",  # $J_{eff}$
}
AUTHOR = "Rafal Kocielnik"  # an author of two of the June papers
AUTHOR_PAPERS = ["2606.12730", "2606.00467"]  # newest first (arXiv dates 10 June, 30 May)
THUMBNAILS = "https://cdn-thumbnails.huggingface.co"


def math_records(data_dir: Path, folder: Path) -> Path:
    """An OAI-PMH response holding just the two records with the issue's formulas."""
    envelope: Any = None
    kept = []
    for identifier, name in MATH_PAPERS.items():
        with gzip.open(data_dir / OAI / name) as stream:
            root = etree.parse(stream).getroot()
        envelope = root if envelope is None else envelope
        for record in root.iterfind(".//oai:record", OAI_NS):
            if record.findtext("oai:header/oai:identifier", namespaces=OAI_NS) == identifier:
                kept.append(record)
    assert len(kept) == 2
    list_records = envelope.find("oai:ListRecords", OAI_NS)
    for child in list(list_records):
        list_records.remove(child)
    list_records.extend(kept)
    path = folder / "math.xml"
    path.write_bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))
    return path


@pytest.fixture
def clock() -> FrozenClock:
    """The app's clock: 9 hours after the list of 3 August 2026 was made."""
    return FrozenClock(dt.datetime(2026, 8, 3, 9, 0))


@pytest.fixture
def start(serve: Callable[..., Site], clock: FrozenClock) -> Callable[..., Site]:
    """Starts the app over the test's catalog on `clock`; keyword arguments change settings."""
    return functools.partial(serve, clock=clock)


@pytest.fixture
def catalog(
    cli: Cli, data_dir: Path, tmp_path: Path, search_ready: None, seed_hf_daily_lists: None
) -> Cli:
    """The three real Hugging Face daily lists of HF_FILES (the seed, imported once per test
    process) and the two OAI-PMH records with the formulas, imported (and indexed for search)
    with the CLI as a user would."""
    cli("import", "oai-pmh", math_records(data_dir, tmp_path), "--no-progress")
    return cli


@pytest.fixture
def site(catalog: Cli, start: Callable[..., Site]) -> Site:
    site = start()
    site.runtime.search.search("warm up", limit=1)  # its model's sessions, before a page waits
    return site


def card_of(page: Page, arxiv_id: str) -> Locator:
    """The list item of this paper on a list."""
    return page.locator("li.paper").filter(has=page.locator(f'h3 a[href="/papers/{arxiv_id}"]'))


def ids_listed(page: Page) -> list[str]:
    hrefs = page.locator("ol.papers > li.paper h3 a").evaluate_all("els => els.map(e => e.href)")
    return [href.rsplit("/papers/", 1)[1] for href in hrefs]


def has_size(locator: Locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["width"] > 0 and box["height"] > 0


def test_math_in_titles_and_abstracts_renders_as_mathml(
    page: Page, site: Site, watch: Watch
) -> None:
    page.goto(f"{site.url}/papers/1701.07477")
    formula = page.locator("p.abstract math").filter(has=page.locator("mfrac")).first
    expect(formula).to_be_visible()
    assert has_size(formula)
    assert formula.evaluate("e => e.namespaceURI") == "http://www.w3.org/1998/Math/MathML"
    assert formula.locator("msub").first.text_content() == "cϵ"
    assert "\\frac" not in page.locator("p.abstract").inner_text()

    page.goto(f"{site.url}/papers/1608.06066")
    j_eff = page.locator("p.abstract math").filter(has_text=re.compile(r"J\s*e\s*f\s*f"))
    expect(j_eff.first).to_be_visible()
    assert has_size(j_eff.first)
    title = page.locator("main h1 math")  # $\alpha$-$\textrm{RuCl}_3$ in the title
    expect(title.first).to_be_visible()
    assert has_size(title.first)

    # Cards render it too (one card, one filter); search, the API and feeds keep the text.
    page.goto(f"{site.url}/search?q=Kitaev+RuCl3+photoemission")
    expect(card_of(page, "1608.06066").locator("h3 math").first).to_be_visible()
    api = httpx.get(f"{site.url}/api/v1/papers/1701.07477").json()
    assert r"$m=c_\epsilon K\log \frac{c_1N}{K}$" in api["abstract"]
    feed = httpx.get(f"{site.url}/feeds/search.atom?q=Kitaev+RuCl3").text
    assert r"$\alpha$-$\textrm{RuCl}_3$" in feed
    assert watch.csp_violations == [] and watch.script_errors == []


def test_hostile_tex_in_a_title_runs_and_links_nothing(
    page: Page, cli: Cli, data_dir: Path, tmp_path: Path, start: Callable[..., Site], watch: Watch
) -> None:
    [entry] = json.loads((data_dir / HF / HF_FILES[2]).read_text())[:1]
    entry["paper"]["title"] = entry["title"] = (
        r"$\text{<img src=x onerror=alert(1)>}$ and $\href{javascript:alert(2)}{click}$ "
        r"$\style{background:url(https://evil.example/x)}{y}$ <script>alert(3)</script>"
    )
    entry["paper"]["summary"] = entry["summary"] = r"$\mathrm{</math><svg onload=alert(4)>}$"
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps([entry]))
    cli("import", "hf-daily", path, "--no-progress", "--no-index")
    site = start()
    paper = entry["paper"]["id"]
    for url, heading in ((f"/papers/{paper}", "main h1"), ("/papers/date/2026-08-03", "h3")):
        page.goto(f"{site.url}{url}")
        title = page.locator(heading).first
        expect(title).to_contain_text("<script>alert(3)</script>")
        expect(title.locator("mtext").first).to_have_text("<img src=x onerror=alert(1)>")
        assert page.locator("main img, main svg, main script").count() == 0
        assert page.locator('[href^="javascript"], [style]').count() == 0
        expect(page.locator("main")).not_to_contain_text("evil.example")
    page.goto(f"{site.url}/papers/{paper}")
    # Letters in math mode, spaces dropped as TeX drops them; no element came of it.
    assert page.locator("p.abstract math").text_content() == "</math><svgonload=alert(4)>"
    assert page.locator("main svg").count() == 0
    assert watch.dialogs == [] and watch.script_errors == [] and watch.csp_violations == []


def test_every_list_shows_authors_date_categories_upvotes_on_one_card(
    page: Page, site: Site
) -> None:
    page.goto(f"{site.url}/papers/date/2026-06-12")
    card = card_of(page, "2606.12730")
    authors = card.locator("p.authors a.author")
    expect(authors.first).to_have_text(AUTHOR)
    expect(authors.first).to_have_attribute("href", "/authors/Rafal%20Kocielnik")
    expect(card.locator("p.authors")).to_contain_text("more")  # 5 of its authors shown
    expect(card.locator("time")).to_have_text("10 Jun 2026")
    expect(card.locator(".upvotes")).to_have_text("5 upvotes")
    # Hugging Face's data: the AI summary as one line, the repository with its stars.
    summary = card.locator("p.summary")
    expect(summary).to_contain_text("Psychometric assessments of LLM behavior")
    assert summary.evaluate("e => getComputedStyle(e).whiteSpace") == "nowrap"
    assert summary.evaluate("e => e.scrollWidth > e.clientWidth")  # one line, cut short
    expect(card.locator("a.code")).to_have_attribute("href", re.compile("^https://github.com/"))
    expect(card.locator(".stars")).to_have_text("★ 1")
    expect(card_of(page, "2606.00467").locator(".org")).to_have_text(
        "California institute of technology"
    )
    expect(card_of(page, "2606.13594").locator("a.project")).to_have_attribute(
        "href", "https://chicychen.github.io/dense-hetero-latent-mas/"
    )

    # Search results: the same card, with the snippet instead of the summary.
    page.goto(f"{site.url}/search?q=group+testing+sparse-graph+codes")
    card = card_of(page, "1701.07477")
    expect(card.locator("p.authors a.author")).to_have_text(
        ["Avinash Vem", "Nagaraj T. Janakiraman", "Krishna R. Narayanan"]
    )
    expect(card.locator("a.category")).to_have_text(["cs.IT"])
    expect(card.locator("a.category")).to_have_attribute("href", "/search?cat=cs.IT&sort=date")
    expect(card.locator("time")).to_have_attribute("datetime", "2017-01-25")
    expect(card.locator(".upvotes")).to_have_text("0 upvotes")
    expect(card.locator(".snippet mark").first).to_be_visible()

    # The author's page lists with the same card.
    card.locator("p.authors a.author", has_text="Avinash Vem").click()
    page.wait_for_url(f"{site.url}/authors/Avinash%20Vem")
    expect(page.locator("main h1")).to_have_text("Avinash Vem")
    expect(card_of(page, "1701.07477").locator("a.category")).to_have_text(["cs.IT"])

    # Trending: the same card (whatever it ranks).
    page.goto(f"{site.url}/trending")
    first = page.locator("ol.papers > li.paper").first
    expect(first.locator("p.authors a.author").first).to_have_attribute(
        "href", re.compile("^/authors/")
    )
    expect(first.locator(".upvotes")).to_have_text(re.compile(r"^\d+ upvotes?$"))


def test_paper_page_shows_all_of_hugging_face_data_and_no_remote_image(
    page: Page, site: Site, watch: Watch
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{site.url}/papers/2607.26654")
    expect(page.locator("dd.org")).to_have_text("University of Oxford")
    expect(page.locator("dd a.code")).to_have_attribute(
        "href", re.compile(r"^https://github\.com/")
    )
    expect(page.locator("dd .stars")).to_have_text("★ 2 stars")
    expect(page.locator("dd a.project")).to_have_attribute(
        "href", "https://www.lesswrong.com/posts/n5htoDGvKKJFAjji2"
    )
    page.goto(f"{site.url}/papers/2606.12730")
    expect(page.get_by_role("heading", name="AI summary")).to_be_visible()
    # Thumbnails are off by default: no image from another site, none allowed.
    response = page.goto(f"{site.url}/papers/date/2026-08-03")
    assert response is not None
    expect(page.locator("li.paper")).to_have_count(3)
    assert page.locator("img").count() == 0
    assert "huggingface" not in response.headers["content-security-policy"]
    assert all(url.startswith(site.url) for url in requested), requested
    assert watch.csp_violations == []


def test_thumbnails_only_with_remote_images_and_the_policy_allows_their_host_only(
    new_page: Callable[..., Page], catalog: Cli, start: Callable[..., Site], watch: Watch
) -> None:
    site = start(remote_images=True)
    page = new_page()
    foreign: list[str] = []

    def refuse(route: Any) -> None:  # the test does not go out to the network
        foreign.append(route.request.url)
        route.abort()

    page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), refuse)
    response = page.goto(f"{site.url}/papers/date/2026-08-03")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert f"img-src 'self' data: {THUMBNAILS};" in policy
    assert policy.count("https://") == 1  # that host, and no other
    expect(page.locator("li.paper img.thumb")).to_have_count(3)
    expect(card_of(page, "2607.26654").locator("img.thumb")).to_have_attribute(
        "src", f"{THUMBNAILS}/social-thumbnails/papers/2607.26654.png"
    )
    page.goto(f"{site.url}/papers/2607.26654")
    expect(page.locator("img.thumbnail")).to_have_attribute(
        "src", f"{THUMBNAILS}/social-thumbnails/papers/2607.26654.png"
    )
    assert foreign and all(url.startswith(f"{THUMBNAILS}/") for url in foreign), foreign
    assert watch.csp_violations == []


def test_comment_counts_agree_on_the_list_and_the_paper_page(page: Page, site: Site) -> None:
    hf_link = "https://huggingface.co/papers/2606.12730"
    page.goto(f"{site.url}/papers/date/2026-06-12")
    card = card_of(page, "2606.12730")
    expect(card.get_by_role("link", name="0 comments")).to_be_visible()
    expect(card.locator("a.hf-comments")).to_have_text("3 on Hugging Face")
    expect(card.locator("a.hf-comments")).to_have_attribute("href", hf_link)
    page.goto(f"{site.url}/papers/2606.12730")
    expect(page.locator("#comments-h")).to_have_text("Comments (0)")
    expect(page.locator(".comments a.hf-comments")).to_have_text("3 on Hugging Face")
    expect(page.locator(".comments a.hf-comments")).to_have_attribute("href", hf_link)

    sign_up(page, site, "ada")
    page.goto(f"{site.url}/papers/2606.12730")
    page.get_by_label(re.compile("^Your comment")).fill("Which items of table 2?")
    page.get_by_role("button", name="Post comment").click()
    expect(page.locator("#comments-h")).to_have_text("Comments (1)")
    expect(page.locator(".comments a.hf-comments")).to_have_text("3 on Hugging Face")
    page.goto(f"{site.url}/papers/date/2026-06-12")
    card = card_of(page, "2606.12730")
    expect(card.get_by_role("link", name="1 comment", exact=True)).to_be_visible()
    expect(card.locator("a.hf-comments")).to_have_text("3 on Hugging Face")
    api = httpx.get(f"{site.url}/api/v1/papers/2606.12730").json()
    assert (api["num_comments"], api["hf_comments"]) == (1, 3)
    # A paper with no comments on Hugging Face links nowhere.
    page.goto(f"{site.url}/search?q=group+testing+sparse-graph+codes")
    expect(card_of(page, "1701.07477").locator("a.hf-comments")).to_have_count(0)


def test_new_badge_means_first_on_a_daily_list_in_the_last_24_hours(
    page: Page, site: Site, clock: FrozenClock
) -> None:
    # 3 August, 09:00: the list made that midnight is new; every paper was imported on
    # another day (today, by the wall clock).
    page.goto(f"{site.url}/papers/date/2026-08-03")
    expect(page.locator("li.paper .badge")).to_have_count(3)
    page.goto(f"{site.url}/papers/date/2026-07-31")
    expect(page.locator("li.paper")).to_have_count(30)
    expect(page.locator("li.paper .badge")).to_have_count(0)

    clock.advance(dt.timedelta(hours=15, seconds=1))  # 24 hours and a second after
    page.goto(f"{site.url}/papers/date/2026-08-03")
    expect(page.locator("li.paper")).to_have_count(3)
    expect(page.locator("li.paper .badge")).to_have_count(0)

    # The day of the import: papers imported that day are not new for it (the OAI-PMH ones
    # are on no daily list; the daily lists are months old).
    imported = site.runtime.cards.card(site.runtime.paper_ids.resolve("1701.07477"))
    clock.set(imported.first_seen_at + dt.timedelta(minutes=1))
    page.goto(f"{site.url}/papers/date/2026-06-12")
    expect(page.locator("li.paper")).to_have_count(30)
    expect(page.locator("li.paper .badge")).to_have_count(0)
    page.goto(f"{site.url}/search?q=group+testing+sparse-graph+codes")
    expect(card_of(page, "1701.07477")).to_be_visible()
    expect(card_of(page, "1701.07477").locator(".badge")).to_have_count(0)


def test_author_pages_list_papers_newest_first_with_feed_and_api(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/papers/2606.00467")
    page.locator("main p.authors").get_by_role("link", name=AUTHOR).click()
    page.wait_for_url(f"{site.url}/authors/Rafal%20Kocielnik")
    expect(page.locator("main h1")).to_have_text(AUTHOR)
    expect(page.locator("p.count")).to_contain_text("2 papers")
    assert ids_listed(page) == AUTHOR_PAPERS

    # The name is matched normalised: case, accents and spacing do not count; part of it
    # is not the name.
    page.goto(f"{site.url}/authors/raf%C3%A1l%20%20KOCIELNIK")
    assert ids_listed(page) == AUTHOR_PAPERS
    response = page.goto(f"{site.url}/authors/Kocielnik")
    assert response is not None and response.status == 404
    expect(page.locator("main")).to_contain_text("No paper in the catalog has an author")

    page.goto(f"{site.url}/authors/Rafal%20Kocielnik")
    feed_link = page.locator('link[rel="alternate"][type="application/atom+xml"]')
    feed_url = feed_link.get_attribute("href")
    assert feed_url == "/feeds/authors/Rafal%20Kocielnik.atom"
    feed = feedparser.parse(httpx.get(f"{site.url}{feed_url}").content)
    assert not feed.bozo
    assert [e.link.rsplit("/papers/", 1)[1] for e in feed.entries] == AUTHOR_PAPERS
    assert feed.feed.title == f"paperfeed: papers by {AUTHOR}"

    api = httpx.get(f"{site.url}/api/v1/authors/rafal%20kocielnik/papers", params={"limit": 1})
    assert api.status_code == 200
    body = api.json()
    assert (body["total"], [p["id"] for p in body["papers"]]) == (2, AUTHOR_PAPERS[:1])
    nobody = httpx.get(f"{site.url}/api/v1/authors/Nobody%20Atall/papers").json()
    assert (nobody["total"], nobody["papers"]) == (0, [])
