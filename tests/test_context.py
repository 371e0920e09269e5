"""Context limits of the real MiniLM, the guard, truncation and windows."""

from __future__ import annotations

import pytest
import torch

from embedlib.context import (
    check_context,
    count_tokens,
    embed_windows,
    position_limit,
    sentence_transformers_limit,
    truncation_report,
    window_spans,
)
from embedlib.data import read_lines
from embedlib.models import load_model, load_tokenizer, model_source
from embedlib.sentences import embed_sentences

LONG = read_lines("lee_background.cor")[250]  # a news story of 786 tokens


def _ids(n_tokens: int) -> torch.Tensor:
    tokenizer = load_tokenizer()
    pieces = tokenizer(LONG, add_special_tokens=False, verbose=False)["input_ids"]
    ids = [tokenizer.cls_token_id] + pieces[: n_tokens - 2] + [tokenizer.sep_token_id]
    return torch.tensor([ids])  # (1, n_tokens)


def test_limit_is_the_position_table():
    model = load_model()
    assert (
        position_limit() == 512 == model.embeddings.position_embeddings.weight.shape[0]
    )


def test_model_runs_at_512_and_fails_at_513():
    model = load_model()
    with torch.no_grad():
        assert model(input_ids=_ids(512)).last_hidden_state.shape == (1, 512, 384)
        with pytest.raises(RuntimeError, match="513"):
            model(input_ids=_ids(513))
        with pytest.raises(RuntimeError, match="513"):
            model(
                input_ids=_ids(513),
                token_type_ids=torch.zeros(1, 513, dtype=torch.long),
            )


@pytest.mark.parametrize("n_tokens", [1, 100, 512])
def test_check_context_accepts_what_fits(n_tokens):
    assert check_context(n_tokens, 512) is None


def test_check_context_names_the_limit_and_the_fix():
    with pytest.raises(
        ValueError, match=r"513 tokens.*0 to 511.*truncation=True, max_length=512"
    ):
        check_context(513, 512)
    with pytest.raises(ValueError, match="positive integer"):
        check_context(0, 512)


def test_count_tokens_includes_specials():
    assert count_tokens("hello world") == 4  # [CLS] hello world [SEP]
    assert count_tokens(LONG) == 786


@pytest.mark.parametrize("max_length", [512, 256, 10])
def test_truncation_report_adds_up(max_length):
    report = truncation_report(LONG, max_length)
    assert report.n_tokens == 786
    assert report.kept == max_length
    assert report.kept + report.dropped == report.n_tokens
    assert LONG.lower().endswith(
        report.dropped_text.split()[-1]
    )  # the tail is what goes


def test_truncation_report_of_a_short_text_drops_nothing():
    report = truncation_report("a short sentence", 512)
    assert (report.dropped, report.dropped_text) == (0, "")


def test_sentence_transformers_limit_is_read_from_the_model_files():
    from sentence_transformers import SentenceTransformer

    assert (
        SentenceTransformer(model_source(), device="cpu").max_seq_length
        == sentence_transformers_limit()
        == 256
    )


def test_truncation_hides_the_tail():
    a, b = embed_sentences(
        [LONG + " The talks collapsed.", LONG + " The talks succeeded."], max_length=512
    )
    short_a, short_b = embed_sentences(
        ["The talks collapsed.", "The talks succeeded."], max_length=512
    )
    assert torch.equal(a, b)
    assert float(short_a @ short_b) < 0.95


def slow_window_spans(n_tokens, size, stride):
    spans, start = [], 0
    while start + size < n_tokens:
        spans.append((start, start + size))
        start += stride
    spans.append((start, n_tokens))
    return spans


@pytest.mark.parametrize(
    "n_tokens, size, stride",
    [(1, 4, 4), (4, 4, 4), (10, 4, 4), (10, 4, 3), (786, 512, 256), (9, 3, 1)],
)
def test_window_spans_cover_every_token(n_tokens, size, stride):
    spans = window_spans(n_tokens, size, stride)
    assert spans == slow_window_spans(n_tokens, size, stride)
    assert all(0 < end - start <= size for start, end in spans)
    covered = set().union(*(range(s, e) for s, e in spans))
    assert covered == set(range(n_tokens))


def test_window_spans_rejects_gaps():
    with pytest.raises(ValueError, match="stride 5 > size 4"):
        window_spans(10, 4, 5)


def test_one_window_is_the_sentence_embedding():
    text = "The talks in Jerusalem collapsed late on Tuesday."
    windows = embed_windows(text)
    assert windows.shape == (1, 384)
    torch.testing.assert_close(windows[0], embed_sentences([text], max_length=512)[0])


def test_windows_cover_the_whole_text_and_match_a_slow_loop():
    tokenizer, model = load_tokenizer(), load_model()
    pieces = tokenizer(LONG, add_special_tokens=False, verbose=False)["input_ids"]
    windows = embed_windows(LONG, size=130, stride=64)
    spans = window_spans(len(pieces), 128, 64)
    assert windows.shape == (len(spans), 384) and spans[-1][1] == len(pieces) == 784
    for row, (start, end) in zip(windows, spans):
        ids = torch.tensor(
            [[tokenizer.cls_token_id, *pieces[start:end], tokenizer.sep_token_id]]
        )
        with torch.no_grad():
            mean = model(input_ids=ids).last_hidden_state[0].mean(dim=0)
        torch.testing.assert_close(row, mean / mean.norm())


def test_windows_see_the_ending_that_truncation_drops():
    endings = [
        "Officials later said the talks had collapsed.",
        "Officials later said the talks had succeeded.",
    ]
    a, b = (
        embed_windows(f"{LONG} {ending}", size=128, stride=64) for ending in endings
    )
    assert torch.equal(a[0], b[0])  # the beginnings are the same text
    assert float(a[-1] @ b[-1]) < 0.999  # the last windows hold the two endings


@pytest.mark.parametrize("size", [2, 513, 100.0])
def test_embed_windows_rejects_impossible_sizes(size):
    with pytest.raises(ValueError, match="size must be an integer from 3 to 512"):
        embed_windows("a short text", size=size)
