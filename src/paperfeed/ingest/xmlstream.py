"""Streaming XML responses made of repeated items (OAI-PMH `<record>`s, Atom `<entry>`s) that
read on after a broken item. `stream` is the one entry point (ingest/oaipmh.py and
ingest/atom.py): `_ItemReader` feeds lxml's iterparse the file in pieces and can start the
parser again at a later item, behind the envelope's start tags (`_envelope_of`), so one
broken item loses only itself. Memory stays bounded however large the file."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from xml.sax.saxutils import quoteattr

from lxml import etree

from paperfeed.ingest.base import Rejection


def _release(element: etree._Element) -> None:
    """Free an item that has been read, and the (already freed) items before it."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


_TAG_END = re.compile(rb"\s*>")  # what ends an end tag after its name
_CHUNK = 1 << 16
_OVERLAP = 64  # bytes before a chunk scanned again, and at its end fed only with the next


class _ItemReader:
    """The response's bytes as the XML parser reads them, counting the item start tags that
    pass by and keeping the last two chunks read, so that after XML that cannot be parsed on
    (`<identifier>oops</head>`), reading can start again at a later item: behind the
    envelope's start tags, from that item's start tag on. Memory stays bounded.

    The parser is given the bytes in pieces: outside items a tag at a time (an item's start
    tag ends its piece), in an item its content up to its end tag. When a piece cannot be
    parsed on, lxml 6.2 drops the events the parser made from it before the error, where 6.1
    delivered them; cut so, those can only be events inside a broken item, and both versions
    tell the reader alike whether an item had started and how many had ended."""

    def __init__(self, source: BinaryIO, item: str) -> None:
        self.source = source
        # An item's start tag (`item`: its local name), as text, any namespace prefix: where
        # reading can start again.
        self.item_start = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?" + item.encode() + rb")[\s>/]")
        self.window = b""  # the last chunks read: the file's bytes from `window_at`
        self.window_at = 0
        self.last_chunk = 0  # length of the last chunk (the end of the window)
        self.ended = False  # the last chunk is the file's end
        self.lines_before = 0  # line breaks before the window
        self.seen = 0  # item start tags read so far
        # (ordinal, offset, name) of the item start tags in the window
        self.starts: deque[tuple[int, int, bytes]] = deque()
        self.prefix = b""  # what the parser reads before the file's bytes from `at`
        self.at = 0  # the file's offset the parser reads next
        self.upcoming = 0  # index in `starts` of the first start tag from `at` on
        self.closing: bytes | None = None  # `</record` (the item's end tag) when `at` is in an item
        self.parser: Any = None  # the iterparse reading (lxml-stubs have no type for it)

    def _pull(self) -> bool:
        """Read the next chunk into the window; False at the end of the file."""
        data = self.source.read(_CHUNK)
        if not data:
            self.ended = True
            return False
        # The chunk before the last is dropped, but not what the parser has still to read.
        dropped = min(len(self.window) - self.last_chunk, self.at - self.window_at)
        self.lines_before += self.window.count(b"\n", 0, dropped)
        self.window = self.window[dropped:] + data
        self.window_at += dropped
        self.last_chunk = len(data)
        last = self.starts[-1][1] if self.starts else -1
        scan = max(0, len(self.window) - len(data) - _OVERLAP)
        for match in self.item_start.finditer(self.window, scan):
            offset = self.window_at + match.start()
            if offset > last:
                self.seen += 1
                self.starts.append((self.seen, offset, match[1]))
        while self.starts and self.starts[0][1] < self.window_at:
            self.starts.popleft()
            self.upcoming = max(0, self.upcoming - 1)
        return True

    def read(self, size: int = -1) -> bytes:
        """The parser's next piece (see the class), at most `size` bytes unless an item's
        start or end tag would be cut."""
        if self.parser is not None and len(self.parser.error_log):
            _raise_passed_error(self.parser.error_log)
        if self.prefix:
            size = len(self.prefix) if size < 0 else size
            data, self.prefix = self.prefix[:size], self.prefix[size:]
            return data
        at = self.at
        while not self.ended and self.window_at + len(self.window) - at <= _OVERLAP:
            self._pull()
        window, window_at = self.window, self.window_at
        start = at - window_at
        end = len(window) if self.ended else len(window) - _OVERLAP
        if 0 <= size < end - start:
            end = start + size
        if start >= end:
            return b""
        starts = self.starts
        while self.upcoming < len(starts) and starts[self.upcoming][1] < at:
            self.upcoming += 1
        following, name = -1, b""  # the next item start tag in the window (-1: none)
        if self.upcoming < len(starts):
            _, following, name = starts[self.upcoming]
            following -= window_at
        closing = self.closing
        if closing is not None and following != start:  # an item's content, its end tag
            cut = end if following < 0 or following > end else following
            limit = cut + len(closing) - 1  # an end tag that starts before `cut`
            tag = window.find(closing, start, limit)
            while tag >= 0:
                match = _TAG_END.match(window, tag + len(closing))
                if match is None:  # another name (`</records>` after `</record`)
                    tag = window.find(closing, tag + 1, limit)
                    continue
                if match.end() <= end or tag == start:
                    cut, self.closing = match.end(), None
                else:
                    cut = tag  # the end tag whole in the next piece
                break
        else:  # up to the next tag's end
            tag_end = window.find(b">", start)
            cut = end if tag_end < 0 else tag_end + 1
            if 0 <= following < cut:  # an item's start tag
                self.closing = b"</" + name
            elif end < cut:
                cut = end
        self.at = window_at + cut
        return window[start:cut]

    def resume_at(self, ordinal: int, envelope: bytes) -> bool:
        """Have the parser read `envelope`, then the file from the start tag of its item
        `ordinal` (1-based) on, on the line it is on in the file (the parser's line numbers
        are the file's); False when there is no such item."""
        while self.seen < ordinal:
            self.at = self.window_at + len(self.window)  # passed over
            if not self._pull():
                return False
        offset = next((at for n, at, _ in self.starts if n == ordinal), None)
        if offset is None:
            return False
        start = offset - self.window_at
        lines = self.lines_before + self.window.count(b"\n", 0, start)
        self.prefix = envelope + b"\n" * lines
        self.at, self.upcoming, self.closing = offset, 0, None
        return True

    def count_all(self) -> int:
        """Record start tags in the whole file (the rest is read for it)."""
        while True:
            self.at = self.window_at + len(self.window)
            if not self._pull():
                return self.seen


