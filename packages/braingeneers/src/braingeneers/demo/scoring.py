"""Score detected spikes against the ground truth the demo embedded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DetectionScore", "score_detection"]


@dataclass(frozen=True)
class DetectionScore:
    """Matches between detected and true spikes, pooled over channels."""

    true_spikes: int
    detected: int
    matched: int
    tolerance_ms: float

    @property
    def recall(self) -> float:
        """Fraction of true spikes that were detected."""
        return self.matched / self.true_spikes if self.true_spikes else 1.0

    @property
    def precision(self) -> float:
        """Fraction of detections that are true spikes."""
        return self.matched / self.detected if self.detected else 1.0


def _matches(truth: np.ndarray, found: np.ndarray, tolerance: float) -> int:
    """Greedy one-to-one matching of two sorted time arrays within ``tolerance``."""
    i = j = matched = 0
    while i < len(truth) and j < len(found):
        gap = found[j] - truth[i]
        if abs(gap) <= tolerance:
            matched += 1
            i += 1
            j += 1
        elif gap < 0:
            j += 1
        else:
            i += 1
    return matched


def score_detection(
    truth_ms: list[np.ndarray], detected_ms: list[np.ndarray], tolerance_ms: float = 1.0
) -> DetectionScore:
    """Match detections to true spikes channel by channel, each at most once, within ``tolerance_ms``."""
    if len(truth_ms) != len(detected_ms):
        raise ValueError(f"{len(truth_ms)} true trains but {len(detected_ms)} detected trains")
    matched = sum(
        _matches(np.sort(t), np.sort(d), tolerance_ms) for t, d in zip(truth_ms, detected_ms, strict=True)
    )
    return DetectionScore(
        true_spikes=sum(len(t) for t in truth_ms),
        detected=sum(len(d) for d in detected_ms),
        matched=matched,
        tolerance_ms=tolerance_ms,
    )
