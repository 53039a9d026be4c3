"""The community services' errors: requests the user can fix, each with a message that says
what is wrong (http/errors.py maps each to its HTTP status)."""

from __future__ import annotations


class CommunityError(ValueError):
    """A request the user can fix; the message says what is wrong."""


class NotFound(CommunityError):
    """No such paper or comment (or one hidden from the user)."""


class FetchUnavailable(CommunityError):
    """arXiv could not be reached (or fetching is off) for a paper not in the catalog."""


class Forbidden(CommunityError):
    """The user may not do that (e.g. moderation by a non-admin)."""


class Duplicate(CommunityError):
    """The paper is already on a daily list."""
