"""Training images for post-training quantisation (TFLite int8, ONNX int8)."""

from __future__ import annotations

import numpy as np


def calibration_images(manifest_path: str, count: int, seed: int = 0) -> np.ndarray:
    """``count`` training images (float32 in [0, 1]), shuffled with a fixed seed.

    Always from the train split, never the test split the converted models are judged on.
    """
    from tfedge.data.pipeline import image_dataset

    images = []
    dataset = image_dataset(manifest_path, "train", batch_size=64, shuffle_seed=seed)
    for batch, _ in dataset:
        images.append(batch.numpy())
        if sum(len(part) for part in images) >= count:
            break
    return np.concatenate(images)[:count].astype(np.float32)
