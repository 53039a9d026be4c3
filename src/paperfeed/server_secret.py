"""The server secret: the key of the HMACs that bind CSRF tokens to a browser and its session.

`PAPERFEED_SECRET_KEY` when set; otherwise a random key kept in `secret_key` in the data
directory, made on first use (readable by its owner only). Every process on one data
directory reads the same file; nodes on different machines must be given the same
`PAPERFEED_SECRET_KEY`, or a form served by one node is refused by another."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile

from paperfeed.config import Settings

KEY_BYTES = 32


def server_secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.secret_key_path
    try:
        return _read(path.read_bytes(), path)
    except FileNotFoundError:
        pass
    settings.ensure_home()
    # Written whole to a temporary file, then linked into place: two processes starting
    # together both end up with whichever file was linked first, never a half-written one.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
    try:
        with os.fdopen(fd, "wb") as out:  # mkstemp creates it with mode 0600
            out.write(secrets.token_hex(KEY_BYTES).encode() + b"\n")
        with contextlib.suppress(FileExistsError):  # another process was first: theirs
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return _read(path.read_bytes(), path)


def _read(content: bytes, path: os.PathLike[str]) -> bytes:
    key = content.strip()
    if len(key) < KEY_BYTES:
        raise RuntimeError(f"{os.fspath(path)} holds no usable secret: delete it to make a new one")
    return key
