"""Run a converted model in its own runtime: TF for SavedModel, LiteRT, ONNX Runtime, OpenVINO,
and TensorRT (whose runner is tfedge.convert.tensorrt_runtime).

Every runner takes float32 images in [0, 1] (batch first) and returns float32 logits, so
accuracy and timing code is the same for all formats.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from tfedge.formats import FORMATS


class Runner(Protocol):
    def predict(self, images: np.ndarray) -> np.ndarray: ...


class SavedModelRunner:
    """TensorFlow's own runtime; its thread pools follow the job's (``tfedge.job``)."""

    def __init__(self, path: Path, threads: int) -> None:
        from tfedge.keras_env import tf

        self.tf = tf
        self.loaded = tf.saved_model.load(str(path))  # keeps the variables alive

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.loaded.serve(self.tf.constant(images, self.tf.float32)).numpy()


class LiteRTRunner:
    """LiteRT (TFLite) interpreter; quantises int8 inputs and dequantises int8 outputs."""

    def __init__(self, path: Path, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.batch = None

    def predict(self, images: np.ndarray) -> np.ndarray:
        if self.batch != len(images):
            self.interpreter.resize_tensor_input(
                self.input["index"], [len(images), *images.shape[1:]]
            )
            self.interpreter.allocate_tensors()
            self.batch = len(images)
        self.interpreter.set_tensor(self.input["index"], quantise(images, self.input))
        self.interpreter.invoke()
        return dequantise(self.interpreter.get_tensor(self.output["index"]), self.output)


def quantise(values: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(
        detail["dtype"]
    )


def dequantise(values: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return values
    scale, zero_point = detail["quantization"]
    return (values.astype(np.float32) - zero_point) * scale


class OnnxRuntimeRunner:
    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: images.astype(np.float32)})[0]


class OpenVINORunner:
    """OpenVINO's CPU runtime, one compiled model per batch size (static shapes run fastest).

    Arithmetic the model leaves in float runs in fp32: on CPUs with bf16 units OpenVINO would
    otherwise pick bf16 and change the numbers being judged.
    """

    def __init__(self, path: Path, threads: int) -> None:
        import openvino as ov

        self.core = ov.Core()
        self.path, self.threads, self.requests = path, threads, {}

    def _request(self, shape: tuple[int, ...]):
        if shape not in self.requests:
            model = self.core.read_model(str(self.path / "model.xml"))
            model.reshape({0: list(shape)})
            config = {
                "INFERENCE_NUM_THREADS": self.threads,
                "INFERENCE_PRECISION_HINT": "f32",
                "PERFORMANCE_HINT": "LATENCY",
            }
            self.requests[shape] = self.core.compile_model(
                model, "CPU", config
            ).create_infer_request()
        return self.requests[shape]

    def predict(self, images: np.ndarray) -> np.ndarray:
        request = self._request(images.shape)
        request.infer({0: images.astype(np.float32)})
        return request.get_output_tensor(0).data.copy()


RUNNERS: dict[str, Callable[[Path, int], Runner]] = {
    "savedmodel": SavedModelRunner,
    "tflite": LiteRTRunner,
    "onnx": OnnxRuntimeRunner,
    "openvino": OpenVINORunner,
}


def open_runner(fmt: str, artifact: Path, threads: int) -> Runner:
    """The runtime of format ``fmt`` (tfedge.formats) with ``artifact`` loaded; ``release`` it
    when done.

    TensorRT's runner is imported by the module name its rows give (``Format.runner``), not by
    an import statement, so the CPU benchmark's code digest leaves it out.
    """
    row = FORMATS[fmt]
    if row.family == "tensorrt":
        return importlib.import_module(row.runner_module).TensorRTRunner(artifact)
    return RUNNERS[row.family](artifact, threads)


def release(runner: Runner) -> None:
    """Free what a runner holds outside Python's memory (TensorRT's device buffers and
    stream); the other runtimes hold nothing their garbage collection misses."""
    close = getattr(runner, "close", None)
    if close is not None:
        close()
