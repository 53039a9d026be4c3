"""Library pages: saving papers into collections with notes, "mark read" and "not
interested" (form posts from every paper card and paper page), `/library`, a collection's
page (its owner edits, imports and exports it there; anyone reads a public one), and a
public collection's Atom feed. Thin over library/ (collections.py, transfer.py)."""

from __future__ import annotations

import json
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from paperfeed.accounts.service import User
from paperfeed.community.errors import CommunityError
from paperfeed.http.deps import (
    CollectionImporterDep,
    FormUserDep,
    LibraryDep,
    PaperIdsDep,
    SettingsDep,
    SignedInDep,
    ViewerDep,
)
from paperfeed.http.errors import status_of
from paperfeed.library.collections import (
    DEFAULT_COLLECTION,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_NOTE,
    LibraryService,
)
from paperfeed.library.transfer import (
    MAX_IMPORT_BYTES,
    ImportReport,
    sniff_format,
    to_bibtex,
    to_json,
)
from paperfeed.web.feeds import FEED_SIZE, atom_feed
from paperfeed.web.forms import redirect, safe_next
from paperfeed.web.templates import render

router = APIRouter(include_in_schema=False)
MAX_ID = 2**31 - 1
CollectionId = Annotated[int, Path(ge=1, le=MAX_ID)]
MARKED_SHOWN = 20


def _back(request: Request, fallback: str) -> str:
    """The page a card's form was posted from (ours only), else `fallback`."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc == request.headers.get("host"):
        return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))
    return fallback


# -- from a paper card or page ----------------------------------------------------------------


@router.post("/papers/{public_id:path}/save")
def save(
    request: Request,
    public_id: str,
    user: FormUserDep,
    paper_ids: PaperIdsDep,
    library: LibraryDep,
    collection: Annotated[str, Form(max_length=MAX_NAME * 2)] = DEFAULT_COLLECTION,
    note: Annotated[str, Form(max_length=MAX_NOTE)] = "",
) -> Response:
    """Saves the paper into the reader's collection of that name (made if new); a note
    given replaces the paper's note there, an empty one keeps it."""
    paper_id = paper_ids.resolve(public_id)
    chosen = library.named(user, collection or DEFAULT_COLLECTION)
    library.save(user, chosen.id, paper_id, note=note if note.strip() else None)
    return redirect(_back(request, f"/papers/{public_id}"), "saved")


def _mark(
    request: Request,
    public_id: str,
    user: User,
    paper_ids: PaperIdsDep,
    library: LibraryService,
    kind: Literal["read", "dismissed"],
    on: str,
) -> Response:
    library.mark(user, paper_ids.resolve(public_id), kind, on=on != "0")
    message = {"read": "marked-read", "dismissed": "dismissed"}[kind]
    return redirect(_back(request, f"/papers/{public_id}"), message if on != "0" else "unmarked")


@router.post("/papers/{public_id:path}/read")
def mark_read(
    request: Request,
    public_id: str,
    user: FormUserDep,
    paper_ids: PaperIdsDep,
    library: LibraryDep,
    on: Annotated[str, Form()] = "1",
) -> Response:
    return _mark(request, public_id, user, paper_ids, library, "read", on)


@router.post("/papers/{public_id:path}/not-interested")
def not_interested(
    request: Request,
    public_id: str,
    user: FormUserDep,
    paper_ids: PaperIdsDep,
    library: LibraryDep,
    on: Annotated[str, Form()] = "1",
) -> Response:
    return _mark(request, public_id, user, paper_ids, library, "dismissed", on)


# -- the reader's library -----------------------------------------------------------------------


@router.get("/library", response_class=HTMLResponse)
def library_page(request: Request, user: SignedInDep, library: LibraryDep) -> Response:
    return _library(request, user, library)


def _library(
    request: Request,
    user: User,
    library: LibraryService,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "library.html",
        status,
        title="Your library",
        collections=library.collections(user),
        read=library.marked_cards(user, "read", limit=MARKED_SHOWN),
        dismissed=library.marked_cards(user, "dismissed", limit=MARKED_SHOWN),
        error=error,
    )


@router.post("/library/collections")
def create_collection(
    request: Request,
    user: FormUserDep,
    library: LibraryDep,
    name: Annotated[str, Form(max_length=MAX_NAME * 2)],
    description: Annotated[str, Form(max_length=MAX_DESCRIPTION)] = "",
    public: Annotated[str, Form()] = "",
) -> Response:
    try:
        made = library.create(user, name, description=description, public=bool(public))
    except CommunityError as exc:
        return _library(request, user, library, str(exc), status_of(exc))
    return redirect(made.path, "collection-created")


# -- one collection -----------------------------------------------------------------------------


@router.get("/collections/{collection_id}", response_class=HTMLResponse)
def collection_page(
    request: Request, collection_id: CollectionId, user: ViewerDep, library: LibraryDep
) -> Response:
    """Its owner's page to edit it; anyone else's view of a public one; 404 otherwise."""
    return _collection(request, user, library, collection_id)


