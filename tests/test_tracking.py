"""Run history in MLflow: every (variant, seed) run logged once per content to a real SQLite
store in the test's folder, read back through MLflow's own client, with the network refused."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tfedge import paths, tracking
from tfedge.config.errors import ConfigError
from tfedge.config.helpers import config_hash
from tfedge.files import read_json
from tfedge.report.results import Results
from tfedge.report.sections.environment import git_commit

from .helpers import tiny_config, validated
from .report_fakes import write_results, write_run
from .snakemake_runs import planned_jobs, snakemake

SKIPPED = {"variant": "cnn", "format": "tensorrt_fp16", "status": "skipped", "reason": "no GPU"}


def tracked_config(**tracking_settings) -> dict:
    config = tiny_config()
    config["tracking"] = {"backend": "mlflow", **tracking_settings}
    return validated(config)


def every_run(config: dict) -> set[tuple[str, int]]:
    return {(variant, seed) for variant in config["variants"] for seed in config["seeds"]}


def project(folder: Path, config: dict) -> tuple[Results, Path]:
    """The tiny config's results written under ``folder`` (tensorrt_fp16 skipped) and a report."""
    results = write_results(folder, config, benchmarks={("cnn", "tensorrt_fp16"): SKIPPED})
    page = folder / "results" / "report.html"
    page.write_text("<html><body>tfedge tiny report</body></html>")
    return results, page


def log(results: Results, page: Path, folder: Path) -> dict:
    """log_runs on a fresh reader of the same files, as a rerun of the report job reads them."""
    fresh = Results(results.config, results.inputs, results.answers_path)
    return tracking.log_runs(fresh, page, folder, folder / "results" / "tracking.json")


def client_of(folder: Path) -> tuple[MlflowClient, str]:
    client = MlflowClient(tracking_uri=tracking.default_uri(folder))
    return client, client.get_experiment_by_name("tfedge").experiment_id


def runs_by_name(folder: Path) -> dict[str, list]:
    client, experiment = client_of(folder)
    found: dict[str, list] = {}
    for run in client.search_runs([experiment], max_results=1000):
        found.setdefault(run.info.run_name, []).append(run)
    return found


def read_artifact(client: MlflowClient, run_id: str, path: str, folder: Path) -> str:
    """An artifact's text, downloaded into ``folder`` (outside the project)."""
    folder.mkdir(exist_ok=True)
    return Path(client.download_artifacts(run_id, path, str(folder))).read_text()


def git_checkout(folder: Path) -> Path:
    """An empty git checkout with one commit, so the commit is known there."""
    folder.mkdir()
    identity = ["-c", "user.name=tfedge", "-c", "user.email=tfedge@example.invalid"]
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    commit = ["git", *identity, "commit", "-q", "--allow-empty", "-m", "start"]
    subprocess.run(commit, cwd=folder, check=True)
    return folder


@pytest.fixture
def logged(tmp_path, no_network, monkeypatch):
    """The tiny config's runs logged once to the project's default store, from a cwd that is a
    git checkout of its own: the commit is known, and anything written relative to the cwd
    would show there."""
    monkeypatch.chdir(git_checkout(tmp_path / "checkout"))
    folder = tmp_path / "project"
    results, page = project(folder, tracked_config())
    record = log(results, page, folder)
    assert [path.name for path in Path.cwd().iterdir()] == [".git"]
    return folder, results, page, record


