"""Account pages: sign up (confirmed by an emailed link), sign in, sign out, password change
and reset, API tokens (named, optionally expiring, revoked one by one or all), email change
(confirmed by a link to the new address), closing the account and downloading its data, and
subscribing to the trending-papers email (its preference and unsubscribe pages:
web/digest.py)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.accounts.rate_limit import (
    PASSWORD_RESET,
    SIGN_IN,
    SIGN_IN_ACCOUNT,
    SIGN_UP,
    SUBSCRIBE,
)
from paperfeed.accounts.service import (
    NEW_TOKEN_SHOWN,
    TOKEN_KEY_LENGTH,
    AccountError,
    AccountService,
    User,
    normalise_email,
)
from paperfeed.digest.preferences import BadPreferences
from paperfeed.http.deps import (
    SESSION_COOKIE,
    AccountsDep,
    CsrfChecked,
    DigestPreferencesDep,
    FormUserDep,
    MembersDep,
    MessagesDep,
    SettingsDep,
    SignedInDep,
    SubscriptionsDep,
    rate_limit,
    rate_limit_key,
)
from paperfeed.mail.service import MailError
from paperfeed.web.digest import (
    CodeOnly,
    DigestCategories,
    Frequency,
    MaxPapers,
    SectionsForm,
    account_digest,
    account_subscription,
    save_preferences,
)
from paperfeed.web.forms import redirect, safe_next
from paperfeed.web.templates import render

router = APIRouter(include_in_schema=False)
Email = Annotated[str, Form(max_length=320)]
Password = Annotated[str, Form(max_length=1024)]


def _signed_in(
    accounts: AccountsDep, settings: SettingsDep, user: User, target: str, message: str
) -> Response:
    token = accounts.start_session(user)
    response = redirect(target, message)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    return response


def _message(request: Request, heading: str, message: str) -> Response:
    """A page that only says something (titled by its heading)."""
    return render(request, "message.html", title=heading, heading=heading, message=message)


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request) -> Response:
    return render(
        request, "signup.html", title="Sign up", error=None, email="", username="", fullname=""
    )


@router.post("/signup")
def signup(
    request: Request,
    email: Email,
    username: Annotated[str, Form(max_length=64)],
    password: Password,
    _: CsrfChecked,
    accounts: AccountsDep,
    messages: MessagesDep,
    fullname: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Creates an unconfirmed account and mails its confirmation link; for an address that
    has an account already, mails its owner instead. The answer is the same page either
    way: sign-up does not tell who has an account (no more than sign-in and reset do)."""
    rate_limit(request, SIGN_UP)
    try:
        done = accounts.sign_up(email, username, password, fullname)
    except AccountError as exc:
        return render(
            request,
            "signup.html",
            400,
            title="Sign up",
            error=str(exc),
            email=email,
            username=username,
            fullname=fullname,
        )
    user = done.user
    try:
        if done.confirm_token is not None:
            messages.account_confirmation(user.email, user.username, done.confirm_token)
        else:
            messages.account_exists(user.email, user.username, confirmed=user.confirmed)
    except MailError as exc:
        raise HTTPException(503, f"the email could not be sent ({exc}); try later") from None
    return _message(
        request,
        "Check your inbox",
        f"We sent a link to {user.email}: open it within three days to finish "
        "creating your account.",
    )


@router.get("/signup/confirm/{token}", response_class=HTMLResponse)
def confirm_form(request: Request, token: str, accounts: AccountsDep) -> Response:
    return _confirm_page(request, accounts, token)


def _confirm_page(
    request: Request, accounts: AccountService, token: str, error: str | None = None
) -> Response:
    user = accounts.confirmation_user(token)
    if user is None:
        raise HTTPException(404, "this confirmation link has expired or was already used")
    return render(
        request,
        "confirm.html",
        400 if error else 200,
        title="Confirm your account",
        account=user,
        token=token,
        error=error,
    )


@router.post("/signup/confirm/{token}")
def confirm(
    request: Request,
    token: str,
    password: Password,
    _: CsrfChecked,
    accounts: AccountsDep,
    settings: SettingsDep,
) -> Response:
    """The link and the account's password confirm the address and sign in."""
    rate_limit(request, SIGN_IN)
    try:
        user = accounts.confirm_email(token, password)
    except AccountError as exc:
        return _confirm_page(request, accounts, token, str(exc))
    return _signed_in(accounts, settings, user, "/", "account-confirmed")


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str = "/") -> Response:
    return render(
        request, "signin.html", title="Sign in", error=None, email="", next=safe_next(next)
    )


