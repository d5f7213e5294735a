"""A real one-node SLURM cluster with accounting, for tests.

`ensure_installed()` installs Debian's slurm-wlm, slurmdbd, munge and mariadb-server with apt-get
when they are absent. `OneNodeCluster(workdir)` is a context manager that starts munged, mariadbd,
slurmdbd, slurmctld and slurmd on free loopback ports, waits until the node is idle, and on exit
stops exactly the daemons it started. `run_snakemake()` runs `snakemake --executor slurm` against it.

No systemd is needed: every daemon runs in the foreground as a child of this process, with its
config, state, logs and pid file under `workdir`. Three things are machine-wide, as on a real node,
and so one test cluster runs per machine at a time (an flock serialises concurrent sessions):
munged's default socket (slurm's connections to slurmdbd ignore AuthInfo=socket=), a copy of
slurm.conf at /etc/slurm/slurm.conf (Snakemake's job step drops SLURM_CONF before calling srun),
and a short directory in /tmp for mariadb's socket (Unix socket paths are limited to 107 bytes).
Daemons left behind by a crashed earlier run from the same workdir are found through their pid
files (pid plus process start time, so a recycled pid is never killed) and stopped before a start.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

APT_PACKAGES = ("slurm-wlm", "slurm-client", "slurmdbd", "munge", "mariadb-server")
# One executable per package: if all exist, nothing needs installing.
REQUIRED_EXECUTABLES = (
    "slurmctld", "slurmd", "slurmdbd", "sbatch", "sacct", "sacctmgr", "sinfo", "scontrol",
    "munged", "mariadbd", "mariadb-install-db", "mariadb",
)
CLUSTER_NAME = "lthtest"
PARTITION = "debug"
ACCOUNT = "lthtest"
NODE_CPUS = 2
DB_NAME = "slurm_acct_db"
DB_USER = "slurm"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
# How long a start waits for another process's test cluster to finish.
LOCK_TIMEOUT_S = 1800.0
TERMINAL_JOB_STATES = {
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
    "PREEMPTED", "BOOT_FAIL", "DEADLINE",
}
# Slurm 22.05 ignores AuthInfo=socket= on its connections to slurmdbd (they always use libmunge's
# default socket), so munged must listen on the default socket.
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
# Where Debian's SLURM clients look when SLURM_CONF is unset, and where a site's own file is kept
# while a test cluster's copy is there.
DEFAULT_SLURM_CONF = Path("/etc/slurm/slurm.conf")
SAVED_SLURM_CONF = Path("/etc/slurm/slurm.conf.before-test-cluster")
CONF_MARKER_PREFIX = "# One-node test cluster of "
# Daemons in start order; they are stopped in reverse.
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")


class ClusterError(RuntimeError):
    """The cluster could not be installed, started, used or stopped; the message says why."""


def missing_executables() -> list[str]:
    """Names from REQUIRED_EXECUTABLES found neither on PATH nor in /usr/sbin."""
    search_path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [name for name in REQUIRED_EXECUTABLES if shutil.which(name, path=search_path) is None]


def cannot_run_reason() -> str | None:
    """Why a cluster cannot be installed and started here, or None when it can."""
    if os.geteuid() != 0:
        return "the SLURM cluster test needs root (daemons run as root; apt-get installs)"
    if missing_executables() and shutil.which("apt-get") is None:
        return f"SLURM/munge/mariadb are missing ({', '.join(missing_executables())}) and apt-get is absent"
    return None


def ensure_installed(timeout_s: float = 900.0) -> None:
    """Install APT_PACKAGES with apt-get unless every required executable is already present.

    Services are not started by the packages' maintainer scripts (policy-rc.d answers 101 for the
    duration of the install). Raises ClusterError with apt's output tail on failure.
    """
    if not missing_executables():
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES]
    with _services_blocked():
        result = _run_logged(install, env, timeout_s)
        if result.returncode != 0:  # Stale or absent package lists: refresh once and retry.
            _run_logged(["apt-get", "update", "-q"], env, timeout_s)
            result = _run_logged(install, env, timeout_s)
    if result.returncode != 0 or missing_executables():
        raise ClusterError(
            f"apt-get install {' '.join(APT_PACKAGES)} failed (exit {result.returncode}); still missing: "
            f"{missing_executables()}\n{_tail_text(result.stdout)}"
        )


class _services_blocked:
    """Context that makes invoke-rc.d refuse to start services, restoring any earlier policy."""

    path = Path("/usr/sbin/policy-rc.d")

    def __enter__(self):
        self.saved = self.path.read_bytes() if self.path.exists() else None
        self.path.write_text("#!/bin/sh\nexit 101\n")
        self.path.chmod(0o755)

    def __exit__(self, *exc):
        if self.saved is None:
            self.path.unlink(missing_ok=True)
        else:
            self.path.write_bytes(self.saved)


def _run_logged(cmd: list[str], env: dict, timeout_s: float) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)


def _tail_text(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks), or None if no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _unix_socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(str(path)) == 0


def _is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _terminate(pid: int, timeout_s: float) -> None:
    """SIGTERM, wait up to timeout_s, then SIGKILL and wait for the process to vanish."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            _reap(pid)
            if not _is_alive(pid):
                return
            time.sleep(0.1)
    raise ClusterError(f"process {pid} survived SIGKILL")


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise ClusterError("no MemTotal in /proc/meminfo")


