# Tables, figures and report.md, built only from the metrics and Grad-CAM files.


rule report:
    message:
        "Building the tables, figures and report"
    input:
        [str(path) for path in targets.report_inputs(PARAMS)],
    output:
        tables=directory(f"{RESULTS}/tables"),
        figures=directory(f"{RESULTS}/figures"),
        report=f"{RESULTS}/report.md",
    params:
        digest=lambda w: digest("report", "datasets", "transfer", "pruning", "training", "seeds", "models"),
    log:
        f"{RESULTS}/logs/report.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "{CLI} report > {log} 2>&1"
