"""benchmarks/bench_dvc.py at its --quick size: the tiny study's DVC project in both layouts, with locks of
realistic size, and DVC's status and lock write of one level stage and of the report, in-process."""

from __future__ import annotations

import json

from conftest import benchmark_module


def test_quick_benchmark_times_status_and_lock_write_in_both_layouts(tmp_path, capsys):
    module = benchmark_module("bench_dvc")
    out = tmp_path / "dvc.json"
    assert module.main(["--quick", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == written
    split, single = written["layouts"]["split"]["tiny"], written["layouts"]["single"]["tiny"]
    assert split["stages"] == single["stages"] and single["dvc_files"] == 1 < split["dvc_files"]
    assert split["level_lock_bytes"] < single["level_lock_bytes"] == single["largest_lock_bytes"]
    for layout in (split, single):
        for kind in ("level", "report"):
            assert layout[kind]["status_s"] > 0 and layout[kind]["write_s"] > 0
