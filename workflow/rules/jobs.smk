# Every job kind's rule, generated from its registry entry (src/deepfake_lth/job_kinds.py): its name,
# message, wildcards and outputs, resources and threads. What each job reads and runs is its record in
# the stage table. The report rule (report.smk) adds the HTML report's result pages to its outputs.


for kind in job_kinds.KINDS.values():
    if kind.rule == "report":
        continue

    rule:
        name:
            kind.rule
        message:
            kind.message
        input:
            unpack(inputs_of(kind.rule)),
        output:
            **outputs_of(kind.rule),
        wildcard_constraints:
            **kind.constraints(PARAMS),
        params:
            command=command_of(kind.rule),
            digest=digest_of(kind.rule),
        log:
            log_of(kind.rule),
        benchmark:
            benchmark_of(kind.rule)
        threads: PARAMS["torch_threads"] if kind.torch else kind.threads
        resources:
            **resources_of(kind),
        shell:
            JOB_SHELL
