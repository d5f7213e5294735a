# Level 0: the dense baseline of each dataset x model x seed.


rule train:
    message:
        "Training dense {wildcards.model} on {wildcards.dataset} (seed {wildcards.seed})"
    input:
        f"{FACES}/{{dataset}}",
    output:
        init=f"{DENSE}/init.pt",
        rewind=f"{DENSE}/rewind.pt",
        final=f"{DENSE}/final.pt",
        metrics=f"{DENSE}/metrics.json",
        history=f"{DENSE}/history.csv",
    params:
        digest=dataset_digest(*TRAINING_KEYS),
    log:
        f"{RESULTS}/logs/train/{{dataset}}/{{model}}/seed_{{seed}}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=720,
        gpu=1,
    shell:
        "export OMP_NUM_THREADS={threads}; "
        "{CLI} train --dataset {wildcards.dataset} --model {wildcards.model} --seed {wildcards.seed} > {log} 2>&1"
