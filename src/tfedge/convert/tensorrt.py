"""ONNX → TensorRT engines and a runner for them, on NVIDIA GPUs.

Each engine is a strongly typed network built from the ONNX model of its own precision
(``onnx``, ``onnx_fp16``, ``onnx_int8``: tfedge.formats), so the model, not builder flags,
says which layers run in FP16 or INT8. That is the one way TensorRT 11 accepts (it removed
the INT8 calibrator and the precision flags) and works the same on TensorRT 10, and the INT8
engine runs the very QDQ model ONNX Runtime is judged on here.

TensorRT's libraries come from NVIDIA's containers (docker/Dockerfile.gpu, JetPack on a
Jetson), not from PyPI, and need a CUDA device; ``unavailable_reason`` says which of the two is
missing so the pipeline records an honest "skipped". The code is typed against the
``tensorrt-stubs`` package and checked by mypy in the tests. Memory and streams are handled
with ``cuda-python`` (``cuda.bindings.runtime``), which the GPU images install.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tfedge.convert.onnx import INPUT_NAME, OUTPUT_NAME
from tfedge.files import read_json
from tfedge.formats import Format

if TYPE_CHECKING:
    import tensorrt as trt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProfileShapes:
    """The input shapes an engine's optimisation profile covers (batch first)."""

    minimum: tuple[int, ...]
    optimum: tuple[int, ...]
    maximum: tuple[int, ...]


def profile_shapes(
    image_shape: tuple[int, ...], opt_batch: int, max_batch: int
) -> tuple[ProfileShapes, ProfileShapes]:
    """Two optimisation profiles: batch 1 alone, tuned for it (what batch-1 latency is timed
    on), and batch 1 up to ``max_batch`` tuned for ``opt_batch`` (what throughput is timed on)."""
    if not 1 <= opt_batch <= max_batch:
        raise ValueError(f"need 1 <= opt_batch ({opt_batch}) <= max_batch ({max_batch})")
    one = (1, *image_shape)
    return (
        ProfileShapes(one, one, one),
        ProfileShapes(one, (opt_batch, *image_shape), (max_batch, *image_shape)),
    )


def tensorrt_version() -> str | None:
    """TensorRT's version, or None when only the type stubs (a namespace package) are there."""
    try:
        import tensorrt
    except ImportError:
        return None
    return getattr(tensorrt, "__version__", None)


def cuda_device_name() -> str | None:
    """Name of CUDA device 0 through the driver API, or None without a driver or device."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    count = ctypes.c_int(0)
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or not count.value:
        return None
    device = ctypes.c_int(0)
    name = ctypes.create_string_buffer(256)
    if cuda.cuDeviceGet(ctypes.byref(device), 0) != 0:
        return None
    cuda.cuDeviceGetName(name, len(name), device)
    return name.value.decode()


# TensorRT 10: NGC's TensorRT images up to 25.07 pair it with CUDA 12, which TensorFlow's wheels
# and the cuda-python pin need (later images move to CUDA 13); pyproject pins it below 11.
SUPPORTED_MAJORS = (10,)
FITTING_IMAGE = "nvcr.io/nvidia/tensorrt:25.06-py3 (TensorRT 10.11, CUDA 12.9)"


def version_problem(version: str | None) -> str | None:
    """Why this TensorRT cannot build engines here, or None for a supported major version."""
    if version is None:
        return "tensorrt not importable (TensorRT's libraries are not installed here)"
    major = int(version.split(".")[0])
    if major not in SUPPORTED_MAJORS:
        supported = " or ".join(map(str, SUPPORTED_MAJORS))
        return (
            f"TensorRT {version} is installed, but tfedge builds engines with the TensorRT "
            f"{supported} API; use an image with TensorRT {supported}, e.g. {FITTING_IMAGE}"
        )
    return None


def bindings_problem() -> str | None:
    """Why cuda-python cannot move tensors here, or None when ``cuda.bindings`` imports."""
    try:
        from cuda.bindings import runtime  # noqa: F401
    except ImportError as error:
        return (
            f"cuda-python has no cuda.bindings ({error}); install 'cuda-python>=12.6.2.post1,<13'"
        )
    return None


def unavailable_reason() -> str | None:
    problem = version_problem(tensorrt_version())
    if problem is not None:
        return problem
    if cuda_device_name() is None:
        return "no CUDA device"
    return None


def check_image() -> list[str]:
    """What a GPU image lacks for the TensorRT formats (its build runs this; no GPU needed)."""
    return [p for p in (version_problem(tensorrt_version()), bindings_problem()) if p]


@dataclass(frozen=True)
class IOTensors:
    """The engine's image input and logits output, by name."""

    input: str
    output: str


