"""ONNX → TensorRT engines (FP32, FP16, INT8) and a runner for them, on NVIDIA GPUs.

TensorRT's libraries come from NVIDIA's containers (docker/Dockerfile.gpu, JetPack on a
Jetson), not from PyPI, and need a CUDA device; ``unavailable_reason`` says which of the two is
missing so the pipeline records an honest "skipped". The code is typed against the
``tensorrt-stubs`` package and checked by mypy in the tests. Device memory is handled with
``cuda-python`` (``cuda.bindings.runtime``), which the GPU image installs.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tfedge.files import read_json

if TYPE_CHECKING:
    import tensorrt as trt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProfileShapes:
    """The input shapes an engine's optimisation profile covers (batch first)."""

    minimum: tuple[int, ...]
    optimum: tuple[int, ...]
    maximum: tuple[int, ...]


def profile_shapes(image_shape: tuple[int, ...], opt_batch: int, max_batch: int) -> ProfileShapes:
    """Batch 1 up to ``max_batch``, tuned for ``opt_batch``."""
    if not 1 <= opt_batch <= max_batch:
        raise ValueError(f"need 1 <= opt_batch ({opt_batch}) <= max_batch ({max_batch})")
    return ProfileShapes((1, *image_shape), (opt_batch, *image_shape), (max_batch, *image_shape))


