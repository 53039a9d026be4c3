"""for you: the papers recommended to each reader (impressions), the personal sections a
digest delivery was written with, and the digest preferences that choose those sections

A paper shown on a reader's for-you list (page or API) or put in a personal digest is
recorded once per reader (recommendation_impressions); recommend/foryou.py leaves it out of
later lists. digest_deliveries.personal holds the personal sections chosen when the row was
written, so a retry sends the same mail.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-11 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recommendation_impressions",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("shown_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recommendation_impressions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_recommendation_impressions_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "paper_id", name=op.f("pk_recommendation_impressions")),
    )
    op.add_column("digest_deliveries", sa.Column("personal", sa.JSON()))
    for name in ("for_you", "follows", "trending"):
        op.add_column(
            "digest_preferences",
            sa.Column(name, sa.Boolean(), server_default=sa.true(), nullable=False),
        )


def downgrade() -> None:
    with op.batch_alter_table("digest_preferences") as batch:
        for name in ("trending", "follows", "for_you"):
            batch.drop_column(name)
    with op.batch_alter_table("digest_deliveries") as batch:
        batch.drop_column("personal")
    op.drop_table("recommendation_impressions")
