"""The benchmarks import and one quick iteration renders a report; timings are not asserted."""

from __future__ import annotations

import json

from bench import report, run, scenarios


def test_bench_startup_iteration_writes_report(tmp_path):
    code = run.main(["--runs", "1", "--only", "startup", "--output-dir", str(tmp_path)])

    assert code == 0
    results = json.loads((tmp_path / "benchmarks.json").read_text())
    assert set(results["startup"]["help_seconds"]) == set(scenarios.LAUNCHERS)
    page = (tmp_path / "benchmarks.md").read_text()
    assert "## Start-up" in page
    assert "## Targets" in page
    for name, entry in results["startup"]["imports"].items():
        assert "kubernetes" not in entry["heavy_modules_loaded"], name


def test_report_flags_missed_target():
    stat = {"median": 1.0, "min": 1.0, "max": 1.0, "runs": 1, "samples": [1.0]}
    results = {"startup": {"help_seconds": {"deploy.sh": stat}, "error_seconds": {}}}

    rows = report.targets(results)

    assert [row["met"] for row in rows] == [False]
