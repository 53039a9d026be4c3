"""papers.categories_predicted: categories predicted from a paper's nearest neighbours

Papers that arrive without categories (Hugging Face daily papers) get categories voted by
their nearest categorised neighbours (`paperfeed papers predict-categories`); this flag marks
them, so that pages and the API say so and arXiv's own categories replace them on arrival.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "papers",
        sa.Column("categories_predicted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # Predicted categories are not arXiv's, and the older schema cannot tell them apart.
    op.execute(
        "DELETE FROM paper_categories WHERE paper_id IN "
        "(SELECT id FROM papers WHERE categories_predicted)"
    )
    op.execute(
        "UPDATE papers SET categories = '[]', primary_category = NULL WHERE categories_predicted"
    )
    # A plain DROP COLUMN (SQLite 3.35+ too): a batch copy of `papers` would drop the old
    # table, and with it, by ON DELETE CASCADE, every row that refers to a paper.
    op.execute("ALTER TABLE papers DROP COLUMN categories_predicted")
