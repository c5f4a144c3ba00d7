"""Evaluate a trained model on the held-out test split.

Writes the metrics JSON (accuracy, loss, per-class precision/recall, confusion matrix) and
a predictions file (labels, predictions, probabilities, and the first misclassified test
images) so the report and the McNemar comparison need no TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from tfedge.data.pipeline import image_dataset
from tfedge.files import read_json, write_json
from tfedge.keras_env import keras, tf, use_threads
from tfedge.models import load_model

EVAL_BATCH_SIZE = 256


def predict_split(model: keras.Model, manifest_path: str, split: str = "test"):
    """(images as uint8, labels, logits) over a whole split, in file order."""
    images, labels, logits = [], [], []
    for batch_images, batch_labels in image_dataset(manifest_path, split, EVAL_BATCH_SIZE):
        logits.append(model(batch_images, training=False).numpy())
        images.append(np.round(batch_images.numpy() * 255).astype(np.uint8))
        labels.append(batch_labels.numpy())
    return np.concatenate(images), np.concatenate(labels), np.concatenate(logits)


def classification_metrics(labels: np.ndarray, logits: np.ndarray, class_names: list[str]) -> dict:
    """Accuracy, mean cross-entropy, per-class precision/recall/F1 and the confusion matrix."""
    class_ids = list(range(len(class_names)))
    predicted = logits.argmax(axis=1)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=class_ids, zero_division=0
    )
    return {
        "test_accuracy": float(np.mean(predicted == labels)),
        "test_loss": float(loss),
        "test_count": int(len(labels)),
        "per_class": [
            {
                "class": name,
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        ],
        "confusion_matrix": confusion_matrix(labels, predicted, labels=class_ids).tolist(),
    }


def save_predictions(path: str, images, labels, logits, keep_misclassified: int) -> None:
    """Predictions plus up to ``keep_misclassified`` wrong images, written atomically."""
    predicted = logits.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)[:keep_misclassified]
    partial = Path(path).with_name(Path(path).name + ".partial")
    with partial.open("wb") as stream:
        np.savez_compressed(
            stream,
            labels=labels,
            predicted=predicted,
            probabilities=tf.nn.softmax(logits).numpy(),
            misclassified_index=wrong,
            misclassified_images=images[wrong],
        )
    partial.replace(path)


def evaluate_model(
    model_path: str,
    manifest_path: str,
    metrics_path: str,
    predictions_path: str,
    keep_misclassified: int,
    threads: int = 1,
    context: dict | None = None,
) -> dict:
    """Evaluate and write both outputs; ``context`` (variant, seed, …) is copied into the JSON."""
    use_threads(threads)
    manifest = read_json(manifest_path)
    model = load_model(model_path)
    images, labels, logits = predict_split(model, manifest_path)
    metrics = {**(context or {}), **classification_metrics(labels, logits, manifest["class_names"])}
    save_predictions(predictions_path, images, labels, logits, keep_misclassified)
    write_json(metrics_path, metrics)
    return metrics
