"""Accounts as tests need them: signed up and confirmed the way a user does it (the sign-up,
then the confirmation link with the password), without going through a page or a mailbox."""

from __future__ import annotations

from paperfeed.accounts.service import AccountService, User

PASSWORD = "correct horse battery staple"


def confirmed_user(
    accounts: AccountService,
    email: str,
    username: str,
    password: str = PASSWORD,
    fullname: str = "",
) -> User:
    """A new account, signed up and confirmed (an admin if its address is on the list)."""
    done = accounts.sign_up(email, username, password, fullname)
    assert done.confirm_token is not None, f"{email} has an account already"
    return accounts.confirm_email(done.confirm_token, password)