def calibration_batches(images: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Full, contiguous float32 batches for INT8 calibration; a partial last batch is dropped."""
    full = len(images) // batch_size
    if full == 0:
        raise ValueError(f"INT8 calibration needs at least {batch_size} images, got {len(images)}")
    return [
        np.ascontiguousarray(images[i * batch_size : (i + 1) * batch_size], dtype=np.float32)
        for i in range(full)
    ]


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


# The engine builder uses TensorRT 10's API; TensorRT 11 removed its INT8 calibrator and the
# FP16/INT8 builder flags. NGC's TensorRT images up to 25.07 pair TensorRT 10 with CUDA 12.
SUPPORTED_MAJORS = (10,)
FITTING_IMAGE = "nvcr.io/nvidia/tensorrt:25.06-py3 (TensorRT 10.11, CUDA 12.9)"


def version_problem(version: str | None) -> str | None:
    """Why this TensorRT cannot build engines here, or None for a supported major version."""
    if version is None:
        return "tensorrt not importable (TensorRT's libraries are not installed here)"
    major = int(version.split(".")[0])
    if major not in SUPPORTED_MAJORS:
        supported = ", ".join(map(str, SUPPORTED_MAJORS))
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


def _cuda(result: tuple[Any, ...]) -> Any:
    """Unwrap a cuda-python call's (error, value) tuple, raising on any CUDA error."""
    from cuda.bindings import runtime as cudart

    error, *values = result
    if error != cudart.cudaError_t.cudaSuccess:
        raise RuntimeError(f"CUDA call failed: {error}")
    return values[0] if values else None


class DeviceBuffer:
    """Device memory for one array, with host copies in and out."""

    def __init__(self, nbytes: int) -> None:
        from cuda.bindings import runtime as cudart

        self.nbytes = nbytes
        self.pointer: int = int(_cuda(cudart.cudaMalloc(nbytes)))

    def upload(self, array: np.ndarray) -> None:
        from cuda.bindings import runtime as cudart

        kind = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        _cuda(cudart.cudaMemcpy(self.pointer, array.ctypes.data, array.nbytes, kind))

    def download(self, array: np.ndarray) -> None:
        from cuda.bindings import runtime as cudart

        kind = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        _cuda(cudart.cudaMemcpy(array.ctypes.data, self.pointer, array.nbytes, kind))

    def free(self) -> None:
        from cuda.bindings import runtime as cudart

        _cuda(cudart.cudaFree(self.pointer))


def make_calibrator(batches: list[np.ndarray], cache: Path) -> trt.IInt8Calibrator:
    """An entropy calibrator (TensorRT's default for CNNs) fed with training batches."""
    import tensorrt as trt

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            super().__init__()
            self.pending: Iterator[np.ndarray] = iter(batches)
            self.buffer = DeviceBuffer(batches[0].nbytes)

        def get_batch_size(self) -> int:
            return len(batches[0])

        def get_batch(self, names: list[str]) -> list[int]:
            batch = next(self.pending, None)
            if batch is None:
                return []  # tells TensorRT calibration is over
            self.buffer.upload(batch)
            return [self.buffer.pointer]

        def read_calibration_cache(self) -> bytes | None:
            return cache.read_bytes() if cache.exists() else None

        def write_calibration_cache(self, data: memoryview) -> None:
            cache.write_bytes(bytes(data))

    return EntropyCalibrator()


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    precision: str,
    shapes: ProfileShapes,
    workspace_mb: int,
    calibration: list[np.ndarray] | None = None,
) -> None:
    """Parse the ONNX model and serialise an engine for this GPU with one profile."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT cannot parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    profile = builder.create_optimization_profile()
    input_name = network.get_input(0).name
    low, best, high = (trt.Dims(list(shape)) for shape in astuple(shapes))
    profile.set_shape(input_name, low, best, high)
    config.add_optimization_profile(profile)
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        if not calibration:
            raise ValueError("an INT8 engine needs calibration batches")
        config.set_flag(trt.BuilderFlag.INT8)
        config.set_calibration_profile(profile)
        config.int8_calibrator = make_calibrator(calibration, engine_path.with_suffix(".cache"))
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT could not build the engine (see the job log)")
    engine_path.write_bytes(bytes(serialized))


def convert_from_onnx(
    onnx_path: Path, artifact: Path, precision: str, settings: dict, manifest_path: str
) -> dict:
    """Build ``artifact`` from the converted ONNX model; returns version, GPU and profile."""
    manifest = read_json(manifest_path)
    size = manifest["image_size"]
    image_shape = (size, size, manifest["channels"])
    limits = settings["tensorrt"]
    shapes = profile_shapes(image_shape, limits["opt_batch"], limits["max_batch"])
    calibration = None
    if precision == "int8":
        from tfedge.convert.tflite import calibration_images

        images = calibration_images(manifest_path, settings["calibration_images"])
        calibration = calibration_batches(images, limits["opt_batch"])
    build_engine(onnx_path, artifact, precision, shapes, limits["workspace_mb"], calibration)
    return {
        "tensorrt_version": tensorrt_version(),
        "gpu": cuda_device_name(),
        "precision": precision,
        "profile": {"min": shapes.minimum, "opt": shapes.optimum, "max": shapes.maximum},
        "calibration_batches": len(calibration) if calibration else 0,
    }


class TensorRTRunner:
    """Runs a serialised engine on any batch size up to its profile's maximum (chunks beyond)."""

    def __init__(self, engine_path: Path) -> None:
        import tensorrt as trt

        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if engine is None:
            raise RuntimeError(f"cannot load TensorRT engine {engine_path}")
        self.engine = engine
        self.context = engine.create_execution_context()
        self.input_name = engine.get_tensor_name(0)
        self.output_name = engine.get_tensor_name(1)
        largest = engine.get_tensor_profile_shape(self.input_name, 0)[2]
        maximum = [int(largest[axis]) for axis in range(len(largest))]
        self.max_batch = maximum[0]
        output_shape = engine.get_tensor_shape(self.output_name)
        self.classes = int(output_shape[len(output_shape) - 1])
        self.input = DeviceBuffer(int(np.prod(maximum)) * 4)
        self.output = DeviceBuffer(self.max_batch * self.classes * 4)

    def predict(self, images: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [
                self._run(images[i : i + self.max_batch])
                for i in range(0, len(images), self.max_batch)
            ]
        )

    def _run(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        self.context.set_input_shape(self.input_name, batch.shape)
        self.input.upload(batch)
        self.context.set_tensor_address(self.input_name, self.input.pointer)
        self.context.set_tensor_address(self.output_name, self.output.pointer)
        if not self.context.execute_async_v3(0):
            raise RuntimeError("TensorRT execution failed")
        logits = np.empty((len(batch), self.classes), np.float32)
        self.output.download(logits)
        return logits


if __name__ == "__main__":
    import sys

    problems = check_image()
    print("\n".join(problems) or f"TensorRT {tensorrt_version()} and cuda.bindings: ready")
    sys.exit(1 if problems else 0)
