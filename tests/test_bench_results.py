"""embedlib.bench_results: the facts and the file format every stored result shares."""

from __future__ import annotations

import json
import platform

from embedlib.bench_results import package_versions, run_facts, write_result


def test_package_versions_name_each_package_or_say_it_is_missing():
    found = package_versions("torch", "no-such-package-here")
    assert found["python"] == platform.python_version()
    assert found["torch"].split("+")[0].count(".") >= 1
    assert found["no-such-package-here"] == "not installed"


def test_run_facts_say_when_where_and_with_what(tmp_path):
    facts = run_facts("numpy")
    assert set(facts) == {"date", "machine", "versions"}
    assert facts["date"].endswith("+00:00") and "numpy" in facts["versions"]
    assert {"cpu", "cores", "threads"} <= set(facts["machine"])
    path = tmp_path / "deeper" / "result.json"
    write_result(path, {"x": 1, **facts})
    assert json.loads(path.read_text())["x"] == 1 and path.read_text().endswith("}\n")