def _collection(
    request: Request,
    user: User | None,
    library: LibraryService,
    collection_id: int,
    *,
    error: str | None = None,
    report: ImportReport | None = None,
    status: int = 200,
) -> Response:
    found = library.collection(user, collection_id)
    return render(
        request,
        "collection.html",
        status,
        title=found.name,
        collection=found,
        owner=found.owned_by(user),
        items=library.items(user, collection_id),
        error=error,
        report=report,
        max_import_mib=MAX_IMPORT_BYTES // 2**20,
        feed=f"/feeds/collections/{found.id}.atom" if found.public else None,
    )


@router.post("/collections/{collection_id}/edit")
def edit_collection(
    request: Request,
    collection_id: CollectionId,
    user: FormUserDep,
    library: LibraryDep,
    name: Annotated[str, Form(max_length=MAX_NAME * 2)],
    description: Annotated[str, Form(max_length=MAX_DESCRIPTION)] = "",
    public: Annotated[str, Form()] = "",
) -> Response:
    try:
        library.update(user, collection_id, name=name, description=description, public=bool(public))
    except CommunityError as exc:
        library.own(user, collection_id)  # (404 first for anyone else's)
        return _collection(
            request, user, library, collection_id, error=str(exc), status=status_of(exc)
        )
    return redirect(f"/collections/{collection_id}", "collection-saved")


@router.post("/collections/{collection_id}/delete")
def delete_collection(
    collection_id: CollectionId, user: FormUserDep, library: LibraryDep
) -> Response:
    library.delete(user, collection_id)
    return redirect("/library", "collection-deleted")


@router.post("/collections/{collection_id}/note")
def edit_note(
    collection_id: CollectionId,
    user: FormUserDep,
    library: LibraryDep,
    paper_ids: PaperIdsDep,
    paper: Annotated[str, Form(max_length=300)],
    note: Annotated[str, Form(max_length=MAX_NOTE)] = "",
) -> Response:
    paper_id = paper_ids.resolve(paper)
    library.save(user, collection_id, paper_id, note=note)
    return redirect(f"/collections/{collection_id}#paper-{paper_id}", "note-saved")


@router.post("/collections/{collection_id}/remove")
def remove_item(
    collection_id: CollectionId,
    user: FormUserDep,
    library: LibraryDep,
    paper_ids: PaperIdsDep,
    paper: Annotated[str, Form(max_length=300)],
) -> Response:
    library.remove(user, collection_id, paper_ids.resolve(paper))
    return redirect(f"/collections/{collection_id}", "removed")


@router.post("/collections/{collection_id}/import", response_class=HTMLResponse)
async def import_into(
    request: Request,
    collection_id: CollectionId,
    user: FormUserDep,
    library: LibraryDep,
    importer: CollectionImporterDep,
    file: Annotated[UploadFile | None, File()] = None,
    pasted: Annotated[str, Form(max_length=MAX_IMPORT_BYTES)] = "",
    fmt: Annotated[Literal["auto", "bibtex", "ids"], Form(alias="format")] = "auto",
) -> Response:
    """A BibTeX file or a list of ids (uploaded, or pasted), saved into the collection; the
    page answers with what was saved, already there, and not recognised."""
    from starlette.concurrency import run_in_threadpool

    data, name = pasted.encode(), "pasted text"
    if file is not None and file.filename:
        data, name = await file.read(MAX_IMPORT_BYTES + 1), file.filename[:200]
    chosen = None if fmt == "auto" else fmt

    def work() -> Response:
        try:
            report = importer.import_into(
                user, collection_id, data, fmt=chosen or sniff_format(data), name=name
            )
        except CommunityError as exc:
            library.own(user, collection_id)
            return _collection(
                request, user, library, collection_id, error=str(exc), status=status_of(exc)
            )
        return _collection(request, user, library, collection_id, report=report)

    return await run_in_threadpool(work)


@router.get("/collections/{collection_id}/export.bib")
def export_bibtex(collection_id: CollectionId, user: ViewerDep, library: LibraryDep) -> Response:
    found = library.collection(user, collection_id)
    body = to_bibtex(library, found, library.items(user, collection_id))
    return _download(
        body, "application/x-bibtex; charset=utf-8", f"collection-{found.id}.bib", user
    )


@router.get("/collections/{collection_id}/export.json")
def export_json(
    collection_id: CollectionId, user: ViewerDep, library: LibraryDep, settings: SettingsDep
) -> Response:
    found = library.collection(user, collection_id)
    data = to_json(library, found, library.items(user, collection_id), settings.base_url)
    body = json.dumps(data, indent=2, ensure_ascii=False)
    return _download(body, "application/json", f"collection-{found.id}.json", user)


def _download(body: str, media_type: str, filename: str, user: User | None) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if user is not None:
        headers["Cache-Control"] = "private, no-store"
    return Response(body, media_type=media_type, headers=headers)


@router.get("/feeds/collections/{collection_id}.atom")
def collection_feed(
    collection_id: CollectionId, library: LibraryDep, settings: SettingsDep
) -> Response:
    """A public collection's papers, most recently saved first (404 for a private one)."""
    found = library.collection(None, collection_id)
    cards = [item.card for item in library.items(None, collection_id, limit=FEED_SIZE)]
    return atom_feed(
        settings,
        f"collection {found.name} by {found.owner}",
        f"/feeds/collections/{found.id}.atom",
        found.path,
        cards,
    )