@router.post("/signin")
def signin(
    request: Request,
    email: Email,
    password: Password,
    _: CsrfChecked,
    accounts: AccountsDep,
    settings: SettingsDep,
    messages: MessagesDep,
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    rate_limit(request, SIGN_IN)
    rate_limit_key(request, SIGN_IN_ACCOUNT, f"account:{email.strip().lower()}")
    user = accounts.authenticate(email, password)
    error = "wrong email or password" if user is None else None
    if user is not None and not user.confirmed:
        # The right password: a new confirmation link (the old mail may be lost).
        token = accounts.resend_confirmation(user)
        if token is not None:
            try:
                messages.account_confirmation(user.email, user.username, token)
            except MailError as exc:
                raise HTTPException(503, f"the email could not be sent ({exc})") from None
        error = (
            f"confirm your email address first: we sent a new link to {user.email}; open it "
            "to finish creating your account"
        )
    if user is None or error is not None:
        return render(
            request,
            "signin.html",
            400,
            title="Sign in",
            error=error,
            email=email,
            next=safe_next(next),
        )
    return _signed_in(accounts, settings, user, safe_next(next), "signed-in")


@router.post("/signout")
def signout(request: Request, _: CsrfChecked, accounts: AccountsDep) -> Response:
    accounts.end_session(request.cookies.get(SESSION_COOKIE))
    response = redirect("/", "signed-out")
    response.delete_cookie(SESSION_COOKIE)
    return response


# -- password reset ---------------------------------------------------------------------------


@router.get("/reset", response_class=HTMLResponse)
def reset_request_form(request: Request) -> Response:
    return render(request, "reset_request.html", title="Reset your password")


@router.post("/reset")
def reset_request(
    request: Request,
    email: Email,
    _: CsrfChecked,
    accounts: AccountsDep,
    messages: MessagesDep,
) -> Response:
    rate_limit(request, PASSWORD_RESET, f"account:{email.strip().lower()}")
    found = accounts.start_password_reset(email)
    if found is not None:
        user, token = found
        try:
            messages.password_reset(user.email, user.username, token)
        except MailError as exc:
            raise HTTPException(
                503, f"the reset email could not be sent ({exc}); try later"
            ) from exc
    # The same answer whether or not the account exists.
    return redirect("/", "reset-sent")


@router.get("/reset/{token}", response_class=HTMLResponse)
def reset_form(request: Request, token: str, accounts: AccountsDep) -> Response:
    return _reset_page(request, accounts, token)


def _reset_page(
    request: Request, accounts: AccountService, token: str, error: str | None = None
) -> Response:
    """The new-password form; for a valid link, with the account's API tokens and a button
    that revokes them all (a reset often means someone else knew the password)."""
    user = accounts.reset_user(token)
    return render(
        request,
        "reset.html",
        400 if error else 200,
        title="Choose a new password",
        token=token,
        error=error,
        api_tokens=accounts.api_tokens(user) if user is not None else [],
    )


@router.post("/reset/{token}")
def reset(
    request: Request,
    token: str,
    password: Password,
    _: CsrfChecked,
    accounts: AccountsDep,
    settings: SettingsDep,
) -> Response:
    try:
        user = accounts.reset_password(token, password)
    except AccountError as exc:
        return _reset_page(request, accounts, token, str(exc))
    return _signed_in(accounts, settings, user, "/account", "password-changed")


@router.post("/reset/{token}/revoke-tokens")
def reset_revoke_tokens(
    request: Request, token: str, _: CsrfChecked, accounts: AccountsDep
) -> Response:
    """Revoke all API tokens with the reset link (which stays usable for the password)."""
    user = accounts.reset_user(token)
    if user is None:
        return _reset_page(
            request, accounts, token, "this reset link has expired or was already used"
        )
    accounts.revoke_api_tokens(user)
    return redirect(f"/reset/{token}", "tokens-revoked")


# -- account page, password change and API tokens ---------------------------------------------


TITLES = {
    "password.html": "Change your password",
    "email.html": "Change your email address",
    "delete.html": "Delete your account",
}


def _account_page(
    request: Request,
    accounts: AccountService,
    user: User,
    template: str = "account.html",
    status_code: int = 200,
    **context: object,
) -> HTMLResponse:
    context.setdefault("new_token", None)
    context.setdefault("error", None)
    digest_form = context.pop("digest_form", None)
    if template == "account.html":
        assert digest_form is None or isinstance(digest_form, dict)
        context.update(account_digest(request, user, form=digest_form))
    title = TITLES.get(template, "Your account")
    response = render(
        request,
        template,
        status_code,
        title=title,
        api_tokens=accounts.api_tokens(user),
        **context,
    )
    response.headers["cache-control"] = "private, no-store"  # (also on a reset link's page)
    return response


# The new API token travels from the POST to the page that shows it (once) in this cookie:
# the POST answers with a redirect, so reloading the page creates no second token.
NEW_TOKEN_COOKIE = "pf_new_token"
TOKEN_LIVES = {"": None, "7": 7, "30": 30, "90": 90, "365": 365}  # the form's choices, days


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, user: SignedInDep, accounts: AccountsDep) -> Response:
    fresh = request.cookies.get(NEW_TOKEN_COOKIE)
    shown = fresh if accounts.new_api_token(user, fresh) is not None else None
    pending = accounts.pending_email(user)
    response = _account_page(request, accounts, user, new_token=shown, pending_email=pending)
    if fresh is not None:
        response.delete_cookie(NEW_TOKEN_COOKIE, path="/account")
    return response


