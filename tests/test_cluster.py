"""The SLURM profile, and a real one-node SLURM cluster with accounting: batch jobs, sacct, and
Snakemake's SLURM executor running the profile against it.

The cluster tests (marked `cluster`) need root and apt-get (CI has both); the packages are installed on
first use. `make test` runs them all.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest
from snakemake.profiles import ProfileConfigFileParser

from conftest import TINY_PARAMS
from slurm_cluster import (
    OneNodeCluster,
    cannot_run_reason,
    ensure_installed,
    run_snakemake,
)

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "workflow" / "profiles" / "slurm"
GPU_RULES = ("train", "prune_imp", "prune_oneshot", "prune_control", "transfer", "gradcam")
PROFILE_ENV = ("SBATCH_ACCOUNT", "SBATCH_PARTITION", "LTH_SLURM_GPUS")
# Fast status polling for seconds-long test jobs; the profile's 40 s suits real jobs.
FAST_POLLING = ("--jobs", "1", "--latency-wait", "5", "--retries", "0",
                "--slurm-init-seconds-before-status-checks", "2")


def _profile_args(monkeypatch, **env: str) -> dict:
    """The profile as Snakemake turns it into command-line values, under the given environment."""
    for name in PROFILE_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with open(PROFILE / "config.yaml") as stream:
        return ProfileConfigFileParser().parse(stream)


def test_profile_leaves_account_and_partition_to_slurm_when_unset(monkeypatch):
    args = _profile_args(monkeypatch)
    assert args["executor"] == "slurm"
    assert not [r for r in args["default-resources"] if r.startswith(("slurm_account", "slurm_partition"))]
    assert {f"{rule}:gpu=1" for rule in GPU_RULES} <= set(args["set-resources"])


def test_profile_takes_account_partition_and_gpus_from_the_environment(monkeypatch):
    args = _profile_args(monkeypatch, SBATCH_ACCOUNT="long", SBATCH_PARTITION="gpu-a100", LTH_SLURM_GPUS="0")
    # Quoted, so that Snakemake's evaluation keeps them strings (`long` is not the builtin).
    assert {"slurm_account='long'", "slurm_partition='gpu-a100'"} <= set(args["default-resources"])
    assert {f"{rule}:gpu=0" for rule in GPU_RULES} <= set(args["set-resources"])


def test_profile_names_only_rules_of_the_workflow(monkeypatch):
    from deepfake_lth.job_kinds import KINDS

    rules = set(KINDS)  # the workflow's rules are generated from the job kinds (workflow/rules/jobs.smk)
    args = _profile_args(monkeypatch)
    named = {entry.split(":")[0] for entry in args["set-resources"]}
    named |= {entry.split("=")[0] for entry in args["set-threads"]}
    assert named <= rules, f"profile names rules the workflow lacks: {sorted(named - rules)}"


@pytest.fixture(scope="module")
def installed():
    reason = cannot_run_reason()
    if reason:
        pytest.skip(reason)
    ensure_installed()


@pytest.fixture(scope="module")
def cluster(installed, tmp_path_factory):
    # The same folder in every session, so daemons left by a killed session are found and stopped.
    with OneNodeCluster(tmp_path_factory.getbasetemp().parent / "one-node-slurm") as running:
        yield running


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _job_pids() -> set[int]:
    """Pids of slurmstepd processes and of the processes they run (by the job scripts' path)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if proc.name.isdigit() and (cmdline.startswith(b"slurmstepd") or b"slurm_script" in cmdline):
            pids.add(int(proc.name))
    return pids


def _account_env(cluster: OneNodeCluster) -> dict[str, str]:
    """What the profile documents: account and partition from sbatch's own variables."""
    return {"SBATCH_ACCOUNT": cluster.account, "SBATCH_PARTITION": cluster.partition}


def _failure(result, cluster: OneNodeCluster, workdir: Path) -> str:
    """Snakemake's output, the SLURM job logs it kept, and the daemons' log tails."""
    job_logs = "\n".join(f"--- {path} ---\n{path.read_text()[-3000:]}"
                         for path in sorted(workdir.glob(".snakemake/slurm_logs/**/*.log")))
    return f"snakemake failed ({result.returncode}):\n{result.stdout[-6000:]}\n{job_logs}\n{cluster.log_tails()}"


@pytest.mark.cluster
def test_restart_after_a_crash_and_stop_leave_no_daemon(installed, tmp_path):
    jobs_before = _job_pids()
    crashed = OneNodeCluster(tmp_path)
    crashed.start()  # never stopped, as if the test process had died with a job running
    crashed.client("sbatch", "--wrap", "sleep 300", "-o", "/dev/null")
    deadline = time.monotonic() + 30
    while len(_job_pids() - jobs_before) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    leftover = crashed.daemon_pids()
    leftover_job = _job_pids() - jobs_before
    assert {"mariadbd", "slurmdbd", "slurmctld", "slurmd"} <= set(leftover)
    assert len(leftover_job) >= 2, "expected the job's slurmstepd and its batch script to be running"
    with OneNodeCluster(tmp_path) as cluster:
        assert not [name for name, pid in leftover.items() if _alive(pid)]
        assert not [pid for pid in leftover_job if _alive(pid)]
        running = cluster.daemon_pids()
        assert all(_alive(pid) for pid in running.values())
    assert not [name for name, pid in running.items() if _alive(pid)]


@pytest.mark.cluster
def test_batch_job_completes_and_is_accounted(cluster, tmp_path):
    out = tmp_path / "hi.out"
    job = cluster.client("sbatch", "--parsable", "-o", str(out), "--wrap", "echo hi").stdout.strip()
    assert cluster.wait_for_job(job) == "COMPLETED"
    assert out.read_text().strip() == "hi"
    cluster_name = cluster.client("sacct", "-X", "-n", "-P", "-j", job, "-o", "Cluster").stdout.strip()
    assert cluster_name == cluster.cluster_name


@pytest.mark.cluster
def test_failing_batch_job_is_accounted_as_failed(cluster, tmp_path):
    job = cluster.client("sbatch", "--parsable", "-o", str(tmp_path / "fail.out"), "--wrap", "exit 3").stdout.strip()
    assert cluster.wait_for_job(job) == "FAILED"


@pytest.mark.cluster
def test_snakemake_slurm_executor_runs_a_rule_as_a_slurm_job(cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(
        "rule hello:\n"
        '    output: "out/hello.txt"\n'
        "    threads: 1\n"
        "    resources: mem_mb=100, runtime=5\n"
        f"    shell: \"{sys.executable} -c \\\"import os, pathlib; "
        "pathlib.Path('{output}').write_text(os.environ['SLURM_JOB_ID'])\\\"\"\n"
    )
    result, job_ids = run_snakemake(cluster, tmp_path, "--profile", str(PROFILE), *FAST_POLLING,
                                    "out/hello.txt", extra_env=_account_env(cluster))
    assert result.returncode == 0, _failure(result, cluster, tmp_path)
    assert len(job_ids) == 1, result.stdout
    assert cluster.sacct_state(job_ids[0]) == "COMPLETED"
    assert (tmp_path / "out/hello.txt").read_text() == job_ids[0]  # written inside that SLURM job
    placed = cluster.client("sacct", "-X", "-n", "-P", "-j", job_ids[0], "-o", "Account,Partition").stdout
    assert placed.strip() == f"{cluster.account}|{cluster.partition}"


@pytest.mark.cluster
def test_one_imp_level_regenerated_on_slurm_equals_the_local_run(cluster, tmp_path):
    if not (REPO / "Snakefile").is_file():
        pytest.skip("the workflow's Snakefile does not exist yet")
    from workflow_runner import planned_jobs, snakemake

    shutil.copy(TINY_PARAMS, tmp_path / "params.yaml")
    level = tmp_path / "results/runs/demo_gan/mesonet/seed_0/imp_global/level_02"
    target = str(level.relative_to(tmp_path) / "metrics.json")
    snakemake(tmp_path, target)  # the local run, on this machine's cores
    local = json.loads((level / "metrics.json").read_text())
    shutil.rmtree(level)
    assert planned_jobs(tmp_path, target) == {"prune_imp": 1}

    # The test node has 2 CPUs and no GPU: shrink the profile's GPU-node request for this one rule.
    result, job_ids = run_snakemake(
        cluster, tmp_path, target, "--profile", str(PROFILE), "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(tmp_path), *FAST_POLLING,  # the target first: --set-resources takes all that follows
        "--set-resources", "prune_imp:gpu=0", "prune_imp:cpus_per_task=1", "prune_imp:mem_mb=2000",
        "prune_imp:runtime=30", extra_env=_account_env(cluster))
    assert result.returncode == 0, _failure(result, cluster, tmp_path)
    assert len(job_ids) == 1, result.stdout
    assert cluster.sacct_state(job_ids[0]) == "COMPLETED"
    assert json.loads((level / "metrics.json").read_text()) == local
