"""Users, passwords (argon2id), sign-in sessions, API tokens, password resets, rate limits."""
