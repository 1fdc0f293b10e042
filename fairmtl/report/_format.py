"""How the report writes numbers, intervals and verdicts (one place for all of them)."""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["MINUS", "TOO_FEW", "VERDICT_CLASS", "VERDICT_TEXT", "fmt_delta", "fmt_interval",
           "fmt_value"]  # fmt: skip


def _num(v: Any) -> float | None:
    """A finite float, or None for None, NaN and infinities."""
    if v is None or isinstance(v, bool):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def fmt_value(v: Any, percent: bool) -> str:
    """Format a value: ``71.2%`` for rates, three significant figures otherwise."""
    v = _num(v)
    if v is None:
        return "—"
    if percent:
        return _minus(f"{v * 100:.1f}%")
    if v == 0 or 0.01 <= abs(v) < 10_000:
        return _minus(f"{v:.3g}" if abs(v) >= 1 else f"{v:.3f}")
    return _minus(f"{v:.2e}")


MINUS = "\u2212"  # the minus sign: "−0.2 pt", "−1.92 to −0.25"
#: How each verdict on a change reads in a cell and in a sentence.
VERDICT_TEXT = {
    "better": "better",
    "worse": "worse",
    "within noise": "within noise",
    "too few rows": "too few rows to judge",
}
VERDICT_CLASS = {
    "better": "better",
    "worse": "worse",
    "within noise": "noise",
    "too few rows": "few",
}
TOO_FEW = "too few rows"


def _minus(text: str) -> str:
    """A leading hyphen (of each number) as the minus sign; exponents keep theirs."""
    return re.sub(r"(^|\s)-", "\\1" + MINUS, text)


def fmt_delta(d: Any, percent: bool) -> str:
    """Format a difference: ``+3.1 pt`` for rates, ``−0.012`` otherwise."""
    d = _num(d)
    if d is None:
        return "—"
    if percent:
        return _minus(f"{d * 100:+.1f} pt")
    return _minus(f"{d:+.3f}" if abs(d) >= 0.001 or d == 0 else f"{d:+.1e}")


def fmt_interval(lo: Any, hi: Any, percent: bool) -> str:
    """Format an interval as ``71.2% to 80.1%`` or ``−1.92 to −0.25`` ("" when missing)."""
    lo, hi = _num(lo), _num(hi)
    if lo is None or hi is None:
        return ""
    if percent:
        return _minus(f"{lo * 100:.1f}% to {hi * 100:.1f}%")
    top = max(abs(lo), abs(hi))
    if not 0.01 <= top < 10_000:
        return f"{fmt_value(lo, False)} to {fmt_value(hi, False)}"
    decimals = max(0, 2 - math.floor(math.log10(top)))  # three figures on the larger end
    return _minus(f"{lo:.{decimals}f} to {hi:.{decimals}f}")


def _fmt_param(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "—" if v is None else str(v)


def _shorten(text: str, width: int = 30) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
