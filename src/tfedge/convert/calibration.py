"""Training images for post-training quantisation (TFLite int8, ONNX int8).

Read without TensorFlow (tfedge.data.plain), so the ONNX int8 conversion never imports it.
"""

from __future__ import annotations

import numpy as np

from tfedge.data import plain
from tfedge.files import read_json


def calibration_images(manifest_path: str, count: int, seed: int = 0) -> np.ndarray:
    """``count`` training images (float32 in [0, 1]), drawn with a fixed seed.

    Always from the train split, never the test split the converted models are judged on.
    """
    available = read_json(manifest_path)["splits"]["train"]["count"]
    chosen = np.random.default_rng(seed).permutation(available)[:count].tolist()
    images = {
        index: image for index, image, _ in plain.split_images(manifest_path, "train", set(chosen))
    }
    return np.stack([images[index] for index in chosen]).astype(np.float32)