def _sbin_path() -> str:
    return os.pathsep.join(["/usr/sbin", "/sbin", os.environ.get("PATH", "/usr/bin:/bin")])


class _MachineLock:
    """One test cluster per machine at a time: the munge socket and DEFAULT_SLURM_CONF are global.

    An flock on LOCK_FILE, held while any cluster of this process runs (keyed by workdir, so a
    cluster that replaces a crashed one on the same workdir releases it too). The kernel drops the
    lock when a process dies, so a crashed session never blocks the next one.
    """

    def __init__(self, path: Path):
        self.path, self.handle, self.holders = path, None, set()

    def acquire(self, workdir: Path, timeout_s: float) -> None:
        if self.handle is None:
            handle = open(self.path, "a")
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        handle.close()
                        raise ClusterError(f"another process holds {self.path} (a test cluster is running); "
                                           f"waited {timeout_s:.0f}s")
                    time.sleep(1.0)
            self.handle = handle
        self.holders.add(workdir)

    def release(self, workdir: Path) -> None:
        self.holders.discard(workdir)
        if not self.holders and self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


_machine_lock = _MachineLock(Path("/run/lock" if Path("/run/lock").is_dir() else "/tmp") / "one-node-slurm-test.lock")


class OneNodeCluster:
    """A one-node SLURM cluster with slurmdbd accounting, all of it under `workdir`.

    Use as `with OneNodeCluster(tmp_path) as cluster:`; then `cluster.env` is the environment for
    SLURM clients (sbatch, sacct, snakemake --executor slurm), `cluster.partition` and
    `cluster.account` name the default partition and the account the current user may charge.
    """

    def __init__(self, workdir: os.PathLike | str, start_timeout_s: float = START_TIMEOUT_S):
        self.workdir = Path(workdir).resolve()
        self.start_timeout_s = start_timeout_s
        self.partition = PARTITION
        self.account = ACCOUNT
        self.cluster_name = CLUSTER_NAME
        self.node_name = socket.gethostname().split(".")[0]
        # Unix sockets are limited to 107 bytes, and pytest's tmp paths can be long, so mariadb's
        # socket lives in a short directory that is derived from workdir (same workdir, same dir).
        digest = hashlib.sha1(str(self.workdir).encode()).hexdigest()[:10]
        self.socket_dir = Path("/tmp") / f"slurm1-{digest}"
        self.etc, self.log, self.run = (self.workdir / d for d in ("etc", "log", "run"))
        self.slurm_conf = self.etc / "slurm.conf"
        self.mysql_socket = self.socket_dir / "mysqld.sock"
        self.env = dict(os.environ, SLURM_CONF=str(self.slurm_conf), PATH=_sbin_path())
        self.env.pop("SLURM_JOB_ID", None)  # never inherit an outer job's identity
        self._procs: dict[str, subprocess.Popen] = {}

    # ---- context manager -------------------------------------------------------------------
    def __enter__(self) -> "OneNodeCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- start -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start all daemons and return once the node is idle; raise ClusterError otherwise."""
        missing = missing_executables()
        if missing:
            raise ClusterError(f"missing executables {missing}: call ensure_installed() first")
        _machine_lock.acquire(self.workdir, LOCK_TIMEOUT_S)
        self.stop_leftovers()
        self._fresh_dirs()
        self.ports = {name: free_loopback_port() for name in ("mysql", "slurmdbd", "slurmctld", "slurmd")}
        self._start_munged()
        self._start_mariadb()
        self._start_slurmdbd()
        self._register_accounting()
        self._start_slurmctld()
        self._start_slurmd()
        self._wait("node idle in sinfo", "slurmd", self._node_idle)

    def _fresh_dirs(self) -> None:
        for sub in ("etc", "log", "run", "state", "spool", "mysql"):
            shutil.rmtree(self.workdir / sub, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        for path in (self.etc, self.log, self.run, self.workdir / "state", self.workdir / "spool"):
            path.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700)

    def _spawn(self, name: str, cmd: list[str], env: dict | None = None) -> None:
        """Start one daemon in the foreground, output to log/<name>.out, identity to run/<name>.pid."""
        out = open(self.log / f"{name}.out", "ab")
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env or self.env, start_new_session=True)
        out.close()
        self._procs[name] = proc
        (self.run / f"{name}.pid").write_text(f"{proc.pid} {_process_start_time(proc.pid)}\n")

    def _wait(self, what: str, daemon: str, ready) -> None:
        """Poll ready() until true; raise with the daemon's log tail if it dies or time runs out."""
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            proc = self._procs.get(daemon)
            if proc is not None and proc.poll() is not None:
                raise ClusterError(f"{daemon} exited with {proc.returncode} while waiting for {what}\n"
                                   + self.log_tails())
            if ready():
                return
            time.sleep(0.25)
        raise ClusterError(f"timed out after {self.start_timeout_s:.0f}s waiting for {what}\n" + self.log_tails())

    def log_tails(self, lines: int = 25) -> str:
        """The last lines of every daemon log under workdir/log, for error messages."""
        parts = []
        for path in sorted(self.log.glob("*")):
            text = path.read_text(errors="replace")
            parts.append(f"--- {path.name} ---\n{_tail_text(text, lines)}")
        return "\n".join(parts)

    def _start_munged(self) -> None:
        """Start munged on the standard socket, or reuse a munged that already answers there."""
        if _unix_socket_answers(MUNGE_SOCKET):
            return
        MUNGE_SOCKET.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        key = self.workdir / "munge.key"
        if not key.exists():
            key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o600)
        self._spawn("munged", [
            "munged", "--foreground", "--force", f"--socket={MUNGE_SOCKET}",
            f"--key-file={key}", f"--log-file={self.log / 'munged.log'}",
            f"--pid-file={self.run / 'munged.pidfile'}", f"--seed-file={self.run / 'munged.seed'}",
        ])
        self._wait("munge socket", "munged", lambda: _unix_socket_answers(MUNGE_SOCKET))

    def _start_mariadb(self) -> None:
        datadir = self.workdir / "mysql"
        init = subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        (self.log / "mariadb-install-db.out").write_text(init.stdout)
        if init.returncode != 0:
            raise ClusterError(f"mariadb-install-db failed ({init.returncode})\n{_tail_text(init.stdout)}")
        self._spawn("mariadbd", [
            "mariadbd", "--no-defaults", f"--datadir={datadir}", "--user=root",
            f"--socket={self.mysql_socket}", "--bind-address=127.0.0.1", f"--port={self.ports['mysql']}",
            f"--pid-file={self.run / 'mariadbd.pidfile'}", f"--log-error={self.log / 'mariadbd.log'}",
            "--skip-name-resolve", "--innodb-buffer-pool-size=32M", "--innodb-use-native-aio=0",
            "--innodb-log-file-size=16M", "--skip-log-bin",
        ])
        self._wait("mariadb socket", "mariadbd", lambda: self._sql("SELECT 1").returncode == 0)
        self.db_password = secrets.token_hex(12)
        created = self._sql(
            f"CREATE DATABASE IF NOT EXISTS {DB_NAME}; "
            f"CREATE USER '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{self.db_password}'; "
            f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'127.0.0.1'; FLUSH PRIVILEGES;")
        if created.returncode != 0:
            raise ClusterError(f"creating the accounting database failed: {created.stdout}")

    def _sql(self, statement: str) -> subprocess.CompletedProcess:
        return subprocess.run(["mariadb", "--no-defaults", f"--socket={self.mysql_socket}", "-u", "root",
                               "-e", statement], env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=30)

    def _start_slurmdbd(self) -> None:
        dbd_conf = self.etc / "slurmdbd.conf"
        dbd_conf.write_text(self.slurmdbd_conf_text())
        dbd_conf.chmod(0o600)  # slurmdbd refuses a readable config holding StoragePass
        os.chown(dbd_conf, 0, 0)
        self.slurm_conf.write_text(self.slurm_conf_text())
        self._install_default_conf()
        self._spawn("slurmdbd", ["slurmdbd", "-D"])  # finds slurmdbd.conf next to SLURM_CONF
        self._wait("slurmdbd port", "slurmdbd", lambda: _port_open(self.ports["slurmdbd"]))

    def _register_accounting(self) -> None:
        """Add the cluster, an account and the current user's association to slurmdbd."""
        user = _current_user()
        for args in (["add", "cluster", self.cluster_name],
                     ["add", "account", self.account, f"Cluster={self.cluster_name}",
                      "Description=test", "Organization=test"],
                     ["add", "user", user, f"Account={self.account}", f"DefaultAccount={self.account}",
                      f"Cluster={self.cluster_name}"]):
            self.client("sacctmgr", "-i", *args)

    def _start_slurmctld(self) -> None:
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.slurm_conf)])
        self._wait("slurmctld ping", "slurmctld", self._controller_up)

    def _start_slurmd(self) -> None:
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.slurm_conf), "-N", self.node_name])

    def _controller_up(self) -> bool:
        ping = self.client("scontrol", "ping", check=False)
        return ping.returncode == 0 and "UP" in ping.stdout

    def _node_idle(self) -> bool:
        state = self.client("sinfo", "-h", "-N", "-o", "%t", check=False)
        return state.returncode == 0 and state.stdout.strip() == "idle"

    # ---- configs ---------------------------------------------------------------------------
    def slurmdbd_conf_text(self) -> str:
        """slurmdbd.conf: accounting in the local mariadb over loopback TCP."""
        return "\n".join([
            "AuthType=auth/munge",
            "DbdHost=localhost",
            "DbdAddr=127.0.0.1",
            f"DbdPort={self.ports['slurmdbd']}",
            "SlurmUser=root",
            "DebugLevel=info",
            f"LogFile={self.log / 'slurmdbd.log'}",
            f"PidFile={self.run / 'slurmdbd.pidfile'}",
            "StorageType=accounting_storage/mysql",
            "StorageHost=127.0.0.1",
            f"StoragePort={self.ports['mysql']}",
            f"StorageUser={DB_USER}",
            f"StoragePass={self.db_password}",
            f"StorageLoc={DB_NAME}",
            "",
        ])

    def slurm_conf_text(self) -> str:
        """slurm.conf: one node with NODE_CPUS CPUs in one default partition, loopback only."""
        memory_mb = max(1024, _memory_mb() - 512)
        return "\n".join([
            f"ClusterName={self.cluster_name}",
            f"SlurmctldHost={self.node_name}(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"SlurmctldPort={self.ports['slurmctld']}",
            f"SlurmdPort={self.ports['slurmd']}",
            f"StateSaveLocation={self.workdir / 'state'}",
            f"SlurmdSpoolDir={self.workdir / 'spool'}",
            f"SlurmctldPidFile={self.run / 'slurmctld.pidfile'}",
            f"SlurmdPidFile={self.run / 'slurmd.pidfile'}",
            f"SlurmctldLogFile={self.log / 'slurmctld.log'}",
            f"SlurmdLogFile={self.log / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerType=sched/backfill",
            "MpiDefault=none",
            "MailProg=/bin/true",
            "AccountingStorageType=accounting_storage/slurmdbd",
            "AccountingStorageHost=127.0.0.1",
            f"AccountingStoragePort={self.ports['slurmdbd']}",
            "JobAcctGatherType=jobacct_gather/none",
            # Keep sbatch --comment (the Snakemake plugin writes rule and wildcards there) in sacct.
            "AccountingStoreFlags=job_comment",
            "JobCompType=jobcomp/none",
            # The node is what this file says, even on a machine with fewer or more cores.
            "SlurmdParameters=config_overrides",
            "ReturnToService=2",
            "KillWait=5",
            "MinJobAge=300",
            f"NodeName={self.node_name} NodeAddr=127.0.0.1 NodeHostname={self.node_name} "
            f"CPUs={NODE_CPUS} RealMemory={memory_mb} State=UNKNOWN",
            f"PartitionName={self.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ])

    # ---- use -------------------------------------------------------------------------------
    def daemon_pids(self) -> dict[str, int]:
        """Pid of every daemon this cluster started and that is still recorded in run/."""
        return {path.stem: int(path.read_text().split()[0]) for path in self.run.glob("*.pid")}

    def client(self, *args: str, check: bool = True, timeout_s: float = 60.0) -> subprocess.CompletedProcess:
        """Run one SLURM client command against this cluster; raise ClusterError if check fails."""
        result = subprocess.run(list(args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise ClusterError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}\n"
                               + self.log_tails())
        return result

    def sacct_state(self, job_id: str | int) -> str:
        """The job's State as the accounting database reports it ('' while slurmdbd has no record)."""
        out = self.client("sacct", "-X", "-n", "-P", "-j", str(job_id), "-o", "State").stdout
        states = [line.strip() for line in out.splitlines() if line.strip()]
        return states[-1].split()[0] if states else ""

    def wait_for_job(self, job_id: str | int, timeout_s: float = 60.0) -> str:
        """Poll sacct until the job reaches a terminal state; return it or raise ClusterError."""
        deadline = time.monotonic() + timeout_s
        state = ""
        while time.monotonic() < deadline:
            state = self.sacct_state(job_id)
            if state in TERMINAL_JOB_STATES:
                return state
            time.sleep(0.5)
        raise ClusterError(f"job {job_id} still {state or 'unknown to sacct'} after {timeout_s:.0f}s\n"
                           + self.log_tails())

    # ---- stop ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel our jobs, then stop every daemon this object (or a crashed run) started here."""
        if "slurmctld" in self._procs and self._procs["slurmctld"].poll() is None:
            self.client("scancel", f"--user={_current_user()}", check=False, timeout_s=15)
        self.stop_leftovers()
        self._procs.clear()
        self._remove_default_conf()
        shutil.rmtree(self.socket_dir, ignore_errors=True)
        _machine_lock.release(self.workdir)

    # ---- the client config at the default path ---------------------------------------------
    def _default_conf_marker(self) -> str:
        return f"# One-node test cluster of {self.workdir}, written by tests/slurm_cluster.py\n"

    def _install_default_conf(self) -> None:
        """Copy slurm.conf to DEFAULT_SLURM_CONF, keeping aside a file that is not a test cluster's.

        The Snakemake job step strips every SLURM_* variable, SLURM_CONF included, before it calls
        srun inside the job, so (as on a real compute node) srun must find the config at the default path.
        """
        current = DEFAULT_SLURM_CONF.read_text() if DEFAULT_SLURM_CONF.exists() else None
        if current is not None and not current.startswith(CONF_MARKER_PREFIX) and not SAVED_SLURM_CONF.exists():
            DEFAULT_SLURM_CONF.rename(SAVED_SLURM_CONF)
        DEFAULT_SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        DEFAULT_SLURM_CONF.write_text(self._default_conf_marker() + self.slurm_conf.read_text())

    def _remove_default_conf(self) -> None:
        """Remove this cluster's copy from DEFAULT_SLURM_CONF and put back what was there before."""
        if not DEFAULT_SLURM_CONF.exists() or not DEFAULT_SLURM_CONF.read_text().startswith(self._default_conf_marker()):
            return
        DEFAULT_SLURM_CONF.unlink()
        if SAVED_SLURM_CONF.exists():
            SAVED_SLURM_CONF.rename(DEFAULT_SLURM_CONF)

    def stop_leftovers(self) -> None:
        """Stop, in reverse start order, every daemon whose run/<name>.pid still names a live process."""
        for name in reversed(DAEMONS):
            pid_file = self.run / f"{name}.pid"
            if not pid_file.exists():
                continue
            pid_text, start_time = pid_file.read_text().split()
            pid = int(pid_text)
            if _process_start_time(pid) == start_time:  # same process, not a recycled pid
                _terminate(pid, STOP_TIMEOUT_S)
            pid_file.unlink()
        self._stop_job_steps()

    def _stop_job_steps(self) -> None:
        """Kill the slurmstepd processes slurmd started for this cluster, with the job processes under
        them: they detach from slurmd and outlive it when a crashed run never cancelled its jobs."""
        marker = f"SLURM_CONF={self.slurm_conf}".encode()
        children = _children_by_parent()
        doomed = []
        for pid in _pids():
            try:
                ours = (Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"slurmstepd")
                        and marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))
            except OSError:
                continue
            if ours:
                doomed += [pid, *_descendants(pid, children)]
        for pid in doomed:
            _terminate(pid, 0.0)


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid in _pids():
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(parent, []).append(pid)
    return children


