"""What a job asks a cluster for, where it follows the config rather than a fixed number."""

from __future__ import annotations

# A train job's memory when its variant sets no memory_limit_mb: enough for the default
# config's largest variant (the fine-tuned MobileNet at 224 px) with room to spare.
TRAIN_MEMORY_MB = 8000
# Beyond TensorFlow's capped pool, a train job holds Python and TensorFlow's own code, in the
# attempt and its parent: 0.74 GB for the default MLP's job here (max_rss in its record under
# results/benchmarks/train), with room for what the data pipeline keeps outside the pool.
TRAIN_MEMORY_MARGIN_MB = 2048


def train_memory_mb(variant: dict) -> int:
    """The memory a train job asks for: its variant's ``memory_limit_mb`` plus the margin, so
    a cluster that enforces the request kills an attempt only past the limit the config set
    (which the batch back-off answers), or the default when the variant sets no limit."""
    limit = variant.get("memory_limit_mb")
    return limit + TRAIN_MEMORY_MARGIN_MB if limit else TRAIN_MEMORY_MB
