"""Trending-papers emails: subscriptions (double opt-in) now; sending digests later."""
