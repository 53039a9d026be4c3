"""Trending-papers emails: subscriptions (double opt-in), editions built once per period
(editions.py), subscriber preferences (preferences.py), the mail (render.py) and delivery
exactly once (sender.py)."""
