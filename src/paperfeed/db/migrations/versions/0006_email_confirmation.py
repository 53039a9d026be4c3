"""users.email_confirmed_at and email_confirmations: sign-up confirms the address by mail

An account is usable (sign-in, API tokens, a role) only once the link mailed at sign-up has
been opened. Accounts made before this migration count as confirmed from their creation:
an upgrade locks nobody out (operators who served PAPERFEED_ADMIN_EMAILS to the public before
should review `role` of their admins, see the README).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: a plain ALTER TABLE on SQLite too (no table copy).
    op.add_column("users", sa.Column("email_confirmed_at", sa.DateTime()))
    op.execute("UPDATE users SET email_confirmed_at = created_at")
    op.create_table(
        "email_confirmations",
        sa.Column("token_hash", sa.String(length=64)),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_email_confirmations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_email_confirmations")),
    )


def downgrade() -> None:
    op.drop_table("email_confirmations")
    # The older code would take an unconfirmed account for a full one: they go.
    op.execute("DELETE FROM users WHERE email_confirmed_at IS NULL")
    # Not a batch copy of `users`: on SQLite (foreign keys on) dropping the old table would
    # cascade into sessions, votes and comments. SQLite has DROP COLUMN since 3.35.
    op.execute("ALTER TABLE users DROP COLUMN email_confirmed_at")
