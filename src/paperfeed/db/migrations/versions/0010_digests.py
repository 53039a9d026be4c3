"""digests: editions, their items, deliveries, subscriber preferences, the sender lease

An edition (daily or weekly) is built once and stored; each (edition, subscription) gets one
delivery row, written before its message goes out. subscriptions.confirmed_via records how a
subscription was confirmed (the emailed link, or an operator's import).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("confirmed_via", sa.String(length=16)))
    op.execute("UPDATE subscriptions SET confirmed_via = 'link' WHERE confirmed_at IS NOT NULL")
    op.create_table(
        "digest_editions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.Column("paper_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_editions")),
        sa.UniqueConstraint("kind", "period", name=op.f("uq_digest_editions_kind_period")),
    )
    op.create_table(
        "digest_edition_items",
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["digest_editions.id"],
            name=op.f("fk_digest_edition_items_edition_id_digest_editions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_digest_edition_items_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("edition_id", "rank", name=op.f("pk_digest_edition_items")),
    )
    op.create_index(op.f("ix_digest_edition_items_paper_id"), "digest_edition_items", ["paper_id"])
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("permanent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("next_attempt_at", sa.DateTime()),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime()),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["digest_editions.id"],
            name=op.f("fk_digest_deliveries_edition_id_digest_editions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_digest_deliveries_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_deliveries")),
        sa.UniqueConstraint(
            "edition_id",
            "subscription_id",
            name=op.f("uq_digest_deliveries_edition_id_subscription_id"),
        ),
    )
    op.create_index(
        "ix_digest_deliveries_edition_id_state", "digest_deliveries", ["edition_id", "state"]
    )
    op.create_index(
        op.f("ix_digest_deliveries_subscription_id"), "digest_deliveries", ["subscription_id"]
    )
    op.create_table(
        "digest_preferences",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(length=8), server_default="daily", nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("max_papers", sa.Integer(), server_default="10", nullable=False),
        sa.Column("code_only", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("frequency_since", sa.DateTime()),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_digest_preferences_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_digest_preferences")),
    )
    op.create_table(
        "digest_sender_lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_digest_sender_lease")),
    )


def downgrade() -> None:
    op.drop_table("digest_sender_lease")
    op.drop_table("digest_preferences")
    op.drop_index(op.f("ix_digest_deliveries_subscription_id"), table_name="digest_deliveries")
    op.drop_index("ix_digest_deliveries_edition_id_state", table_name="digest_deliveries")
    op.drop_table("digest_deliveries")
    op.drop_index(op.f("ix_digest_edition_items_paper_id"), table_name="digest_edition_items")
    op.drop_table("digest_edition_items")
    op.drop_table("digest_editions")
    # SQLite has DROP COLUMN since 3.35 (no batch copy: it would cascade into deliveries).
    op.execute("ALTER TABLE subscriptions DROP COLUMN confirmed_via")
