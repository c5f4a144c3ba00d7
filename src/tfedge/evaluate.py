"""Evaluate a trained model on the held-out test split.

Writes the metrics JSON (accuracy, loss, per-class precision/recall, confusion matrix) and
a predictions file (labels, predictions, probabilities, and the first misclassified test
images) so the report and the McNemar comparison need no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfedge.data.pipeline import image_dataset
from tfedge.files import atomic, read_json, write_json
from tfedge.integrity import verify_savedmodel
from tfedge.keras_env import keras, tf

# At 224 px a batch of 256 peaked at 4.9 GB (the rule asks for 4 GB) and spent seconds in
# page faults, for no faster forward pass. The batch size moves logits in their last bits
# (kernels split the work differently), never the predicted class in our runs.
EVAL_BATCH_SIZE = 32


@dataclass
class SplitPredictions:
    labels: np.ndarray
    logits: np.ndarray
    misclassified_index: np.ndarray  # the first wrong predictions, in file order
    misclassified_images: np.ndarray  # those images as uint8, for the report's gallery


def serving_function(savedmodel: str):
    """The exported SavedModel's ``serve`` signature: images in, logits out.

    Evaluation runs the file that conversion copies and deployments load, so the SavedModel
    row of the conversion table can take its accuracy from this pass instead of repeating
    it. The function keeps the loaded object (and so its variables) alive.
    """
    loaded = tf.saved_model.load(savedmodel)

    def serve(images):
        return loaded.serve(images)

    return serve


def predict_split(
    forward, manifest_path: str, keep_misclassified: int, split: str = "test"
) -> SplitPredictions:
    """Logits of ``forward`` over a whole split in file order, keeping the wrong images shown."""
    labels, logits, wrong_index, wrong_images = [], [], [], []
    seen = kept = 0
    batches = image_dataset(manifest_path, split, EVAL_BATCH_SIZE, cache=False)
    for batch_images, batch_labels in batches:
        logits.append(forward(batch_images).numpy())
        labels.append(batch_labels.numpy())
        wrong = np.flatnonzero(logits[-1].argmax(axis=1) != labels[-1])
        wrong = wrong[: keep_misclassified - kept]
        wrong_index.append(seen + wrong)
        wrong_images.append(np.round(batch_images.numpy()[wrong] * 255).astype(np.uint8))
        seen, kept = seen + len(labels[-1]), kept + len(wrong)
    return SplitPredictions(*map(np.concatenate, (labels, logits, wrong_index, wrong_images)))


def classification_metrics(labels: np.ndarray, logits: np.ndarray, class_names: list[str]) -> dict:
    """Accuracy, mean cross-entropy, per-class precision/recall/F1 and the confusion matrix."""
    predicted = logits.argmax(axis=1)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    matrix = confusion(labels, predicted, len(class_names))
    return {
        "test_accuracy": float(np.mean(predicted == labels)),
        "test_loss": float(loss),
        "test_count": int(len(labels)),
        "per_class": per_class_scores(matrix, class_names),
        "confusion_matrix": matrix.tolist(),
    }


def confusion(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Counts of (true class, predicted class): rows are true classes."""
    return np.bincount(labels * classes + predicted, minlength=classes**2).reshape(classes, -1)


def per_class_scores(matrix: np.ndarray, class_names: list[str]) -> list[dict]:
    """Precision, recall and F1 of each class, 0 where undefined, as scikit-learn computes them.

    Computed here, not by scikit-learn, whose import cost each evaluation job a second.
    """
    hits, truly, called = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    precision, recall = ratio(hits, called), ratio(hits, truly)
    f1 = ratio(2.0 * hits, truly + called)
    return [
        {
            "class": name,
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(truly[i]),
        }
        for i, name in enumerate(class_names)
    ]


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` as float64, 0 where the denominator is 0."""
    result = np.zeros(len(numerator))
    np.divide(numerator, denominator, out=result, where=denominator > 0)
    return result


def save_predictions(path: str, split: SplitPredictions) -> None:
    """Predictions plus the kept wrong images, written atomically."""
    with atomic(path) as partial, partial.open("wb") as stream:
        np.savez_compressed(
            stream,
            labels=split.labels,
            predicted=split.logits.argmax(axis=1),
            probabilities=tf.nn.softmax(split.logits).numpy(),
            misclassified_index=split.misclassified_index,
            misclassified_images=split.misclassified_images,
        )


def evaluate_model(
    savedmodel: str,
    manifest_path: str,
    metrics_path: str,
    predictions_path: str,
    keep_misclassified: int,
    context: dict | None = None,
) -> dict:
    """Evaluate the exported ``savedmodel`` and write both outputs.

    ``context`` (variant, seed, …) is copied into the metrics JSON.
    """
    verify_savedmodel(savedmodel)
    manifest = read_json(manifest_path)
    split = predict_split(serving_function(savedmodel), manifest_path, keep_misclassified)
    scores = classification_metrics(split.labels, split.logits, manifest["class_names"])
    metrics = {**(context or {}), **scores}
    save_predictions(predictions_path, split)
    write_json(metrics_path, metrics)
    return metrics