def _descendants(pid: int, children: dict[int, list[int]]) -> list[int]:
    found = []
    for child in children.get(pid, []):
        found += [child, *_descendants(child, children)]
    return found


def _current_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def snakemake_executable() -> str:
    """The snakemake of this test run: on PATH, else beside the running Python."""
    found = shutil.which("snakemake")
    if found:
        return found
    beside = Path(sys.executable).parent / "snakemake"
    if beside.exists():
        return str(beside)
    raise ClusterError("no snakemake executable on PATH or beside the running Python")


def run_snakemake(cluster: OneNodeCluster, workdir: Path, *args: str, extra_env: dict | None = None,
                  timeout_s: float = 600.0) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run `snakemake --executor slurm <args>` in workdir against the cluster.

    Returns the finished process and the SLURM job ids it submitted (in order). The job's
    environment (sbatch --export=ALL) is this one: the venv's PATH first, so jobs find the same
    snakemake and package.
    """
    bin_dir = str(Path(sys.executable).parent)
    env = dict(cluster.env, PATH=f"{bin_dir}{os.pathsep}{cluster.env['PATH']}", **(extra_env or {}))
    cmd = [snakemake_executable(), "--executor", "slurm", *args]
    result = subprocess.run(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    return result, re.findall(r"submitted with SLURM jobid (\d+)", result.stdout)
