"""embedlib.contextual against slow, obviously-correct versions and against reference libraries."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from embedlib import cosine_matrix, cosine_similarity, load_model, load_tokenizer
from embedlib.contextual import (
    BANK_SENTENCES,
    LayerSeparation,
    best_layer,
    find_word,
    attention_weights,
    context_specificity,
    layer_states,
    nearest_neighbour_accuracy,
    neighbour_margins,
    pair_auc,
    self_only_mask,
    shuffled_label_null,
    pair_similarities,
    sense_vectors,
    separation_by_layer,
    sentence_tokens,
    static_vector,
    token_vectors,
    word_layers,
)

RIVER = "We sat on the grassy bank of the river."
MONEY = "We sat in the quiet bank waiting for a loan."  # "bank" at the same position as in RIVER


def states_by_hooks(text: str) -> torch.Tensor:
    """Every layer's output read with forward hooks on the modules: [L + 1, T, d]."""
    model, tokenizer = load_model(), load_tokenizer()
    captured = []

    def keep(module, inputs, output):
        captured.append((output[0] if isinstance(output, tuple) else output)[0].detach())

    modules = [model.embeddings, *model.encoder.layer]
    handles = [m.register_forward_hook(keep) for m in modules]
    try:
        with torch.no_grad():
            model(**tokenizer(text, return_tensors="pt"))
    finally:
        for handle in handles:
            handle.remove()
    return torch.stack(captured)


def embeddings_by_hand(text: str) -> torch.Tensor:
    """Layer 0 from its definition: LayerNorm(token row + position row + segment row): [T, d]."""
    model, tokenizer = load_model(), load_tokenizer()
    ids = tokenizer(text).input_ids
    e = model.embeddings
    total = e.word_embeddings.weight[ids] + e.position_embeddings.weight[: len(ids)] + e.token_type_embeddings.weight[0]
    return torch.nn.functional.layer_norm(total, (total.shape[-1],), e.LayerNorm.weight, e.LayerNorm.bias, e.LayerNorm.eps).detach()


@pytest.mark.parametrize("text", [RIVER, MONEY, "Riverbanks erode."])
def test_layer_states_match_hooks_on_every_block(text):
    states = layer_states(text)
    assert states.shape == (7, len(sentence_tokens(text)), 384)
    torch.testing.assert_close(states, states_by_hooks(text))


@pytest.mark.parametrize("text", [RIVER, "The central bank raised rates."])
def test_layer_zero_is_layernorm_of_token_plus_position_plus_segment(text):
    torch.testing.assert_close(layer_states(text)[0], embeddings_by_hand(text), atol=1e-5, rtol=1e-5)


