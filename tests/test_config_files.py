"""One's own config alone: `make report CONFIG=my.yaml`, and errors that name the file and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tfedge.config.errors import ConfigError
from tfedge.config_files import check_files, config_sources, describe_sources, read_config_file

from .helpers import ROOT, SCHEMA, tiny_config
from .hostile import alias_bomb
from .snakemake_runs import SNAKEMAKE, copy_workflow, job_blocks, snakemake

VENV = Path(sys.executable).parents[1]
OWN_CONFIG = {
    "seeds": [0],
    "baseline": "small",
    "datasets": {"digits": {"source": "bundled", "max_per_class": 10}},
    "variants": {"small": {"dataset": "digits", "model": "mlp", "epochs": 1}},
    "convert": {"formats": ["tflite_fp32"]},
}


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("seeds: [0]\nbaseline: [\nvariants: {}\n", 4, "flow sequence started at line 2"),
        ("seeds: [0]\n\tbaseline: x\n", 2, "'\\t'"),
        ('title: "open\nseeds: [0]\n', 3, "quoted scalar started at line 1"),
        ("a:\n  b: 1\n c: 2\n", 3, "block mapping started at line 1"),
    ],
)
def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path, text, line, says):
    path = tmp_path / "my.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        read_config_file(path)
    assert f"{path}, line {line}," in str(error.value)
    assert says in str(error.value)


def test_a_config_must_be_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- seeds\n- variants\n")
    with pytest.raises(ConfigError, match=r"list.yaml: a config is a YAML mapping .* not list"):
        read_config_file(path)


def test_configfiles_replace_the_workflows_config_and_merge_in_order():
    assert config_sources("config.yaml", []) == ["config.yaml"]
    assert config_sources("config.yaml", ["/elsewhere/my.yaml"]) == ["/elsewhere/my.yaml"]
    assert config_sources("config.yaml", ["config.yaml", "my.yaml"]) == ["config.yaml", "my.yaml"]
    assert describe_sources(["my.yaml"]) == "my.yaml"
    merged = describe_sources(["config.yaml", "my.yaml"], command_line_values=True)
    assert merged == "config.yaml with my.yaml merged over it and --config values"


def test_a_schema_error_names_the_users_file(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump({**OWN_CONFIG, "seeds": []}))
    expected = rf"^{path} is invalid:\n  - seeds: \[\] should be non-empty"
    with pytest.raises(ConfigError, match=expected):
        check_files([path], SCHEMA)


def test_files_merge_key_by_key_as_snakemake_merges(tmp_path):
    base, extra = tmp_path / "base.yaml", tmp_path / "extra.yaml"
    base.write_text(yaml.safe_dump(OWN_CONFIG))
    extra.write_text("variants:\n  small: {epochs: 3}\n")
    config = check_files([base, extra], SCHEMA)
    assert config["variants"]["small"]["epochs"] == 3
    assert config["variants"]["small"]["model"] == "mlp"


def make_in(workflow: Path, *arguments: str) -> subprocess.CompletedProcess:
    """The copy's Makefile with this test run's virtual environment, never reinstalled."""
    stamp = VENV / ".installed"
    return subprocess.run(
        ["make", "--no-print-directory", "-o", str(stamp), f"VENV={VENV}", *arguments],
        cwd=workflow,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def workflow(tmp_path) -> Path:
    """A workflow copy whose config.yaml is the tiny config, with the Makefile and own.yaml."""
    copy_workflow(tmp_path, tiny_config())
    (tmp_path / "Makefile").write_text((ROOT / "Makefile").read_text())
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(OWN_CONFIG))
    return tmp_path


@pytest.mark.workflow
@pytest.mark.slow  # a dry run through make or Snakemake (6-10 s)
def test_make_with_config_plans_that_config_alone(workflow):
    result = make_in(workflow, "dry-run", "CONFIG=own.yaml")
    assert result.returncode == 0, result.stderr + result.stdout
    jobs = job_blocks(result.stdout + result.stderr)
    trained = {wildcards for rule, wildcards in jobs if rule == "train"}
    assert trained == {"variant=small, seed=0"}
    assert {wildcards for rule, wildcards in jobs if rule == "prepare_data"} == {"dataset=digits"}

    # What a cluster job runs: the --configfile, without --replace-workflow-config.
    job = snakemake(workflow, "report", "-n", "--configfiles", "own.yaml")
    assert job.returncode == 0, job.stderr
    job_trained = {w for rule, w in job_blocks(job.stdout + job.stderr) if rule == "train"}
    assert job_trained == {"variant=small, seed=0"}

    both = snakemake(workflow, "report", "-n", "--configfile", "config.yaml", "own.yaml")
    assert both.returncode == 0, both.stderr
    both_trained = {w for rule, w in job_blocks(both.stdout + both.stderr) if rule == "train"}
    assert {"variant=small, seed=0", "variant=cnn, seed=0"} <= both_trained


@pytest.mark.workflow
def test_make_with_a_broken_config_names_it_before_snakemake_runs(workflow):
    (workflow / "own.yaml").write_text("seeds: [0]\nvariants:\n  small: {dataset: digits\n")
    result = make_in(workflow, "dry-run", "CONFIG=own.yaml")
    assert result.returncode != 0
    assert "own.yaml, line 4, column 1: not valid YAML" in result.stderr
    assert not (workflow / ".snakemake").exists(), "Snakemake should not have started"


@pytest.mark.workflow
@pytest.mark.slow  # a dry run through make or Snakemake (6-10 s)
def test_snakemake_names_the_replacing_config_and_the_merged_pair(workflow):
    (workflow / "own.yaml").write_text(yaml.safe_dump({**OWN_CONFIG, "seeds": []}))
    alone = snakemake(workflow, "-n", "--configfile", "own.yaml")
    assert alone.returncode != 0
    assert "\nown.yaml is invalid:\n  - seeds: [] should be non-empty" in alone.stdout

    merged = snakemake(workflow, "-n", "--configfile", "config.yaml", "own.yaml")
    assert "\nconfig.yaml with own.yaml merged over it" in merged.stdout


@pytest.mark.workflow
def test_a_syntax_error_in_the_workflows_config_names_its_line(workflow):
    (workflow / "config.yaml").write_text("seeds: [0]\nbaseline: mlp_baseline\n  datasets: {}\n")
    result = snakemake(workflow, "-n")
    assert result.returncode != 0
    assert "config.yaml, line 3, column 11: not valid YAML" in result.stdout


@pytest.mark.workflow
def test_snakemake_refuses_an_alias_bomb_before_planning(workflow):
    config = tiny_config()
    config["architectures"]["models"] = "BOMB"
    text = yaml.safe_dump(config).replace("models: BOMB", f"models: {alias_bomb()}")
    (workflow / "bomb.yaml").write_text(text)
    result = subprocess.run(
        [SNAKEMAKE, "-n", "report", "--configfile", "bomb.yaml"],
        cwd=workflow, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "bomb.yaml holds more than 100,000 values" in result.stdout + result.stderr
