# Raw data -> face stores. Synthetic demo datasets are generated first, in the imagefolder layout.


rule demo_data:
    message:
        "Generating the synthetic demo dataset {wildcards.dataset}"
    output:
        **outputs_of("demo_data"),
    wildcard_constraints:
        dataset="|".join(synthetic_datasets(PARAMS)) or "^$",
    params:
        command=command_of("demo_data"),
        digest=digest_of("demo_data"),
    log:
        log_of("demo_data"),
    benchmark:
        benchmark_of("demo_data")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        JOB_SHELL


rule faces:
    message:
        "Extracting faces of {wildcards.dataset}"
    input:
        unpack(inputs_of("faces")),
    output:
        **outputs_of("faces"),
    params:
        command=command_of("faces"),
        digest=digest_of("faces"),
    log:
        log_of("faces"),
    benchmark:
        benchmark_of("faces")
    threads: 2
    resources:
        mem_mb=4000,
        runtime=240,
    shell:
        JOB_SHELL