def test_every_run_is_logged_with_its_settings_numbers_formats_and_report(logged):
    folder, results, _, record = logged
    config = results.config
    assert {(entry["variant"], entry["seed"]) for entry in record["logged"]} == every_run(config)
    assert record["already_there"] == []
    runs = runs_by_name(folder)
    assert set(runs) == {f"{variant}/seed{seed}" for variant, seed in every_run(config)}
    assert all(len(found) == 1 and found[0].info.status == "FINISHED" for found in runs.values())
    client, _ = client_of(folder)
    downloads = folder.parent / "downloads"

    cnn = runs["cnn/seed0"][0]
    params, metrics, tags = cnn.data.params, cnn.data.metrics, cnn.data.tags
    assert params["variant"] == "cnn" and params["seed"] == "0"
    assert params["variant.filters"] == "[8, 16]" and params["variant.epochs"] == "10"
    assert params["variant.memory_limit_mb"] == "null" and params["variant.augment"] == "true"
    assert params["dataset.image_size"] == "28" and params["dataset.source"] == "bundled"
    assert metrics["test_accuracy"] == pytest.approx(0.9) and metrics["test_loss"] == 0.1
    assert (metrics["epochs"], metrics["train_seconds"], metrics["peak_memory_mb"]) == (1, 12, 900)
    assert metrics["agreement.tflite_int8"] == 0.99 and metrics["latency_p50_ms.onnx"] == 1.0
    assert metrics["size_bytes.openvino_int8"] == 1000
    assert not any(name.endswith(".tensorrt_fp16") for name in metrics)
    assert tags[tracking.CONFIG_HASH_TAG] == config_hash(config)
    assert tags[tracking.COMMIT_TAG] == git_commit()
    key = next(
        e["content_key"] for e in record["logged"] if (e["variant"], e["seed"]) == ("cnn", 0)
    )
    assert tags[tracking.CONTENT_KEY_TAG] == key and len(key) == 64

    run_id = cnn.info.run_id
    assert {item.path for item in client.list_artifacts(run_id)} == {"formats.csv", "report.html"}
    rows = list(
        csv.DictReader(io.StringIO(read_artifact(client, run_id, "formats.csv", downloads)))
    )
    assert [row["format"] for row in rows] == config["convert"]["formats"]
    skipped = next(row for row in rows if row["format"] == "tensorrt_fp16")
    assert (skipped["status"], skipped["reason"], skipped["agreement"]) == ("skipped", "no GPU", "")
    assert "tiny report" in read_artifact(client, run_id, "report.html", downloads)

    other_seed = runs["cnn/seed1"][0]  # formats are converted from the first seed only
    assert not any("." in name for name in other_seed.data.metrics)
    assert [item.path for item in client.list_artifacts(other_seed.info.run_id)] == ["report.html"]
    assert runs["frozen/seed1"][0].data.params["backbone.source"] == "efficientnet_lite0_bundled"


def test_a_rerun_with_nothing_changed_logs_nothing_new(logged):
    folder, results, page, first = logged
    again = log(results, page, folder)
    assert again["logged"] == []
    assert again["already_there"] == first["logged"]
    assert sum(len(found) for found in runs_by_name(folder).values()) == len(first["logged"])


def test_an_edit_that_leaves_every_run_as_it_was_logs_nothing_new(logged):
    """Runs are keyed by their own content: a new report title changes the config hash (a tag
    on each run), not what any run trained with or measured."""
    folder, results, page, first = logged
    config = {**results.config, "report": {**results.config["report"], "title": "renamed"}}
    assert config_hash(config) != config_hash(results.config)
    again = tracking.log_runs(
        Results(config, results.inputs, results.answers_path), page, folder, folder / "t.json"
    )
    assert again["logged"] == [] and len(again["already_there"]) == len(first["logged"])


def test_a_changed_result_adds_that_run_and_keeps_the_old_one(logged):
    folder, results, page, first = logged
    write_run(folder, "cnn", 1, correct=0.85)
    again = log(results, page, folder)
    assert [(entry["variant"], entry["seed"]) for entry in again["logged"]] == [("cnn", 1)]
    assert len(again["already_there"]) == len(first["logged"]) - 1
    accuracies = sorted(
        run.data.metrics["test_accuracy"] for run in runs_by_name(folder)["cnn/seed1"]
    )
    assert accuracies == pytest.approx([0.85, 0.9])


def test_the_default_store_is_in_the_project_and_nothing_lands_elsewhere(logged):
    folder, _, _, record = logged
    assert record["tracking_uri"] == f"sqlite:///{folder / 'mlflow.db'}"
    assert read_json(folder / "results" / "tracking.json") == record
    client, experiment = client_of(folder)
    location = client.get_experiment(experiment).artifact_location
    assert location == (folder / "mlartifacts").as_uri()
    assert {path.name for path in folder.iterdir()} == {"results", "mlflow.db", "mlartifacts"}
    artifacts = [path for path in (folder / "mlartifacts").rglob("*") if path.is_file()]
    assert len(artifacts) == len(record["logged"]) + 1  # each run's report, cnn/seed0's formats


def test_a_configured_uri_takes_the_runs_there_and_not_into_the_project(
    tmp_path, no_network, monkeypatch
):
    team = f"sqlite:///{tmp_path / 'team.db'}"
    config = tracked_config(uri=team, experiment="team")
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")  # where MLflow keeps a configured store's artifacts
    results, page = project(tmp_path / "project", config)
    record = log(results, page, tmp_path / "project")
    assert record["tracking_uri"] == team and record["experiment"] == "team"
    client = MlflowClient(tracking_uri=team)
    experiment = client.get_experiment_by_name("team").experiment_id
    assert len(client.search_runs([experiment], max_results=1000)) == len(every_run(config))
    assert not {"mlflow.db", "mlartifacts"} & {p.name for p in (tmp_path / "project").iterdir()}


