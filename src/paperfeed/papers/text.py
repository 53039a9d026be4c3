"""Normalising titles, abstracts and names for display and search, keeping TeX math intact."""

from __future__ import annotations

import re
import unicodedata

# Combining marks for TeX accent commands: \'a, \"{o}, {\"o}, \c{c}, \v{s} ...
_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
}
# Letters and ligatures written as commands: \ss, \o, \ae, \l ...
_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
}
# {\"o}, \"{o}, \"o, \'{\i}, \c c, \v{s}; the accent letter commands need a space or brace.
_ACCENT_RE = re.compile(
    r"\{?\\(?:(?P<sym>['`^\"~=.])|(?P<word>[uvHckrdb])(?=[\s{]))\s*"
    r"(?:\{\s*(?P<braced>\\?[A-Za-z])\s*\}|(?P<bare>\\?[A-Za-z]))\}?"
)
_LETTER_RE = re.compile(r"\{?\\(ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i|j)(?![A-Za-z])\s*\}?")
# Anything either pattern could match; most TeX in abstracts (\alpha, \mathcal{L}) is not,
# so one search spares the two substitutions and the math split.
_MAYBE_ACCENT = re.compile(
    r"\\(?:['`^\"~=.]|[uvHckrdb][\s{]|(?:ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i|j)(?![A-Za-z]))"
)
_TITLE_KEY_DROP = re.compile(r"[^0-9a-z]+")
# The same for ASCII text, by `str.translate` (faster than the regex on bulk imports).
_TITLE_KEY_DROP_ASCII = str.maketrans(
    "", "", "".join(c for c in map(chr, range(128)) if _TITLE_KEY_DROP.fullmatch(c))
)
_MATH_SPLIT = re.compile(r"(\$\$.*?\$\$|\$[^$]*\$)", re.DOTALL)


def _accent(match: re.Match[str]) -> str:
    mark = _ACCENTS[match["sym"] or match["word"]]
    base = match["braced"] or match["bare"]
    if base.startswith("\\"):
        # An accent on a dotless i or j (\'{\i}) is an accented i or j.
        base = base[1:] if base[1:] in ("i", "j") else _LETTERS.get(base[1:], base[1:])
    return unicodedata.normalize("NFC", base + mark)


def _decode_prose(text: str) -> str:
    text = _ACCENT_RE.sub(_accent, text)
    return _LETTER_RE.sub(lambda m: _LETTERS[m.group(1)], text)


def detex_accents(text: str) -> str:
    """Turn TeX accents outside math into Unicode letters: `Bal\\'azs` -> `Balázs`."""
    if "\\" not in text or not _MAYBE_ACCENT.search(text):
        return text
    if "$" not in text:
        return _decode_prose(text)
    parts = _MATH_SPLIT.split(text)
    # Odd parts are math spans, kept verbatim.
    return "".join(p if i % 2 else _decode_prose(p) for i, p in enumerate(parts))


def collapse_whitespace(text: str) -> str:
    """Join arXiv's line continuations ("\\n  ") and runs of spaces into single spaces."""
    # Most abstracts only break lines with "\n" between single spaces: then replacing the
    # breaks is the whole job (2.3 of 6 us on a typical abstract). `isprintable` is False for
    # every whitespace character but the space, so anything else takes the general path.
    flat = text.replace("\n", " ").strip(" ")
    if "  " not in flat and _printable(flat):
        return flat
    return " ".join(text.split())


_ASCII_PRINTABLE = bytes(range(0x20, 0x7F))


def _printable(text: str) -> bool:
    """`str.isprintable`, 4x faster on ASCII text (deleting the printable bytes leaves the
    control characters)."""
    if text.isascii():
        return not text.encode("ascii").translate(None, _ASCII_PRINTABLE)
    return text.isprintable()


def normalize_text(text: str | None) -> str:
    """Display/search form of a title or abstract: whitespace collapsed, TeX accents decoded,
    Unicode NFC. Math ($...$) and other TeX are kept as written."""
    if not text:
        return ""
    text = collapse_whitespace(detex_accents(text))
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def title_key(title: str, *, normalized: bool = False) -> str:
    """A matching key for titles: case, accents, punctuation and spacing removed.
    `normalized`: the title is already `normalize_text`'s output."""
    text = (title if normalized else normalize_text(title)).casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        return _TITLE_KEY_DROP.sub("", text)[:500]
    return text.translate(_TITLE_KEY_DROP_ASCII)[:500]


# Words ending in a full stop that do not end a sentence ("et al. show", "e.g. BERT").
_ABBREVIATIONS = frozenset(
    {"al", "e.g", "i.e", "cf", "vs", "etc", "fig", "figs", "eq", "eqs", "ref", "refs", "sec"}
    | {"no", "approx", "resp", "dr", "prof", "mr", "ms", "st"}
)
_SENTENCE_END = re.compile(r"[.!?](?=\s+[\"'(\[]?[A-Z0-9])")


def first_sentence(text: str, limit: int = 300) -> str:
    """The first sentence of a (normalised) abstract, for a one-line summary: up to the first
    `.`, `!` or `?` followed by a capitalised word, not counting abbreviations (`et al.`,
    `e.g.`), initials in names or a decimal point; cut at a word with `…` when longer than
    `limit` characters."""
    text = collapse_whitespace(text)
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        words = text[:end].rsplit(None, 2)
        word = words[-1].rstrip(".!?")
        if match[0] == "." and (
            word.lower() in _ABBREVIATIONS
            or (len(word) == 1 and word.isupper() and (len(words) < 2 or words[-2][:1].isupper()))
        ):
            continue  # "et al." or an initial in a name ("Ada B. Smith")
        text = text[:end]
        break
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(" ,;:") + "…"