@router.post("/account/tokens")
def create_token(
    user: FormUserDep,
    accounts: AccountsDep,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=100)] = "api",
    expires: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """A new named token, optionally expiring; then the account page, which shows it once."""
    if expires not in TOKEN_LIVES:
        raise AccountError("choose when the token expires from the list")
    days = TOKEN_LIVES[expires]
    token = accounts.create_api_token(
        user, name, expires_in=dt.timedelta(days=days) if days else None
    )
    response = redirect("/account", "token-created")
    response.set_cookie(
        NEW_TOKEN_COOKIE,
        token,
        max_age=int(NEW_TOKEN_SHOWN.total_seconds()),
        path="/account",
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
    )
    return response


@router.post("/account/tokens/revoke")
def revoke_tokens(
    user: FormUserDep,
    accounts: AccountsDep,
    next: Annotated[str, Form(max_length=500)] = "/account",
) -> Response:
    """One click: every API token of the account stops working."""
    accounts.revoke_api_tokens(user)
    return redirect(safe_next(next), "tokens-revoked")


@router.post("/account/tokens/{key}/revoke")
def revoke_token(
    key: Annotated[str, Path(max_length=TOKEN_KEY_LENGTH, pattern="^[0-9a-f]+$")],
    user: FormUserDep,
    accounts: AccountsDep,
    next: Annotated[str, Form(max_length=500)] = "/account",
) -> Response:
    """One token stops working (named by its key, as listed)."""
    accounts.revoke_api_token(user, key)
    return redirect(safe_next(next), "token-revoked")


# -- email address, closing the account, the account's data -----------------------------------


@router.get("/account/email", response_class=HTMLResponse)
def email_form(request: Request, user: SignedInDep, accounts: AccountsDep) -> Response:
    return _account_page(request, accounts, user, "email.html", new_email="")


@router.post("/account/email")
def change_email(
    request: Request,
    email: Email,
    password: Password,
    user: FormUserDep,
    accounts: AccountsDep,
    messages: MessagesDep,
) -> Response:
    """Mails a link to the new address; the account keeps the old one until it is opened."""
    rate_limit(request, PASSWORD_RESET, f"account:{user.email}")
    try:
        token = accounts.request_email_change(user, password, email)
    except AccountError as exc:
        return _account_page(
            request, accounts, user, "email.html", 400, error=str(exc), new_email=email
        )
    address = normalise_email(email)
    if token is not None:  # (None: another account has it; the page answers the same)
        try:
            messages.email_change(address, user.username, token)
        except MailError as exc:
            raise HTTPException(503, f"the email could not be sent ({exc}); try later") from None
    return _message(
        request,
        "Check your inbox",
        f"We sent a link to {address}: open it within three days to make it your account's "
        f"address. Until then the account keeps {user.email}.",
    )


@router.get("/account/email/{token}", response_class=HTMLResponse)
def email_confirm_form(request: Request, token: str, accounts: AccountsDep) -> Response:
    """The link's page asks for one click (a mail scanner opening the link changes nothing)."""
    found = accounts.email_change(token)
    if found is None:
        raise HTTPException(404, "this link has expired or was already used")
    user, address = found
    return render(
        request,
        "email_confirm.html",
        title="Confirm your new email address",
        account=user,
        new_email=address,
        token=token,
    )


@router.post("/account/email/{token}")
def email_confirm(
    request: Request,
    token: str,
    _: CsrfChecked,
    accounts: AccountsDep,
    messages: MessagesDep,
) -> Response:
    found = accounts.email_change(token)
    if found is None:
        raise HTTPException(404, "this link has expired or was already used")
    before, _address = found
    user = accounts.confirm_email_change(token)
    try:
        messages.email_changed(before.email, user.username, user.email)
    except MailError as exc:  # the change is made; the notice to the old address is a courtesy
        logging.getLogger(__name__).warning(
            "could not tell %s of the change: %s", before.username, exc
        )
    return _message(
        request,
        "Email address changed",
        f"{user.username}'s address is now {user.email}.",
    )


