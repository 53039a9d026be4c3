"""The digest's pages: each edition (`/digest/daily/YYYY-MM-DD`, `/digest/weekly/YYYY-Www`,
the mail's "view in browser" link), and the pages behind the links in every mail, which work
without signing in (the subscription's token in the URL is the capability):
preferences (`/digest/preferences/TOKEN`) and unsubscribe (`/unsubscribe/TOKEN`). A signed-in
user with a subscription changes the same preferences on the account page.

Mail scanners open every link of a mail: opening one changes nothing. Changes are form posts
(CSRF-checked), with one exception: the RFC 8058 one-click POST a mail client sends to the
List-Unsubscribe URL, with the body `List-Unsubscribe=One-Click` and no cookies, unsubscribes
at once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.accounts.service import User
from paperfeed.digest.editions import check_kind
from paperfeed.digest.preferences import (
    DEFAULT_MAX_PAPERS,
    MAX_PAPERS_LIMIT,
    BadPreferences,
    Preferences,
    PreferenceService,
)
from paperfeed.digest.render import summary
from paperfeed.digest.subscriptions import Subscription
from paperfeed.http.deps import (
    CsrfChecked,
    DigestPreferencesDep,
    EditionsDep,
    SubscriptionsDep,
    ViewerDep,
    check_csrf,
    get_runtime,
)
from paperfeed.web.forms import redirect
from paperfeed.web.templates import render

router = APIRouter(include_in_schema=False)
EDITION_PAGE_SIZE = 50
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058's POST body, the whole of it


def _private(response: Response) -> Response:
    """Pages named by a subscription's token show its address: no cache keeps them."""
    response.headers["cache-control"] = "private, no-store"
    response.headers["x-robots-tag"] = "noindex"
    return response


# -- preferences ---------------------------------------------------------------------------------

Frequency = Annotated[str, Form(max_length=10)]
DigestCategories = Annotated[str, Form(max_length=2000)]
MaxPapers = Annotated[str, Form(max_length=10)]
CodeOnly = Annotated[str, Form(max_length=10)]
Flag = Annotated[str, Form(max_length=10)]


@dataclass(frozen=True)
class SectionChoice:
    """The personal sections checked on the form (None: the form had no such fields)."""

    for_you: bool | None = None
    follows: bool | None = None
    trending: bool | None = None


def section_choice(
    sections: Flag = "", for_you: Flag = "", follows: Flag = "", trending: Flag = ""
) -> SectionChoice:
    """Unchecked boxes are not posted: the form's `sections=1` says that it showed them."""
    if sections != "1":
        return SectionChoice()
    return SectionChoice(for_you == "1", follows == "1", trending == "1")


SectionsForm = Annotated[SectionChoice, Depends(section_choice)]


def parse_categories(text: str) -> list[str]:
    """`cs.LG, cs.CL math` → ["cs.LG", "cs.CL", "math"] (commas or spaces between)."""
    return [c for c in re.split(r"[\s,;]+", text) if c]


def save_preferences(
    preferences: PreferenceService,
    subscription_id: int,
    *,
    frequency: str,
    categories: str,
    max_papers: str,
    code_only: str,
    sections: SectionChoice | None = None,
) -> None:
    """Stores what the form sent (BadPreferences, with a message, changes nothing). Nothing
    is sent because of a change: the next edition follows the new preferences."""
    try:
        count = int(max_papers.strip() or DEFAULT_MAX_PAPERS)
    except ValueError:
        raise BadPreferences(
            f"the number of papers must be a whole number from 1 to {MAX_PAPERS_LIMIT}"
        ) from None
    preferences.set(
        subscription_id,
        frequency=frequency,
        categories=parse_categories(categories),
        max_papers=count,
        code_only=code_only == "1",
        for_you=sections.for_you if sections else None,
        follows=sections.follows if sections else None,
        trending=sections.trending if sections else None,
    )


