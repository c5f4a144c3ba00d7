"""Run history in MLflow (``tracking.backend: mlflow``): the report job logs every (variant,
seed) run, with its settings, its numbers, its converted formats and the report, to a store.

Runs are keyed by content, not by time: each carries the hash of what was logged for it (tag
``tfedge.content_key``), and a run whose key the experiment already holds is not logged again.
An unchanged rerun adds nothing; a rerun after an edit adds the runs whose content changed and
keeps the old ones beside them. The numbers come from the report's reader
(tfedge.report.results) and sections, so MLflow and the page show the same figures.

The store defaults to a SQLite database in the project (``mlflow.db``, artifacts in
``mlartifacts/``); ``tracking.uri`` points elsewhere, e.g. a team's server. MLflow is an
optional extra, imported inside the functions that talk to it: the config check refuses
``mlflow`` where it is not installed (tfedge.config.extras).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from pathlib import Path

from tfedge.files import write_json
from tfedge.report.results import Results
from tfedge.report.runs import Run
from tfedge.report.sections import conversions
from tfedge.report.sections.environment import provenance

CONTENT_KEY_TAG = "tfedge.content_key"
CONFIG_HASH_TAG = "tfedge.config_hash"
COMMIT_TAG = "mlflow.source.git.commit"
PARAM_LIMIT = 6000  # MLflow refuses a longer param value
FORMAT_COLUMNS = ("format", "status", "reason", "agreement", "latency_p50_ms", "size_bytes")


def default_uri(project_root: Path) -> str:
    """The project's own store: an absolute SQLite URI, so it does not follow the cwd."""
    return f"sqlite:///{(project_root / 'mlflow.db').resolve()}"


def default_artifact_location(project_root: Path) -> str:
    """Where the default store's artifacts go: MLflow would otherwise pick ./mlruns in the cwd."""
    return (project_root / "mlartifacts").resolve().as_uri()


def param_text(value: object) -> str:
    """A setting as MLflow param text: strings as written, the rest as JSON (null, true, [8, 16]),
    cut to MLflow's limit (the content key hashes the whole value)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:PARAM_LIMIT]


def flatten(prefix: str, settings: dict) -> dict[str, object]:
    """Nested settings as one level of dotted keys under ``prefix`` (``variant.epochs``)."""
    flat: dict[str, object] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(flatten(f"{prefix}.{key}", value))
        else:
            flat[f"{prefix}.{key}"] = value
    return flat


def run_settings(config: dict, variant: str, seed: int) -> dict[str, object]:
    """What a run trained with, as the train job's params hold it: the variant's settings, its
    dataset's, its backbone's (transfer variants), and the seed."""
    settings = config["variants"][variant]
    flat: dict[str, object] = {"variant": variant, "seed": seed}
    flat.update(flatten("variant", settings))
    flat.update(flatten("dataset", config["datasets"][settings["dataset"]]))
    if settings.get("backbone"):
        flat.update(flatten("backbone", config["backbones"][settings["backbone"]]))
    return dict(sorted(flat.items()))


def run_metrics(run: Run) -> dict[str, float]:
    """The run's headline numbers, from the same records the accuracy section reads."""
    return {
        "test_accuracy": run.metrics["test_accuracy"],
        "test_loss": run.metrics["test_loss"],
        "epochs": run.summary["epochs_run"],
        "train_seconds": run.summary["train_seconds"],
        "peak_memory_mb": run.summary["peak_memory_mb"],
    }


def format_rows(results: Results) -> dict[tuple[str, int], list[dict]]:
    """(variant, seed) → one row per converted format, from the conversions section's tables
    (a variant is converted from its first seed only; a skipped format keeps its reason)."""
    rows = {}
    for table in conversions.tables(results):
        rows[(table["variant"], table["seed"])] = [
            {
                "format": row["format"],
                "status": row["status"],
                "reason": row.get("reason"),
                "agreement": row.get("agreement"),
                "latency_p50_ms": row.get("latency_batch1", {}).get("p50_ms"),
                "size_bytes": row.get("size_bytes"),
            }
            for row in table["rows"]
        ]
    return rows


def format_metrics(rows: list[dict]) -> dict[str, float]:
    """The formats' numbers as metrics named by format (``agreement.tflite_int8``)."""
    return {
        f"{column}.{row['format']}": row[column]
        for row in rows
        if row["status"] == "ok"
        for column in ("agreement", "latency_p50_ms", "size_bytes")
        if row[column] is not None
    }


