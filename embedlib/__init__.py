"""embedlib: the implementations behind the course *Token embeddings, measured*.

Each chapter of the book has a module here; the notebooks only call these functions.
"""

__version__ = "0.1.0"

from .data import analogy_questions, dataset_path, word_pairs
from .models import MODEL_ID, ModelUnavailableError, load_model, load_tokenizer, model_source
from .notebook import glue, seed_everything, setup
from .shapes import PUBLISHED_SHAPES, ModelShape, dtype_bytes
from .similarity import cosine_matrix, cosine_similarity, normalize_rows
from .lookup import LookupLM, expected_rare_share, head_dim, lookup, lookup_costs, one_hot_lookup, parameter_count, table_bytes, touched_rows, weights_are_tied, zipf_probabilities, zipf_token_stream
from .positional import (
    LearnedPositionalEmbedding, RopeLengthWarning, RopeScaling, alibi_bias, alibi_slopes, apply_rope,
    rope_frequencies, sinusoidal_encoding,
)
from .attention import attend, position_attention, self_attention
from .contextual import BANK_SENTENCES, WordVector, static_vector, token_vectors, word_layers
from .memory import attention_flops, costs, kv_bytes_per_token, kv_cache_bytes, max_tokens_in_budget, shape_kv_cache_bytes
from .context import check_context, count_tokens, position_limit, truncation_report, window_spans
from .matryoshka import matryoshka_classification_loss, matryoshka_contrastive_loss, matryoshka_loss, truncate
from .retrieval import SearchResult, build_prefix_index, funnel_recall_curve, funnel_search, naive_funnel_search, recall_at_k, search
from .pca import pca_rotation
from .diagnostics import Hubness, center, csls, hubness, k_occurrence, mean_cosine, whiten
from . import audit  # a callable module: embedlib.audit(vectors, ...) as before; python -m embedlib.audit
from .audit import AuditReport
from .geometry import WordVectors, analogy, direction, evaluate_analogies, minilm_word_vectors, nearest_neighbours, project, word_similarity_spearman
from .word2vec import Word2VecConfig, planted_corpus, train_word2vec
