"""Change points with E-Divisive means, through Apache Otava's maintained implementation.

Otava runs E-Divisive inside sliding windows with a Student t-test instead of the slow
permutation test (Fleming et al., "Hunter", ICPE 2023), which makes it deterministic
and fast. We chose it over MongoDB's signal-processing-algorithms by measurement: see
benchmarks/trends/ (same recall, far fewer false alarms per second of CPU, and no
numpy<2 pin). Otava's packaging pins numpy and pulls its CLI's cloud clients, so the
Makefile installs it without dependencies; only `otava.analysis` (numpy, scipy) is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assay.errors import UsageError


@dataclass(frozen=True)
class ChangePoint:
    index: int  # the first run after the change
    pvalue: float
    mean_before: float
    mean_after: float

    @property
    def forward_change(self) -> float:
        return self.mean_after / self.mean_before - 1 if self.mean_before else 0.0


def _otava():  # type: ignore[no-untyped-def]
    try:
        from otava import analysis
    except ImportError:  # pragma: no cover - make install provides it
        raise UsageError(
            "change-point detection needs Apache Otava: pip install --no-deps 'apache-otava==0.8.0' (make install does this)"
        ) from None
    return analysis


def otava_change_points(
    values: Sequence[float], *, window_len: int = 50, max_pvalue: float = 0.001, min_magnitude: float = 0.0
) -> list[ChangePoint]:
    """Otava's `compute_change_points` (its defaults unless told otherwise)."""
    if len(values) < 3:
        return []
    analysis = _otava()
    points, _weak = analysis.compute_change_points(
        [float(v) for v in values], window_len=window_len, max_pvalue=max_pvalue, min_magnitude=min_magnitude
    )
    return [
        ChangePoint(int(cp.index), float(cp.stats.pvalue), float(cp.stats.mean_1), float(cp.stats.mean_2))
        for cp in points
    ]


def weak_change_points(values: Sequence[float], *, window_len: int = 30, max_pvalue: float = 0.05) -> list[int]:
    """Otava's split step alone: every candidate E-Divisive finds at a relaxed p-value."""
    if len(values) < 3:
        return []
    analysis = _otava()
    return sorted({int(cp.index) for cp in analysis.split([float(v) for v in values], window_len, max_pvalue)})
