"""Running paperfeed: health and readiness checks, logging, backups."""
