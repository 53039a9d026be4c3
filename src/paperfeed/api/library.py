"""The library in the native API (`/api/v1`): collections and their papers with notes,
exports, read and "not interested" marks, follows, and the reader's ratings. All of it is
private to its reader, so every route takes an API token (`Authorization: Bearer pf_...`),
reads included; another reader's public collection can be read too. Thin over library/."""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictBool

from paperfeed.accounts.service import User
from paperfeed.api.schemas import ErrorResponse, Paper, UtcDatetime
from paperfeed.http.deps import (
    CardsDep,
    CollectionImporterDep,
    FollowsDep,
    LibraryDep,
    PaperIdsDep,
    RuntimeDep,
    SearchDep,
    SettingsDep,
    TokenUserDep,
)
from paperfeed.library.collections import (
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_NOTE,
    Collection,
    LibraryService,
)
from paperfeed.library.follows import FEED_PAPERS, MAX_QUERY, Follow, FollowService
from paperfeed.library.signals import reader_signals_of
from paperfeed.library.transfer import to_bibtex, to_json
from paperfeed.papers import periods
from paperfeed.papers.authors import MAX_NAME as MAX_AUTHOR
from paperfeed.papers.categories import known_categories

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse},
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    429: {"model": ErrorResponse},
}
router = APIRouter(prefix="/api/v1", tags=["library"], responses=ERRORS)
MAX_ID = 2**31 - 1
CollectionId = Annotated[int, Path(ge=1, le=MAX_ID, description="a collection's id")]
FollowId = Annotated[int, Path(ge=1, le=MAX_ID, description="a follow's id")]
# Text with something besides spaces in it (NUL characters are dropped). The class spells out
# every character that Python, JavaScript or Rust count as a space, so that the document, the
# validation and the service agree on what "only spaces" is.
NAME_PATTERN = (
    r"[^\x00\t\n\x0b\x0c\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
    r"\u3000\ufeff]"
)
CATEGORY_PATTERN = "^(?:" + "|".join(re.escape(c) for c in known_categories()) + ")$"


# -- shapes -------------------------------------------------------------------------------------


class CollectionIn(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)
    description: str = Field("", max_length=MAX_DESCRIPTION)
    public: StrictBool = Field(False, description="public: a page and an Atom feed anyone can read")


