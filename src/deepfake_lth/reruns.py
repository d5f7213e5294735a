"""Finished jobs whose result inputs are gone, and the rerun counts that make Snakemake run them again.

A job killed mid-run loses its outputs (Snakemake deletes them) while the jobs that read them keep
theirs, and Snakemake re-runs a job with missing outputs only when a job that reads them runs. Left
alone, the study would call itself complete over missing files. So each finished job (every declared
output present) with a declared input under the results root that is gone has its rerun count raised.
The count is part of its params digest: Snakemake's params trigger re-runs the job, which asks for its
missing inputs' jobs first, and everything downstream of those follows by modification time. The count
is kept, so the digest Snakemake records when the job runs is the one it sees next time, and a study
that never lost a file keeps the plain digests.

Data stores (raw data, face stores) are not results: deleting one to save space re-runs nothing, and
Snakemake makes it again when a job that reads it has to run. DVC needs none of this: it re-runs a
stage whose outputs are missing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from deepfake_lth.io import read_json, write_json

log = logging.getLogger(__name__)

COUNTS_FILE = "reruns.json"


def lost_inputs(jobs, results_root: str | Path) -> dict[str, list[Path]]:
    """{job name: its missing inputs} for finished jobs with declared inputs under `results_root` that are gone."""
    root = Path(results_root)
    lost = {}
    for job in jobs:
        if not all(path.exists() for path in job.outputs.values()):
            continue
        missing = [p for p in job.input_files() if root in p.parents and not p.exists()]
        if missing:
            lost[job.name] = missing
    return lost


class RerunCounts:
    """How often each job was found finished over lost inputs (a JSON file of Snakemake's run files).

    A count belongs to a job *and its params digest*, so another study in the same folder (another
    --configfile, whose job of the same name reads other files) neither raises nor reads it. Counts are
    raised in memory when the workflow is parsed, so that a dry run plans the reruns, and kept on disk only
    by `save`, which the Snakefile's onstart calls: a dry run, or a run refused by Snakemake's lock, never
    gets there, so it changes no count and no finished job is planned again for it.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.saved: dict[str, int] = read_json(self.path) if self.path.is_file() else {}
        self.counts = dict(self.saved)

    @staticmethod
    def key(job) -> str:
        return f"{job.name} {job.digest}"

    def count_lost_inputs(self, jobs, results_root: str | Path) -> dict[str, list[Path]]:
        """Raise the count of every finished job whose result inputs are gone; return those jobs' losses."""
        lost = lost_inputs(jobs, results_root)
        if lost:
            for job in jobs:
                if job.name in lost:
                    self.counts[self.key(job)] = self.saved.get(self.key(job), 0) + 1
            files = sorted({str(p) for missing in lost.values() for p in missing})
            log.warning("%d finished jobs read %d result files that are gone (%s%s): they run again, after the "
                        "jobs that make those files", len(lost), len(files), ", ".join(files[:3]),
                        ", ..." if len(files) > 3 else "")
        return lost

    def save(self) -> None:
        """Keep the raised counts: only for a run that executes the jobs they rerun."""
        if self.counts != self.saved:
            write_json(self.path, self.counts)
            self.saved = dict(self.counts)

    def digest(self, job) -> str:
        """The job's params digest, with its rerun count when it has one."""
        count = self.counts.get(self.key(job), 0)
        return f"{job.digest} rerun {count}" if count else job.digest
