"""The digest mail's content (digest/render.py): what each paper shows, escaping of hostile
text in both parts, TeX as plain text, the footer's links, the preheader, CSS inlined, no
remote resources, and a size well under Gmail's clipping limit at the largest digest."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from lxml import html

from paperfeed.community.cards import PaperCard
from paperfeed.digest.editions import Edition
from paperfeed.digest.preferences import MAX_PAPERS_LIMIT
from paperfeed.digest.render import Recipient, digest_links, render_digest, summary
from paperfeed.papers.text import first_sentence

BASE = "https://papers.example.org"
TOKEN = "tok_ABC-123"
NOW = dt.datetime(2026, 12, 2, 7, 0)
DAILY = Edition(id=1, kind="daily", period="2026-12-02", built_at=NOW, paper_ids=(1, 2))
WEEKLY = Edition(id=2, kind="weekly", period="2026-W49", built_at=NOW, paper_ids=(1, 2))
SCRIPT = '<script>window.__pwned=1;alert("x")</script>'
IMG = "<img src=x onerror=\"alert('img')\">"


def find(node: html.HtmlElement, selector: str) -> list[html.HtmlElement]:
    """Elements by `tag`, `.class` or `tag.class`, and a descendant `a` with ` a` (lxml's
    XPath: cssselect is not installed)."""
    path = ""
    for step in selector.split(" "):
        tag, _, cls = step.partition(".")
        test = f"[contains(concat(' ', normalize-space(@class), ' '), ' {cls} ')]" if cls else ""
        path += f"//{tag or '*'}{test}"
    found: list[html.HtmlElement] = node.xpath("." + path)
    return found


def card(n: int, **fields: object) -> PaperCard:
    values: dict[str, object] = {
        "paper_id": n,
        "arxiv_id": f"2612.{n:05d}",
        "title": f"Paper number {n}",
        "abstract": f"We present paper {n}. It has a second sentence.",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "categories": ["cs.LG", "cs.CL"],
        "submitted_at": NOW,
        "updated_at": NOW,
        "first_seen_at": NOW,
        "links": [],
        "upvotes": 10 * n,
    }
    values.update(fields)
    return PaperCard(**values)  # type: ignore[arg-type]


def render(cards: list[PaperCard], edition: Edition = DAILY) -> tuple[str, str, html.HtmlElement]:
    """(preheader, text part, HTML part parsed)."""
    rendered = render_digest(
        edition, cards, Recipient("reader@example.org", TOKEN), digest_links(BASE, edition, TOKEN)
    )
    return rendered.preheader, rendered.text, html.document_fromstring(rendered.html)


def test_each_paper_shows_title_link_authors_summary_upvotes_code_stars_and_categories() -> None:
    with_code = card(
        1,
        github_repo="https://github.com/ada/engine",
        github_stars=12345,
        ai_summary="An engine that computes Bernoulli numbers.",
        upvotes=42,
        authors=[f"Author {i}" for i in range(8)],
    )
    without = card(2, upvotes=1)
    _, text, doc = render([with_code, without])

    papers = find(doc, "table.sheet td.paper")  # rows of the page's table, in order
    assert len(papers) == 2 == len(find(doc, "td.paper"))
    first, second = papers
    link = find(first, "h2.title a")[0]
    assert (link.text_content(), link.get("href")) == (
        "Paper number 1",
        f"{BASE}/papers/2612.00001",
    )
    assert find(first, ".authors")[0].text_content() == (
        "Author 0, Author 1, Author 2, Author 3, Author 4 et al."
    )
    assert find(first, ".summary")[0].text_content() == "An engine that computes Bernoulli numbers."
    facts = find(first, ".facts")[0]
    assert "▲\xa042 upvotes" in facts.text_content()
    assert "★\xa012,345" in facts.text_content()
    assert "cs.LG, cs.CL" in facts.text_content()
    assert [a.get("href") for a in find(facts, "a")] == ["https://github.com/ada/engine"]
    # Without an AI summary: the abstract's first sentence; without code: no code link.
    assert find(second, ".summary")[0].text_content() == "We present paper 2."
    assert "▲\xa01 upvote " in find(second, ".facts")[0].text_content() + " "
    assert find(second, ".facts a") == []

    # The text part says the same.
    assert "1. Paper number 1\n" in text
    assert "   An engine that computes Bernoulli numbers.\n" in text
    assert "   ▲ 42 upvotes · code ★ 12,345 · cs.LG, cs.CL\n" in text
    assert "   Code: https://github.com/ada/engine\n" in text
    assert f"   {BASE}/papers/2612.00001\n" in text
    assert "2. Paper number 2\n   Ada Lovelace, Alan Turing\n   We present paper 2.\n" in text


def test_the_footer_says_why_and_links_preferences_unsubscribe_and_the_browser() -> None:
    _, text, doc = render([card(1)])
    foot = find(doc, "td.foot")[0]
    assert "reader@example.org is subscribed" in foot.text_content()
    hrefs = {a.text_content(): a.get("href") for a in find(foot, "a")}
    assert hrefs["Change your preferences"] == f"{BASE}/digest/preferences/{TOKEN}"
    assert hrefs["Unsubscribe"] == f"{BASE}/unsubscribe/{TOKEN}"
    assert hrefs["View in browser"] == f"{BASE}/digest/daily/2026-12-02"
    for url in (
        f"{BASE}/digest/preferences/{TOKEN}",
        f"{BASE}/unsubscribe/{TOKEN}",
        f"{BASE}/digest/daily/2026-12-02",
    ):
        assert url in text
    assert "reader@example.org is subscribed" in " ".join(text.split())


def test_hostile_titles_abstracts_and_authors_are_text_in_both_parts() -> None:
    hostile = card(
        1,
        title=f"Hostile {SCRIPT} title {IMG} with $\\alpha$-TeX",
        abstract=f"An abstract {SCRIPT} with {IMG}. More.",
        authors=[IMG, f"Eve {SCRIPT}"],
        categories=[f"cs.LG{IMG}"],
        github_repo="javascript:alert(1)",
        links=[{"kind": "github", "url": "javascript:alert(2)"}],
    )
    preheader, text, doc = render([hostile])
    title = f"Hostile {SCRIPT} title {IMG} with α-TeX"
    # HTML: no element came from the text, every text reads as written.
    assert doc.xpath("//script | //img | //*[@onerror]") == []
    assert find(doc, "h2.title a")[0].text_content() == title
    assert find(doc, ".summary")[0].text_content() == f"An abstract {SCRIPT} with {IMG}."
    assert find(doc, ".authors")[0].text_content() == f"{IMG}, Eve {SCRIPT}"
    assert not any("javascript" in (a.get("href") or "") for a in find(doc, "a"))
    assert (
        find(doc, "title")[0].text_content() == "Daily papers, Wednesday 2 December 2026: 1 paper"
    )
    # Text: plain, as written.
    flat = " ".join(text.split())  # (long lines are wrapped)
    assert f"1. {title}" in flat
    assert f"{IMG}, Eve {SCRIPT}" in flat
    assert f"An abstract {SCRIPT} with {IMG}." in flat
    assert "javascript" not in text
    assert preheader == f"Top: {title[:69].rsplit(' ', 1)[0]}…."
    assert find(doc, "div.preheader")[0].text_content().startswith(preheader)


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        (
            "$\\mathcal{O}(n \\log n)$ sorting with $\\epsilon$-nets",
            "O(n log n) sorting with ε-nets",
        ),
        ("Scaling to $10^{6}$ tokens", "Scaling to 10⁶ tokens"),
        ("\\emph{Attention} is all you need", "Attention is all you need"),
        ("A $\\frac{1}{2}$-approximation", "A $\\frac{1}{2}$-approximation"),  # left as written
    ],
)
def test_tex_in_titles_is_plain_text(title: str, shown: str) -> None:
    preheader, text, doc = render([card(1, title=title)])
    assert find(doc, "h2.title a")[0].text_content() == shown
    assert f"1. {shown}\n" in text
    assert shown in preheader


def test_the_preheader_is_hidden_first_text_and_complements_the_subject() -> None:
    rendered = render_digest(
        DAILY,
        [card(1), card(2), card(3)],
        Recipient("reader@example.org", TOKEN),
        digest_links(BASE, DAILY, TOKEN),
    )
    assert rendered.subject == "Daily papers, Wednesday 2 December 2026: 3 papers"
    assert rendered.preheader == "Top: Paper number 1. Also: Paper number 2; Paper number 3."
    doc = html.document_fromstring(rendered.html)
    body = find(doc, "body")[0]
    first = body[0]
    assert "preheader" in first.get("class", "")
    assert first.text_content().startswith(rendered.preheader)
    style = first.get("style", "").replace(" ", "")
    assert "display:none" in style and "mso-hide:all" in style


def test_a_weekly_digest_names_its_week() -> None:
    rendered = render_digest(
        WEEKLY, [card(1)], Recipient("r@example.org", TOKEN), digest_links(BASE, WEEKLY, TOKEN)
    )
    assert rendered.subject == "Papers of the week 2026-W49 (30 Nov - 06 Dec 2026): 1 paper"
    assert rendered.preheader == "Top: Paper number 1."
    assert "Papers of the week 2026-W49 (30 Nov - 06 Dec 2026)\nThe top 1 paper on" in rendered.text
    assert f"{BASE}/digest/weekly/2026-W49" in rendered.text


def test_css_is_inlined_dark_mode_declared_and_nothing_remote() -> None:
    rendered = render_digest(
        DAILY, [card(1)], Recipient("r@example.org", TOKEN), digest_links(BASE, DAILY, TOKEN)
    )
    doc = html.document_fromstring(rendered.html)
    metas = {m.get("name"): m.get("content") for m in doc.xpath("//meta[@name]")}
    assert metas["color-scheme"] == "light dark"
    # Styles are on the elements; the one <style> left holds only @media rules.
    assert "color:#1d1f23" in find(doc, ".summary")[0].get("style")
    (style,) = find(doc, "style")
    rules = re.sub(r"\{[^{}]*\}", "", style.text_content())  # the inner blocks
    assert re.sub(r"\s+", " ", rules).strip().split("@media")[1:], rules
    assert all(
        not chunk.strip() or chunk.strip().startswith("(") for chunk in rules.split("@media")
    )
    assert "prefers-color-scheme: dark" in style.text_content()
    # Nothing that a client would fetch: no images, scripts, stylesheets, fonts, frames.
    fetched = ["img", "script", "link", "iframe", "object", "embed", "video", "audio"]
    assert doc.xpath(" | ".join(f"//{tag}" for tag in fetched)) == []
    assert "url(" not in rendered.html and "@import" not in rendered.html
    assert "@font-face" not in rendered.html
    # Layout by tables, 600 px wide.
    sheet = find(doc, "table.sheet")[0]
    assert sheet.get("width") == "600" and sheet.get("role") == "presentation"


def test_the_largest_digest_stays_well_under_gmails_clipping_limit() -> None:
    """Gmail clips an HTML part over ~102 KB, hiding what follows (the footer). The largest
    digest a subscriber can choose, of papers with long titles, many authors and summaries,
    stays well under it; the unsubscribe link is also at the top, where no clipping hides it."""
    cards = [
        card(
            n,
            title=("Scaling Laws for Sparse Mixture-of-Experts Language Models " * 5)[:250],
            authors=[f"Firstname Lastname-Surname {i}" for i in range(40)],
            ai_summary="This paper " + "shows a long result about models " * 12 + ".",
            github_repo=f"https://github.com/some-organisation/a-long-repository-name-{n}",
            github_stars=123456,
            categories=["cs.LG", "cs.CL", "stat.ML", "cs.AI"],
            upvotes=1234,
        )
        for n in range(1, MAX_PAPERS_LIMIT + 1)
    ]
    rendered = render_digest(
        DAILY, cards, Recipient("r@example.org", TOKEN), digest_links(BASE, DAILY, TOKEN)
    )
    size = len(rendered.html.encode())
    assert size < 80_000, size
    assert f"{BASE}/unsubscribe/{TOKEN}" in rendered.html[:8000]
    assert f"{BASE}/unsubscribe/{TOKEN}" in rendered.html[-2000:]


def test_one_paper_adds_a_bounded_amount_whatever_the_catalog_holds() -> None:
    """Titles, names, summaries and links at the catalog's caps are cut for the mail."""
    long = "W" * 40
    huge = card(
        1,
        title=" ".join([long] * 50),
        authors=[" ".join([long] * 20)] * 100,
        ai_summary=" ".join(["summary"] * 2000),
        github_repo="https://github.com/" + "x" * 1900,
        github_stars=10**9,
        categories=[f"cs.{'X' * 900}"] * 100,
    )
    one = len(render([card(2)])[1]) + len(html.tostring(render([card(2)])[2]))
    both = len(render([card(2), huge])[1]) + len(html.tostring(render([card(2), huge])[2]))
    assert both - one < 4_000, both - one
    _, _, doc = render([huge])
    assert len(find(doc, "h2.title a")[0].text_content()) <= 300
    assert find(doc, ".facts a") == []  # a 1,900-character code link is left out


