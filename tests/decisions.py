"""Whether a quantised model keeps the float model's decisions, judged so no CPU moves the verdict.

An int8 model's logits differ from the float model's by its quantisation error, and that error
differs between CPUs (ONNX Runtime's and OpenVINO's kernels with and without VNNI, oneDNN's ISA
levels). A decision can flip only where the float model's two best classes are closer than
about twice that error, so counting flips on a split of 120 images hinges on the two or three
images that happen to be near a tie: 0.975 on one CPU, 0.992 on another, for the same model.

What no CPU changes, and what a broken model cannot pass (unit: the float logits' standard
deviation over the split):
- the root-mean-square logit error stays under ``RMS_ERROR``;
- every clear decision stays: where the float model's top two logits are at least
  ``CLEAR_MARGIN`` apart, the class is kept;
- at least a quarter of the images are clear, so that check never passes on an empty set.

Measured on the tests' CNNs (tests/test_convert.py's and the tiny run's) under
ONEDNN_MAX_CPU_ISA=AVX and AVX512_CORE_VNNI: RMS error 0.017 (TFLite), 0.026 (ONNX Runtime) and
0.048 to 0.110 (OpenVINO, the larger without VNNI), largest single error 0.60; the one decision
that flipped had a margin of 0.02. A model whose weight or activation scales are off tenfold
errs 1.0 to 4.0 and moves most clear decisions (tests/test_convert.py builds such models and
checks that they fail).
"""

from __future__ import annotations

import numpy as np

RMS_ERROR = 0.25
CLEAR_MARGIN = 0.5
CLEAR_AT_LEAST = 0.25


def decision_report(logits: np.ndarray, reference: np.ndarray) -> dict:
    """Agreement overall and on clear decisions, and the logit error, as the checks count them."""
    scale = reference.std()
    top_two = np.sort(reference, axis=1)[:, -2:]
    clear = (top_two[:, 1] - top_two[:, 0]) >= CLEAR_MARGIN * scale
    kept = logits.argmax(axis=1) == reference.argmax(axis=1)
    return {
        "agreement": float(kept.mean()),
        "clear_fraction": float(clear.mean()),
        "clear_kept": float(kept[clear].mean()) if clear.any() else 0.0,
        "rms_error": float(np.sqrt(np.mean((logits - reference) ** 2)) / scale),
    }


def assert_keeps_decisions(logits: np.ndarray, reference: np.ndarray) -> None:
    assert logits.shape == reference.shape
    report = decision_report(logits, reference)
    assert report["rms_error"] <= RMS_ERROR, report
    assert report["clear_fraction"] >= CLEAR_AT_LEAST, report
    assert report["clear_kept"] == 1.0, report
