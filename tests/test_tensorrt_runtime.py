"""What a GPU image checks at build time: a TensorRT major the code supports, cuda.bindings."""

from __future__ import annotations

import sys
import types

import pytest

from tfedge.convert import tensorrt


@pytest.mark.parametrize("version", ["10.3.0", "10.11.0.33", "10.16.1"])
def test_tensorrt_10_is_supported(version):
    assert tensorrt.version_problem(version) is None


def test_tensorrt_11_names_the_api_and_an_image_that_fits():
    problem = tensorrt.version_problem("11.0.0")
    assert problem.startswith("TensorRT 11.0.0 is installed, but tfedge builds engines with")
    assert "TensorRT 10" in problem and "nvcr.io/nvidia/tensorrt:25.06-py3" in problem


def test_a_missing_tensorrt_is_named():
    assert tensorrt.version_problem(None).startswith("tensorrt not importable")


def test_cuda_python_without_bindings_names_the_pin(monkeypatch):
    monkeypatch.setitem(sys.modules, "cuda", types.ModuleType("cuda"))  # cuda-python < 12.6.1
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    assert "install 'cuda-python>=12.6.2.post1,<13'" in tensorrt.bindings_problem()


def test_cuda_bindings_that_import_pass(monkeypatch):
    bindings = types.ModuleType("cuda.bindings")
    bindings.runtime = types.ModuleType("cuda.bindings.runtime")
    monkeypatch.setitem(sys.modules, "cuda", types.ModuleType("cuda"))
    monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", bindings.runtime)
    assert tensorrt.bindings_problem() is None


def test_the_image_check_lists_both_problems_here(monkeypatch):
    monkeypatch.setattr(tensorrt, "tensorrt_version", lambda: "11.1.0")
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    problems = tensorrt.check_image()
    assert len(problems) == 2 and problems[0].startswith("TensorRT 11.1.0")


def test_an_unsupported_tensorrt_is_skipped_with_its_reason(monkeypatch):
    monkeypatch.setattr(tensorrt, "tensorrt_version", lambda: "11.0.0")
    assert tensorrt.unavailable_reason().startswith("TensorRT 11.0.0 is installed")
