"""ONNX → TensorRT engines on NVIDIA GPUs, and the check of what TensorRT needs here.

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

The runner that times the engines is tfedge.convert.tensorrt_runtime: a module of its own, so
editing it reruns the TensorRT benchmarks and rebuilds no engine.
"""

from __future__ import annotations

import ctypes
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tfedge.files import read_json
from tfedge.formats import INPUT_NAME, Format

if TYPE_CHECKING:
    import tensorrt as trt


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


if __name__ == "__main__":
    import sys

    problems = check_image()
    print("\n".join(problems) or f"TensorRT {tensorrt_version()} and cuda.bindings: ready")
    sys.exit(1 if problems else 0)
