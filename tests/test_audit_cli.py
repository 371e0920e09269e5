"""The audit command: every loader on small files written here, bad input, outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from embedlib.audit import cli, load_table
from embedlib.audit.counts import row_counts

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--sample", "200", "--repeats", "2", "-k", "5"]
VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "[unused0]",
    "[unused1]",
    "cat",
    "dog",
    "the",
    "a",
    "##cat",
    "##dog",
    "##s",
    "run",
    "##ning",
] + [f"w{i}" for i in range(40)]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """A 1-layer BERT with a WordPiece tokenizer, saved as a transformers folder."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny_bert")
    BertTokenizerFast(
        vocab={token: i for i, token in enumerate(VOCAB)}
    ).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def table(n: int = 60, d: int = 8) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---- loaders
def test_npy_and_float64_are_read_as_float32(tmp_path):
    np.save(tmp_path / "t.npy", table())
    np.save(tmp_path / "t64.npy", table().astype(np.float64))
    for name in ("t.npy", "t64.npy"):
        loaded = load_table(tmp_path / name)
        assert loaded.vectors.dtype == torch.float32 and loaded.vectors.shape == (60, 8)
        torch.testing.assert_close(loaded.vectors, torch.from_numpy(table()))


def test_npz_picks_the_table_or_the_named_one_and_reads_labels(tmp_path):
    labels = np.array([f"t{i}" for i in range(60)])
    np.savez(tmp_path / "one.npz", vectors=table(), tokens=labels)
    loaded = load_table(tmp_path / "one.npz")
    assert loaded.labels[:2] == ["t0", "t1"] and loaded.vectors.shape == (60, 8)
    np.savez(tmp_path / "two.npz", a=table(), b=table(30, 4))
    with pytest.raises(ValueError, match="choose one with --tensor"):
        load_table(tmp_path / "two.npz")
    assert load_table(tmp_path / "two.npz", tensor="b").vectors.shape == (30, 4)


def test_safetensors_by_name_or_the_only_2d_tensor(tmp_path):
    from safetensors.torch import save_file

    weight = torch.from_numpy(table()).to(torch.bfloat16)
    save_file(
        {"emb.weight": weight, "bias": torch.zeros(8)},
        str(tmp_path / "one.safetensors"),
    )
    loaded = load_table(tmp_path / "one.safetensors")
    assert loaded.vectors.dtype == torch.float32
    torch.testing.assert_close(loaded.vectors, weight.float())
    save_file(
        {"a": torch.ones(5, 2), "b": torch.zeros(7, 3)},
        str(tmp_path / "two.safetensors"),
    )
    with pytest.raises(ValueError, match="--tensor"):
        load_table(tmp_path / "two.safetensors")
    assert load_table(tmp_path / "two.safetensors", tensor="b").vectors.shape == (7, 3)
    with pytest.raises(ValueError, match="no tensor named 'c'"):
        load_table(tmp_path / "two.safetensors", tensor="c")


@pytest.mark.parametrize(
    "name, binary",
    [
        ("w.txt", False),
        ("w.bin", True),
        ("w.vec", False),
        ("w.w2v", True),
        ("w.w2v", False),
    ],
)
def test_word2vec_text_and_binary(tmp_path, name, binary):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(8)
    kv.add_vectors([f"word{i}" for i in range(60)], table())
    kv.save_word2vec_format(str(tmp_path / name), binary=binary)
    loaded = load_table(tmp_path / name)
    assert loaded.labels[:2] == ["word0", "word1"]
    torch.testing.assert_close(
        loaded.vectors, torch.from_numpy(table()), atol=1e-5, rtol=0
    )
    kv.save(str(tmp_path / "w.kv"))
    assert load_table(tmp_path / "w.kv").labels == loaded.labels


def test_a_model_folder_gives_its_input_table_and_token_labels(tiny_bert):
    from transformers import BertModel

    loaded = load_table(tiny_bert)
    expected = (
        BertModel.from_pretrained(tiny_bert).get_input_embeddings().weight.detach()
    )
    torch.testing.assert_close(loaded.vectors, expected)
    assert (
        loaded.labels[:3] == ["[PAD]", "[UNK]", "[CLS]"]
        and loaded.tokenizer is not None
    )
    assert "word_embeddings" in loaded.source


def test_the_command_on_a_model_folder_flags_and_masks_untrained_rows(
    tiny_bert, capsys
):
    code, out, _ = run(capsys, tiny_bert, *FAST)
    assert code == 0 and "2 unused names, 5 special" in out
    code, out, _ = run(capsys, tiny_bert, *FAST, "--mask-untrained")
    assert (
        code == 0
        and f"{len(VOCAB) - 7} rows in the statistics (untrained rows masked)" in out
    )


def test_counts_and_fragmentation_from_the_command(tiny_bert, tmp_path, capsys):
    counts = tmp_path / "counts.txt"
    counts.write_text("cat 10\ncatdog\t2\ndogcatdog 1\n\nrunning 5\ndogs\n")  # bare word: 1
    code, out, _ = run(capsys, tiny_bert, *FAST, "--counts", counts)
    assert code == 0 and "fragmentation: 2.00 pieces per word" in out
    assert "not from the model's training data" in out
    data = json.loads(run(capsys, tiny_bert, *FAST, "--counts", counts, "--json")[1])
    assert data["fragmentation"]["words"] == 5 and data["counts"]["rows_used"] == 7


