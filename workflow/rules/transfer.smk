# Ticket transfer: a mask found on {source}, with the checkpoint it rewinds to, retrained on {target}.


rule transfer:
    message:
        "Transfer {wildcards.method} level {wildcards.level} of {wildcards.model}: {wildcards.source} -> {wildcards.target}"
    input:
        unpack(inputs_of("transfer")),
    output:
        **outputs_of("transfer"),
    wildcard_constraints:
        method="|".join(PRUNING_METHODS),
    params:
        command=command_of("transfer"),
        digest=digest_of("transfer"),
    log:
        log_of("transfer"),
    benchmark:
        benchmark_of("transfer")
    threads: PARAMS["torch_threads"]
    resources:
        mem_mb=4000,
        runtime=720,
        gpu=WHOLE_GPUS,
        gpu_slots=gpu_slots_of("transfer"),
    shell:
        JOB_SHELL
