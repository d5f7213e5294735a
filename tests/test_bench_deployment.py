"""benchmarks/bench_deployment.py at its --quick size: it measures the dense network, an unstructured ticket
and the channel tickets of two models through the deploy stage's functions, writing its JSON (also its last
printed line)."""

from __future__ import annotations

import json

from conftest import benchmark_module
from deepfake_lth.deployment.deployment_file import RUNTIMES


def test_quick_benchmark_measures_each_ticket_in_both_runtimes(tmp_path, capsys):
    module = benchmark_module("bench_deployment")
    out = tmp_path / "deployment.json"
    assert module.main(["--quick", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == written
    for networks in written["models"].values():
        assert set(networks) == {"dense", "unstructured 80%", "channel 60%", "channel 80%"}
        dense, unstructured = networks["dense"], networks["unstructured 80%"]
        assert unstructured["parameters"] == dense["parameters"] and unstructured["macs"] == dense["macs"]
        assert unstructured["effective_macs"] < dense["effective_macs"]
        assert unstructured["bytes_sparse"] < 0.5 * dense["bytes_sparse"]
        assert networks["channel 80%"]["parameters"] < networks["channel 60%"]["parameters"] < dense["parameters"]
        for measured in networks.values():
            assert {row["runtime"] for row in measured["timings"]} == set(RUNTIMES)
            assert all(row["latency_ms_b1"] > 0 and row["latency_iqr_ms_b1"] >= 0 for row in measured["timings"])
