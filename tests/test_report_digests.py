"""The report's text outputs on the tiny study, byte for byte, against the digests recorded in
tests/report_digests.json: a change that moves code (the report package's regroup) must leave every
table and report.md as they were. A change meant to alter the report records new digests with
`UPDATE_REPORT_DIGESTS=1 .venv/bin/pytest tests/test_report_digests.py` and says why in its commit."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from deepfake_lth.report.build import build_report
from test_report import make_params, write_results_tree

DIGESTS = Path(__file__).with_name("report_digests.json")
TEXT = (".csv", ".md", ".tex", ".html")


def text_digests(results: Path, tmp_path: Path) -> dict[str, str]:
    """sha256 of every table file and report.md, with the temporary folder's path written as <tmp>."""
    files = sorted([*(results / "tables").iterdir(), results / "report.md"])
    return {str(p.relative_to(results)): hashlib.sha256(p.read_bytes().replace(str(tmp_path).encode(), b"<tmp>"))
            .hexdigest() for p in files if p.suffix in TEXT}


def test_every_table_and_report_md_is_byte_identical_to_the_recorded_digests(tmp_path):
    params = make_params(tmp_path)
    write_results_tree(params)
    build_report(params)
    digests = text_digests(Path(params["paths"]["results"]), tmp_path)
    if os.environ.get("UPDATE_REPORT_DIGESTS") == "1":
        DIGESTS.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    recorded = json.loads(DIGESTS.read_text())
    assert sorted(digests) == sorted(recorded), "the report writes other files than recorded"
    changed = [name for name in digests if digests[name] != recorded[name]]
    assert not changed, f"changed: {changed}"
