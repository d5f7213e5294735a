# Tables, figures and report.md, built from exactly the metrics and Grad-CAM files the study declares.


rule report:
    message:
        "Building the tables, figures and report"
    input:
        unpack(inputs_of("report")),
    output:
        **outputs_of("report"),
    params:
        command=command_of("report"),
        digest=digest_of("report"),
    log:
        log_of("report"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        JOB_SHELL
