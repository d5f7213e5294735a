# deepfake-lth: the study as a Snakemake workflow.
#   snakemake --cores 8 results/figures        # everything, from raw data to the report
#   snakemake --cores 2 <one metrics.json>     # one level, reusing the cached levels below it
# Parameters: one complete params file, validated against workflow/schemas/params.schema.yaml:
# params.yaml, or the file(s) named with --configfile=FILE, which then *replace* params.yaml instead of
# being merged over it (so params.paper.yaml runs the paper's datasets and no demo); --config KEY=VALUE
# overrides single keys of either.
# Every rule is generated from its job kind (src/deepfake_lth/job_kinds.py); every job's inputs,
# command and params keys come from the stage table (src/deepfake_lth/stages.py), which also renders dvc.yaml. `snakemake --lint` advises a conda env or container per rule: the rules
# run the package's CLI, installed (pinned, requirements.txt) into the environment Snakemake runs in.

if not workflow.overwrite_configfiles:

    configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/jobs.smk"
include: "workflow/rules/report.smk"


onstart:  # a run that executes, holding Snakemake's lock (not a dry run, not a refused run)
    from deepfake_lth.plan import study_plan

    RERUNS.save()
    print(study_plan(PARAMS, CONFIG_SOURCE))


rule all:
    default_target: True
    input:
        stages.output_patterns(PARAMS, "report")["report"],
        stages.output_patterns(PARAMS, "report_page")["page"],
