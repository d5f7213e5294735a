# Tables, figures and report.md, built from exactly the metrics and Grad-CAM files the study declares.
# The same files make up the HTML report (`snakemake --report`): see in_html_report (common.smk).


# The HTML report's description page: report.md's text less its tables and figures, then what each stage
# cost. The report_page job writes it (jobs.smk); `snakemake --report` reads it then (make report).
report: str(Path(stages.output_patterns(PARAMS, "report_page")["page"]).resolve())

REPORT_KIND = job_kinds.kind("report")


rule report:
    message:
        REPORT_KIND.message
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
    threads: REPORT_KIND.threads
    resources:
        mem_mb=REPORT_KIND.mem_mb,
        runtime=REPORT_KIND.runtime,
    shell:
        JOB_SHELL