def choose_io(modes: dict[str, str]) -> IOTensors:
    """Pick the input and output among an engine's I/O tensors (name → mode name).

    TensorRT promises no order of its I/O tensors, so they are matched by mode and by the
    names tfedge's ONNX export gives them (tfedge.convert.onnx).
    """

    def named(expected: str, mode: str) -> str:
        found = sorted(name for name, tensor_mode in modes.items() if tensor_mode == mode)
        if expected not in found:
            raise RuntimeError(
                f"the engine has no {mode.lower()} tensor named {expected!r} (its "
                f"{mode.lower()}s: {', '.join(found) or 'none'}); build it from tfedge's ONNX "
                f"export, whose input is {INPUT_NAME!r} and output {OUTPUT_NAME!r}"
            )
        return expected

    return IOTensors(named(INPUT_NAME, "INPUT"), named(OUTPUT_NAME, "OUTPUT"))


def io_tensors(engine: trt.ICudaEngine) -> IOTensors:
    """The engine's input and output, checked to be float32: what the runner copies in and out."""
    names = [engine.get_tensor_name(index) for index in range(engine.num_io_tensors)]
    io = choose_io({name: engine.get_tensor_mode(name).name for name in names})
    for name in astuple(io):
        dtype = engine.get_tensor_dtype(name).name
        if dtype != "FLOAT":
            raise RuntimeError(
                f"engine tensor {name!r} is {dtype}, but the runner feeds and reads float32; "
                "build the engine from a model with float32 inputs and outputs"
            )
    return io


def network_input(network: trt.INetworkDefinition) -> trt.ITensor:
    """The parsed network's image input, by name."""
    inputs = [network.get_input(index) for index in range(network.num_inputs)]
    for tensor in inputs:
        if tensor.name == INPUT_NAME:
            return tensor
    found = ", ".join(tensor.name for tensor in inputs) or "none"
    raise RuntimeError(f"the ONNX model has no input named {INPUT_NAME!r} (its inputs: {found})")


def add_profile(
    builder: trt.Builder, config: trt.IBuilderConfig, name: str, shapes: ProfileShapes
) -> None:
    """One optimisation profile for input ``name``; TensorRT's refusals become clear errors."""
    import tensorrt as trt

    profile = builder.create_optimization_profile()
    low, best, high = (trt.Dims(list(shape)) for shape in astuple(shapes))
    try:
        profile.set_shape(name, low, best, high)
    except RuntimeError as error:  # what the bindings raise for shapes TensorRT refuses
        raise RuntimeError(f"TensorRT refused the profile {shapes} for {name!r}: {error}") from None
    if not profile or config.add_optimization_profile(profile) < 0:
        raise RuntimeError(
            f"the profile {shapes} for {name!r} is invalid: each shape must have the input's "
            "rank, and minimum <= optimum <= maximum (convert.tensorrt opt_batch, max_batch)"
        )


def build_engine(
    onnx_path: Path, engine_path: Path, profiles: tuple[ProfileShapes, ...], workspace_mb: int
) -> None:
    """Parse the ONNX model into a strongly typed network and serialise an engine for this GPU.

    TF32 is turned off (TensorRT turns it on by default, and on Ampere and later GPUs it rounds
    fp32 matrix inputs to 10-bit mantissas), so float layers run in the fp32 their type says.
    """
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT cannot parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    config.clear_flag(trt.BuilderFlag.TF32)
    for shapes in profiles:
        add_profile(builder, config, network_input(network).name, shapes)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT could not build the engine (see the job log)")
    engine_path.write_bytes(bytes(serialized))


def convert(source: Path, artifact: Path, fmt: Format, settings: dict, manifest: str) -> dict:
    return convert_from_onnx(source, artifact, fmt.precision, settings, manifest)


