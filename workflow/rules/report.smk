# Tables, figures and report.md, built from exactly the metrics and Grad-CAM files the study declares.
# The same files make up the HTML report (`snakemake --report`): see in_html_report (common.smk).


# The HTML report's description page: report.md's text less its tables and figures, then what each stage cost.
report: write_workflow_description(PARAMS, TABLE.jobs, Path(workflow.basedir, "workflow/report/workflow.rst"), RUN_FILES)


rule report:
    message:
        "Building the tables, figures and report"
    input:
        unpack(inputs_of("report")),
    output:
        tables=in_html_report(
            REPORT_OUTPUTS["tables"], "../report/tables.rst", ["{name}.{ext,html|csv}"]
        ),
        figures=in_html_report(
            REPORT_OUTPUTS["figures"], "../report/figures.rst", ["{name}.{ext,png}"]
        ),
        report=report(
            REPORT_OUTPUTS["report"],
            caption="../report/report_md.rst",
            category=catalog.STUDY,
            labels={"result": "report.md (Markdown)"},
        ),
    params:
        command=command_of("report"),
        digest=digest_of("report"),
    log:
        log_of("report"),
    benchmark:
        benchmark_of("report")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        JOB_SHELL
