"""Figures as SVG data URIs: the report embeds them, so the one HTML file needs nothing else."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import ticker  # noqa: E402

# Names come from users' folders and configs: draw them as written, never as TeX maths.
plt.rcParams.update(
    {"svg.fonttype": "none", "font.size": 9, "axes.grid": True, "text.parse_math": False}
)


class PlainLogFormatter(ticker.LogFormatterSciNotation):
    """matplotlib's choice of which log-axis ticks get a label, each written as a plain number
    (0.3, 1, 20). Its own labels are TeX maths, which the report turns off for users' names,
    so they would print raw ($\\mathdefault{10^{-1}}$)."""

    def __call__(self, value, position=None) -> str:
        return f"{value:g}" if super().__call__(value, position) else ""


def log_x_axis(axis, base: int = 10) -> None:
    """A log-scale x axis whose tick labels are plain numbers (PlainLogFormatter)."""
    axis.set_xscale("log", base=base)
    axis.xaxis.set_major_formatter(PlainLogFormatter(base))
    axis.xaxis.set_minor_formatter(PlainLogFormatter(base, labelOnlyBase=False))


def svg_data_uri(figure) -> str:
    """The figure as ``data:image/svg+xml;base64,…`` (closed afterwards)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def training_curves(histories: dict[int, pd.DataFrame], title: str) -> str:
    """Accuracy and loss per epoch, training and validation, one line per seed."""
    figure, (accuracy_axis, loss_axis) = plt.subplots(1, 2, figsize=(8, 3))
    for seed, history in histories.items():
        epochs = history["epoch"] + 1
        for axis, metric in ((accuracy_axis, "accuracy"), (loss_axis, "loss")):
            axis.plot(epochs, history[metric], "-", label=f"train (seed {seed})")
            axis.plot(epochs, history[f"val_{metric}"], "--", label=f"validation (seed {seed})")
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy", title=f"{title}: accuracy")
    loss_axis.set(xlabel="epoch", ylabel="cross-entropy loss", title=f"{title}: loss")
    accuracy_axis.legend(fontsize=7)
    return svg_data_uri(figure)


def confusion_matrix(matrix: list[list[int]], class_names: list[str], title: str) -> str:
    """Counts with true class on rows, predicted class on columns."""
    counts = np.asarray(matrix)
    size = max(3.0, 0.45 * len(class_names) + 1.5)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(counts, cmap="Blues")
    axis.grid(False)
    ticks = range(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=90 if len(class_names) > 10 else 0)
    axis.set_yticks(ticks, class_names)
    axis.set(xlabel="predicted", ylabel="true", title=title)
    threshold = counts.max() / 2 if counts.size else 0
    for (row, column), count in np.ndenumerate(counts):
        colour = "white" if count > threshold else "black"
        axis.text(column, row, str(count), ha="center", va="center", color=colour, fontsize=7)
    return svg_data_uri(figure)


def image_grid(images: np.ndarray, captions: list[str], title: str, columns: int = 8) -> str | None:
    """Small multiples of test images with a caption each; None when there are none."""
    if len(images) == 0:
        return None
    rows = int(np.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.3), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, caption in zip(axes.flat, images, captions):
        axis.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
        axis.set_title(caption, fontsize=7)
    figure.suptitle(title, fontsize=9)
    return svg_data_uri(figure)


def latency_chart(rows: list[dict], title: str) -> str | None:
    """Batch-1 latency per format: bar to p50, whisker to p95 (formats that ran only)."""
    measured = [row for row in rows if row["status"] == "ok"]
    if not measured:
        return None
    p50 = [row["latency_batch1"]["p50_ms"] for row in measured]
    p95 = [row["latency_batch1"]["p95_ms"] for row in measured]
    figure, axis = plt.subplots(figsize=(6, 0.4 * len(measured) + 1))
    positions = range(len(measured))
    error = [np.zeros(len(p50)), np.subtract(p95, p50)]
    axis.barh(positions, p50, xerr=error, color="#4c78a8", capsize=3)
    axis.set_yticks(positions, [row["format"] for row in measured])
    axis.invert_yaxis()
    axis.set(xlabel="latency at batch 1 (ms): bar p50, whisker p95", title=title)
    return svg_data_uri(figure)