# ---- outputs
def test_json_on_stdout_and_nothing_written_unless_asked(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "t.npy", table())
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "t.npy", *FAST, "--json")
    assert code == 0 and json.loads(out)["schema"] == "embedlib.audit/1"
    assert err == ""  # progress bars stay quiet off a terminal
    code, out, _ = run(capsys, "t.npy", *FAST)
    assert code == 0 and out.startswith("embedding audit:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.npy"]
    code, _, _ = run(capsys, "t.npy", *FAST, "--json", "r.json", "--html", "r.html")
    assert code == 0 and json.loads((tmp_path / "r.json").read_text())["rows"] == 60
    page = (tmp_path / "r.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and page.count(' alt="') == 4


# ---- bad input: exit status 2, one line naming the problem and the fix, no traceback
def _bad_files(tmp: Path, tiny_bert: Path) -> dict[str, tuple[list[str], str]]:
    np.save(tmp / "good.npy", table())
    raw = (tmp / "good.npy").read_bytes()
    (tmp / "truncated.npy").write_bytes(raw[: len(raw) // 2])
    (tmp / "garbage.safetensors").write_bytes(b"\x00\x01not a safetensors file")
    np.save(tmp / "one_d.npy", np.ones(10, dtype=np.float32))
    np.save(tmp / "three_d.npy", np.ones((4, 3, 2), dtype=np.float32))
    nan = table()
    nan[3, 2] = np.nan
    np.save(tmp / "nan.npy", nan)
    inf = table()
    inf[5, 1] = -np.inf
    np.save(tmp / "inf.npy", inf)
    np.save(tmp / "two_rows.npy", table(2, 8))
    np.save(tmp / "text.npy", np.array([["a", "b"], ["c", "d"], ["e", "f"]]))
    from gensim.models import KeyedVectors

    kv = KeyedVectors(8)
    kv.add_vectors([f"word{i}" for i in range(60)], table())
    kv.save_word2vec_format(str(tmp / "w.bin"), binary=True)
    (tmp / "truncated.bin").write_bytes((tmp / "w.bin").read_bytes()[:300])
    (tmp / "empty_model").mkdir()
    (tmp / "empty_model" / "config.json").write_text(
        '{"model_type": "bert", "vocab_size": 56}'
    )
    (tmp / "no_config").mkdir()
    (tmp / "table.csv").write_text("1,2\n")
    return {
        "missing": ([str(tmp / "nope.npy")], "no such file"),
        "truncated npy": ([str(tmp / "truncated.npy")], "truncated"),
        "garbage safetensors": ([str(tmp / "garbage.safetensors")], "cannot read"),
        "truncated word2vec": ([str(tmp / "truncated.bin")], "truncated"),
        "1-D": ([str(tmp / "one_d.npy")], "1-D"),
        "3-D": ([str(tmp / "three_d.npy")], "3-D"),
        "NaN": ([str(tmp / "nan.npy")], "nan at row 3, column 2"),
        "inf": ([str(tmp / "inf.npy")], "-inf at row 5, column 1"),
        "two rows": ([str(tmp / "two_rows.npy")], "at least 3"),
        "strings": ([str(tmp / "text.npy")], "not numbers"),
        "model without table": ([str(tmp / "empty_model")], "no input embedding table"),
        "folder without config": ([str(tmp / "no_config")], "without config.json"),
        "unknown suffix": ([str(tmp / "table.csv")], "unrecognised file type"),
        "missing counts": (
            [str(tmp / "good.npy"), "--counts", str(tmp / "no.txt")],
            "counts file",
        ),
        "counts without labels": (
            [str(tmp / "good.npy"), "--counts", str(tmp / "table.csv")],
            "needs row names",
        ),
        "bad tensor name": (
            [str(tiny_bert / "model.safetensors"), "--tensor", "x"],
            "no tensor named",
        ),
        "bad sample": ([str(tmp / "good.npy"), "--sample", "0"], "--sample"),
    }


def test_every_bad_input_exits_2_with_one_line(tmp_path, tiny_bert, capsys):
    cases = _bad_files(tmp_path, tiny_bert)
    for name, (argv, message) in cases.items():
        code, out, err = run(capsys, *FAST, *argv)
        assert code == 2, name
        assert out == "", name
        assert err.count("\n") == 1 and err.startswith("embedlib-audit: error: "), (
            name,
            err,
        )
        assert message in err, (name, err)
        assert "Traceback" not in err
    argv, _ = cases["NaN"]
    with pytest.raises(ValueError, match="nan"):
        cli.main([*argv, "--debug"])


def test_python_dash_m_runs_the_command(tmp_path):
    np.save(tmp_path / "t.npy", table())
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "embedlib.audit", str(tmp_path / "t.npy"), *FAST],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert (
        done.returncode == 0 and "embedding audit" in done.stdout and done.stderr == ""
    )


def test_the_console_script_is_declared():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["embedlib-audit"] == "embedlib.audit.cli:main"


def test_fragmentation_needs_only_the_tokenizer(tiny_bert):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    counts, summary = row_counts(
        {"cat": 10, "catdog": 2, "dogcatdog": 1}, len(tokenizer), tokenizer=tokenizer
    )
    assert summary["mode"] == "tokenizer" and summary["words"] == 3
    assert summary["pieces_per_word"] == pytest.approx((1 + 2 + 3) / 3)
    assert summary["pieces_per_occurrence"] == pytest.approx((10 * 1 + 2 * 2 + 3) / 13)
    assert summary["examples"][0]["pieces"] == ["dog", "##cat", "##dog"]
    cat = tokenizer.convert_tokens_to_ids("cat")
    assert int(counts[cat]) == 12  # "cat" itself and the first piece of "catdog"
