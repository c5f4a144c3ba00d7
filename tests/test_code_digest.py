"""Each rule's `code` param digests the library code its script runs, and only that code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tfedge.code_digest import code_digest, code_files
from tfedge.formats import FORMATS

from .helpers import ROOT


@pytest.fixture
def library(tmp_path) -> tuple[Path, Path]:
    """A copy of the package and the scripts, to edit."""
    package = Path(shutil.copytree(ROOT / "src" / "tfedge", tmp_path / "tfedge"))
    scripts = Path(shutil.copytree(ROOT / "scripts", tmp_path / "scripts"))
    return package, scripts


def digest(library, script: str, *modules: str) -> str:
    package, scripts = library
    return code_digest(scripts / script, *modules, root=package)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_code_changes_rerun_and_docstrings_comments_and_layout_do_not(library):
    package, _ = library
    before = digest(library, "train.py")
    attempt = package / "train_attempt.py"
    edit(attempt, '"""One training attempt', '"""A reworded docstring: one training attempt')
    edit(attempt, "def compile_model(", "# a comment\n\n\ndef compile_model(")
    assert digest(library, "train.py") == before
    edit(attempt, "optimizer=keras.optimizers.Adam(rate)", "optimizer=keras.optimizers.SGD(rate)")
    assert digest(library, "train.py") != before


def test_a_module_the_job_runs_by_name_counts(library):
    package, scripts = library
    train_files = code_files((scripts / "train.py",), package)
    assert package / "train_attempt.py" in train_files  # python -m tfedge.train_attempt
    assert package / "train" / "job.py" in train_files and package / "__init__.py" in train_files


def test_a_converter_change_reruns_its_own_formats_only(library):
    package, _ = library
    converters = {name: row.converter_module for name, row in FORMATS.items()}
    before = {name: digest(library, "convert.py", module) for name, module in converters.items()}
    edit(package / "convert" / "tflite.py", "converter.optimizations", "converter.optimizations ")
    edit(
        package / "convert" / "tflite.py",
        "representative_dataset = lambda",
        "representative_dataset=lambda",
    )
    assert before == {name: digest(library, "convert.py", m) for name, m in converters.items()}
    edit(package / "convert" / "tflite.py", '"input_type": "float32"', '"input_type": "float"')
    after = {name: digest(library, "convert.py", m) for name, m in converters.items()}
    assert {name for name in FORMATS if after[name] != before[name]} == {
        name for name, row in FORMATS.items() if row.family == "tflite"
    }


def converter_files(library, fmt: str) -> set[Path]:
    package, scripts = library
    return set(code_files((scripts / "convert.py", FORMATS[fmt].converter_module), package))


def test_no_conversion_digests_another_format_s_converter(library):
    package, _ = library
    converters = {package / "convert" / f"{row.converter}.py" for row in FORMATS.values()}
    for name, row in FORMATS.items():
        reached = converter_files(library, name) & converters
        assert reached == {package / "convert" / f"{row.converter}.py"}, name
    assert package / "convert" / "tensorrt_runtime.py" not in converter_files(
        library, "tensorrt_fp16"
    )


def test_editing_the_quantiser_changes_only_onnx_int8_s_conversion_digest(library):
    package, _ = library
    before = {
        name: digest(library, "convert.py", row.converter_module) for name, row in FORMATS.items()
    }
    edit(
        package / "convert" / "quantize.py",
        "fast_bias_correction=False",
        "fast_bias_correction=True",
    )
    after = {
        name: digest(library, "convert.py", row.converter_module) for name, row in FORMATS.items()
    }
    assert {name for name in FORMATS if after[name] != before[name]} == {"onnx_int8"}


def test_only_the_tensorrt_benchmarks_digest_tensorrt_s_runner(library):
    package, scripts = library
    runner = FORMATS["tensorrt_fp32"].runner_module
    cpu = set(code_files((scripts / "benchmark.py",), package))
    gpu = set(code_files((scripts / "benchmark.py", runner), package))
    assert package / "convert" / "runtimes.py" in cpu
    assert gpu - cpu == {package / "convert" / "tensorrt_runtime.py"}


def test_where_the_package_and_the_scripts_lie_does_not_count(tmp_path):
    """A package copied to a folder that sorts before or after the scripts digests the same."""
    scripts = Path(shutil.copytree(ROOT / "scripts", tmp_path / "m" / "scripts"))
    digests = {
        code_digest(
            scripts / "architectures.py",
            root=Path(shutil.copytree(ROOT / "src" / "tfedge", tmp_path / place / "tfedge")),
        )
        for place in ("a", "z")
    }
    assert len(digests) == 1