class CollectionChange(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    public: StrictBool | None = None


class CollectionOut(BaseModel):
    id: int
    name: str
    description: str
    public: bool
    owner: str
    size: int = Field(description="papers in it")
    url: str = Field(description="its page (for others only while it is public)")
    created_at: UtcDatetime
    updated_at: UtcDatetime

    @classmethod
    def of(cls, c: Collection, base: str) -> CollectionOut:
        return cls(
            id=c.id,
            name=c.name,
            description=c.description,
            public=c.public,
            owner=c.owner,
            size=c.size,
            url=f"{base}{c.path}",
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class ItemOut(BaseModel):
    paper: Paper
    note: str
    added_at: UtcDatetime


class CollectionDetail(CollectionOut):
    papers: list[ItemOut] = Field(description="most recently saved first")


class NoteIn(BaseModel):
    note: str | None = Field(
        None, max_length=MAX_NOTE, description="replaces the paper's note (null: keeps it)"
    )


class ImportIn(BaseModel):
    text: str = Field(
        min_length=1,
        description="a BibTeX file (a Zotero or Mendeley export too) or a list of arXiv ids "
        "or URLs, DOIs of arXiv papers and pf-N ids, one a line; at most the server's body "
        "limit (PAPERFEED_MAX_BODY_BYTES, 64 KiB by default); larger files go through the "
        "collection's page",
    )
    format: Literal["auto", "bibtex", "ids"] = Field(
        "auto", description="auto: BibTeX when the text holds an entry (`@article{`), else ids"
    )


class NotRecognisedOut(BaseModel):
    where: str
    why: str


class ImportOut(BaseModel):
    saved: int = Field(description="papers put into the collection")
    already: int = Field(description="papers that were in it already (or named twice)")
    added_to_catalog: int = Field(description="of the saved, papers new to the catalog")
    not_recognised: list[NotRecognisedOut]
    notices: list[str]


class MarkOut(BaseModel):
    id: str
    mark: Literal["read", "not-interested"]
    marked: bool


class MarkedPaper(BaseModel):
    paper: str
    at: UtcDatetime


class MarksOut(BaseModel):
    read: list[MarkedPaper]
    not_interested: list[MarkedPaper]


class AuthorFollowIn(BaseModel):
    name: str = Field(
        min_length=1,
        max_length=MAX_AUTHOR,
        pattern=NAME_PATTERN,
        description="the name as papers give it (a name without letters or digits names no one)",
    )


class CategoryFollowIn(BaseModel):
    category: str = Field(max_length=40, pattern=CATEGORY_PATTERN, description="e.g. cs.LG or cs")


class SearchFollowIn(BaseModel):
    q: str = Field(
        min_length=1, max_length=MAX_QUERY, pattern=NAME_PATTERN, description="query as on /search"
    )
    cat: str | None = Field(None, max_length=40, pattern=CATEGORY_PATTERN)
    since: str | None = Field(None, pattern=periods.DATE_PATTERN, description="YYYY-MM-DD")
    until: str | None = Field(None, pattern=periods.DATE_PATTERN, description="YYYY-MM-DD")


class FollowOut(BaseModel):
    id: int
    kind: Literal["author", "category", "search"]
    value: str = Field(description="the author's name, the category, or the query")
    filters: dict[str, str] = Field(description="a search's cat, since and until")
    label: str
    page: str = Field(description="the page listing the same papers")
    created_at: UtcDatetime | None

    @classmethod
    def of(cls, f: Follow) -> FollowOut:
        return cls(
            id=f.id,
            kind=f.kind,
            value=f.value,
            filters=f.filters,
            label=f.label,
            page=f.page,
            created_at=f.created_at,
        )


class Rating(BaseModel):
    paper: str
    upvoted: bool
    saved: bool


class RatingsOut(BaseModel):
    likes: list[Rating] = Field(description="papers upvoted or saved in a collection")
    dislikes: list[str] = Field(description='papers marked "not interested"')


# -- collections --------------------------------------------------------------------------------


def _base(settings: SettingsDep) -> str:
    return settings.base_url.rstrip("/")


@router.get("/collections", response_model=list[CollectionOut], summary="Your collections")
def list_collections(
    user: TokenUserDep, library: LibraryDep, settings: SettingsDep
) -> list[CollectionOut]:
    return [CollectionOut.of(c, _base(settings)) for c in library.collections(user)]


@router.post(
    "/collections",
    response_model=CollectionOut,
    status_code=201,
    responses={409: {"model": ErrorResponse}},
    summary="Create a collection",
)
def create_collection(
    body: CollectionIn, user: TokenUserDep, library: LibraryDep, settings: SettingsDep
) -> CollectionOut:
    made = library.create(user, body.name, description=body.description, public=body.public)
    return CollectionOut.of(made, _base(settings))


def _detail(library: LibraryService, user: User, collection_id: int, base: str) -> CollectionDetail:
    found = library.collection(user, collection_id)
    items = [
        ItemOut(paper=Paper.of(i.card), note=i.note, added_at=i.added_at)
        for i in library.items(user, collection_id)
    ]
    return CollectionDetail(**CollectionOut.of(found, base).model_dump(), papers=items)


@router.get(
    "/collections/{collection_id}",
    response_model=CollectionDetail,
    summary="A collection and its papers (yours, or a public one)",
)
def get_collection(
    collection_id: CollectionId, user: TokenUserDep, library: LibraryDep, settings: SettingsDep
) -> CollectionDetail:
    return _detail(library, user, collection_id, _base(settings))


@router.patch(
    "/collections/{collection_id}",
    response_model=CollectionOut,
    responses={409: {"model": ErrorResponse}},
    summary="Rename a collection, describe it, make it public or private",
)
def update_collection(
    collection_id: CollectionId,
    body: CollectionChange,
    user: TokenUserDep,
    library: LibraryDep,
    settings: SettingsDep,
) -> CollectionOut:
    changed = library.update(
        user, collection_id, name=body.name, description=body.description, public=body.public
    )
    return CollectionOut.of(changed, _base(settings))


@router.delete(
    "/collections/{collection_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a collection and its notes",
)
def delete_collection(
    collection_id: CollectionId, user: TokenUserDep, library: LibraryDep
) -> Response:
    library.delete(user, collection_id)
    return Response(status_code=204)


@router.put(
    "/collections/{collection_id}/items/{paper_id:paper}",
    response_model=ItemOut,
    summary="Save a paper into a collection, with a note",
)
def save_item(
    collection_id: CollectionId,
    paper_id: str,
    user: TokenUserDep,
    library: LibraryDep,
    paper_ids: PaperIdsDep,
    body: NoteIn | None = None,
) -> ItemOut:
    pid = paper_ids.resolve(paper_id)
    library.save(user, collection_id, pid, note=body.note if body else None)
    [item] = [i for i in library.items(user, collection_id) if i.card.paper_id == pid]
    return ItemOut(paper=Paper.of(item.card), note=item.note, added_at=item.added_at)


@router.delete(
    "/collections/{collection_id}/items/{paper_id:paper}",
    status_code=204,
    response_class=Response,
    summary="Take a paper out of a collection (idempotent)",
)
def remove_item(
    collection_id: CollectionId,
    paper_id: str,
    user: TokenUserDep,
    library: LibraryDep,
    paper_ids: PaperIdsDep,
) -> Response:
    library.remove(user, collection_id, paper_ids.resolve(paper_id))
    return Response(status_code=204)


@router.get(
    "/collections/{collection_id}/export",
    response_class=Response,
    responses={
        200: {
            "description": "the collection as BibTeX or JSON",
            "content": {
                "application/x-bibtex": {"schema": {"type": "string"}},
                "application/json": {},
            },
        }
    },
    summary="Export a collection as BibTeX or JSON",
)
def export_collection(
    collection_id: CollectionId,
    user: TokenUserDep,
    library: LibraryDep,
    settings: SettingsDep,
    format: Annotated[Literal["bibtex", "json"], Query()] = "bibtex",
) -> Response:
    found = library.collection(user, collection_id)
    items = library.items(user, collection_id)
    if format == "json":
        data = to_json(library, found, items, settings.base_url)
        return Response(json.dumps(data, ensure_ascii=False), media_type="application/json")
    return Response(to_bibtex(library, found, items), media_type="application/x-bibtex")


@router.post(
    "/collections/{collection_id}/import",
    response_model=ImportOut,
    summary="Fill a collection from BibTeX or a list of ids",
)
def import_collection(
    collection_id: CollectionId, body: ImportIn, user: TokenUserDep, importer: CollectionImporterDep
) -> ImportOut:
    """The same import as the collection's page: papers not in the catalog are fetched from
    arXiv when it can be reached (else saved by id), entries that name no paper are listed
    with the reason."""
    data = body.text.encode()
    report = importer.import_into(
        user,
        collection_id,
        data,
        fmt=None if body.format == "auto" else body.format,
        name="text",
    )
    return ImportOut(
        saved=report.saved,
        already=report.already,
        added_to_catalog=report.added_to_catalog,
        not_recognised=[NotRecognisedOut(where=w, why=y) for w, y in report.not_recognised],
        notices=report.notices,
    )


# -- marks ----------------------------------------------------------------------------------------


@router.get("/marks", response_model=MarksOut, summary='Your "read" and "not interested" marks')
def list_marks(user: TokenUserDep, library: LibraryDep, runtime: RuntimeDep) -> MarksOut:
    def marked(kind: Literal["read", "dismissed"]) -> list[MarkedPaper]:
        found = library.marked(user, kind)
        cards = {c.paper_id: c for c in runtime.cards.cards([p for p, _ in found])}
        return [MarkedPaper(paper=cards[p].public_id, at=at) for p, at in found if p in cards]

    return MarksOut(read=marked("read"), not_interested=marked("dismissed"))


def _mark(
    library: LibraryService,
    cards: CardsDep,
    user: User,
    pid: int,
    mark: Literal["read", "not-interested"],
    on: bool,
) -> MarkOut:
    library.mark(user, pid, "read" if mark == "read" else "dismissed", on=on)
    return MarkOut(id=cards.card(pid).public_id, mark=mark, marked=on)


@router.put("/marks/read/{paper_id:paper}", response_model=MarkOut, summary="Mark a paper read")
def mark_read(
    paper_id: str, user: TokenUserDep, library: LibraryDep, paper_ids: PaperIdsDep, cards: CardsDep
) -> MarkOut:
    return _mark(library, cards, user, paper_ids.resolve(paper_id), "read", True)


@router.delete("/marks/read/{paper_id:paper}", response_model=MarkOut, summary="Unmark read")
def unmark_read(
    paper_id: str, user: TokenUserDep, library: LibraryDep, paper_ids: PaperIdsDep, cards: CardsDep
) -> MarkOut:
    return _mark(library, cards, user, paper_ids.resolve(paper_id), "read", False)


@router.put(
    "/marks/not-interested/{paper_id:paper}",
    response_model=MarkOut,
    summary='Mark a paper "not interested" (a dislike)',
)
def mark_not_interested(
    paper_id: str, user: TokenUserDep, library: LibraryDep, paper_ids: PaperIdsDep, cards: CardsDep
) -> MarkOut:
    return _mark(library, cards, user, paper_ids.resolve(paper_id), "not-interested", True)


@router.delete(
    "/marks/not-interested/{paper_id:paper}",
    response_model=MarkOut,
    summary='Take a "not interested" mark away',
)
def unmark_not_interested(
    paper_id: str, user: TokenUserDep, library: LibraryDep, paper_ids: PaperIdsDep, cards: CardsDep
) -> MarkOut:
    return _mark(library, cards, user, paper_ids.resolve(paper_id), "not-interested", False)


@router.get("/ratings", response_model=RatingsOut, summary="Your likes and dislikes")
def ratings(user: TokenUserDep, runtime: RuntimeDep) -> RatingsOut:
    """Likes: papers you upvoted or saved in a collection; dislikes: papers you marked "not
    interested" (which wins over an upvote or a save). What recommendations learn from."""
    signals = reader_signals_of(runtime.reader, user.id)
    cards = {c.paper_id: c for c in runtime.cards.cards(sorted(signals.liked | signals.disliked))}
    return RatingsOut(
        likes=[
            Rating(paper=cards[p].public_id, upvoted=p in signals.upvoted, saved=p in signals.saved)
            for p in sorted(signals.liked)
            if p in cards
        ],
        dislikes=[cards[p].public_id for p in sorted(signals.disliked) if p in cards],
    )


# -- follows --------------------------------------------------------------------------------------


@router.get("/follows", response_model=list[FollowOut], summary="What you follow")
def list_follows(user: TokenUserDep, follows: FollowsDep) -> list[FollowOut]:
    return [FollowOut.of(f) for f in follows.follows(user)]


def _followed(
    follows: FollowService, user: User, kind: str, value: str, filters: dict[str, str] | None = None
) -> FollowOut:
    found, _ = follows.follow(user, kind, value, filters)
    return FollowOut.of(found)


@router.post(
    "/follows/authors", response_model=FollowOut, status_code=201, summary="Follow an author"
)
def follow_author(body: AuthorFollowIn, user: TokenUserDep, follows: FollowsDep) -> FollowOut:
    """Idempotent: following the same author again answers the existing follow."""
    return _followed(follows, user, "author", body.name)


@router.post(
    "/follows/categories", response_model=FollowOut, status_code=201, summary="Follow a category"
)
def follow_category(body: CategoryFollowIn, user: TokenUserDep, follows: FollowsDep) -> FollowOut:
    return _followed(follows, user, "category", body.category)


@router.post(
    "/follows/searches",
    response_model=FollowOut,
    status_code=201,
    summary="Follow a search, with its filters",
)
def follow_search(body: SearchFollowIn, user: TokenUserDep, follows: FollowsDep) -> FollowOut:
    filters = {"cat": body.cat or "", "since": body.since or "", "until": body.until or ""}
    return _followed(follows, user, "search", body.q, filters)


@router.delete(
    "/follows/{follow_id:int}", status_code=204, response_class=Response, summary="Unfollow"
)
def unfollow(follow_id: FollowId, user: TokenUserDep, follows: FollowsDep) -> Response:
    follows.unfollow(user, follow_id)
    return Response(status_code=204)


@router.get(
    "/follows/{follow_id:int}/papers",
    response_model=list[Paper],
    summary="The newest papers a follow finds (its feed)",
)
def follow_papers(
    follow_id: FollowId,
    user: TokenUserDep,
    follows: FollowsDep,
    search: SearchDep,
    limit: Annotated[int, Query(ge=1, le=FEED_PAPERS)] = 20,
) -> list[Paper]:
    found = follows.get(user, follow_id)
    return [Paper.of(c) for c in follows.papers(found, search, limit=limit)]
