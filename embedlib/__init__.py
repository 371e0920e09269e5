"""embedlib: the implementations behind the course *Token embeddings, measured*.

Each chapter of the book has a module here; the notebooks only call these functions.
"""

__version__ = "0.1.0"

from .data import analogy_questions, dataset_path, word_pairs
from .models import MODEL_ID, ModelUnavailableError, load_model, load_tokenizer, model_source
from .notebook import glue, seed_everything, setup
from .shapes import PUBLISHED_SHAPES, ModelShape, dtype_bytes
from .similarity import cosine_matrix, cosine_similarity, normalize_rows
