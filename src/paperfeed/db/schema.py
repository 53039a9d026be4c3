"""The catalog schema (SQLAlchemy Core). Alembic migrations in `migrations/` create it."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

papers = sa.Table(
    "papers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("arxiv_id", sa.String(64), unique=True),  # canonical, without version
    sa.Column("doi", sa.String(255), index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("title_key", sa.String(500), nullable=False, index=True),
    sa.Column("title_raw", sa.Text),
    sa.Column("abstract", sa.Text, nullable=False, server_default=""),
    sa.Column("abstract_raw", sa.Text),
    sa.Column("authors", sa.JSON, nullable=False),  # [{name, last, first, suffix}]
    sa.Column("authors_raw", sa.Text),
    sa.Column("primary_category", sa.String(32), index=True),
    sa.Column("categories", sa.JSON, nullable=False),  # ["cs.LG", "stat.ML"], primary first
    # The categories were voted by the nearest categorised papers (papers/predicted_categories)
    sa.Column("categories_predicted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("versions", sa.JSON, nullable=False),  # [{version: "v1", created: ISO}]
    sa.Column("submitted_at", sa.DateTime, index=True),  # v1, UTC
    sa.Column("updated_at", sa.DateTime),  # latest version or metadata update, UTC
    sa.Column("announced_on", sa.Date, index=True),
    sa.Column("comments", sa.Text),
    sa.Column("journal_ref", sa.Text),
    sa.Column("report_no", sa.Text),
    sa.Column("license", sa.String(255)),
    sa.Column("submitter", sa.String(255)),
    sa.Column("links", sa.JSON, nullable=False),  # [{kind, url}] code and project links
    sa.Column("sources", sa.JSON, nullable=False),  # ["snapshot", "oai-pmh", ...]
    sa.Column("freshness", sa.DateTime),  # the newest source data merged so far
    sa.Column("content_hash", sa.String(32), nullable=False),
    sa.Column("first_seen_at", sa.DateTime, nullable=False),
    # Bumped on every change; the search index follows the catalog by this column.
    sa.Column("modified_at", sa.DateTime, nullable=False, index=True),
)

paper_categories = sa.Table(
    "paper_categories",
    metadata,
    sa.Column(
        "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("category", sa.String(32), primary_key=True, index=True),
)

daily_papers = sa.Table(
    "daily_papers",
    metadata,
    sa.Column(
        "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("submitted_on", sa.Date, nullable=False, index=True),
    sa.Column("submitted_at", sa.DateTime, nullable=False),
    sa.Column("submitted_by", sa.String(255)),
    sa.Column("upvotes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("num_comments", sa.Integer, nullable=False, server_default="0"),
    sa.Column("github_repo", sa.Text),
    sa.Column("github_stars", sa.Integer),
    sa.Column("project_page", sa.Text),
    sa.Column("ai_summary", sa.Text),
    sa.Column("ai_keywords", sa.JSON, nullable=False),
    sa.Column("organization", sa.Text),  # the organisation listing it (full name)
    sa.Column("thumbnail", sa.Text),  # image URL; shown only with PAPERFEED_REMOTE_IMAGES
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

harvest_state = sa.Table(
    "harvest_state",
    metadata,
    sa.Column("key", sa.String(512), primary_key=True),  # endpoint|prefix|set
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("metadata_prefix", sa.String(32), nullable=False),
    sa.Column("set_spec", sa.String(128)),
    sa.Column("window_from", sa.String(32)),  # `from` of the window being harvested
    sa.Column("resumption_token", sa.Text),  # next page of that window, if interrupted
    sa.Column("pages_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_datestamp", sa.String(32)),  # newest datestamp completed
    sa.Column("completed_until", sa.String(32)),  # last window harvested to its end
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

import_checkpoints = sa.Table(
    "import_checkpoints",
    metadata,
    sa.Column("key", sa.String(1024), primary_key=True),  # format|path|size|mtime
    sa.Column("records_done", sa.Integer, nullable=False),
    sa.Column("finished", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

paper_embeddings = sa.Table(
    "paper_embeddings",
    metadata,
    sa.Column(
        "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("model", sa.String(128), nullable=False),  # name@version of the embedder
    sa.Column("text_hash", sa.String(32), nullable=False),  # of the text that was embedded
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float16, L2-normalised
    sa.Column("updated_at", sa.DateTime, nullable=False),
    # Every serving process asks for the newest embeddings of its model (search/follow.py).
    sa.Index(None, "model", "updated_at"),
)

# -- community: moderation, votes, comments ----------------------------------------------------

paper_moderation = sa.Table(
    "paper_moderation",
    metadata,
    sa.Column(
        "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("hidden_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("hidden_at", sa.DateTime, nullable=False),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_votes_paper_id_created_at", "paper_id", "created_at"),
)

comments = sa.Table(
    "comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("comments.id", ondelete="CASCADE")),
    sa.Column("body", sa.Text, nullable=False),  # Markdown source; rendered and sanitised on read
    sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("edited_at", sa.DateTime),  # the last edit by its author (NULL: never edited)
    sa.Index("ix_comments_paper_id_created_at", "paper_id", "created_at"),
)

# -- accounts -----------------------------------------------------------------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),  # lower-cased
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("fullname", sa.String(200), nullable=False, server_default=""),
    sa.Column("password_hash", sa.String(255), nullable=False),  # argon2id
    sa.Column("role", sa.String(16), nullable=False, server_default="user"),  # user | admin
    sa.Column("created_at", sa.DateTime, nullable=False),
    # When the emailed confirmation link was used (NULL: not yet: such an account cannot sign
    # in, hold a token or a role).
    sa.Column("email_confirmed_at", sa.DateTime),
)

user_sessions = sa.Table(
    "user_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 of the cookie value
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False, index=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 of the bearer token
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime),  # NULL: never expires
    sa.Column("last_used_at", sa.DateTime),  # to the minute (see AccountService.token_user)
)

password_resets = sa.Table(
    "password_resets",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("used_at", sa.DateTime),
)

# The links mailed at sign-up to confirm an address (sha256 of the token, like resets).
email_confirmations = sa.Table(
    "email_confirmations",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)

# A new address waiting for its owner to open the link mailed to it (the old one stays the
# account's until then).
email_changes = sa.Table(
    "email_changes",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("new_email", sa.String(320), nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)

rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),  # action|client|window start
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False, index=True),
)

# -- "trending papers in your inbox" ------------------------------------------------------------

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    # A capability for the confirm and unsubscribe links (and every digest's footer).
    sa.Column("token", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending | confirmed | unsubscribed
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("confirmed_at", sa.DateTime),
    sa.Column("unsubscribed_at", sa.DateTime),
    # How the subscription was confirmed: "link" (the double opt-in mail) or "operator"
    # (`paperfeed digest subscribers add --confirmed`, recorded); NULL before migration 0010.
    sa.Column("confirmed_via", sa.String(16)),
)

# -- digests: editions built once, one delivery row per (edition, subscriber) -------------------

digest_editions = sa.Table(
    "digest_editions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),  # daily | weekly
    sa.Column("period", sa.String(16), nullable=False),  # 2026-12-02 | 2026-W49
    sa.Column("built_at", sa.DateTime, nullable=False),
    sa.Column("paper_ids", sa.JSON, nullable=False),  # ranked, best first
    sa.UniqueConstraint("kind", "period"),
)

digest_edition_items = sa.Table(
    "digest_edition_items",
    metadata,
    sa.Column(
        "edition_id",
        sa.Integer,
        sa.ForeignKey("digest_editions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("rank", sa.Integer, primary_key=True),  # 1 = best
    sa.Column(
        "paper_id",
        sa.Integer,
        sa.ForeignKey("papers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("score", sa.Float, nullable=False),
)

digest_deliveries = sa.Table(
    "digest_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "edition_id",
        sa.Integer,
        sa.ForeignKey("digest_editions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("state", sa.String(16), nullable=False),  # pending | sent | failed
    # A failure the mail server called final (5xx for this recipient): never retried.
    sa.Column("permanent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", sa.DateTime),  # a transient failure's retry, not before
    sa.Column("message_id", sa.String(255), nullable=False),  # the same on every attempt
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    # A subscriber with an account: the personal sections chosen when the row was written
    # (digest/personal.py), so that every attempt sends the same mail. NULL: trending only.
    sa.Column("personal", sa.JSON),
    sa.UniqueConstraint("edition_id", "subscription_id"),
    sa.Index("ix_digest_deliveries_edition_id_state", "edition_id", "state"),
)

digest_preferences = sa.Table(
    "digest_preferences",
    metadata,
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("frequency", sa.String(8), nullable=False, server_default="daily"),  # | weekly
    sa.Column("categories", sa.JSON, nullable=False),  # [] = all
    sa.Column("max_papers", sa.Integer, nullable=False, server_default="10"),
    sa.Column("code_only", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    # When the current frequency was chosen (NULL: it is the one the subscription started
    # with): editions of that kind built before it are not sent.
    sa.Column("frequency_since", sa.DateTime),
    # The sections of a subscriber with an account (migration 0012): "for you", new papers of
    # what they follow, the edition's trending papers.
    sa.Column("for_you", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("follows", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("trending", sa.Boolean, nullable=False, server_default=sa.true()),
)

# One sender at a time on SQLite (PostgreSQL: an advisory lock instead); a lease that a
# killed sender's successor takes over once it expires.
digest_sender_lease = sa.Table(
    "digest_sender_lease",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("holder", sa.String(100), nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)

# -- library: collections, read / "not interested" marks, follows (library/) ---------------------

collections = sa.Table(
    "collections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    # Private (its owner's alone) unless made public: then it has a page and a feed.
    sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("user_id", "name"),
)

collection_items = sa.Table(
    "collection_items",
    metadata,
    sa.Column(
        "collection_id",
        sa.Integer,
        sa.ForeignKey("collections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "paper_id",
        sa.Integer,
        sa.ForeignKey("papers.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("added_at", sa.DateTime, nullable=False),
)

# A reader's marks on papers: "read", or "dismissed" ("not interested").
paper_marks = sa.Table(
    "paper_marks",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("kind", sa.String(16), primary_key=True),  # read | dismissed
    sa.Column("created_at", sa.DateTime, nullable=False),
)

follows = sa.Table(
    "follows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # author | category | search
    sa.Column("value", sa.Text, nullable=False),  # the author's name, category, or query text
    sa.Column("filters", sa.JSON, nullable=False),  # a search's {cat, since, until}; else {}
    sa.Column("key", sa.String(64), nullable=False),  # sha256 of (kind, value, filters)
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("user_id", "key"),
)

# The secret in the URLs of a reader's private feeds (their follows), until regenerated or
# revoked. Stored as it is (a capability, like a subscription's token): the page shows it.
feed_tokens = sa.Table(
    "feed_tokens",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("token", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# -- for you (recommend/foryou.py) ----------------------------------------------------------------

# A paper recommended to a reader, once per reader: shown on their for-you list ("page": the
# page or the API) or put in a personal digest ("digest"). Later lists leave it out.
recommendation_impressions = sa.Table(
    "recommendation_impressions",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("source", sa.String(16), nullable=False),  # page | digest
    sa.Column("shown_at", sa.DateTime, nullable=False),
)
