# Pruning levels: IMP (global, local), one-shot, and the LTH controls. One level is one job and one
# folder; IMP level L depends only on level L-1 of the same method, so any level can be rebuilt alone.

LEVEL = f"{RUNS}/{{method}}/level_{{level}}"


def rewind_checkpoint(dataset, model, seed):
    """The dense checkpoint a ticket is rewound to (pruning.rewind); `none` rewinds to nothing."""
    rewind = PARAMS["pruning"]["rewind"]
    if rewind == "none":
        return []
    dense = DENSE.format(dataset=dataset, model=model, seed=seed)
    return f"{dense}/init.pt" if rewind == "init" else f"{dense}/rewind.pt"


def rewind_weights(wildcards):
    return rewind_checkpoint(wildcards.dataset, wildcards.model, wildcards.seed)


def previous_level(wildcards):
    """Level 1 is pruned from the dense model, level L from level L-1 of the same method."""
    level = int(wildcards.level)
    if level == 1:
        return {"weights": DENSE.format(**wildcards) + "/final.pt"}
    previous = LEVEL.format(**{**wildcards, "level": level_name(level - 1)[len("level_"):]})
    return {"weights": f"{previous}/final.pt", "mask": f"{previous}/mask.pt"}


def ticket_level(wildcards):
    ticket = PARAMS["pruning"]["controls"]["ticket"]
    return LEVEL.format(**{**wildcards, "method": ticket}) + "/mask.pt"


def prune_shell(wildcards):
    return (
        f"--dataset {wildcards.dataset} --model {wildcards.model} --seed {wildcards.seed} "
        f"--method {wildcards.method} --level {int(wildcards.level)}"
    )


PRUNE_SHELL = "export OMP_NUM_THREADS={threads}; {CLI} prune {params.args} > {log} 2>&1"
PRUNE_LOG = f"{RESULTS}/logs/prune/{{dataset}}/{{model}}/seed_{{seed}}/{{method}}_{{level}}.log"


rule prune_imp:
    message:
        "IMP {wildcards.method} level {wildcards.level}: {wildcards.model} on {wildcards.dataset} (seed {wildcards.seed})"
    input:
        unpack(previous_level),
        faces=f"{FACES}/{{dataset}}",
        rewind=rewind_weights,
    output:
        [f"{LEVEL}/{name}" for name in CHECKPOINT_FILES],
    wildcard_constraints:
        method="imp_global|imp_local",
    params:
        args=prune_shell,
        digest=dataset_digest(*PRUNING_KEYS),
    log:
        PRUNE_LOG,
    threads: 1
    resources:
        mem_mb=4000,
        runtime=720,
        gpu=1,
    shell:
        PRUNE_SHELL


rule prune_oneshot:
    message:
        "One-shot pruning to level {wildcards.level}: {wildcards.model} on {wildcards.dataset} (seed {wildcards.seed})"
    input:
        weights=f"{DENSE}/final.pt",
        faces=f"{FACES}/{{dataset}}",
        rewind=rewind_weights,
    output:
        [f"{LEVEL}/{name}" for name in CHECKPOINT_FILES],
    wildcard_constraints:
        method="oneshot",
    params:
        args=prune_shell,
        digest=dataset_digest(*PRUNING_KEYS),
    log:
        PRUNE_LOG,
    threads: 1
    resources:
        mem_mb=4000,
        runtime=720,
        gpu=1,
    shell:
        PRUNE_SHELL


rule prune_control:
    message:
        "Control {wildcards.method} at level {wildcards.level}: {wildcards.model} on {wildcards.dataset} (seed {wildcards.seed})"
    input:
        ticket=ticket_level,
        init=f"{DENSE}/init.pt",
        faces=f"{FACES}/{{dataset}}",
    output:
        [f"{LEVEL}/{name}" for name in CHECKPOINT_FILES],
    wildcard_constraints:
        method="reinit|random_mask",
    params:
        args=prune_shell,
        digest=dataset_digest(*PRUNING_KEYS, "pruning.controls.ticket"),
    log:
        PRUNE_LOG,
    threads: 1
    resources:
        mem_mb=4000,
        runtime=720,
        gpu=1,
    shell:
        PRUNE_SHELL
