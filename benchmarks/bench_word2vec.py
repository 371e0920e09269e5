"""Our skip-gram (embedlib.word2vec) against gensim's C implementation, side by side.

Same corpus (gensim's head500.noblanks.cor: 500 Wikipedia articles, Porter-stemmed, 331k
words), same settings (gensim's skip-gram defaults: d=100, window 5, 5 negatives, sample 1e-3,
min_count 5, 5 epochs), so both make the same number of updates. gensim runs with
``workers=1``: one core against one torch thread is the fair single-core comparison.
Variants are run in interleaved rounds with a different seed each round; the table shows
medians. Quality: Spearman on WordSim353 and 3CosAdd accuracy on questions-words, both with
Porter-stemmed words (the corpus is stemmed), and planted-structure analogy accuracy.

Usage: python benchmarks/bench_word2vec.py [rounds]   (default 3; about 40 s per round)

Measured on the course's 2-core machine (two runs of 3 rounds; quality is deterministic):
gensim 8.4-9.0 s (185-198k words/s); per-pair negatives 1.6-2.7x gensim's time; negatives
shared by 8 pairs 0.85-0.87x. WordSim353 (stemmed) 0.428 / 0.467 / 0.478, analogy accuracy
0.032 / 0.034 / 0.035: equal or better quality at the same number of updates.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from embedlib.data import AnalogyQuestion, analogy_questions, read_lines, word_pairs
from embedlib.geometry import WordVectors, evaluate_analogies, word_similarity_spearman
from embedlib.word2vec import Word2VecConfig, train_word2vec

SETTINGS = Word2VecConfig(dim=100, window=5, negative=5, min_count=5, sample=1e-3, epochs=5)


def stemmed_benchmarks():
    from gensim.parsing.porter import PorterStemmer

    stem = PorterStemmer().stem
    pairs = [(stem(a), stem(b), s) for a, b, s in word_pairs("wordsim353.tsv")]
    questions = [AnalogyQuestion(q.section, *(stem(w) for w in (q.a, q.b, q.c, q.d))) for q in analogy_questions()]
    return pairs, questions


def train_gensim(sentences, seed):
    from gensim.models import Word2Vec

    model = Word2Vec(
        sentences, vector_size=SETTINGS.dim, window=SETTINGS.window, negative=SETTINGS.negative,
        min_count=SETTINGS.min_count, sample=SETTINGS.sample, epochs=SETTINGS.epochs,
        alpha=SETTINGS.lr, min_alpha=SETTINGS.min_lr, sg=1, hs=0, workers=1, seed=seed,
    )  # fmt: skip
    return WordVectors.from_keyedvectors(model.wv)


def train_ours(shared_negatives):
    def train(sentences, seed):
        model = train_word2vec(sentences, SETTINGS, progress=False, seed=seed, shared_negatives=shared_negatives)
        return model.word_vectors()

    return train


VARIANTS = {
    "gensim sg, workers=1": train_gensim,
    "embedlib, per-pair negatives": train_ours(1),
    "embedlib, negatives shared by 8 pairs": train_ours(8),
}


def main(rounds: int) -> None:
    torch.set_num_threads(1)
    sentences = [line.split() for line in read_lines("head500.noblanks.cor")]
    words = sum(len(s) for s in sentences) * SETTINGS.epochs
    pairs, questions = stemmed_benchmarks()
    results: dict[str, dict[str, list[float]]] = {name: {"s": [], "ws": [], "an": []} for name in VARIANTS}
    for seed in range(rounds):
        for name, train in VARIANTS.items():
            start = time.perf_counter()
            vectors = train(sentences, seed)
            results[name]["s"].append(time.perf_counter() - start)
            results[name]["ws"].append(word_similarity_spearman(vectors, pairs).spearman)
            report = evaluate_analogies(vectors, questions)
            results[name]["an"].append(report.accuracy)
        print(f"round {seed + 1}/{rounds} done", flush=True)

    print(f"\ncorpus words x epochs = {words:,}; {report.answered} analogy questions in vocabulary")
    print(f"medians of {rounds} rounds")
    base = statistics.median(results["gensim sg, workers=1"]["s"])
    print(f"{'variant':40s} {'seconds':>8s} {'words/s':>9s} {'time / gensim':>14s} {'WordSim353':>11s} {'analogy':>8s}")
    for name, r in results.items():
        seconds = statistics.median(r["s"])
        print(
            f"{name:40s} {seconds:8.2f} {words / seconds:9,.0f} {seconds / base:13.2f}x "
            f"{statistics.median(r['ws']):11.3f} {statistics.median(r['an']):8.3f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