def test_outside_a_git_checkout_no_commit_is_tagged_and_the_cwd_stays_empty(
    tmp_path, no_network, monkeypatch
):
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    results, page = project(tmp_path / "project", tracked_config())
    log(results, page, tmp_path / "project")
    tags = [run.data.tags for found in runs_by_name(tmp_path / "project").values() for run in found]
    assert tags and not any(tracking.COMMIT_TAG in run_tags for run_tags in tags)
    assert list(elsewhere.iterdir()) == []


def test_settings_become_dotted_params_within_mlflows_limit():
    assert tracking.flatten("variant", {"a": {"b": 1}, "c": [8, 16]}) == {
        "variant.a.b": 1,
        "variant.c": [8, 16],
    }
    assert [tracking.param_text(v) for v in ("skip", None, True, 0.001)] == [
        "skip", "null", "true", "0.001",
    ]  # fmt: skip
    assert len(tracking.param_text("x" * 7000)) == tracking.PARAM_LIMIT


def test_tracking_is_off_by_default():
    assert validated(tiny_config())["tracking"] == {
        "backend": "none",
        "uri": None,
        "experiment": "tfedge",
    }


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"backend": "mlfow"},
            "tracking.backend: 'mlfow' is not allowed; use one of: none, mlflow",
        ),
        ({"backend": "mlflow", "uri": 5}, "tracking.uri: 5 is not of type 'string', 'null'"),
        ({"backend": "mlflow", "store": "x"}, "known keys here: backend, experiment, uri"),
    ],
)
def test_a_bad_tracking_setting_is_refused_naming_it(settings, message):
    config = tiny_config()
    config["tracking"] = settings
    with pytest.raises(ConfigError, match=re.escape(message)):
        validated(config)


def test_mlflow_is_refused_when_it_is_not_installed(monkeypatch):
    tracked_config()  # installed here (the dev extra): accepted
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what find_spec sees without it
    with pytest.raises(ConfigError) as caught:
        tracked_config()
    lines = [line for line in str(caught.value).splitlines() if line.startswith("  - ")]
    assert len(lines) == 1, lines
    assert lines[0].startswith("  - tracking.backend: 'mlflow' needs MLflow, which is not")
    assert ".venv/bin/pip install 'tfedge[tracking]'" in lines[0]
    assert validated(tiny_config())["tracking"]["backend"] == "none"  # off needs nothing


def tracked_copy(tiny_run: Path, folder: Path) -> Path:
    """A copy of the finished tiny run whose config turns tracking on (the default store)."""
    workdir = Path(shutil.copytree(tiny_run, folder / "run", symlinks=True))
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["tracking"] = {"backend": "mlflow"}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return workdir


def report_run(workdir: Path) -> str:
    """``snakemake --cores 2 report``, the README's command; its log."""
    result = snakemake(workdir, "--cores", "2", "report")
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def logged_runs(workdir: Path) -> list[tuple[str, str]]:
    """(run name, content key) of every run in the project's store, read by MLflow's client."""
    return sorted(
        (run.info.run_name, run.data.tags[tracking.CONTENT_KEY_TAG])
        for found in runs_by_name(workdir).values()
        for run in found
    )


@pytest.mark.workflow
@pytest.mark.slow
def test_the_report_target_logs_each_run_once_and_an_edit_adds_only_its_runs(tiny_run, tmp_path):
    workdir = tracked_copy(tiny_run, tmp_path)
    assert planned_jobs(workdir) == {("report", "")}  # tracking is the report job's
    report_run(workdir)
    config = validated(yaml.safe_load((workdir / "config.yaml").read_text()))
    first = logged_runs(workdir)
    assert sorted(name for name, _ in first) == sorted(
        f"{variant}/seed{seed}" for variant, seed in every_run(config)
    )
    assert len(read_json(workdir / paths.tracking_record())["logged"]) == len(first)

    assert "Nothing to be done" in report_run(workdir)
    assert logged_runs(workdir) == first

    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["variants"]["mlp_baseline"]["epochs"] = 1
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    report_run(workdir)
    added = sorted(set(logged_runs(workdir)) - set(first))
    assert [name for name, _ in added] == [f"mlp_baseline/seed{seed}" for seed in config["seeds"]]
    assert set(first) <= set(logged_runs(workdir))  # the old runs stay beside them
    record = read_json(workdir / paths.tracking_record())
    assert sorted(entry["variant"] for entry in record["logged"]) == ["mlp_baseline"] * len(
        config["seeds"]
    )
