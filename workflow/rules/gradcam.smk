# Grad-CAM of the dense model and of the levels nearest gradcam.sparsities.


def gradcam_inputs(wildcards):
    run = {"dataset": wildcards.dataset, "model": wildcards.model, "seed": PARAMS["seeds"][0]}
    levels = [
        LEVEL.format(**run, method=PARAMS["gradcam"]["method"], level=level_name(level)[len("level_"):])
        for level in targets.gradcam_levels(PARAMS)
    ]
    return (
        [DENSE.format(**run) + "/final.pt", DENSE.format(**run) + "/metrics.json"]
        + [f"{level}/final.pt" for level in levels]
        + [f"{level}/metrics.json" for level in levels]
    )


rule gradcam:
    message:
        "Grad-CAM of {wildcards.model} on {wildcards.dataset}"
    input:
        checkpoints=gradcam_inputs,
        faces=f"{FACES}/{{dataset}}",
    output:
        json=f"{RESULTS}/gradcam/{{dataset}}/{{model}}/gradcam.json",
        figures=multiext(f"{RESULTS}/gradcam/{{dataset}}/{{model}}/gradcam", ".png", ".pdf"),
    params:
        digest=lambda w: digest(*GRADCAM_KEYS),
    log:
        f"{RESULTS}/logs/gradcam/{{dataset}}/{{model}}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "export OMP_NUM_THREADS={threads}; "
        "{CLI} gradcam --dataset {wildcards.dataset} --model {wildcards.model} > {log} 2>&1"