def formats_csv(rows: list[dict]) -> str:
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=FORMAT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return stream.getvalue()


def known_commit(results: Results) -> str | None:
    """The commit the report shows, or None outside a git checkout (the environment section
    writes ``unknown (not a git checkout)`` there)."""
    commit = provenance(results)["git_commit"]
    return None if commit.startswith("unknown") else commit


def content_key(entry: dict) -> str:
    """sha256 of the run's logged content as canonical JSON: equal content, equal key."""
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def describe_runs(results: Results) -> list[dict]:
    """Everything to log for each (variant, seed) run, with its content key: the run's own
    settings and numbers, so a new commit or an edit elsewhere in the config that leaves a run
    as it was logs it again never; the commit and config hash are tags beside the key."""
    formats = format_rows(results)
    config_hash, commit = provenance(results)["config_hash"], known_commit(results)
    entries = []
    for variant, runs in results.runs.items():
        for run in runs:
            rows = formats.get((variant, run.seed), [])
            content = {
                "variant": variant,
                "seed": run.seed,
                "params": run_settings(results.config, variant, run.seed),
                "metrics": {**run_metrics(run), **format_metrics(rows)},
                "formats": rows,
            }
            key = content_key(content)
            entries.append({**content, "config_hash": config_hash, "commit": commit, "key": key})
    return entries


def experiment_id(client, name: str, artifact_location: str | None) -> str:
    """The experiment's id, creating it (artifacts at ``artifact_location``) on first use."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location)


def logged_run_id(client, experiment: str, key: str) -> str | None:
    """The id of the experiment's run holding ``key``, if one does."""
    found = client.search_runs(
        [experiment], filter_string=f"tags.`{CONTENT_KEY_TAG}` = '{key}'", max_results=1
    )
    return found[0].info.run_id if found else None


def log_run(client, experiment: str, entry: dict, report_html: Path) -> str:
    """Log one run; its content key is tagged last, so a run cut short is logged again next
    time (it stays behind marked FAILED)."""
    from mlflow.entities import Metric, Param

    tags = {"tfedge.variant": entry["variant"], CONFIG_HASH_TAG: entry["config_hash"]}
    if entry["commit"]:
        tags[COMMIT_TAG] = entry["commit"]
    run_name = f"{entry['variant']}/seed{entry['seed']}"
    run_id = client.create_run(experiment, run_name=run_name, tags=tags).info.run_id
    try:
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(name, value, now, 0) for name, value in entry["metrics"].items()],
            params=[Param(name, param_text(value)) for name, value in entry["params"].items()],
        )
        if entry["formats"]:
            client.log_text(run_id, formats_csv(entry["formats"]), "formats.csv")
        client.log_artifact(run_id, str(report_html))
        client.set_tag(run_id, CONTENT_KEY_TAG, entry["key"])
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id


def log_runs(results: Results, report_html: Path, project_root: Path, record_path: Path) -> dict:
    """Log each (variant, seed) run the store does not hold yet, per ``results.config``'s
    ``tracking`` section, and write which were logged and which were already there to
    ``record_path`` (JSON); the same record is returned.

    ``project_root`` holds the default store (``mlflow.db``, ``mlartifacts/``), used when
    ``tracking.uri`` is null. The URI goes to the client alone: no MLFLOW_* variable is set.
    """
    from mlflow.tracking import MlflowClient

    tracking = results.config["tracking"]
    uri = tracking["uri"] or default_uri(project_root)
    artifacts = None if tracking["uri"] else default_artifact_location(project_root)
    client = MlflowClient(tracking_uri=uri)
    experiment = experiment_id(client, tracking["experiment"], artifacts)
    record: dict = {
        "tracking_uri": uri,
        "experiment": tracking["experiment"],
        "experiment_id": experiment,
        "logged": [],
        "already_there": [],
    }
    for entry in describe_runs(results):
        run_id = logged_run_id(client, experiment, entry["key"])
        outcome = "already_there" if run_id else "logged"
        run_id = run_id or log_run(client, experiment, entry, report_html)
        record[outcome].append(
            {
                "variant": entry["variant"],
                "seed": entry["seed"],
                "run_id": run_id,
                "content_key": entry["key"],
            }
        )
    write_json(record_path, record)
    return record