def _raise_passed_error(log: Any) -> None:
    """Raise the first fatal error in a parser's log. lxml lets one pass when entities are
    not resolved (an undeclared entity, `&nbsp;`): the parser stops there without an error,
    and fed on, starts a new document."""
    for error in log.filter_from_fatals():
        message = f"{error.message}, line {error.line}, column {error.column}"
        # lxml-stubs give it no (message, code, line, column, filename) signature
        raise etree.XMLSyntaxError(message, error.type, error.line, error.column, None)  # type: ignore[call-arg]


def _envelope_of(item: etree._Element) -> bytes:
    """The start tags of an item's ancestors (OAI-PMH, ListRecords; an Atom feed), namespaces
    declared."""
    tags = []
    for element in reversed(list(item.iterancestors())):
        local = etree.QName(element).localname
        name = f"{element.prefix}:{local}" if element.prefix else local
        declarations = "".join(
            f" xmlns:{prefix}={quoteattr(uri)}" if prefix else f" xmlns={quoteattr(uri)}"
            for prefix, uri in element.nsmap.items()
        )
        tags.append(f"<{name}{declarations}>")
    return "".join(tags).encode()


@dataclass(frozen=True)
class Break:
    """What XML that cannot be parsed on (at item `number + 1`) costs: the rejection of the
    item it broke in (`unread` when nothing after it can be read), and the item reading
    starts again at (None: none)."""

    where: str  # "line N: message"
    rejection: Rejection
    resumes_at: int | None