@router.get("/account/delete", response_class=HTMLResponse)
def delete_form(request: Request, user: SignedInDep, accounts: AccountsDep) -> Response:
    return _account_page(request, accounts, user, "delete.html")


@router.post("/account/delete")
def delete_account(
    request: Request,
    password: Password,
    user: FormUserDep,
    accounts: AccountsDep,
    members: MembersDep,
) -> Response:
    """Closes the account for good (the password asked again)."""
    rate_limit(request, SIGN_IN, f"account:{user.email}")
    try:
        members.close(user, password)
    except AccountError as exc:
        return _account_page(request, accounts, user, "delete.html", 400, error=str(exc))
    response = redirect("/", "account-deleted")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/account/data.json")
def export_data(user: SignedInDep, members: MembersDep) -> Response:
    """Everything the account holds, as a JSON download."""
    body = json.dumps(members.export(user), indent=2, ensure_ascii=False)
    return Response(
        body,
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="paperfeed-{user.username}.json"',
            "cache-control": "private, no-store",
        },
    )


@router.post("/account/digest", response_class=HTMLResponse)
def change_digest_preferences(
    request: Request,
    user: FormUserDep,
    accounts: AccountsDep,
    preferences: DigestPreferencesDep,
    frequency: Frequency,
    sections: SectionsForm,
    categories: DigestCategories = "",
    max_papers: MaxPapers = "",
    code_only: CodeOnly = "",
) -> Response:
    """The digest preferences of the user's address (as on the page a mail's link opens)."""
    found = account_subscription(request, user)
    if found is None:
        raise HTTPException(404, f"{user.email} has no digest subscription")
    try:
        save_preferences(
            preferences,
            found[1],
            frequency=frequency,
            categories=categories,
            max_papers=max_papers,
            code_only=code_only,
            sections=sections,
        )
    except BadPreferences as exc:
        form = {"frequency": frequency, "categories": categories, "max_papers": max_papers}
        return _account_page(
            request, accounts, user, status_code=400, digest_error=str(exc),
            digest_form=form | {"code_only": code_only},
        )  # fmt: skip
    return redirect("/account", "preferences-saved")


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, user: SignedInDep, accounts: AccountsDep) -> Response:
    return _account_page(request, accounts, user, "password.html")


@router.post("/account/password")
def change_password(
    request: Request,
    current: Password,
    password: Password,
    user: FormUserDep,
    accounts: AccountsDep,
    settings: SettingsDep,
) -> Response:
    """A new password; every other browser is signed out (this one gets a new session)."""
    rate_limit(request, SIGN_IN, f"account:{user.email}")
    try:
        changed = accounts.change_password(user, current, password)
    except AccountError as exc:
        return _account_page(request, accounts, user, "password.html", 400, error=str(exc))
    return _signed_in(accounts, settings, changed, "/account/password", "password-updated")


# -- "get trending papers in your email inbox" ------------------------------------------------


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(
    request: Request, email: Email, _: CsrfChecked, subscriptions: SubscriptionsDep
) -> Response:
    address = normalise_email(email)
    rate_limit(request, SUBSCRIBE, f"email:{address}")  # one count for the client, one for it
    try:
        subscriptions.subscribe(address)
    except MailError as exc:
        raise HTTPException(503, f"the confirmation email could not be sent ({exc})") from None
    return _message(
        request,
        "Check your inbox",
        f"We sent a confirmation link to {address}. The subscription starts when you open it.",
    )


@router.get("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm_subscription_page(
    request: Request, token: str, subscriptions: SubscriptionsDep
) -> Response:
    """A page with one button: opening the link changes nothing (mail scanners open every
    link of a mail; a subscription starts only when a person confirms it)."""
    found = subscriptions.by_token(token)
    if found is None or found.status == "unsubscribed":
        raise HTTPException(404, "this confirmation link is not valid (any more)")
    response = render(
        request, "subscribe_confirm.html", title="Confirm your subscription", subscription=found
    )
    response.headers["cache-control"] = "private, no-store"
    return response


@router.post("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm_subscription(
    request: Request, token: str, _: CsrfChecked, subscriptions: SubscriptionsDep
) -> Response:
    found = subscriptions.confirm(token)
    if found is None:
        raise HTTPException(404, "this confirmation link is not valid (any more)")
    return _message(
        request,
        "Subscription confirmed",
        f"Trending papers will come to {found.email}. Every email has a one-click "
        "unsubscribe link.",
    )
