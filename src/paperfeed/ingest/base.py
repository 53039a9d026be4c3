"""What every importer shares: items, errors, progress reports, and opening (possibly gzipped)
files."""

from __future__ import annotations

import io
import os
import stat as statmod
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from isal import isal_zlib

from paperfeed.papers.record import PaperRecord


class FormatError(Exception):
    """The input is not of the expected format at all (fail fast, import nothing)."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """A malformed record: where it is and why it was skipped."""

    location: str  # "file.jsonl:17" or "page.xml record 4"
    reason: str
    # The file could not be read on from here: the records after it are lost too (the import
    # reports the file as incomplete).
    unread: bool = False


Item = PaperRecord | Rejection


class Parser(Protocol):
    """Yields one item per source record, in file order, starting after `skip` records."""

    def __call__(self, stream: BinaryIO, name: str, skip: int = 0) -> Iterator[Item]: ...


class CountingReader(io.RawIOBase):
    """Counts bytes read from the underlying file, for progress on compressed input."""

    def __init__(self, raw: BinaryIO, *, close_raw: bool = True) -> None:
        self.raw = raw
        self.count = 0
        self.close_raw = close_raw  # standard input stays open

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        if self.close_raw:
            self.raw.close()
        super().close()


GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 31  # zlib's window bits for gzip: 16 (a gzip header and trailer) + 15
_CORRUPT = cast(type[Exception], isal_zlib.IsalError)  # (its stub calls it an instance)


class GunzipReader(io.RawIOBase):
    """Inflates gzip data (through ISA-L, about 3x faster than zlib: at a snapshot import's
    rate, zlib alone took a tenth of the importer's CPU), member after member. Data that ends
    early (a file cut short) or turns into garbage ends the output there: everything before
    it is read, and `error` says what happened, for the importer to report. Garbage before
    any output is no gzip file at all: FormatError."""

    def __init__(self, source: BinaryIO, name: str) -> None:
        self.source = source
        self.name = name
        self.inflater: Any = None  # of the member being read; None between members
        self.pending = b""  # compressed input not inflated yet
        self.produced = 0
        self.error: str | None = None
        self.ended = False

    def readable(self) -> bool:
        return True

    def _fail(self, reason: str) -> int:
        if self.produced == 0:
            raise FormatError(f"{self.name}: not a readable gzip file ({reason})")
        self.error = reason
        self.ended = True
        return 0

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self.ended:
            if not self.pending:
                self.pending = self.source.read(1 << 18)
                if not self.pending:
                    self.ended = True
                    if self.inflater is not None:
                        return self._fail(
                            f"the gzip data breaks off after {self.produced:,} bytes: "
                            "the file is cut short"
                        )
                    return 0
            if self.inflater is None:
                if not self.pending.strip(b"\0"):  # zero padding after the last member
                    self.pending = b""
                    continue
                if len(self.pending) < 2:
                    self.pending += self.source.read(1)
                if not self.pending.startswith(GZIP_MAGIC):
                    return self._fail(f"data after byte {self.produced:,} is not gzip")
                self.inflater = isal_zlib.decompressobj(wbits=_GZIP_WBITS)
            try:
                data = self.inflater.decompress(self.pending, len(buffer))
            except _CORRUPT as exc:
                return self._fail(f"corrupt gzip data after {self.produced:,} bytes: {exc}")
            if self.inflater.eof:
                self.pending = self.inflater.unused_data
                self.inflater = None
            else:
                self.pending = self.inflater.unconsumed_tail
            if data:
                n = len(data)
                buffer[:n] = data
                self.produced += n
                return n
        return 0

    def close(self) -> None:
        self.source.close()
        super().close()


STDIN = "-"
_BUFFER = 1 << 20


@dataclass
class InputFile:
    """A file opened for import: `stream` reads its (inflated) bytes."""

    name: str
    stream: BinaryIO
    counter: CountingReader  # bytes of the file read so far
    size: int | None  # bytes of the file; None for standard input and pipes
    gunzip: GunzipReader | None = None

    def broken(self) -> str | None:
        """Why the data ended before the file's end (a cut or corrupt gzip file), or None."""
        return self.gunzip.error if self.gunzip is not None else None


def open_input(path: Path) -> InputFile:
    """Open a plain or gzipped file (or standard input, `-`, or a pipe) for buffered binary
    reading; gzip is detected by content. An empty file (nothing to read, once inflated) is
    a FormatError in every format."""
    name = str(path)
    if name == STDIN:
        counter = CountingReader(sys.stdin.buffer, close_raw=False)
        name, size = "<stdin>", None
    else:
        counter = CountingReader(path.open("rb"))
        stat = os.fstat(counter.raw.fileno())
        size = stat.st_size if statmod.S_ISREG(stat.st_mode) else None
    raw = io.BufferedReader(counter, _BUFFER)
    gunzip = None
    stream: io.BufferedReader[Any] = raw
    try:
        if raw.peek(2)[:2] == GZIP_MAGIC:
            gunzip = GunzipReader(raw, name)
            stream = io.BufferedReader(gunzip, _BUFFER)
        if not stream.peek(1):
            raise FormatError(f"{name}: empty file, nothing to import")
    except BaseException:
        stream.close()
        raise
    return InputFile(name, stream, counter, size, gunzip)


# A line-based format (snapshot, ids) reads lines of at most this many bytes: a longer one is
# skipped without being held in memory, and its record rejected.
MAX_LINE_BYTES = 8 << 20
# A format read whole (hf-daily, bibtex, listing) reads files of at most this many bytes.
MAX_DOCUMENT_BYTES = 64 << 20
# What stands for a line over MAX_LINE_BYTES: it crosses to the parse workers inside a block
# of lines, as a line no JSON line or reading-list entry can be.
_LONG_LINE = b"\x00paperfeed: long line of "


def read_line(stream: BinaryIO) -> bytes:
    """The next line, as `stream.readline()` reads it (b"" at the end), but a line over
    MAX_LINE_BYTES comes back as a stand-in that `long_line` recognises, read past in pieces."""
    line = stream.readline(MAX_LINE_BYTES + 1)
    if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
        return line
    length = len(line)
    while (more := stream.readline(_BUFFER)) and not more.endswith(b"\n"):
        length += len(more)
    length += len(more.rstrip(b"\r\n"))
    return long_line_stand_in(length)


def long_line_stand_in(length: int) -> bytes:
    """The line that stands for a line of `length` bytes, too long to be read."""
    return _LONG_LINE + str(length).encode() + b" bytes\n"


def lines(stream: BinaryIO) -> Iterator[bytes]:
    """Every line of `stream` through `read_line`."""
    while line := read_line(stream):
        yield line


def long_line(line: bytes) -> str | None:
    """Why a line read by `read_line` (or cut from a block) is too long, or None."""
    if line.startswith(_LONG_LINE):
        length = int(line[len(_LONG_LINE) :].split()[0])
    elif len(line) > MAX_LINE_BYTES and len(line.rstrip(b"\r\n")) > MAX_LINE_BYTES:
        length = len(line.rstrip(b"\r\n"))
    else:
        return None
    return f"the line has {length:,} bytes, over the cap of {MAX_LINE_BYTES:,} (not read)"


def read_document(stream: BinaryIO, name: str) -> bytes:
    """The whole of a file that a format reads at once, unless it is over MAX_DOCUMENT_BYTES."""
    data = stream.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise FormatError(
            f"{name}: over the cap of {MAX_DOCUMENT_BYTES >> 20} MiB for this format "
            "(split it into smaller files)"
        )
    return data


def clip(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