def convert_from_onnx(
    onnx_path: Path, artifact: Path, precision: str, settings: dict, manifest_path: str
) -> dict:
    """Build ``artifact`` from the ONNX model of its precision; returns version, GPU and profile."""
    manifest = read_json(manifest_path)
    size = manifest["image_size"]
    image_shape = (size, size, manifest["channels"])
    limits = settings["tensorrt"]
    profiles = profile_shapes(image_shape, limits["opt_batch"], limits["max_batch"])
    build_engine(onnx_path, artifact, profiles, limits["workspace_mb"])
    return {
        "tensorrt_version": tensorrt_version(),
        "gpu": cuda_device_name(),
        "precision": precision,
        "network": "strongly typed",
        "tf32": False,
        "built_from": onnx_path.parent.name,
        "profiles": [
            {"min": shapes.minimum, "opt": shapes.optimum, "max": shapes.maximum}
            for shapes in profiles
        ],
    }


def _cuda(result: tuple[Any, ...]) -> Any:
    """Unwrap a cuda-python call's (error, value) tuple, raising on any CUDA error."""
    from cuda.bindings import runtime as cudart

    error, *values = result
    if error != cudart.cudaError_t.cudaSuccess:
        raise RuntimeError(f"CUDA call failed: {error}")
    return values[0] if values else None


class DeviceBuffer:
    """Device memory for one tensor at the profile's largest batch."""

    def __init__(self, nbytes: int) -> None:
        from cuda.bindings import runtime as cudart

        self.pointer: int = int(_cuda(cudart.cudaMalloc(nbytes)))

    def free(self) -> None:
        from cuda.bindings import runtime as cudart

        _cuda(cudart.cudaFree(self.pointer))


