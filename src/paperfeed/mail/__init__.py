"""Outgoing mail: one Mailer chosen by settings (SMTP, or an outbox of .eml files)."""
