# Raw data -> face stores. Synthetic demo datasets are generated first, in the imagefolder layout.


def raw_root(wildcards):
    return PARAMS["datasets"][wildcards.dataset]["root"]


rule demo_data:
    message:
        "Generating the synthetic demo dataset {wildcards.dataset}"
    output:
        directory(f"{RAW}/{{dataset}}"),
    wildcard_constraints:
        dataset="|".join(targets.synthetic_datasets(PARAMS)) or "^$",
    params:
        digest=dataset_digest(),
    log:
        f"{RESULTS}/logs/demo_data/{{dataset}}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "{CLI} demo --dataset {wildcards.dataset} > {log} 2>&1"


rule faces:
    message:
        "Extracting faces of {wildcards.dataset}"
    input:
        raw_root,
    output:
        directory(f"{FACES}/{{dataset}}"),
    params:
        digest=dataset_digest("faces"),
    log:
        f"{RESULTS}/logs/faces/{{dataset}}.log",
    threads: 2
    resources:
        mem_mb=4000,
        runtime=240,
    shell:
        "export OMP_NUM_THREADS={threads}; {CLI} faces --dataset {wildcards.dataset} > {log} 2>&1"
