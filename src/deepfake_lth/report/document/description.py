"""The workflow description page of the HTML report (`snakemake --report`): report.md's own text (what
the study is, which data produced it, demo or real, the assumptions in force, the paper beside ours),
less its Tables and Figures sections, which the HTML report shows as result pages; and what each stage
cost, summed from Snakemake's per-job benchmark files.

Nothing here states a fact of its own: the page is report.md as report_md.py wrote it, converted to
HTML, so the two reports cannot disagree. The page is the output of a Snakemake-only job (report_page:
its costs are Snakemake's own benchmark files), which `snakemake --report` reads.
"""

from __future__ import annotations

import csv
from pathlib import Path

from markdown_it import MarkdownIt

from deepfake_lth import paths, stages
from deepfake_lth.io import atomic_path

# report.md's sections that the HTML report shows as result pages instead (report_md.py writes these headings).
TABLES_HEADING = "## Tables"
FIGURES_HEADING = "## Figures"
RESULT_SECTIONS = (TABLES_HEADING, FIGURES_HEADING)
COSTS_HEADING = "## What each stage cost"
# Benchmark columns summed (or maximised) per rule; Snakemake writes NA or - where it measured nothing.
COST_COLUMNS = (
    ("wall time, s (all jobs)", "s", sum), ("longest job, s", "s", max), ("CPU time, s", "cpu_time", sum),
    ("peak RSS, MB", "max_rss", max), ("read, MB", "io_in", sum), ("written, MB", "io_out", sum),
)


def description_markdown(report_md: str) -> str:
    """report.md without the sections the HTML report shows as result pages."""
    sections, current = [], []
    for line in report_md.splitlines():
        if line.startswith("## ") and current:
            sections.append(current)
            current = []
        current.append(line)
    sections.append(current)
    return "\n".join("\n".join(s) for s in sections if s[0].strip() not in RESULT_SECTIONS)


def cost_rows(params: dict, jobs) -> list[dict]:
    """One row per rule of `jobs` (the stage table's, upstream first): COST_COLUMNS over the benchmark
    files its jobs left (stages.job_record), never a glob: files of jobs the study no longer declares
    count nowhere, as in report.md."""
    files: dict[str, list[Path]] = {}
    for job in jobs:
        files.setdefault(job.rule, []).append(stages.job_record(params, job, "benchmark"))
    return [_cost_row(rule, benchmarks) for rule, benchmarks in files.items()]


def _benchmark(path: Path) -> dict:
    with path.open(newline="") as handle:
        return next(csv.DictReader(handle, delimiter="\t"), {})


def _cost_row(rule: str, files: list[Path]) -> dict:
    records = [_benchmark(f) for f in files if f.is_file()]
    row = {"rule": rule, "jobs": len(files), "benchmarked": len(records)}
    for label, column, combine in COST_COLUMNS:
        values = [v for v in (_number(r.get(column)) for r in records) if v is not None]
        row[label] = f"{combine(values):,.1f}" if values else "–"
    return row


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def costs_markdown(params: dict, jobs) -> str:
    rows = cost_rows(params, jobs)
    lines = [COSTS_HEADING, "",
             f"Summed from Snakemake's benchmark files, one per job under `{paths.benchmarks_dir(params)}/<rule>/` "
             "(wall time, CPU time, peak resident memory, megabytes read and written); `benchmarked` counts the "
             "jobs that have run through Snakemake. Snakemake's own runtime statistics are on the Statistics page.",
             ""]
    header = list(rows[0])
    lines += ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(row[k]) for k in header) + " |" for row in rows]
    return "\n".join(lines + [""])


def description_html(params: dict, jobs) -> str:
    report_md = paths.report_outputs(params)["report"]
    if report_md.is_file():
        text = description_markdown(report_md.read_text())
    else:
        text = f"No study report yet: `{report_md}` is written by the report job (`snakemake results/figures`)."
    # html off: report.md holds text, and a "<" in it must show as written
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text + "\n\n" + costs_markdown(params, jobs))


def workflow_description(params: dict, jobs, intro: str) -> str:
    """The page as reStructuredText: `intro` (workflow/report/workflow.rst), then the study's own text and
    the costs of `jobs` as raw HTML, kept out of the Jinja2 templating Snakemake applies to the page."""
    body = "\n".join(f"   {line}" if line else "" for line in description_html(params, jobs).splitlines())
    return f"{intro.rstrip()}\n\n{{% raw %}}\n\n.. raw:: html\n\n{body}\n\n{{% endraw %}}\n"


def write_report_page(params: dict) -> Path:
    """Write the page of the declared study (its report_page job's output), replaced atomically; return it."""
    job = stages.report_page_job(params)
    text = workflow_description(params, stages.study(params), Path(job.inputs["intro"]).read_text())
    with atomic_path(job.outputs["page"]) as tmp:
        tmp.write_text(text)
    return job.outputs["page"]
