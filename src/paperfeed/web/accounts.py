"""Account pages: sign up, sign in, sign out, password reset, API tokens, and the
trending-papers email subscription."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.accounts.rate_limit import (
    PASSWORD_RESET,
    SIGN_IN,
    SIGN_IN_ACCOUNT,
    SIGN_UP,
    SUBSCRIBE,
)
from paperfeed.accounts.service import AccountError, User, normalise_email
from paperfeed.http.deps import (
    SESSION_COOKIE,
    AccountsDep,
    CsrfChecked,
    FormUserDep,
    MessagesDep,
    SettingsDep,
    SignedInDep,
    SubscriptionsDep,
    rate_limit,
    rate_limit_key,
)
from paperfeed.mail.service import MailError
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
    settings: SettingsDep,
    fullname: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    rate_limit(request, SIGN_UP)
    try:
        user = accounts.sign_up(email, username, password, fullname)
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
    return _signed_in(accounts, settings, user, "/", "signed-up")


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
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    rate_limit(request, SIGN_IN)
    rate_limit_key(request, SIGN_IN_ACCOUNT, f"account:{email.strip().lower()}")
    user = accounts.authenticate(email, password)
    if user is None:
        return render(
            request,
            "signin.html",
            400,
            title="Sign in",
            error="wrong email or password",
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
def reset_form(request: Request, token: str) -> Response:
    return render(request, "reset.html", title="Choose a new password", token=token, error=None)


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
        return render(
            request, "reset.html", 400, title="Choose a new password", token=token, error=str(exc)
        )
    return _signed_in(accounts, settings, user, "/", "password-changed")


# -- account page and API tokens --------------------------------------------------------------


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, _: SignedInDep) -> Response:
    return render(request, "account.html", title="Your account", new_token=None)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    user: FormUserDep,
    accounts: AccountsDep,
    name: Annotated[str, Form(max_length=100)] = "api",
) -> Response:
    token = accounts.create_api_token(user, name)
    response = render(request, "account.html", title="Your account", new_token=token)
    response.headers["cache-control"] = "no-store"
    return response


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
    return render(
        request,
        "message.html",
        title="Check your inbox",
        heading="Check your inbox",
        message=f"We sent a confirmation link to {address}. The subscription starts when you "
        "open it.",
    )


@router.get("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm_subscription(request: Request, token: str, subscriptions: SubscriptionsDep) -> Response:
    found = subscriptions.confirm(token)
    if found is None:
        raise HTTPException(404, "this confirmation link is not valid (any more)")
    return render(
        request,
        "message.html",
        title="Subscription confirmed",
        heading="Subscription confirmed",
        message=f"Trending papers will come to {found.email}. Every email has a one-click "
        "unsubscribe link.",
    )


@router.api_route("/unsubscribe/{token}", methods=["GET", "POST"], response_class=HTMLResponse)
def unsubscribe(request: Request, token: str, subscriptions: SubscriptionsDep) -> Response:
    """One click (GET from the email link, or POST from mail clients' List-Unsubscribe-Post)."""
    found = subscriptions.unsubscribe(token)
    if found is None:
        raise HTTPException(404, "this unsubscribe link is not valid")
    return render(
        request,
        "message.html",
        title="Unsubscribed",
        heading="Unsubscribed",
        message=f"{found.email} will get no more trending-papers emails.",
    )
