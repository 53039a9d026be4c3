"""Accounts a user can manage: API tokens that expire and record their last use, email
changes confirmed by a link to the new address, comments that say when they were edited

All plain ADD COLUMN / CREATE TABLE (no table copy on SQLite); existing tokens never expire.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime()))
    op.add_column("api_tokens", sa.Column("last_used_at", sa.DateTime()))
    op.add_column("comments", sa.Column("edited_at", sa.DateTime()))
    op.create_table(
        "email_changes",
        sa.Column("token_hash", sa.String(length=64)),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("new_email", sa.String(length=320), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_email_changes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_email_changes")),
    )


def downgrade() -> None:
    op.drop_table("email_changes")
    # Not batch copies (on SQLite dropping the old tables would cascade): DROP COLUMN, which
    # SQLite has since 3.35. Expiring tokens would become tokens that never expire: they go.
    op.execute("DELETE FROM api_tokens WHERE expires_at IS NOT NULL")
    op.execute("ALTER TABLE api_tokens DROP COLUMN last_used_at")
    op.execute("ALTER TABLE api_tokens DROP COLUMN expires_at")
    op.execute("ALTER TABLE comments DROP COLUMN edited_at")
