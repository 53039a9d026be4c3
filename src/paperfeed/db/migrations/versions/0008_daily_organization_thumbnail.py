"""daily_papers.organization and daily_papers.thumbnail: Hugging Face data shown on pages

The organisation a daily paper is listed under (its full name) and the address of its
thumbnail image. Both are nullable: papers imported before stay as they are until their
daily list is imported again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns without a default: a plain ALTER TABLE on SQLite too (no table copy).
    op.add_column("daily_papers", sa.Column("organization", sa.Text()))
    op.add_column("daily_papers", sa.Column("thumbnail", sa.Text()))


def downgrade() -> None:
    # Not a batch copy: SQLite has DROP COLUMN since 3.35.
    op.execute("ALTER TABLE daily_papers DROP COLUMN thumbnail")
    op.execute("ALTER TABLE daily_papers DROP COLUMN organization")
