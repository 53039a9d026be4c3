"""TeX in titles and abstracts, made readable for display (one home for both forms):

- `readable(text)`: plain text (page titles, anywhere markup cannot go): common math symbols
  and Greek letters become Unicode, text-style commands (`\\emph{x}`) their argument, and
  `$...$` loses its dollars once nothing TeX is left inside.
- `to_html(text)`: safe HTML for pages: each `$...$` becomes MathML (latex2mathml, on the
  server; browsers render MathML Core, nothing is loaded), the rest is `readable` and escaped.
  A formula that cannot be converted (a syntax error, a command latex2mathml does not know)
  falls back to `readable`'s form of it. The MathML is rebuilt from latex2mathml's element
  tree through an allow-list of MathML elements and attributes, every text escaped, so no
  TeX (`\\href`, `\\style`, `\\text{<script>}`) can put markup or links on the page.

Search, feeds and the API keep the plain text as stored; anything not understood is left
exactly as written (escaped; it is never interpreted as markup)."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

from latex2mathml.converter import convert_to_element
from markupsafe import Markup, escape

_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ",
    "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ",
    "Pi": "Π", "Sigma": "Σ", "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "times": "×", "cdot": "·", "pm": "±", "mp": "∓", "leq": "≤", "le": "≤", "geq": "≥",
    "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "sim": "∼", "simeq": "≃", "equiv": "≡",
    "propto": "∝", "infty": "∞", "partial": "∂", "nabla": "∇", "sum": "∑", "prod": "∏",
    "int": "∫", "sqrt": "√", "to": "→", "rightarrow": "→", "leftarrow": "←",
    "Rightarrow": "⇒", "leftrightarrow": "↔", "in": "∈", "notin": "∉", "subset": "⊂",
    "subseteq": "⊆", "cup": "∪", "cap": "∩", "forall": "∀", "exists": "∃", "ell": "ℓ",
    "hbar": "ℏ", "circ": "∘", "langle": "⟨", "rangle": "⟩", "ldots": "…", "dots": "…",
    "cdots": "⋯", "log": "log", "exp": "exp", "sin": "sin", "cos": "cos", "max": "max",
    "min": "min", "lim": "lim", "%": "%", "&": "&", "_": "_", "#": "#", "{": "{", "}": "}",
}  # fmt: skip
_TEXT_COMMANDS = "|".join(
    [
        "emph",
        "textbf",
        "textit",
        "texttt",
        "textrm",
        "textsc",
        "text",
        "bf",
        "it",
        "rm",
        "mathrm",
        "mathbf",
        "mathit",
        "mathcal",
        "mathbb",
        "mathsf",
        "boldsymbol",
        "operatorname",
    ]
)
_WRAPPED = re.compile(r"\\(?:" + _TEXT_COMMANDS + r")\s*\{([^{}$]*)\}")
_COMMAND = re.compile(r"\\([A-Za-z]+|[%&_#{}])")
# TeX math neither starts nor ends with a space; "costs $5 and $10" is not math.
_MATH = re.compile(r"\$(?=\S)([^$]{1,300})(?<=\S)\$")
_SUPER = str.maketrans("0123456789+-=()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ")
_SUB = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
_SCRIPT = re.compile(r"([\^_])(?:\{([0-9+\-=()n]{1,6})\}|([0-9n]))")


def _symbols(text: str) -> str:
    return _COMMAND.sub(lambda m: _SYMBOLS.get(m[1], m[0]), text)


def _scripts(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        body = m[2] or m[3]
        return body.translate(_SUPER if m[1] == "^" else _SUB)

    return _SCRIPT.sub(one, text)


def _math(m: re.Match[str]) -> str:
    inner = _scripts(_symbols(_WRAPPED.sub(r"\1", m[1]))).replace("{", "").replace("}", "")
    # Keep the dollars when TeX we do not understand is left: readers recognise it as math.
    return m[0] if "\\" in inner or "^" in inner or "_" in inner else inner


@lru_cache(maxsize=4096)
def readable(text: str) -> str:
    if "\\" not in text and "$" not in text:
        return text
    return _outside_math(_MATH.sub(_math, text))


# -- MathML --------------------------------------------------------------------------------------

_MATHML_TAGS = frozenset({
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup",
    "munder", "mover", "munderover", "mfrac", "msqrt", "mroot", "mstyle", "mpadded", "mphantom",
    "menclose", "mtable", "mtr", "mtd", "merror",
})  # fmt: skip
# Presentation only: no href, style, class, id, mathcolor or event handler gets through.
_MATHML_ATTRIBUTES = frozenset({
    "display", "stretchy", "scriptlevel", "accent", "accentunder", "fence", "separator",
    "minsize", "maxsize", "form", "linethickness", "width", "height", "depth", "lspace",
    "rspace", "voffset", "mathvariant", "displaystyle", "columnalign", "rowalign",
    "columnspacing", "rowspacing", "columnlines", "rowlines", "symmetric", "largeop",
    "movablelimits", "notation",
})  # fmt: skip
_ATTRIBUTE_VALUE = re.compile(r"[A-Za-z0-9.+\- ]{0,40}")


class _NotConvertible(Exception):
    pass


def _mathml(tree: Any, out: list[str]) -> None:
    """Serialise latex2mathml's element tree through the allow-lists, escaping all text."""
    tag = tree.tag
    if tag not in _MATHML_TAGS:
        raise _NotConvertible(tag)
    attributes = "".join(
        f' {name}="{value}"'
        for name, value in sorted(tree.attrib.items())
        if name in _MATHML_ATTRIBUTES and _ATTRIBUTE_VALUE.fullmatch(value)
    )
    out.append(f"<{tag}{attributes}>")
    if tree.text:
        # latex2mathml writes characters as entity references (`&#x0003D;`); an unknown
        # command comes through as its name (`\\foo`): then the formula is not converted.
        text = html.unescape(tree.text)
        if tag != "mtext" and text.startswith("\\") and len(text) > 1:
            raise _NotConvertible(text)
        out.append(str(escape(text)))
    for child in tree:
        _mathml(child, out)
    out.append(f"</{tag}>")


@lru_cache(maxsize=8192)
def formula_to_mathml(tex: str) -> str | None:
    """One inline formula (without its dollars) as MathML markup, or None where it cannot
    be converted."""
    try:
        tree = convert_to_element(tex)
        out: list[str] = []
        _mathml(tree, out)
    except Exception:
        return None
    body = "".join(out)
    return body.replace("<math", '<math xmlns="http://www.w3.org/1998/Math/MathML"', 1)


def _outside_math(text: str) -> str:
    text = _WRAPPED.sub(r"\1", text)
    return _COMMAND.sub(lambda m: _SYMBOLS.get(m[1], m[0]) if len(m[1]) == 1 else m[0], text)


@lru_cache(maxsize=4096)
def to_html(text: str) -> Markup:
    """Title or abstract as safe HTML: formulas as MathML, the rest escaped."""
    if "\\" not in text and "$" not in text:
        return escape(text)
    parts: list[str] = []
    position = 0
    for match in _MATH.finditer(text):
        parts.append(str(escape(_outside_math(text[position : match.start()]))))
        mathml = formula_to_mathml(match[1])
        parts.append(mathml if mathml is not None else str(escape(_math(match))))
        position = match.end()
    parts.append(str(escape(_outside_math(text[position:]))))
    return Markup("".join(parts))
