"""TeX-ish titles and abstracts made readable for display: common math symbols and Greek
letters become Unicode, text-style commands (`\\emph{x}`) their argument, and `$...$` loses
its dollars once nothing TeX is left inside. Anything not understood is left exactly as
written (the page escapes it; it is never interpreted as markup)."""

from __future__ import annotations

import re
from functools import lru_cache

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
    text = _MATH.sub(_math, text)
    text = _WRAPPED.sub(r"\1", text)
    return _COMMAND.sub(lambda m: _SYMBOLS.get(m[1], m[0]) if len(m[1]) == 1 else m[0], text)
