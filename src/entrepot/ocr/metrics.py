"""Character error rate, the OCR quality measure used by tests and the benchmark."""

from __future__ import annotations


def _strip(s: str) -> str:
    return "".join(s.split())


def edit_distance(a: str, b: str) -> int:
    try:
        from rapidfuzz.distance import Levenshtein
    except ImportError:  # pragma: no cover - pure-Python fallback
        if len(a) < len(b):
            a, b = b, a
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = cur
        return prev[-1]
    return int(Levenshtein.distance(a, b))


def cer(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over whitespace-stripped text, divided by the reference length."""
    ref, hyp = _strip(reference), _strip(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