class PinnedArray:
    """Page-locked host memory seen as a float32 array: the source and target of async copies."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        from cuda.bindings import runtime as cudart

        count = int(np.prod(shape))
        self.pointer: int = int(_cuda(cudart.cudaMallocHost(count * 4)))
        memory = (ctypes.c_float * count).from_address(self.pointer)
        self.array = np.ctypeslib.as_array(memory).reshape(shape)

    def address(self, row: int) -> int:
        return self.pointer + row * self.array[0].nbytes

    def free(self) -> None:
        from cuda.bindings import runtime as cudart

        _cuda(cudart.cudaFreeHost(self.pointer))


def set_batch(
    context: trt.IExecutionContext, name: str, shape: tuple[int, ...], max_batch: int
) -> None:
    """Give the context the input shape of the next run, or say why TensorRT refused it."""
    if not context.set_input_shape(name, shape):
        raise RuntimeError(
            f"TensorRT refused input shape {shape} for {name!r}; the engine's profile covers "
            f"batch 1 to {max_batch} of one image shape (convert.tensorrt.max_batch)"
        )


def bind(context: trt.IExecutionContext, name: str, pointer: int) -> None:
    if not context.set_tensor_address(name, pointer):
        raise RuntimeError(f"TensorRT refused the device address for tensor {name!r}")


def execution_context(
    engine: trt.ICudaEngine, profile: int, stream: int, io: IOTensors, buffers: tuple[int, int]
) -> trt.IExecutionContext:
    """A context on optimisation profile ``profile``, bound to the device buffers (in, out)."""
    context = engine.create_execution_context()
    if context is None:
        raise RuntimeError(
            "TensorRT could not create an execution context (GPU memory is short; lower "
            "convert.tensorrt.max_batch or run one GPU job at a time)"
        )
    if profile and not context.set_optimization_profile_async(profile, stream):
        raise RuntimeError(f"TensorRT refused optimisation profile {profile} for a context")
    bind(context, io.input, buffers[0])
    bind(context, io.output, buffers[1])
    return context


class TensorRTRunner:
    """Runs a serialised engine on one CUDA stream, on any batch size (chunks beyond the profile).

    The engine has two optimisation profiles (``profile_shapes``): batch 1 runs on the one tuned
    for batch 1, every other batch on the one tuned for ``opt_batch``, each in a context of its
    own. A call copies its images into pinned host memory, queues every chunk's copy in, run and
    copy out on the stream, and synchronises once at the end, so the time a call takes is the
    engine's work plus the transfers it needs, with no device-wide waits. ``close()`` (or
    leaving a ``with`` block) frees its device and pinned memory and its stream, so a process
    that opens engines one after another does not hold them all.
    """

    def __init__(self, engine_path: Path) -> None:
        import tensorrt as trt
        from cuda.bindings import runtime as cudart

        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if engine is None:
            raise RuntimeError(f"cannot load TensorRT engine {engine_path}")
        self.engine = engine  # the contexts need their engine alive
        self.tensors = io_tensors(engine)
        profiles = engine.num_optimization_profiles
        largest = engine.get_tensor_profile_shape(self.tensors.input, profiles - 1)[2]
        self.max_batch = int(largest[0])
        self.image_shape = tuple(int(largest[axis]) for axis in range(1, len(largest)))
        output_shape = engine.get_tensor_shape(self.tensors.output)
        self.classes = int(output_shape[len(output_shape) - 1])
        self.stream = _cuda(cudart.cudaStreamCreate())
        self.device_input = DeviceBuffer(self.max_batch * int(np.prod(self.image_shape)) * 4)
        self.device_output = DeviceBuffer(self.max_batch * self.classes * 4)
        buffers = (self.device_input.pointer, self.device_output.pointer)
        self.contexts = [
            execution_context(engine, profile, int(self.stream), self.tensors, buffers)
            for profile in range(profiles)
        ]
        self._synchronize()  # the profile switches are queued on the stream
        self.batches = [0] * profiles  # the input batch size each context is set to
        self.host: tuple[PinnedArray, PinnedArray] | None = None
        self.closed = False

    def __enter__(self) -> TensorRTRunner:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for queued work, free the buffers and the stream; a second call does nothing."""
        from cuda.bindings import runtime as cudart

        if self.closed:
            return
        self.closed = True
        self._synchronize()
        self.contexts.clear()  # contexts go before the memory they are bound to
        for array in self.host or ():
            array.free()
        self.host = None
        self.device_input.free()
        self.device_output.free()
        _cuda(cudart.cudaStreamDestroy(self.stream))

    def predict(self, images: np.ndarray) -> np.ndarray:
        host_input, host_output = self._pinned(len(images))
        host_input.array[: len(images)] = images
        queued = False
        for start in range(0, len(images), self.max_batch):
            count = min(self.max_batch, len(images) - start)
            profile = 0 if count == 1 else len(self.contexts) - 1
            if count != self.batches[profile]:
                if queued:  # a new shape must not change a context under queued work
                    self._synchronize()
                set_batch(
                    self.contexts[profile], self.tensors.input, (count, *self.image_shape),
                    self.max_batch,
                )  # fmt: skip
                self.batches[profile] = count
            self._enqueue(self.contexts[profile], host_input, host_output, start, count)
            queued = True
        self._synchronize()
        return host_output.array[: len(images)].copy()

    def _pinned(self, count: int) -> tuple[PinnedArray, PinnedArray]:
        """Pinned input and output arrays for ``count`` images, grown when a call needs more."""
        if self.host is None or len(self.host[0].array) < count:
            for array in self.host or ():
                array.free()
            self.host = PinnedArray((count, *self.image_shape)), PinnedArray((count, self.classes))
        return self.host

    def _enqueue(
        self,
        context: trt.IExecutionContext,
        host_input: PinnedArray,
        host_output: PinnedArray,
        start: int,
        count: int,
    ) -> None:
        from cuda.bindings import runtime as cudart

        kinds = cudart.cudaMemcpyKind
        in_bytes, out_bytes = (
            count * host_input.array[0].nbytes,
            count * host_output.array[0].nbytes,
        )
        _cuda(
            cudart.cudaMemcpyAsync(
                self.device_input.pointer,
                host_input.address(start),
                in_bytes,
                kinds.cudaMemcpyHostToDevice,
                self.stream,
            )
        )
        if not context.execute_async_v3(int(self.stream)):
            raise RuntimeError("TensorRT could not queue the inference (see the job log)")
        _cuda(
            cudart.cudaMemcpyAsync(
                host_output.address(start),
                self.device_output.pointer,
                out_bytes,
                kinds.cudaMemcpyDeviceToHost,
                self.stream,
            )
        )

    def _synchronize(self) -> None:
        from cuda.bindings import runtime as cudart

        _cuda(cudart.cudaStreamSynchronize(self.stream))


if __name__ == "__main__":
    import sys

    problems = check_image()
    print("\n".join(problems) or f"TensorRT {tensorrt_version()} and cuda.bindings: ready")
    sys.exit(1 if problems else 0)