def test_last_layer_matches_sentence_transformers_token_embeddings():
    from sentence_transformers import SentenceTransformer

    from embedlib.models import model_source

    reference = SentenceTransformer(model_source(), device="cpu")
    tokens = reference.encode(RIVER, output_value="token_embeddings", convert_to_tensor=True)  # [T, d]
    torch.testing.assert_close(layer_states(RIVER)[-1], tokens.cpu(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("layer", range(7))
def test_token_vectors_reads_the_right_position_and_layer(layer):
    result = token_vectors(RIVER, "bank", layer)
    position = sentence_tokens(RIVER).index("bank")
    assert result.positions == (position,) and result.pieces == ("bank",) and not result.averaged
    torch.testing.assert_close(result.vector, layer_states(RIVER)[layer, position])


@pytest.mark.parametrize("layer", [0, 3, 6])
def test_split_word_is_the_mean_of_its_pieces_and_says_so(layer):
    text = "Children played on the riverbank all day."
    result = token_vectors(text, "riverbank", layer)
    tokens = sentence_tokens(text)
    assert result.pieces == ("river", "##bank") and result.averaged
    assert [tokens[p] for p in result.positions] == ["river", "##bank"]
    states = layer_states(text)[layer]
    slow = sum(states[p] for p in result.positions) / len(result.positions)
    torch.testing.assert_close(result.vector, slow)
    assert "averaged" in str(result) and "2 pieces" in str(result)


def test_word_layers_agrees_with_token_vectors_at_each_layer():
    stack = word_layers(MONEY, "bank")
    for layer in range(7):
        torch.testing.assert_close(stack[layer], token_vectors(MONEY, "bank", layer).vector)


@pytest.mark.parametrize("word, pieces", [("bank", ("bank",)), ("riverbank", ("river", "##bank")), ("Bank", ("bank",))])
def test_static_vector_is_the_table_row_or_the_mean_of_rows(word, pieces):
    table = load_model().get_input_embeddings().weight.detach()
    tokenizer = load_tokenizer()
    result = static_vector(word)
    assert result.pieces == pieces and result.layer is None and result.positions == ()
    rows = torch.stack([table[tokenizer.convert_tokens_to_ids(p)] for p in pieces])
    torch.testing.assert_close(result.vector, rows.mean(dim=0))


def test_table_row_is_the_same_whatever_the_sentence_but_layer_zero_depends_on_position():
    short = "The bank."
    first, later = token_vectors(short, "bank", 0), token_vectors(RIVER, "bank", 0)
    assert first.positions != later.positions
    assert cosine_similarity(first.vector, later.vector) < 0.99  # position changes layer 0
    same_position = token_vectors(MONEY, "bank", 0)
    assert same_position.positions == later.positions
    torch.testing.assert_close(same_position.vector, later.vector)  # no context at layer 0
    assert cosine_similarity(token_vectors(MONEY, "bank", 6).vector, token_vectors(RIVER, "bank", 6).vector) < 0.95


def states_token_by_token(text: str) -> torch.Tensor:
    """The slow reference for a diagonal mask: every token run as its own one-token sequence,
    keeping its position and segment: [L + 1, T, d]."""
    encoding = load_tokenizer()(text, return_tensors="pt")
    length = encoding.input_ids.shape[1]
    with torch.no_grad():
        output = load_model()(input_ids=encoding.input_ids.T, token_type_ids=encoding.token_type_ids.T,
                              position_ids=torch.arange(length)[:, None], output_hidden_states=True)
    return torch.stack(output.hidden_states)[:, :, 0]


@pytest.mark.parametrize("text", [RIVER, "Riverbanks erode."])
def test_diagonal_mask_equals_running_each_token_alone(text):
    torch.testing.assert_close(layer_states(text, isolate="all"), states_token_by_token(text), atol=1e-5, rtol=1e-4)
    assert not torch.allclose(layer_states(text, isolate="all")[1:], layer_states(text)[1:], atol=1e-3)


def test_full_mask_equals_no_mask():
    length = len(sentence_tokens(RIVER))
    torch.testing.assert_close(layer_states(RIVER, isolate=[]), layer_states(RIVER))
    assert self_only_mask(length, []).all()


def test_self_only_mask_by_loops():
    mask = self_only_mask(5, [1, 3])
    for t in range(5):
        for s in range(5):
            assert mask[t, s] == (t == s if t in (1, 3) else True)
    torch.testing.assert_close(self_only_mask(4), torch.eye(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="0..4"):
        self_only_mask(5, [5])


def test_without_attention_to_other_tokens_no_layer_sees_context():
    river = word_layers(RIVER, "bank", isolate="all")
    money = word_layers(MONEY, "bank", isolate="all")
    torch.testing.assert_close(river, money)
    assert not torch.allclose(word_layers(RIVER, "bank")[1:], word_layers(MONEY, "bank")[1:], atol=1e-2)


def test_isolating_only_the_word_keeps_it_context_free_while_the_rest_attends():
    river = word_layers(RIVER, "bank", isolate="word")
    torch.testing.assert_close(river, word_layers(MONEY, "bank", isolate="word"))
    torch.testing.assert_close(river, word_layers(RIVER, "bank", isolate="all"))
    position = find_word(RIVER, "bank")[0]
    states = layer_states(RIVER, isolate=[position])
    others = [p for p in range(states.shape[1]) if p != position]
    # the other tokens are still contextual: they differ from the all-isolated run
    assert not torch.allclose(states[1:, others], layer_states(RIVER, isolate="all")[1:, others], atol=1e-3)


def attention_by_eager(text):
    """transformers' own attention probabilities (eager implementation): [L, H, T, T]."""
    model = load_model()
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            output = model(**load_tokenizer()(text, return_tensors="pt"), output_attentions=True)
    finally:
        model.set_attn_implementation(before)
    return torch.stack(output.attentions)[:, 0]


def test_attention_weights_match_transformers_eager_attentions():
    before = load_model().config._attn_implementation
    weights = attention_weights(RIVER)
    assert load_model().config._attn_implementation == before  # the model's settings are untouched
    length = len(sentence_tokens(RIVER))
    assert weights.shape == (6, 12, length, length)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(6, 12, length))
    torch.testing.assert_close(weights, attention_by_eager(RIVER), atol=1e-5, rtol=1e-4)


def test_context_specificity_by_loops():
    sentences = [RIVER, MONEY, "The bank was closed."]
    self_sim, baseline = context_specificity(sentences, "bank")
    states = [layer_states(s) for s in sentences]
    tokens = [sentence_tokens(s) for s in sentences]
    for layer in (0, 3, 6):
        words = [st[layer, tk.index("bank")] for st, tk in zip(states, tokens)]
        pairs = [cosine_similarity(a, b).item() for a, b in itertools.combinations(words, 2)]
        assert self_sim[layer].item() == pytest.approx(np.mean(pairs), abs=1e-5)
        rest = [(k, st[layer, i]) for k, (st, tk) in enumerate(zip(states, tokens))
                for i, t in enumerate(tk) if t not in ("[CLS]", "[SEP]", "bank")]
        cross = [cosine_similarity(a, b).item() for (i, a), (j, b) in itertools.product(rest, rest) if i != j]
        assert baseline[layer].item() == pytest.approx(np.mean(cross), abs=1e-5)


def test_find_word_is_whole_word_case_insensitive_and_counts_occurrences():
    text = "Banks bank on the Bank's bank."
    tokens = sentence_tokens(text)
    positions = [find_word(text, "bank", k) for k in range(3)]
    assert all(tokens[p[0]] == "bank" for p in positions)
    assert len({p for p in positions}) == 3
    with pytest.raises(ValueError, match="occurs 3 time"):
        find_word(text, "bank", 3)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: token_vectors(RIVER, "money", 6), r"'money' is not a word of the sentence.*'\[CLS\]', 'we', 'sat'"),
        (lambda: token_vectors(RIVER, "ban", 6), "'ban' is not a word"),
        (lambda: token_vectors(RIVER, "bank", layer=7), r"layer 7 is out of range: choose an integer from 0 to 6"),
        (lambda: token_vectors(RIVER, "bank", layer=-1), "from 0 to 6"),
        (lambda: token_vectors(RIVER, "bank", layer=2.0), "from 0 to 6"),
        (lambda: token_vectors("", "bank", 6), "non-empty sentence"),
        (lambda: token_vectors("bank " * 600, "bank", 6), "at most 512"),
        (lambda: static_vector("  "), "expected a word"),
        (lambda: token_vectors(RIVER, "bank", 6, isolate="bank"), "isolate must be"),
        (lambda: layer_states(RIVER, isolate="word"), "isolate must be"),
        (lambda: token_vectors(RIVER, "bank", 6, model="bert"), "not known here"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- sense statistics against loops and scikit-learn ---


def random_senses(seed: int, sizes=(3, 4), width: int = 6):
    generator = torch.Generator().manual_seed(seed)
    labels = [f"s{k}" for k, size in enumerate(sizes) for _ in range(size)]
    centres = torch.randn(len(sizes), width, generator=generator)
    codes = torch.tensor([int(label[1:]) for label in labels])
    return centres[codes] + 0.8 * torch.randn(len(labels), width, generator=generator), labels


@pytest.mark.parametrize("seed, sizes", [(0, (3, 4)), (1, (2, 2)), (2, (2, 3, 5))])
def test_pair_similarities_match_a_double_loop(seed, sizes):
    vectors, labels = random_senses(seed, sizes)
    same, cross = [], []
    for i, j in itertools.combinations(range(len(labels)), 2):
        cos = float(vectors[i] @ vectors[j] / (vectors[i].norm() * vectors[j].norm()))
        (same if labels[i] == labels[j] else cross).append(cos)
    got_same, got_cross = pair_similarities(vectors, labels)
    np.testing.assert_allclose(sorted(got_same.tolist()), sorted(same), atol=1e-6)
    np.testing.assert_allclose(sorted(got_cross.tolist()), sorted(cross), atol=1e-6)


@pytest.mark.parametrize("seed, sizes", [(0, (3, 4)), (3, (5, 5)), (4, (2, 3, 5)), (5, (6, 2))])
def test_nearest_neighbour_accuracy_matches_scikit_learn_leave_one_out(seed, sizes):
    from sklearn.model_selection import LeaveOneOut, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    vectors, labels = random_senses(seed, sizes, width=4)
    knn = KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute")
    reference = cross_val_score(knn, vectors.numpy(), labels, cv=LeaveOneOut()).mean()
    assert nearest_neighbour_accuracy(vectors, labels) == pytest.approx(reference)


def test_nearest_neighbour_splits_ties_and_ignores_order():
    vectors = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = ["a", "b", "a", "b", "a"]
    # vector 0 ties with 1 and 2 (one of each label): 1/2; 1 ties with 0, 2 (both a): 0;
    # 2 ties with 0, 1: 1/2; 3's neighbour is 4 (a, wrong): 0; 4's is 3 (b): 0
    assert nearest_neighbour_accuracy(vectors, labels) == pytest.approx((0.5 + 0 + 0.5 + 0 + 0) / 5)
    order = [4, 2, 0, 3, 1]
    assert nearest_neighbour_accuracy(vectors[order], [labels[i] for i in order]) == pytest.approx(0.2)


def test_neighbour_margins_and_pair_auc_by_loops():
    vectors, labels = random_senses(7, (4, 5))
    cos = cosine_matrix(vectors)
    for i, margin in enumerate(neighbour_margins(vectors, labels).tolist()):
        same = max(cos[i, j].item() for j in range(len(labels)) if j != i and labels[j] == labels[i])
        cross = max(cos[i, j].item() for j in range(len(labels)) if labels[j] != labels[i])
        assert margin == pytest.approx(same - cross, abs=1e-6)
    same, cross = pair_similarities(vectors, labels)
    slow = np.mean([(a > b) + 0.5 * (a == b) for a in same.tolist() for b in cross.tolist()])
    assert pair_auc(same, cross) == pytest.approx(slow)
    from sklearn.metrics import roc_auc_score

    scores = torch.cat([same, cross]).numpy()
    truth = [1] * len(same) + [0] * len(cross)
    assert pair_auc(same, cross) == pytest.approx(roc_auc_score(truth, scores))


def test_shuffled_null_recomputes_the_statistics_for_each_shuffle():
    layers = torch.stack([random_senses(seed, (4, 4))[0] for seed in range(3)], dim=1)  # [8, 3, 6]
    labels = random_senses(0, (4, 4))[1]
    null = shuffled_label_null(layers, labels, permutations=20, seed=3)
    assert null.gaps.shape == (20, 3) and null.nn_accuracy.shape == (20, 3)
    generator = torch.Generator().manual_seed(3)
    codes = torch.tensor([0] * 4 + [1] * 4)
    for p in range(20):
        shuffled = [["s0", "s1"][c] for c in codes[torch.randperm(8, generator=generator)].tolist()]
        rows = separation_by_layer(layers, shuffled)
        for layer in range(3):
            assert null.gaps[p, layer].item() == pytest.approx(rows[layer].gap, abs=1e-6)
            assert null.nn_accuracy[p, layer].item() == pytest.approx(rows[layer].nn_accuracy, abs=1e-9)
    p_values = null.p_values([r.gap for r in separation_by_layer(layers, labels)])
    assert ((p_values > 0) & (p_values <= 1)).all()
    assert null.p_values([10.0, 10.0, 10.0]).tolist() == pytest.approx([1 / 21] * 3)


def test_nearest_neighbour_never_picks_itself():
    vectors = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    assert nearest_neighbour_accuracy(vectors, ["a", "a", "b", "b"]) == 1.0
    assert nearest_neighbour_accuracy(vectors, ["a", "b", "a", "b"]) == 0.0


def test_separation_by_layer_and_best_layer():
    layers = [random_senses(seed, (4, 4))[0] for seed in range(3)]
    labels = random_senses(0, (4, 4))[1]
    vectors = torch.stack([layers[0] * 0 + 1 + 0.01 * layers[0], layers[1], layers[2] * 3], dim=1)  # [8, 3, 6]
    rows = separation_by_layer(vectors, labels)
    assert [r.layer for r in rows] == [0, 1, 2]
    for row, layer in zip(rows, range(3)):
        same, cross = pair_similarities(vectors[:, layer], labels)
        assert row.gap == pytest.approx(same.mean().item() - cross.mean().item())
        assert row.overlap == (cross.max().item() > same.min().item())
    assert best_layer(rows) == max(range(3), key=lambda k: rows[k].gap)
    tie = [LayerSeparation(0, 0.9, 0.8, 0.5, 0.6, 1.0), LayerSeparation(1, 0.9, 0.8, 0.5, 0.6, 1.0)]
    assert best_layer(tie) == 0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: pair_similarities(torch.ones(3, 2), ["a", "a", "b"]), "two senses with at least two"),
        (lambda: pair_similarities(torch.ones(4, 2), ["a", "a", "a", "a"]), "two senses"),
        (lambda: pair_similarities(torch.ones(4), ["a", "a", "b", "b"]), r"\[n, d\]"),
        (lambda: nearest_neighbour_accuracy(torch.ones(3, 2), ["a", "a", "b", "b"]), "4 labels"),
        (lambda: separation_by_layer(torch.ones(4, 2), ["a", "a", "b", "b"]), "layers"),
        (lambda: best_layer([]), "no layers"),
    ],
)
def test_sense_statistics_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_sense_vectors_on_real_sentences_separate_senses_at_the_top_not_at_layer_zero():
    sentences = {
        "river": ["The bank was muddy after the rain.", "Ducks rested on the bank of the pond."],
        "money": ["The bank approved my loan today.", "Ducks of gold sat in the bank vault."],
    }
    vectors, labels = sense_vectors(sentences, "bank")
    assert vectors.shape == (4, 7, 384) and labels == ["river", "river", "money", "money"]
    torch.testing.assert_close(vectors[0, 0], vectors[2, 0])  # same position, layer 0: identical
    rows = separation_by_layer(vectors, labels)
    assert rows[0].cross_max == pytest.approx(1.0, abs=1e-6)
    assert rows[6].cross_max < 0.99


