"""Typed request dependencies shared by pages, feeds and both APIs: the runtime and its
services, the signed-in user (optional or required, by session cookie or API token), CSRF
checks and rate limits. Handlers declare what they need, e.g.

    def page(community: CommunityDep, user: ViewerDep) -> Response: ...
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Form, HTTPException, Request, Security
from fastapi.security import HTTPBearer

from paperfeed.accounts.rate_limit import Limit
from paperfeed.accounts.service import AccountService, ApiTokenError, User
from paperfeed.clock import Clock
from paperfeed.community.cards import CardService
from paperfeed.community.daily import DailyService
from paperfeed.community.discussion import DiscussionService
from paperfeed.community.members import MemberService
from paperfeed.community.moderation import ModerationService
from paperfeed.community.signals import TrendingService
from paperfeed.community.submissions import SubmissionService
from paperfeed.config import Settings
from paperfeed.digest.editions import EditionService
from paperfeed.digest.preferences import PreferenceService
from paperfeed.digest.subscriptions import SubscriptionService
from paperfeed.http.security import client_address, csrf_token, csrf_valid
from paperfeed.library.collections import LibraryService
from paperfeed.library.follows import FollowService
from paperfeed.library.transfer import CollectionImporter
from paperfeed.mail.messages import Messages
from paperfeed.papers.catalog import Catalog
from paperfeed.papers.lookup import PaperIds
from paperfeed.runtime import Runtime
from paperfeed.search.service import SearchService

SESSION_COOKIE = "pf_session"


# Where each request carries its app's runtime (the routes are one set per process, shared by
# every app: http/app.py `_routes`).
RUNTIME_KEY = "paperfeed.runtime"


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.scope[RUNTIME_KEY]
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _settings(rt: RuntimeDep) -> Settings:
    return rt.settings


def _clock(rt: RuntimeDep) -> Clock:
    return rt.clock


def _catalog(rt: RuntimeDep) -> Catalog:
    return rt.catalog


def _search(rt: RuntimeDep) -> SearchService:
    return rt.search


def _cards(rt: RuntimeDep) -> CardService:
    return rt.cards


def _paper_ids(rt: RuntimeDep) -> PaperIds:
    return rt.paper_ids


def _daily(rt: RuntimeDep) -> DailyService:
    return rt.daily


def _trending(rt: RuntimeDep) -> TrendingService:
    return rt.trending


def _discussion(rt: RuntimeDep) -> DiscussionService:
    return rt.discussion


def _members(rt: RuntimeDep) -> MemberService:
    return rt.members


def _moderation(rt: RuntimeDep) -> ModerationService:
    return rt.moderation


def _submissions(rt: RuntimeDep) -> SubmissionService:
    return rt.submissions


def _accounts(rt: RuntimeDep) -> AccountService:
    return rt.accounts


def _subscriptions(rt: RuntimeDep) -> SubscriptionService:
    return rt.subscriptions


def _editions(rt: RuntimeDep) -> EditionService:
    return rt.editions


def _digest_preferences(rt: RuntimeDep) -> PreferenceService:
    return rt.digest_preferences


def _messages(rt: RuntimeDep) -> Messages:
    return rt.messages


def _library(rt: RuntimeDep) -> LibraryService:
    return rt.library


def _follows(rt: RuntimeDep) -> FollowService:
    return rt.follows


def _collection_importer(rt: RuntimeDep) -> CollectionImporter:
    return rt.collection_importer


SettingsDep = Annotated[Settings, Depends(_settings)]
ClockDep = Annotated[Clock, Depends(_clock)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
SearchDep = Annotated[SearchService, Depends(_search)]
CardsDep = Annotated[CardService, Depends(_cards)]
PaperIdsDep = Annotated[PaperIds, Depends(_paper_ids)]
DailyDep = Annotated[DailyService, Depends(_daily)]
TrendingDep = Annotated[TrendingService, Depends(_trending)]
DiscussionDep = Annotated[DiscussionService, Depends(_discussion)]
MembersDep = Annotated[MemberService, Depends(_members)]
ModerationDep = Annotated[ModerationService, Depends(_moderation)]
SubmissionsDep = Annotated[SubmissionService, Depends(_submissions)]
AccountsDep = Annotated[AccountService, Depends(_accounts)]
SubscriptionsDep = Annotated[SubscriptionService, Depends(_subscriptions)]
MessagesDep = Annotated[Messages, Depends(_messages)]
EditionsDep = Annotated[EditionService, Depends(_editions)]
DigestPreferencesDep = Annotated[PreferenceService, Depends(_digest_preferences)]
LibraryDep = Annotated[LibraryService, Depends(_library)]
FollowsDep = Annotated[FollowService, Depends(_follows)]
CollectionImporterDep = Annotated[CollectionImporter, Depends(_collection_importer)]


# -- who is asking ------------------------------------------------------------------------------


def viewer(request: Request) -> User | None:
    """The user signed in by session cookie (looked up once per request), or None."""
    missing = object()
    user = getattr(request.state, "viewer", missing)
    if user is missing:
        token = request.cookies.get(SESSION_COOKIE)
        user = get_runtime(request).accounts.session_user(token) if token else None
        request.state.viewer = user
    assert user is None or isinstance(user, User)
    return user


ViewerDep = Annotated[User | None, Depends(viewer)]


def signed_in_user(user: ViewerDep) -> User:
    if user is None:
        raise HTTPException(401, "sign in first")
    return user


SignedInDep = Annotated[User, Depends(signed_in_user)]

# Declares the scheme in the OpenAPI document; token_user itself reads and checks the header.
BEARER = HTTPBearer(
    auto_error=False, description="an API token, created on /account: `Bearer pf_...`"
)


def token_user(
    request: Request, accounts: AccountsDep, _: Annotated[object, Security(BEARER)] = None
) -> User:
    """The user an API token (`Authorization: Bearer pf_...`) belongs to. 401 without one
    ("an API token is required"), and for a token that does not let its bearer in: "invalid
    API token" (unknown or revoked), or when it expired."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401,
            "an API token is required: `Authorization: Bearer pf_...` (create one on /account)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return accounts.check_api_token(token.strip())
    except ApiTokenError as exc:
        raise HTTPException(
            401, str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from None


TokenUserDep = Annotated[User, Depends(token_user)]


# -- form posts -----------------------------------------------------------------------------------

# The CSRF token every form posts back (see http/security.py).
Csrf = Annotated[str | None, Form(alias="csrf_token")]


def csrf_binding(request: Request) -> tuple[bytes, str | None]:
    """What this request's CSRF token is bound to: the server secret, and the session cookie
    when it signs someone in (see http/security.py)."""
    session = request.cookies.get(SESSION_COOKIE) if viewer(request) is not None else None
    return get_runtime(request).secret, session


def form_csrf_token(request: Request) -> str:
    """The token the forms of this page carry."""
    return csrf_token(request, *csrf_binding(request))


def _own_origins(request: Request) -> set[str]:
    """This site's origins: the one the request was made to, and that of PAPERFEED_BASE_URL
    (behind a proxy that terminates TLS but is not among the trusted proxies, the request
    itself looks like plain HTTP)."""
    base = urlsplit(get_runtime(request).settings.base_url)
    return {
        f"{request.url.scheme}://{request.headers.get('host', '')}",
        f"{base.scheme}://{base.netloc}",
    }


def check_csrf(request: Request, csrf_token: Csrf = None) -> None:
    """Refuses (403) a form post from another site: a foreign or opaque (`null`) Origin, or a
    token that is not the one this browser and session were given."""
    origin = request.headers.get("origin")
    if origin is not None and origin not in _own_origins(request):
        raise HTTPException(403, "cross-site form post refused")
    if not csrf_valid(request, *csrf_binding(request), csrf_token):
        raise HTTPException(
            403, "this form expired or came from another site; reload the page and try again"
        )


CsrfChecked = Annotated[None, Depends(check_csrf)]


def form_user(_: CsrfChecked, user: ViewerDep) -> User:
    """The signed-in user posting a form (CSRF checked first: 403 before 401)."""
    return signed_in_user(user)


FormUserDep = Annotated[User, Depends(form_user)]


# -- rate limits ----------------------------------------------------------------------------------


def rate_limit(request: Request, limit: Limit, *extra: str) -> None:
    """Counts the attempt once for the client address (and once for each extra key such as an
    email or a user); RateLimited (a 429 with Retry-After, see http/errors.py) when over the
    limit."""
    limiter = get_runtime(request).rate_limiter
    limiter.hit(limit, client_address(request))
    for key in extra:
        limiter.hit(limit, key)


def rate_limit_key(request: Request, limit: Limit, key: str) -> None:
    """Counts the attempt for `key` alone (e.g. an account, from all clients together)."""
    get_runtime(request).rate_limiter.hit(limit, key)
