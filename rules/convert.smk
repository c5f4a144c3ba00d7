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
