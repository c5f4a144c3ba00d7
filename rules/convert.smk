def conversion_settings(wildcards):
    """Only the settings the format uses, so unrelated edits do not rerun it."""
    kind, _, precision = wildcards.format.partition("_")
    keys = {
        "tflite": (
            ["calibration_images", "tflite_int8_io"] if precision == "int8" else []
        ),
        "onnx": ["onnx_opset"],
        "tensorrt": ["tensorrt"]
        + (["calibration_images"] if precision == "int8" else []),
    }.get(kind, [])
    return {key: CONVERT[key] for key in keys}


def conversion_inputs(wildcards):
    dataset = dataset_of(wildcards)
    inputs = {
        "savedmodel": paths.model_file(wildcards.variant, REFERENCE_SEED, "savedmodel"),
        "manifest": paths.manifest(dataset),
        "train": paths.tfrecord(dataset, "train"),
    }
    if wildcards.format.startswith("tensorrt"):
        inputs["onnx_record"] = paths.conversion(wildcards.variant, "onnx")
    return inputs


rule convert:
    input:
        unpack(conversion_inputs),
    output:
        paths.conversion("{variant}", "{format}"),
    log:
        paths.log("convert", "{variant}", "{format}"),
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=lambda wildcards: int(wildcards.format.startswith("tensorrt")),
    params:
        settings=conversion_settings,
    script:
        "../scripts/convert.py"