def _read_on(
    reader: _ItemReader,
    error: etree.XMLSyntaxError,
    *,
    location: str,
    nouns: tuple[str, str],
    number: int,
    in_item: bool,
    resumed: int,
    envelope: bytes | None,
) -> Break:
    """After `error`, with `number` items read, `in_item` when it broke inside one, the part
    being parsed started at item `resumed`: have the reader start again at the next item
    (behind `envelope`), and say so. The item it broke in is lost; reading never starts where
    it started before (each part starts further on). `nouns`: the items' name, singular and
    plural (`("entry", "entries")`), as the messages count them."""
    noun, plural = nouns
    where = f"line {error.lineno}: {error.msg}"
    target = max(number + (2 if in_item else 1), resumed + 1)
    if envelope is None or not reader.resume_at(target, envelope):
        left = reader.count_all() - number - in_item
        lost = (
            f"{left:,} {plural} after it could not be read"
            if left
            else "nothing after it could be read"
        )
        reason = f"the XML breaks off at {where}; {lost}"
        return Break(where, Rejection(location, reason, unread=True), None)
    skipped = target - number - 2
    note = f" ({skipped:,} {plural} skipped)" if skipped > 0 else ""
    reason = f"the XML breaks at {where}; read on at {noun} {target}{note}"
    return Break(where, Rejection(location, reason), target)


@dataclass(frozen=True)
class Found:
    """An element read to its end: an item (`number`: its place among the file's items,
    1-based, broken ones counted), or an element outside the items (`number` 0)."""

    number: int
    element: etree._Element


def stream(
    source: BinaryIO,
    *,
    root: str,
    item: str,
    nouns: tuple[str, str],
    name: str,
    wrong_root: Callable[[str], Exception],
    not_xml: Callable[[etree.XMLSyntaxError], Exception],
    empty: Callable[[], Exception],
) -> Iterator[Found | Break]:
    """The items (`item`: their qualified tag) of the document whose root is `root`, each
    when it has been read (and freed when the caller asks for the next), the other elements
    outside them likewise, and a `Break` where XML could not be parsed on: reading then
    starts again at the next item (`_read_on`). Raises `wrong_root(tag)` for another root,
    `not_xml(error)` for a file that breaks before its root and `empty()` for a blank one.
    `name`: the file's, in rejections; `nouns`: the items' name, singular and plural."""
    reader = _ItemReader(source, etree.QName(item).localname)
    number = 0  # items read (broken ones included)
    started = False
    envelope: bytes | None = None  # of the first item, put before a part read again
    resumed = 0  # the item the part being parsed started at (0: the file's start)
    while True:
        in_item = False
        events = etree.iterparse(
            reader, events=("start", "end"), resolve_entities=False, no_network=True
        )
        reader.parser = events
        try:
            for event, element in events:
                if not started:
                    started = True
                    if element.tag != root:
                        raise wrong_root(element.tag)
                    continue
                if event == "start":
                    if element.tag == item:
                        in_item = True
                        if envelope is None:
                            envelope = _envelope_of(element)
                    continue
                if element.tag == item:
                    in_item = False
                    number += 1
                    yield Found(number, element)
                    _release(element)  # memory stays flat on files of thousands of items
                elif not in_item:
                    yield Found(0, element)
            break
        except etree.XMLSyntaxError as exc:
            if not started:
                if reader.ended and not reader.window.strip():
                    break
                raise not_xml(exc) from None
            broke = _read_on(
                reader,
                exc,
                location=f"{name} {nouns[0]} {number + 1}",
                nouns=nouns,
                number=number,
                in_item=in_item,
                resumed=resumed,
                envelope=envelope,
            )
            yield broke
            if broke.resumes_at is None:
                break
            number, resumed = broke.resumes_at - 1, broke.resumes_at
    if not started:
        raise empty()
