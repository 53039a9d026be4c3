"""Authors' pages: `/authors/NAME`, an author's papers newest first (CardService.by_author)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.community.cards import AUTHOR_CANDIDATES
from paperfeed.http.deps import CardsDep, FollowsDep, SearchDep, ViewerDep
from paperfeed.papers.authors import MAX_NAME, author_path
from paperfeed.web.templates import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/authors/{name:path}", response_class=HTMLResponse)
def author_page(
    request: Request,
    name: str,
    cards: CardsDep,
    search: SearchDep,
    user: ViewerDep,
    follows: FollowsDep,
    page: Annotated[int, Query(ge=1, le=AUTHOR_CANDIDATES // PAGE_SIZE)] = 1,
) -> Response:
    name = name.strip()[:MAX_NAME]
    listed, total = cards.by_author(
        search, name, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, viewer=user
    )
    path = author_path(name)
    follow = follows.following(user, "author", name) if user is not None and total else None
    return render(
        request,
        "author.html",
        200 if total else 404,
        title=name or "Authors",
        name=name,
        cards=listed,
        total=total,
        page=page,
        pages=math.ceil(total / PAGE_SIZE),
        path=path,
        feed=f"/feeds{path}.atom" if total else None,
        follow=follow,
    )
