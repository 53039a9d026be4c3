"""Storage: engine and schema of the catalog, and its Alembic migrations."""
