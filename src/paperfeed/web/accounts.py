"""Account pages: sign up, sign in, sign out, password reset, API tokens, and the
trending-papers email subscription."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.accounts.rate_limit import PASSWORD_RESET, SIGN_IN, SIGN_UP, SUBSCRIBE
from paperfeed.accounts.service import AccountError, User, normalise_email
from paperfeed.mail.service import MailError
from paperfeed.web.context import SESSION_COOKIE, render, runtime
from paperfeed.web.forms import Csrf, check_csrf, rate_limit, redirect, require_user, safe_next

router = APIRouter(include_in_schema=False)
Email = Annotated[str, Form(max_length=320)]
Password = Annotated[str, Form(max_length=1024)]


def _signed_in(request: Request, user: User, target: str, message: str) -> Response:
    rt = runtime(request)
    token = rt.accounts.start_session(user)
    response = redirect(target, message)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=rt.settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=rt.settings.secure_cookies,
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
    fullname: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Csrf = None,
) -> Response:
    check_csrf(request, csrf_token)
    rate_limit(request, SIGN_UP)
    try:
        user = runtime(request).accounts.sign_up(email, username, password, fullname)
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
    return _signed_in(request, user, "/", "signed-up")


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
    next: Annotated[str, Form(max_length=500)] = "/",
    csrf_token: Csrf = None,
) -> Response:
    check_csrf(request, csrf_token)
    rate_limit(request, SIGN_IN, f"account:{email.strip().lower()}")
    user = runtime(request).accounts.authenticate(email, password)
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
    return _signed_in(request, user, safe_next(next), "signed-in")


@router.post("/signout")
def signout(request: Request, csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    runtime(request).accounts.end_session(request.cookies.get(SESSION_COOKIE))
    response = redirect("/", "signed-out")
    response.delete_cookie(SESSION_COOKIE)
    return response


# -- password reset ---------------------------------------------------------------------------


@router.get("/reset", response_class=HTMLResponse)
def reset_request_form(request: Request) -> Response:
    return render(request, "reset_request.html", title="Reset your password")


@router.post("/reset")
def reset_request(request: Request, email: Email, csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    rate_limit(request, PASSWORD_RESET, f"account:{email.strip().lower()}")
    rt = runtime(request)
    found = rt.accounts.start_password_reset(email)
    if found is not None:
        user, token = found
        try:
            rt.messages.password_reset(user.email, user.username, token)
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
def reset(request: Request, token: str, password: Password, csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    try:
        user = runtime(request).accounts.reset_password(token, password)
    except AccountError as exc:
        return render(
            request, "reset.html", 400, title="Choose a new password", token=token, error=str(exc)
        )
    return _signed_in(request, user, "/", "password-changed")


# -- account page and API tokens --------------------------------------------------------------


@router.get("/account", response_class=HTMLResponse)
def account(request: Request) -> Response:
    require_user(request)
    return render(request, "account.html", title="Your account", new_token=None)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    name: Annotated[str, Form(max_length=100)] = "api",
    csrf_token: Csrf = None,
) -> Response:
    check_csrf(request, csrf_token)
    user = require_user(request)
    token = runtime(request).accounts.create_api_token(user, name)
    response = render(request, "account.html", title="Your account", new_token=token)
    response.headers["cache-control"] = "no-store"
    return response


# -- "get trending papers in your email inbox" ------------------------------------------------


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(request: Request, email: Email, csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    rate_limit(request, SUBSCRIBE)
    rt = runtime(request)
    try:
        address = normalise_email(email)
        rate_limit(request, SUBSCRIBE, f"email:{address}")
        rt.subscriptions.subscribe(address)
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from None
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
def confirm_subscription(request: Request, token: str) -> Response:
    found = runtime(request).subscriptions.confirm(token)
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
def unsubscribe(request: Request, token: str) -> Response:
    """One click (GET from the email link, or POST from mail clients' List-Unsubscribe-Post)."""
    found = runtime(request).subscriptions.unsubscribe(token)
    if found is None:
        raise HTTPException(404, "this unsubscribe link is not valid")
    return render(
        request,
        "message.html",
        title="Unsubscribed",
        heading="Unsubscribed",
        message=f"{found.email} will get no more trending-papers emails.",
    )