@pytest.mark.parametrize("sense", sorted(BANK_SENTENCES))
def test_bank_sentences_hold_bank_once_as_one_piece(sense):
    assert len(BANK_SENTENCES[sense]) >= 6
    for text in BANK_SENTENCES[sense]:
        assert sentence_tokens(text).count("bank") == 1, text
        with pytest.raises(ValueError, match="occurs 1 time"):
            find_word(text, "bank", occurrence=1)


def test_numpy_integer_layers_are_accepted():
    torch.testing.assert_close(token_vectors(RIVER, "bank", np.int64(4)).vector, token_vectors(RIVER, "bank", 4).vector)


# --- SmolLM2, the decoder: the first block receives the raw table row ---


@pytest.fixture(scope="module")
def smollm2():
    from embedlib.models import ModelUnavailableError

    try:
        return load_model("smollm2"), load_tokenizer("smollm2")
    except ModelUnavailableError as error:  # the bundle is optional
        pytest.skip(f"SmolLM2 is not available: {error}")


def test_decoder_layer_zero_is_the_raw_row_at_every_position(smollm2):
    model, tokenizer = smollm2
    text = BANK_SENTENCES["river"][0]
    states = layer_states(text, model="smollm2")
    ids = tokenizer(text).input_ids
    assert states.shape == (31, len(ids), 576)
    torch.testing.assert_close(states[0], model.get_input_embeddings().weight[ids].detach(), atol=0, rtol=0)
    (position,) = find_word(text, "bank", model="smollm2")
    assert sentence_tokens(text, model="smollm2")[position] == "\u0120bank"  # BPE: leading space


