"""Medians and ratios. Every comparison in the report is a ratio of two things measured
alternately in the same run (A, B, A, B, ...): on a shared, noisy machine, drift then hits both
sides alike, and the median of the per-pair ratios discards the pairs a burst of noise spoiled."""
from __future__ import annotations

import statistics
from typing import Iterable, Sequence


def median(values: Iterable[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return statistics.median(clean) if clean else None


def paired_ratio(numerators: Sequence[float | None], denominators: Sequence[float | None]) -> float | None:
    """The median of a[i] / b[i] over the pairs measured side by side (pairs with a gap skipped)."""
    ratios = [a / b for a, b in zip(numerators, denominators) if a is not None and b]
    return statistics.median(ratios) if ratios else None


def spread(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """Median, min, max and count: enough to see how noisy a figure was."""
    clean = [v for v in values if v is not None]
    if not clean:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(clean), "min": min(clean), "max": max(clean), "n": len(clean)}


def rnd(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
