# Ticket transfer: a mask found on {source}, with its rewind weights, retrained on {target}.


def source_ticket(wildcards):
    run = {"dataset": wildcards.source, "model": wildcards.model, "seed": wildcards.seed}
    inputs = {"mask": LEVEL.format(**run, method=wildcards.method, level=wildcards.level) + "/mask.pt"}
    rewind = rewind_checkpoint(**run)
    if rewind:
        inputs["rewind"] = rewind
    else:  # pruning.rewind: none transfers the source ticket's trained weights
        inputs["weights"] = LEVEL.format(**run, method=wildcards.method, level=wildcards.level) + "/final.pt"
    return inputs


rule transfer:
    message:
        "Transfer {wildcards.method} level {wildcards.level} of {wildcards.model}: {wildcards.source} -> {wildcards.target}"
    input:
        unpack(source_ticket),
        faces=f"{FACES}/{{target}}",
    output:
        [
            f"{RESULTS}/transfer/{{source}}__to__{{target}}/{{model}}/seed_{{seed}}/{{method}}/level_{{level}}/{name}"
            for name in CHECKPOINT_FILES
        ],
    wildcard_constraints:
        method="imp_global|imp_local|oneshot",
    params:
        args=lambda w: (
            f"--source {w.source} --target {w.target} --model {w.model} --seed {w.seed} "
            f"--method {w.method} --level {int(w.level)}"
        ),
        digest=lambda w: digest(f"datasets.{w.source}", f"datasets.{w.target}", *PRUNING_KEYS),
    log:
        f"{RESULTS}/logs/transfer/{{source}}__to__{{target}}/{{model}}/seed_{{seed}}/{{method}}_{{level}}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=720,
        gpu=1,
    shell:
        "export OMP_NUM_THREADS={threads}; {CLI} transfer {params.args} > {log} 2>&1"