@pytest.mark.parametrize(
    ("abstract", "first"),
    [
        ("We study X. Then Y.", "We study X."),
        ("Smith et al. showed X. We extend it.", "Smith et al. showed X."),
        ("Models, e.g. BERT, are big. We shrink them.", "Models, e.g. BERT, are big."),
        ("Accuracy rises by 2.5 points. Costs fall.", "Accuracy rises by 2.5 points."),
        ("Is it true? Yes.", "Is it true?"),
        ("No full stop at all", "No full stop at all"),
        ("Ends with the sentence.", "Ends with the sentence."),
        ("A  line\n  continued. Next.", "A line continued."),
    ],
)
def test_first_sentence(abstract: str, first: str) -> None:
    assert first_sentence(abstract) == first


def test_a_long_first_sentence_is_cut_at_a_word() -> None:
    text = "word " * 200
    cut = first_sentence(text, limit=50)
    assert len(cut) <= 50 and cut.endswith("word…")


def test_the_summary_is_the_ai_summary_else_the_abstracts_first_sentence() -> None:
    assert summary(card(1, ai_summary="  It works.  Really.  ")) == "It works."
    assert summary(card(1, ai_summary="   ")) == "We present paper 1."
    assert summary(card(1, ai_summary=None, abstract="")) == ""


def test_recipients_of_one_edition_get_their_own_links_from_the_ready_parts() -> None:
    """The page and papers are made once and reused; what is put into their slots is the
    recipient's, and text that looks like a slot stays text."""
    sly = card(1, title="pfslotunsubscribe <!--pfslotitems--> pfslotwhy")
    first, second = (
        render_digest(DAILY, [sly, card(2)], Recipient(f"{name}@example.org", name), links)
        for name, links in (
            ("ann", digest_links(BASE, DAILY, "ann")),
            ("bob", digest_links(BASE, DAILY, "bob")),
        )
    )
    for rendered, name, other in ((first, "ann", "bob"), (second, "bob", "ann")):
        doc = html.document_fromstring(rendered.html)
        hrefs = doc.xpath("//a/@href")
        assert f"{BASE}/unsubscribe/{name}" in hrefs and f"{BASE}/unsubscribe/{other}" not in hrefs
        assert f"{BASE}/digest/preferences/{name}" in rendered.text
        assert f"{name}@example.org is subscribed" in " ".join(rendered.text.split())
        assert find(doc, "h2.title a")[0].text_content() == sly.title
        assert f"1. {sly.title}" in rendered.text
        assert len(find(doc, "table.sheet td.paper")) == 2
