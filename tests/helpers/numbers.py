"""The page's number format (static/js/format.js), written again from its rule, and its
inverse: a leading zero, U+2212 for minus, `digits` significant digits with trailing zeros
dropped, and outside [0.001, 10 000) scientific notation written 4.77×10⁻⁵."""

from __future__ import annotations

import re
from decimal import Decimal, localcontext

MINUS = "\u2212"
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
PLAIN = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
NUMBER = re.compile(r"−?\d+(?:\.\d+)?(?:×10[⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?")


def format_number(x: float, digits: int = 4) -> str:
    if x == 0:
        return "0"
    a = abs(float(f"{x:.{digits - 1}e}"))  # rounded to `digits` significant digits
    mantissa, exponent = f"{a:.{digits - 1}e}".split("e")
    e = int(exponent)
    if 1e-3 <= a < 1e4 and e < digits:
        s = f"{a:.{max(0, digits - 1 - e)}f}"
        if "." in s:
            s = s.rstrip("0").rstrip(".")
    else:
        m = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        s = f"{m}×10{str(e).translate(SUPERSCRIPTS)}"
    return f"{MINUS}{s}" if x < 0 else s


def parse_number(text: str) -> Decimal:
    """The exact decimal a printed number stands for."""
    text = text.strip()
    assert NUMBER.fullmatch(text), f"not in the page's format: {text!r}"
    text = text.replace(MINUS, "-")
    if "×10" in text:
        m, e = text.split("×10")
        return Decimal(m) * Decimal(10) ** int(e.translate(PLAIN))
    return Decimal(text)


def last_digit_unit(text: str) -> Decimal:
    """The unit of a printed number's last digit: 0.01 for "0.25", 10⁻⁷ for "4.77×10⁻⁵"."""
    text = text.strip().replace(MINUS, "")
    m, _, e = text.partition("×10")
    places = len(m.split(".")[1]) if "." in m else 0
    exp = int(e.translate(PLAIN)) if e else 0
    return Decimal(10) ** (exp - places)


def evaluate_printed(text: str) -> Decimal:
    """A printed expression's value, exactly, on its printed numbers."""
    out, pos = [], 0
    for m in NUMBER.finditer(text):
        out.append(text[pos : m.start()])
        out.append(f"D('{parse_number(m.group())}')")
        pos = m.end()
    out.append(text[pos:])
    expr = "".join(out).replace("×", "*").replace(" − ", " - ").replace("[", "(").replace("]", ")")
    expr = expr.replace("√(", "R(")
    assert re.fullmatch(r"(?:D\('[-0-9.E+]+'\)|R\(|[ +\-*/()0-9])+", expr), (text, expr)
    with localcontext() as ctx:
        ctx.prec = 60
        names = {"__builtins__": {}, "D": Decimal, "R": lambda x: x.sqrt()}
        return eval(expr, names)  # noqa: S307 (numbers and operators only)