def accuracy_vs_compute(models: list[dict]) -> str:
    """Published ImageNet top-1 against multiply-adds counted here, one point per network."""
    figure, axis = plt.subplots(figsize=(6, 4))
    for model in models:
        x, y = model["macs"] / 1e9, model["published"]["top1"]
        marker = "o" if model["name"].startswith("mobilenet") else "s"
        axis.scatter(x, y, marker=marker, s=40)
        axis.annotate(model["name"], (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    log_x_axis(axis)
    axis.set(
        xlabel="multiply-adds per image, counted here (billions, log scale)",
        ylabel="ImageNet top-1 (%), published",
        title="Accuracy vs compute (circles: MobileNets, squares: Inception)",
    )
    return svg_data_uri(figure)


def fine_tuning_curve(rows: list[dict], title: str) -> str:
    """Test accuracy (95 % interval over seeds) and seconds per epoch against depth unfrozen."""
    figure, accuracy_axis = plt.subplots(figsize=(6.5, 3.6))
    positions = np.arange(len(rows))
    means = np.array([100 * row["accuracy_mean"] for row in rows])
    intervals = [row["accuracy_interval"] or (row["accuracy_mean"],) * 2 for row in rows]
    errors = np.abs(np.array([[100 * low, 100 * high] for low, high in intervals]).T - means)
    accuracy_axis.errorbar(positions, means, yerr=errors, fmt="o-", capsize=3, label="accuracy")
    accuracy_axis.set_xticks(
        positions,
        [f"{row['label']}\n{row['trainable_params'] / 1e6:.2f} M" for row in rows],
        fontsize=7,
    )
    accuracy_axis.set(
        xlabel="layers trained (trainable parameters)",
        ylabel="test accuracy (%)",
        title=f"{title}: how much of the backbone to train",
    )
    time_axis = accuracy_axis.twinx()
    time_axis.plot(
        positions,
        [row["seconds_per_epoch"] for row in rows],
        "s--",
        color="#e45756",
        label="s/epoch",
    )
    time_axis.set_ylabel("seconds per epoch", color="#e45756")
    time_axis.grid(False)
    return svg_data_uri(figure)


def batch_size_curve(rows: list[dict], title: str) -> str:
    """Peak TensorFlow memory and training images per second against the batch size asked for.

    A batch that ran out of memory is marked on the cap (or the top of the memory axis), not
    drawn with the figures of the smaller batch it fell back to.
    """
    figure, memory_axis = plt.subplots(figsize=(6.5, 3.6))
    fitted = [row for row in rows if not row["ran_out"]]
    sizes = [row["batch_size_requested"] for row in fitted]
    memory = [row["peak_tensor_memory_mb"] or row["peak_memory_mb"] for row in fitted]
    memory_axis.plot(sizes, memory, "o-", label="peak memory")
    limit = next((row["memory_limit_mb"] for row in rows if row["memory_limit_mb"]), None)
    if limit:
        memory_axis.axhline(limit, color="#e45756", linestyle=":", label=f"cap {limit} MB")
    ceiling = limit or max(memory, default=0)
    for row in rows:
        if row["ran_out"]:
            size = row["batch_size_requested"]
            memory_axis.plot([size], [ceiling], "x", color="#e45756", markersize=9)
            memory_axis.annotate(
                "out of memory", (size, ceiling), textcoords="offset points",
                xytext=(-30, -14), fontsize=7, color="#e45756",
            )  # fmt: skip
    every_size = [row["batch_size_requested"] for row in rows]
    log_x_axis(memory_axis, base=2)
    memory_axis.set_xticks(every_size, [str(size) for size in every_size])
    memory_axis.set_ylim(bottom=0, top=1.15 * max([ceiling, *memory]))
    memory_axis.set(
        xlabel="batch size asked for", ylabel="peak memory (MB)", title=f"{title}: batch size"
    )
    speed_axis = memory_axis.twinx()
    speeds = [row["images_per_second"] or np.nan for row in fitted]
    speed_axis.plot(sizes, speeds, "s--", color="#54a24b", label="images per second")
    lines, labels = memory_axis.get_legend_handles_labels()
    speed_lines, speed_labels = speed_axis.get_legend_handles_labels()
    memory_axis.legend(lines + speed_lines, labels + speed_labels, fontsize=7, loc="lower right")
    speed_axis.set_ylim(bottom=0, top=1.15 * np.nanmax([*speeds, 1.0]))
    speed_axis.set_ylabel("training images per second", color="#54a24b")
    speed_axis.grid(False)
    return svg_data_uri(figure)


def deployment_chart(points: list[dict]) -> str:
    """Test accuracy against batch-1 latency for every variant and format, one colour per data
    set, the Pareto front of each drawn through its points, those points ringed and labelled
    with their number (``label``) in the table under the chart."""
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for index, dataset in enumerate(sorted({point["dataset"] for point in points})):
        colour = f"C{index}"
        mine = [point for point in points if point["dataset"] == dataset]
        axis.scatter([p["p50_ms"] for p in mine], [100 * p["accuracy"] for p in mine], s=18,
                     color=colour, label=dataset, alpha=0.7)  # fmt: skip
        front = sorted((p for p in mine if p["pareto"]), key=lambda p: p["p50_ms"])
        axis.plot([p["p50_ms"] for p in front], [100 * p["accuracy"] for p in front], "-",
                  color=colour, linewidth=1)  # fmt: skip
        axis.scatter([p["p50_ms"] for p in front], [100 * p["accuracy"] for p in front], s=70,
                     facecolors="none", edgecolors=colour)  # fmt: skip
        for point in front:
            axis.annotate(point["label"], (point["p50_ms"], 100 * point["accuracy"]),
                          textcoords="offset points", xytext=(5, 3), fontsize=7)  # fmt: skip
    log_x_axis(axis)
    axis.set(xlabel="latency at batch 1, p50 (ms, log scale)", ylabel="test accuracy (%)",
             title="Accuracy against latency: ringed and numbered, the Pareto front")  # fmt: skip
    axis.legend(fontsize=7, title="data set", title_fontsize=7)
    return svg_data_uri(figure)
