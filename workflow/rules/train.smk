# Level 0: the dense baseline of each dataset x model x seed.


rule train:
    message:
        "Training dense {wildcards.model} on {wildcards.dataset} (seed {wildcards.seed})"
    input:
        unpack(inputs_of("train")),
    output:
        **outputs_of("train"),
    params:
        command=command_of("train"),
        digest=digest_of("train"),
    log:
        log_of("train"),
    benchmark:
        benchmark_of("train")
    threads: PARAMS["torch_threads"]
    resources:
        mem_mb=4000,
        runtime=720,
        gpu=WHOLE_GPUS,
        gpu_slots=gpu_slots_of("train"),
    shell:
        JOB_SHELL
