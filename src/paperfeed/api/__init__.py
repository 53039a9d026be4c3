"""The JSON API: native endpoints and Hugging Face-compatible ones."""
