"""Run a serialised TensorRT engine from Python: the TensorRT benchmarks' runner.

Apart from the engine builder (tfedge.convert.tensorrt), so that editing the runner reruns only
the TensorRT benchmarks: ``Format.runner`` names this module, the benchmark_tensorrt rule
digests it, and tfedge.convert.runtimes imports it by that name, which keeps it out of the CPU
benchmark's digest. Typed against ``tensorrt-stubs`` and checked by mypy in the tests; memory
and streams are handled with ``cuda-python`` (``cuda.bindings.runtime``).
"""

from __future__ import annotations

import ctypes
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tfedge.formats import INPUT_NAME, OUTPUT_NAME

if TYPE_CHECKING:
    import tensorrt as trt


@dataclass(frozen=True)
class IOTensors:
    """The engine's image input and logits output, by name."""

    input: str
    output: str


def choose_io(modes: dict[str, str]) -> IOTensors:
    """Pick the input and output among an engine's I/O tensors (name → mode name).

    TensorRT promises no order of its I/O tensors, so they are matched by mode and by the
    names tfedge's ONNX export gives them (``tfedge.formats.INPUT_NAME``, ``OUTPUT_NAME``).
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

    The engine has two optimisation profiles (``tensorrt.profile_shapes``): batch 1 runs on the
    one tuned for batch 1, every other batch on the one tuned for ``opt_batch``, each in a
    context of its own. A call copies its images into pinned host memory, queues every chunk's
    copy in, run and copy out on the stream, and synchronises once at the end, so the time a
    call takes is the engine's work plus the transfers it needs, with no device-wide waits.
    ``close()`` (or leaving a ``with`` block) frees its device and pinned memory and its stream,
    so a process that opens engines one after another does not hold them all.
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