def test_decoder_sees_only_the_left_context(smollm2):
    river, money = BANK_SENTENCES["river"][1], BANK_SENTENCES["money"][1]  # both start "The bank"
    left_river = word_layers(river, "bank", model="smollm2")
    torch.testing.assert_close(left_river, word_layers(money, "bank", model="smollm2"), atol=1e-5, rtol=1e-5)
    other = word_layers(BANK_SENTENCES["river"][0], "bank", model="smollm2")
    assert cosine_similarity(other[-1], left_river[-1]) < 0.99


def test_decoder_rejects_custom_masks(smollm2):
    with pytest.raises(ValueError, match="encoder"):
        word_layers(RIVER, "bank", isolate="all", model="smollm2")


def test_each_call_tokenises_the_sentence_once(monkeypatch):
    import embedlib.contextual as contextual

    calls = []
    real = load_tokenizer()

    class Counting:
        def __call__(self, *args, **kwargs):
            calls.append(args[0])
            return real(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(contextual, "get_tokenizer", lambda model="minilm": Counting())
    for call in (lambda: token_vectors(RIVER, "bank", 3), lambda: word_layers(RIVER, "bank"),
                 lambda: token_vectors(RIVER, "bank", 3, isolate="word")):
        calls.clear()
        call()
        assert calls == [RIVER]


def test_static_and_contextual_word_vectors_say_which_they_are():
    assert static_vector("bank").static and static_vector("bank").layer is None
    top = token_vectors(RIVER, "bank", 6)
    assert not top.static and top.layer == 6
    with pytest.raises(TypeError):
        token_vectors(RIVER, "bank")  # the layer is required: no default that could mean "static"
