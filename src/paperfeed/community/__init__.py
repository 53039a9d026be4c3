"""What the community adds to the catalog: daily lists, upvotes, comments, trending,
moderation."""
