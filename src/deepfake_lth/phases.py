"""Where a job's time goes: named phases from the process's start to its end.

`mark(name)` closes the phase that ran since the previous mark (the first since the process
started) and books it under `name`; a name marked twice adds up. At the end the CLI logs the phases
in one line, and writes them as JSON to the file the environment variable DEEPFAKE_LTH_PHASES names
(benchmarks/bench_startup.py reads it). Costs a clock read per mark.
"""

from __future__ import annotations

import json
import os
import time

ENV = "DEEPFAKE_LTH_PHASES"


def _process_start() -> float:
    """Wall-clock time this process started (Linux: /proc; elsewhere: when this module was imported)."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime, in clock ticks since boot
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])  # seconds since boot, now
        return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time()


_START = _process_start()
_last = _START
_phases: dict[str, float] = {}


def mark(name: str) -> None:
    """Book the time since the previous mark (or the process start) under `name`."""
    global _last
    now = time.time()
    _phases[name] = _phases.get(name, 0.0) + max(now - _last, 0.0)
    _last = now


def summary() -> dict[str, float]:
    """The phases so far, in the order first marked, with the time since the last mark as `other`."""
    return {**_phases, "other": max(time.time() - _last, 0.0)}


def publish(log) -> None:
    """Log the phases in one line; write them as JSON where DEEPFAKE_LTH_PHASES says."""
    phases = summary()
    log.info("job phases: %s (total %.2f s)", ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()),
             sum(phases.values()))
    if os.environ.get(ENV):
        with open(os.environ[ENV], "w") as f:
            json.dump({"process_start": _START, "phases": phases}, f)
