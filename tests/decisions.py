"""Whether a quantised model keeps the float model's decisions, judged so no CPU moves the verdict.

An int8 model's logits differ from the float model's by its quantisation error, and that error's
last bits differ between CPUs (ONNX Runtime's kernels with and without VNNI, oneDNN's ISA
levels). A decision can flip only where the float model's two best classes are closer than
about twice that error, so counting flips on a split of 120 images hinges on the two or three
images that happen to be near a tie: 0.975 on one CPU, 0.992 on another, for the same model.

What no CPU changes, and what a broken model cannot pass:
- every clear decision stays: where the float model's top two logits are at least
  ``CLEAR_MARGIN`` apart (in units of the float logits' standard deviation), the class is kept;
- every logit stays within ``LOGIT_ERROR`` of the float one (same unit);
- at least half the images are clear, so the first check never passes on an empty set.

The tiny CNN (tests/configs/tiny.yaml, 120 test images) errs 0.10 at most, in TFLite and ONNX
Runtime alike, and its flipped decisions have margins near 0.02. The bounds leave five times that
error for other CPUs' kernels; a model whose activation scales are 10x too coarse errs 0.79, and
one whose weight scales are off 10x in either direction moves four fifths of the clear decisions
(tests/test_convert.py builds such a model and checks that it fails).
"""

from __future__ import annotations

import numpy as np

CLEAR_MARGIN = 0.3
LOGIT_ERROR = 0.5


def decision_report(logits: np.ndarray, reference: np.ndarray) -> dict:
    """Agreement overall and on clear decisions, and the largest logit error, as the checks
    count them."""
    scale = reference.std()
    top_two = np.sort(reference, axis=1)[:, -2:]
    clear = (top_two[:, 1] - top_two[:, 0]) >= CLEAR_MARGIN * scale
    kept = logits.argmax(axis=1) == reference.argmax(axis=1)
    return {
        "agreement": float(kept.mean()),
        "clear_fraction": float(clear.mean()),
        "clear_kept": float(kept[clear].mean()) if clear.any() else 0.0,
        "largest_error": float(np.abs(logits - reference).max() / scale),
    }


def assert_keeps_decisions(logits: np.ndarray, reference: np.ndarray) -> None:
    assert logits.shape == reference.shape
    report = decision_report(logits, reference)
    assert report["clear_fraction"] >= 0.5, report
    assert report["clear_kept"] == 1.0, report
    assert report["largest_error"] <= LOGIT_ERROR, report
