# Grad-CAM of the dense model and of the levels nearest gradcam.sparsities.


rule gradcam:
    message:
        "Grad-CAM of {wildcards.model} on {wildcards.dataset}"
    input:
        unpack(inputs_of("gradcam")),
    output:
        **outputs_of("gradcam"),
    params:
        command=command_of("gradcam"),
        digest=digest_of("gradcam"),
    log:
        log_of("gradcam"),
    benchmark:
        benchmark_of("gradcam")
    threads: PARAMS["torch_threads"]
    resources:
        mem_mb=4000,
        runtime=60,
        gpu_slots=gpu_slots_of("gradcam"),
    shell:
        JOB_SHELL
