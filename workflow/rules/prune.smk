# Pruning levels: IMP (global, local), one-shot, and the LTH controls. One level is one job and one
# folder; IMP level L depends only on level L-1 of the same method, so any level can be rebuilt alone.
# What each level reads (and the checkpoint it rewinds to) is its job's record in the stage table.


rule prune_imp:
    message:
        "IMP {wildcards.method} level {wildcards.level}: {wildcards.model} on {wildcards.dataset} (seed {wildcards.seed})"
    input:
        unpack(inputs_of("prune_imp")),
    output:
        **outputs_of("prune_imp"),
    wildcard_constraints:
        method="|".join(IMP_METHODS),
    params:
        command=command_of("prune_imp"),
        digest=digest_of("prune_imp"),
    log:
        log_of("prune_imp"),
    benchmark:
        benchmark_of("prune_imp")
    threads: PARAMS["torch_threads"]
    resources:
        mem_mb=4000,
        runtime=720,
        gpu=WHOLE_GPUS,
        gpu_slots=gpu_slots_of("prune_imp"),
    shell:
        JOB_SHELL


rule prune_oneshot:
    message:
        "One-shot pruning to level {wildcards.level}: {wildcards.model} on {wildcards.dataset} (seed {wildcards.seed})"
    input:
        unpack(inputs_of("prune_oneshot")),
    output:
        **outputs_of("prune_oneshot"),
    wildcard_constraints:
        method="|".join(m for m in PRUNING_METHODS if m not in IMP_METHODS),
    params:
        command=command_of("prune_oneshot"),
        digest=digest_of("prune_oneshot"),
    log:
        log_of("prune_oneshot"),
    benchmark:
        benchmark_of("prune_oneshot")
    threads: PARAMS["torch_threads"]
    resources:
        mem_mb=4000,
        runtime=720,
        gpu=WHOLE_GPUS,
        gpu_slots=gpu_slots_of("prune_oneshot"),
    shell:
        JOB_SHELL


rule prune_control:
    message:
        "Control {wildcards.method} at level {wildcards.level}: {wildcards.model} on {wildcards.dataset} (seed {wildcards.seed})"
    input:
        unpack(inputs_of("prune_control")),
    output:
        **outputs_of("prune_control"),
    wildcard_constraints:
        method="|".join(CONTROL_METHODS),
    params:
        command=command_of("prune_control"),
        digest=digest_of("prune_control"),
    log:
        log_of("prune_control"),
    benchmark:
        benchmark_of("prune_control")
    threads: PARAMS["torch_threads"]
    resources:
        mem_mb=4000,
        runtime=720,
        gpu=WHOLE_GPUS,
        gpu_slots=gpu_slots_of("prune_control"),
    shell:
        JOB_SHELL
