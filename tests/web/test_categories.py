"""Hugging Face daily papers come without categories: after the import they carry the
categories their nearest categorised papers vote for, marked as predicted on the pages and in
the API, and `cat:` finds them (Chromium, the real model, the real index)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
from playwright.sync_api import Page, expect

from paperfeed.papers.categories import is_known_category
from tests.support.cli import Cli
from tests.web.support import HF_DAILY, Site

TRANSFORMER = "fixtures/arxiv_api/query_transformer_cs.LG_2026-06-14.xml"  # 5 cs.LG papers
# 25 cs.AI/LG/CL papers, 3 of them on the Hugging Face list
AI_LG_CL = "fixtures/arxiv_api/query_cs.AI-LG-CL_max25_2026-08-02.xml"
OAI = "fixtures/arxiv_oai/ListRecords_arXiv_set-cs_2015-01-16_2015-01-18.xml"  # 46 cs papers


def test_daily_papers_get_predicted_categories_that_cat_finds(
    page: Page, serve: Callable[..., Site], cli: Cli, data_dir: Path, search_ready: None
) -> None:
    cli("import", "arxiv-atom", data_dir / TRANSFORMER, "--no-progress")
    cli("import", "oai-pmh", data_dir / OAI, "--no-progress")
    # The import embeds the 30 papers and has their neighbours vote (no command to run).
    cli("import", "hf-daily", data_dir / HF_DAILY, "--no-progress")
    site = serve()

    daily = httpx.get(f"{site.url}/api/v1/daily", params={"date": "2026-07-31"}).json()
    listed = daily["papers"]
    assert len(listed) == 30
    assert all(p["categories"] and p["categories_predicted"] for p in listed)
    assert all(is_known_category(c) for p in listed for c in p["categories"])
    assert sum(p["categories"][0].startswith("cs.") for p in listed) >= 25  # ML papers
    # Papers with arXiv's categories are not marked.
    arxiv_paper = httpx.get(f"{site.url}/api/v1/papers/2606.13591").json()
    assert arxiv_paper["categories_predicted"] is False

    # Every paper is found by `cat:` with its predicted primary category.
    by_category: dict[str, list[str]] = {}
    for paper in listed:
        by_category.setdefault(paper["categories"][0], []).append(paper["id"])
    category, ids = max(by_category.items(), key=lambda item: len(item[1]))
    found = httpx.get(
        f"{site.url}/api/v1/search",
        params={"q": f"cat:{category} since:2026-07", "limit": 100, "mode": "lexical"},
    ).json()
    assert set(ids) <= {r["id"] for r in found["results"]}

    # In the browser: the search page with the filter, the card's and the paper's marks.
    paper = next(p for p in listed if p["id"] == ids[0])
    words = " ".join(re.findall(r"[A-Za-z]+", paper["title"])[:6])
    page.goto(f"{site.url}/search?" + urlencode({"q": f"cat:{category} since:2026-07 {words}"}))
    item = page.locator("li.paper").filter(
        has=page.get_by_role("link", name=paper["title"], exact=True)
    )
    expect(item).to_have_count(1)
    page.goto(f"{site.url}/papers/date/2026-07-31")
    card = page.locator("li.paper").filter(
        has=page.get_by_role("link", name=paper["title"], exact=True)
    )
    expect(card.locator(".categories")).to_contain_text(f"{category}")
    expect(card.locator(".categories .predicted")).to_have_text("(predicted)")
    page.goto(f"{site.url}/papers/{paper['id']}")
    expect(page.locator("main dd").filter(has_text=category)).to_contain_text(
        "predicted from similar papers"
    )

    shown = cli("papers", "show", paper["id"]).stdout
    predicted = f"categories: {', '.join(paper['categories'])} (predicted from similar papers)"
    assert predicted in shown
    assert json.loads(cli("papers", "show", paper["id"], "--json").stdout)["categories_predicted"]

    # arXiv's data for three of the papers arrives (as from a harvest or a fetch): their
    # categories replace the predicted ones, and the marks go.
    cli("import", "arxiv-atom", data_dir / AI_LG_CL, "--no-progress")
    from_arxiv = set(re.findall(r"abs/(\d{4}\.\d{5})v", (data_dir / AI_LG_CL).read_text()))
    after = httpx.get(f"{site.url}/api/v1/daily", params={"date": "2026-07-31"}).json()
    replaced = [p for p in after["papers"] if p["id"] in from_arxiv]
    assert len(replaced) == 3
    assert not any(p["categories_predicted"] for p in replaced)
    atom = (data_dir / AI_LG_CL).read_text()
    for p in replaced:
        entry = atom[atom.index(f"abs/{p['id']}v") :]
        entry = entry[: entry.index("</entry>")]
        assert p["categories"] == re.findall(r'<category term="([^"]+)"', entry)
    page.goto(f"{site.url}/papers/date/2026-07-31")
    card = page.locator("li.paper").filter(
        has=page.get_by_role("link", name=replaced[0]["title"], exact=True)
    )
    expect(card.locator(".categories")).to_have_text(" ".join(replaced[0]["categories"][:3]))

    # The command finds nothing left to do; --again votes anew, the 76 arXiv papers voting.
    assert json.loads(cli("papers", "predict-categories", "--json").stdout)["predicted"] == 0
    again = json.loads(cli("papers", "predict-categories", "--again", "--json").stdout)
    assert again == {"predicted": 27, "without_vector": 0, "reference": 76}
