"""community (votes, comments, moderation), accounts, subscriptions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 03:30:00
"""

from __future__ import annotations

from alembic import op

from paperfeed.db.schema import metadata

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Created in dependency order (users before the tables that reference them).
TABLES = (
    "users",
    "user_sessions",
    "api_tokens",
    "password_resets",
    "rate_limits",
    "paper_moderation",
    "votes",
    "comments",
    "subscriptions",
)


def upgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        metadata.tables[name].create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(TABLES):
        metadata.tables[name].drop(bind)
