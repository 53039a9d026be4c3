"""paper_embeddings: an index on (model, updated_at)

Every serving process asks about once a second whether embeddings newer than its vector
index exist (`max(updated_at)` for its model, paperfeed.search.follow), and loads those;
without an index both read the whole table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("paper_embeddings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_paper_embeddings_model_updated_at"),
            ["model", "updated_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("paper_embeddings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paper_embeddings_model_updated_at"))
