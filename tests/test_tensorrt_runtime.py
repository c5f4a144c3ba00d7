"""TensorRT without a GPU: the image check, and how the engine code picks tensors and fails.

The engine API is faked here with objects that answer the same calls; the real calls are
type-checked against NVIDIA's stubs (below) and run in the GPU images.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from tfedge.convert import tensorrt, tensorrt_runtime

from .helpers import ROOT


@pytest.mark.parametrize("version", ["10.3.0", "10.11.0.33", "10.16.1"])
def test_tensorrt_10_is_supported(version):
    assert tensorrt.version_problem(version) is None


@pytest.mark.parametrize("version", ["11.0.0", "12.0.0"])
def test_another_major_names_the_api_and_an_image_that_fits(version):
    problem = tensorrt.version_problem(version)
    assert problem.startswith(f"TensorRT {version} is installed, but tfedge builds engines with")
    assert "TensorRT 10 API" in problem and "nvcr.io/nvidia/tensorrt:25.06-py3" in problem


def test_the_code_the_pins_and_the_readme_name_the_same_tensorrt():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"tensorrt-cu12>=10.8,<11"' in pyproject and tensorrt.SUPPORTED_MAJORS == (10,)
    assert "TensorRT 11" not in (ROOT / "README.md").read_text().replace(
        "TensorRT 11 is refused", ""
    )


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
    monkeypatch.setattr(tensorrt, "tensorrt_version", lambda: "12.1.0")
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    problems = tensorrt.check_image()
    assert len(problems) == 2 and problems[0].startswith("TensorRT 12.1.0")


def test_an_unsupported_tensorrt_is_skipped_with_its_reason(monkeypatch):
    monkeypatch.setattr(tensorrt, "tensorrt_version", lambda: "12.0.0")
    assert tensorrt.unavailable_reason().startswith("TensorRT 12.0.0 is installed")


class FakeEngine:
    """Answers the engine calls ``io_tensors`` makes: name → (mode, data type)."""

    def __init__(self, tensors: dict[str, tuple[str, str]]) -> None:
        self.tensors = tensors
        self.num_io_tensors = len(tensors)

    def get_tensor_name(self, index):
        return list(self.tensors)[index]

    def get_tensor_mode(self, name):
        return types.SimpleNamespace(name=self.tensors[name][0])

    def get_tensor_dtype(self, name):
        return types.SimpleNamespace(name=self.tensors[name][1])


def test_io_tensors_are_chosen_by_mode_and_name_in_any_order():
    engine = FakeEngine({"logits": ("OUTPUT", "FLOAT"), "images": ("INPUT", "FLOAT")})
    assert tensorrt_runtime.io_tensors(engine) == tensorrt_runtime.IOTensors(
        input="images", output="logits"
    )


def test_an_engine_without_the_expected_input_names_what_it_has():
    engine = FakeEngine({"input_1": ("INPUT", "FLOAT"), "logits": ("OUTPUT", "FLOAT")})
    with pytest.raises(
        RuntimeError, match="no input tensor named 'images' \\(its inputs: input_1\\)"
    ):
        tensorrt_runtime.io_tensors(engine)


def test_an_output_named_like_the_input_is_not_taken_for_it():
    engine = FakeEngine({"images": ("OUTPUT", "FLOAT"), "logits": ("OUTPUT", "FLOAT")})
    with pytest.raises(RuntimeError, match="its inputs: none"):
        tensorrt_runtime.io_tensors(engine)


def test_an_engine_with_half_precision_io_is_refused():
    engine = FakeEngine({"images": ("INPUT", "HALF"), "logits": ("OUTPUT", "FLOAT")})
    with pytest.raises(RuntimeError, match="'images' is HALF, but the runner feeds and reads"):
        tensorrt_runtime.io_tensors(engine)


class FakeContext:
    def __init__(self, accepts: bool) -> None:
        self.accepts = accepts
        self.calls: list[tuple] = []

    def set_input_shape(self, name, shape):
        self.calls.append((name, shape))
        return self.accepts

    def set_tensor_address(self, name, pointer):
        return self.accepts


def test_a_refused_input_shape_is_an_error_naming_the_profile():
    context = FakeContext(accepts=False)
    with pytest.raises(
        RuntimeError, match=r"refused input shape \(64, 28, 28, 1\) .* batch 1 to 32"
    ):
        tensorrt_runtime.set_batch(context, "images", (64, 28, 28, 1), max_batch=32)
    tensorrt_runtime.set_batch(FakeContext(accepts=True), "images", (8, 28, 28, 1), max_batch=32)


def test_a_refused_device_address_is_an_error():
    with pytest.raises(RuntimeError, match="device address for tensor 'logits'"):
        tensorrt_runtime.bind(FakeContext(accepts=False), "logits", 1234)


def test_the_network_input_is_found_by_name():
    network = types.SimpleNamespace(num_inputs=2)
    tensors = [types.SimpleNamespace(name="mask"), types.SimpleNamespace(name="images")]
    network.get_input = tensors.__getitem__
    assert tensorrt.network_input(network).name == "images"
    network.num_inputs = 1
    with pytest.raises(RuntimeError, match="no input named 'images' \\(its inputs: mask\\)"):
        tensorrt.network_input(network)


class FakeProfile:
    def __init__(self, refusal: str | None, valid: bool) -> None:
        self.refusal, self.valid = refusal, valid

    def set_shape(self, name, low, best, high):
        if self.refusal:
            raise RuntimeError(self.refusal)  # as TensorRT's Python bindings raise it

    def __bool__(self):
        return self.valid


def add_profile(monkeypatch, profile: FakeProfile, index: int = 0) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(Dims=tuple))
    builder = types.SimpleNamespace(create_optimization_profile=lambda: profile)
    config = types.SimpleNamespace(add_optimization_profile=lambda added: index)
    shapes = tensorrt.profile_shapes((28, 28, 1), opt_batch=8, max_batch=32)[1]
    tensorrt.add_profile(builder, config, "images", shapes)


def test_profile_refusals_are_errors_naming_the_input_and_the_settings(monkeypatch):
    add_profile(monkeypatch, FakeProfile(refusal=None, valid=True))
    with pytest.raises(RuntimeError, match="TensorRT refused the profile .* 'images': rank"):
        add_profile(monkeypatch, FakeProfile(refusal="rank", valid=True))
    with pytest.raises(RuntimeError, match="is invalid.*opt_batch, max_batch"):
        add_profile(monkeypatch, FakeProfile(refusal=None, valid=False))
    with pytest.raises(RuntimeError, match="is invalid"):
        add_profile(monkeypatch, FakeProfile(refusal=None, valid=True), index=-1)


def test_batch_one_has_a_profile_of_its_own_and_batches_one_tuned_for_opt_batch():
    single, batches = tensorrt.profile_shapes((224, 224, 3), opt_batch=8, max_batch=32)
    assert single.minimum == single.optimum == single.maximum == (1, 224, 224, 3)
    assert batches.minimum[0] == 1 and batches.optimum[0] == 8 and batches.maximum[0] == 32
    with pytest.raises(ValueError, match="opt_batch"):
        tensorrt.profile_shapes((28, 28, 1), opt_batch=64, max_batch=32)


TENSORRT_MODULES = ("tensorrt.py", "tensorrt_runtime.py")  # the engine builder and the runner


def test_tensorrt_code_type_checks_against_the_stubs(tmp_path):
    from .stub_repair import repaired_copy

    site_packages = Path(next(p for p in sys.path if p.endswith("site-packages")))
    if not (site_packages / "tensorrt_bindings" / "tensorrt.pyi").exists():
        pytest.fail("tensorrt-stubs is not installed (make installs it with --no-deps)")
    stubs = repaired_copy(site_packages, tmp_path / "stubs")
    builder, runtime = (ROOT / "src" / "tfedge" / "convert" / name for name in TENSORRT_MODULES)
    broken = tmp_path / "broken" / "tensorrt_check.py"
    broken.parent.mkdir()
    broken.write_text(builder.read_text().replace(".create_network(", ".create_netwrk("))

    def mypy(target: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                   "--follow-imports=silent", str(target)]  # fmt: skip
        env = {"MYPYPATH": str(stubs), "PATH": ""}
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)

    for source in (builder, runtime):
        clean = mypy(source)
        assert clean.returncode == 0, clean.stdout
    caught = mypy(broken)
    assert caught.returncode != 0 and "create_netwrk" in caught.stdout


class FakeEngine2:
    """Answers what ``execution_context`` asks of an engine and its contexts."""

    def __init__(self, context_made: bool, profile_taken: bool) -> None:
        self.context_made, self.profile_taken = context_made, profile_taken

    def create_execution_context(self):
        if not self.context_made:
            return None
        context = FakeContext(accepts=True)
        context.set_optimization_profile_async = lambda profile, stream: self.profile_taken
        return context


def test_a_context_that_cannot_be_made_or_switched_is_an_error():
    io = tensorrt_runtime.IOTensors("images", "logits")
    made = tensorrt_runtime.execution_context(FakeEngine2(True, True), 1, 0, io, (1, 2))
    assert isinstance(made, FakeContext)
    with pytest.raises(RuntimeError, match="could not create an execution context"):
        tensorrt_runtime.execution_context(FakeEngine2(False, True), 0, 0, io, (1, 2))
    with pytest.raises(RuntimeError, match="refused optimisation profile 1"):
        tensorrt_runtime.execution_context(FakeEngine2(True, False), 1, 0, io, (1, 2))


class FakeCudaRuntime:
    """cuda.bindings.runtime's calls the runner makes, each answering (success, value); host
    memory is real (the runner reads and writes it), device memory and streams are numbers."""

    cudaError_t = types.SimpleNamespace(cudaSuccess=0)
    cudaMemcpyKind = types.SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)

    def __init__(self) -> None:
        self.live: dict[str, set[int]] = {"device": set(), "host": set(), "stream": set()}
        self.host_buffers: dict[int, object] = {}
        self.handles = iter(range(1000, 10**6, 1000))

    def _new(self, kind: str) -> tuple[int, int]:
        handle = next(self.handles)
        self.live[kind].add(handle)
        return 0, handle

    def cudaMalloc(self, nbytes):
        return self._new("device")

    def cudaFree(self, pointer):
        self.live["device"].remove(pointer)
        return (0,)

    def cudaMallocHost(self, nbytes):
        import ctypes

        buffer = ctypes.create_string_buffer(nbytes)
        pointer = ctypes.addressof(buffer)
        self.host_buffers[pointer] = buffer
        self.live["host"].add(pointer)
        return 0, pointer

    def cudaFreeHost(self, pointer):
        self.live["host"].remove(pointer)
        return (0,)

    def cudaStreamCreate(self):
        return self._new("stream")

    def cudaStreamDestroy(self, stream):
        self.live["stream"].remove(stream)
        return (0,)

    def cudaStreamSynchronize(self, stream):
        assert stream in self.live["stream"], "a stream used after it was destroyed"
        return (0,)

    def cudaMemcpyAsync(self, target, source, nbytes, kind, stream):
        return (0,)


class FakeRunEngine(FakeEngine):
    """An engine of two profiles (batch 1; 1 to 8) over 4×4×3 images and 5 classes."""

    num_optimization_profiles = 2

    def __init__(self) -> None:
        super().__init__({"images": ("INPUT", "FLOAT"), "logits": ("OUTPUT", "FLOAT")})

    def get_tensor_profile_shape(self, name, profile):
        return [(1, 4, 4, 3), (8 if profile else 1, 4, 4, 3), (8 if profile else 1, 4, 4, 3)]

    def get_tensor_shape(self, name):
        return (-1, 5)

    def create_execution_context(self):
        return types.SimpleNamespace(
            set_optimization_profile_async=lambda profile, stream: True,
            set_tensor_address=lambda name, pointer: True,
            set_input_shape=lambda name, shape: True,
            execute_async_v3=lambda stream: True,
        )


def test_the_runner_frees_its_device_and_pinned_memory_and_its_stream(monkeypatch, tmp_path):
    cuda = FakeCudaRuntime()
    fake_trt = types.SimpleNamespace(
        Logger=type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None}),
        Runtime=lambda logger: types.SimpleNamespace(
            deserialize_cuda_engine=lambda serialized: FakeRunEngine()
        ),
    )
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt)
    monkeypatch.setitem(sys.modules, "cuda", types.ModuleType("cuda"))
    monkeypatch.setitem(sys.modules, "cuda.bindings", types.SimpleNamespace(runtime=cuda))
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", cuda)
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"serialised")

    with tensorrt_runtime.TensorRTRunner(engine) as runner:
        logits = runner.predict(np.zeros((3, 4, 4, 3), np.float32))
        assert logits.shape == (3, 5)
        assert all(cuda.live[kind] for kind in ("device", "host", "stream")), cuda.live
    assert cuda.live == {"device": set(), "host": set(), "stream": set()}
    runner.close()  # a second close frees nothing twice