def _preferences_page(
    request: Request,
    subscription: Subscription,
    prefs: Preferences,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    return _private(
        render(
            request,
            "digest_preferences.html",
            400 if error else 200,
            title="Your digest preferences",
            subscription=subscription,
            prefs=prefs,
            action=f"/digest/preferences/{subscription.token}",
            unsubscribe=f"/unsubscribe/{subscription.token}",
            error=error,
            form=form,
            max_limit=MAX_PAPERS_LIMIT,
        )
    )


def _known(subscriptions: SubscriptionsDep, token: str) -> Subscription:
    found = subscriptions.by_token(token)
    if found is None:
        raise HTTPException(404, "this link is not valid (any more)")
    return found


@router.get("/digest/preferences/{token}", response_class=HTMLResponse)
def preferences_page(
    request: Request,
    token: str,
    subscriptions: SubscriptionsDep,
    preferences: DigestPreferencesDep,
) -> Response:
    subscription = _known(subscriptions, token)
    found = preferences.get_by_token(token)
    return _preferences_page(request, subscription, found[1] if found else Preferences())


@router.post("/digest/preferences/{token}", response_class=HTMLResponse)
def change_preferences(
    request: Request,
    token: str,
    subscriptions: SubscriptionsDep,
    preferences: DigestPreferencesDep,
    frequency: Frequency,
    _: CsrfChecked,
    sections: SectionsForm,
    categories: DigestCategories = "",
    max_papers: MaxPapers = "",
    code_only: CodeOnly = "",
) -> Response:
    subscription = _known(subscriptions, token)
    found = preferences.get_by_token(token)
    if found is None or subscription.status == "unsubscribed":
        return _preferences_page(request, subscription, Preferences())
    form = {"frequency": frequency, "categories": categories, "max_papers": max_papers}
    try:
        save_preferences(
            preferences,
            found[0],
            frequency=frequency,
            categories=categories,
            max_papers=max_papers,
            code_only=code_only,
            sections=sections,
        )
    except BadPreferences as exc:
        return _preferences_page(
            request, subscription, found[1], error=str(exc), form=form | {"code_only": code_only}
        )
    return _private(redirect(f"/digest/preferences/{token}", "preferences-saved"))


def account_subscription(request: Request, user: User) -> tuple[Subscription, int] | None:
    """The digest subscription of a signed-in user's address, and its id (None without one,
    or after an unsubscribe)."""
    rt = get_runtime(request)
    subscription = rt.subscriptions.get(user.email)
    found = rt.digest_preferences.get_by_token(subscription.token) if subscription else None
    if subscription is None or found is None or subscription.status == "unsubscribed":
        return None
    return subscription, found[0]


def account_digest(
    request: Request, user: User, *, form: dict[str, str] | None = None
) -> dict[str, Any]:
    """What the account page shows of the user's digest (the form's values after an
    error)."""
    found = account_subscription(request, user)
    if found is None:
        return {"digest_subscription": None}
    subscription, subscription_id = found
    return {
        "digest_subscription": subscription,
        "prefs": get_runtime(request).digest_preferences.get(subscription_id),
        "action": "/account/digest",
        "max_limit": MAX_PAPERS_LIMIT,
        "form": form,
    }


# -- unsubscribe ---------------------------------------------------------------------------------


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, subscriptions: SubscriptionsDep) -> Response:
    """One button; opening the link changes nothing (mail scanners open every link)."""
    subscription = _known(subscriptions, token)
    return _private(
        render(
            request,
            "unsubscribe.html",
            title="Unsubscribe",
            subscription=subscription,
            preferences=f"/digest/preferences/{token}",
        )
    )


async def _form_fields(request: Request) -> list[tuple[str, str]]:
    form = await request.form()
    # An uploaded file is never part of a one-click body: it stays in the list as a marker.
    return [(k, v if isinstance(v, str) else "\0file") for k, v in form.multi_items()]


def one_click_or_csrf(
    request: Request, fields: Annotated[list[tuple[str, str]], Depends(_form_fields)]
) -> None:
    """RFC 8058's one-click POST passes as it is; every other post is a form of ours and
    must carry its CSRF token (403 otherwise).

    The one-click POST comes from a mail client or its provider's servers, with no cookie
    and often no Origin, so it cannot carry a CSRF token; it needs none: the subscription's
    unguessable token in the URL is the authority to unsubscribe (it is only in mails to
    that address), and all such a POST can do is unsubscribe. Only a body of exactly
    `List-Unsubscribe=One-Click` is exempt."""
    if fields != [ONE_CLICK]:
        check_csrf(request, dict(fields).get("csrf_token"))


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(
    request: Request,
    token: str,
    _: Annotated[None, Depends(one_click_or_csrf)],
    subscriptions: SubscriptionsDep,
) -> Response:
    """The page's button, or a mail client's one-click unsubscribe (RFC 8058)."""
    found = subscriptions.unsubscribe(token)
    if found is None:
        raise HTTPException(404, "this unsubscribe link is not valid")
    return _private(
        render(
            request,
            "message.html",
            title="Unsubscribed",
            heading="Unsubscribed",
            message=f"{found.email} will get no more trending-papers emails.",
        )
    )


# -- editions (after /digest/preferences/TOKEN, which their path would match too) ----------


@router.get("/digest/{kind}/{period}", response_class=HTMLResponse)
def edition_page(
    request: Request, kind: str, period: str, editions: EditionsDep, user: ViewerDep
) -> Response:
    edition = editions.get(check_kind(kind), period)
    if edition is None:
        raise HTTPException(404, f"no {kind} digest has been made for {period}")
    cards = editions.card_service.cards(edition.paper_ids[:EDITION_PAGE_SIZE], viewer=user)
    return render(
        request,
        "digest.html",
        title=edition.title,
        edition=edition,
        cards=cards,
        summaries={card.paper_id: summary(card) for card in cards},
        total=len(edition.paper_ids),
        feed=f"/feeds/digest/{edition.kind}.atom",
    )
