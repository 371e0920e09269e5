"""Reading an embedding table from the files practitioners have.

Every loader returns a :class:`Table`: a float32 ``[n, d]`` tensor, optional row labels
(token strings or words) and, for a transformers model, its tokenizer. Bad input raises
:class:`AuditInputError` with one sentence naming the problem and the fix.

Formats: ``.npy``; ``.npz`` (one 2-D array, or ``--tensor NAME``; an optional 1-D string
array ``tokens``/``words``/``labels`` gives the labels); ``.safetensors`` (``--tensor NAME``
or the only 2-D tensor); word2vec text or binary (what gensim's
``KeyedVectors.save_word2vec_format`` writes) and gensim's own ``.kv`` files; a transformers
model folder or hub id (its input embedding table, labelled by the tokenizer); and
``embedlib:NAME`` for the course's models (``embedlib:minilm``, ``embedlib:smollm2``).
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

BLOCK_ROWS = 4096
LABEL_KEYS = ("tokens", "words", "labels")
EMBEDDING_NAMES = re.compile(
    r"(embed_tokens|word_embeddings|tok_embeddings|wte|shared|token_embd|embeddings?)\.weight$"
)
WORD2VEC_SUFFIXES = {
    ".txt": False,
    ".vec": False,
    ".w2v": None,
    ".bin": True,
    ".gz": None,
}


class AuditInputError(ValueError):
    """Input the audit cannot use; the message names the problem and the fix."""


@dataclass
class Table:
    vectors: torch.Tensor  # [n, d] float32
    source: str  # what was read, for the report
    labels: list[str] | None = None
    tokenizer: Any = None
    special_tokens: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def as_float32(array: Any, what: str) -> torch.Tensor:
    """Check shape and dtype, and return a float32 tensor, converting in blocks of rows."""
    if isinstance(array, torch.Tensor):
        if not (
            array.is_floating_point()
            or array.dtype
            in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
        ):
            raise AuditInputError(
                f"{what} holds {array.dtype} values, not numbers; "
                "pass a table of floats"
            )
        tensor = array.detach()
        shape = tuple(tensor.shape)
    else:
        array = np.asanyarray(array)
        if array.dtype.kind not in "fiu":
            raise AuditInputError(
                f"{what} holds {array.dtype} values, not numbers; "
                "pass a table of floats"
            )
        tensor = None
        shape = array.shape
    if len(shape) != 2:
        raise AuditInputError(
            f"{what} has shape {shape} ({len(shape)}-D); the audit needs a 2-D table "
            "[rows, dims]: reshape it (e.g. x.reshape(-1, x.shape[-1])) or pick a tensor"
        )
    if shape[0] < 3:
        raise AuditInputError(
            f"{what} has {shape[0]} row(s); the audit needs at least 3 "
            "vectors to compare"
        )
    if shape[1] < 1:
        raise AuditInputError(
            f"{what} has width 0; vectors need at least one dimension"
        )
    if tensor is not None:
        out = tensor if tensor.dtype == torch.float32 else tensor.float()
        return out.contiguous()
    if (
        array.dtype == np.float32
        and array.flags.c_contiguous
        and not isinstance(array, np.memmap)
    ):
        return torch.from_numpy(array)
    out = torch.empty(shape, dtype=torch.float32)
    for start in range(0, shape[0], BLOCK_ROWS):  # no full-size float64 copy
        out[start : start + BLOCK_ROWS] = torch.from_numpy(
            np.asarray(array[start : start + BLOCK_ROWS], dtype=np.float32)
        )
    return out


def _unreadable(path: Path, kind: str, error: Exception, fix: str) -> AuditInputError:
    reason = (
        str(error).strip().splitlines()[0]
        if str(error).strip()
        else type(error).__name__
    )
    return AuditInputError(f"cannot read {path} as {kind} ({reason}); {fix}")


def _labels_or_none(values: Any, n: int) -> list[str] | None:
    values = np.asarray(values)
    if values.ndim == 1 and len(values) == n and values.dtype.kind in "USO":
        return [str(v) for v in values]
    return None


def load_npy(path: Path) -> Table:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        if array.dtype == np.float32 and array.ndim == 2:
            array = np.load(path, allow_pickle=False)  # one read into memory, no copy
    except Exception as error:  # numpy raises ValueError, OSError, EOFError, ...
        raise _unreadable(
            path,
            "a .npy array",
            error,
            "the file may be truncated or not a .npy: re-save it with numpy.save",
        ) from error
    return Table(as_float32(array, f"{path.name}"), source=f"{path} (.npy)")


def load_npz(path: Path, tensor: str | None) -> Table:
    try:
        archive = np.load(path, allow_pickle=False)
        names = list(archive.files)
    except Exception as error:
        raise _unreadable(
            path,
            "a .npz archive",
            error,
            "the file may be truncated: re-save it with numpy.savez",
        ) from error
    try:
        arrays = {name: archive[name] for name in names}
    except (Exception, zipfile.BadZipFile) as error:
        raise _unreadable(
            path,
            "a .npz archive",
            error,
            "the file may be truncated: re-save it with numpy.savez",
        ) from error
    name = _choose(arrays, tensor, path, {k: v.shape for k, v in arrays.items()})
    vectors = as_float32(arrays[name], f"array {name!r} of {path.name}")
    labels = next(
        (
            lab
            for key in LABEL_KEYS
            if key in arrays
            for lab in [_labels_or_none(arrays[key], vectors.shape[0])]
            if lab
        ),
        None,
    )
    return Table(vectors, source=f"{path} (.npz, array {name!r})", labels=labels)


def _choose(items: dict, wanted: str | None, path: Path, shapes: dict) -> str:
    if wanted is not None:
        if wanted not in items:
            raise AuditInputError(
                f"{path.name} has no tensor named {wanted!r}; it holds "
                f"{', '.join(sorted(items)) or 'nothing'}: pass one of those to --tensor"
            )
        return wanted
    two_d = [name for name, shape in shapes.items() if len(shape) == 2]
    if len(two_d) == 1:
        return two_d[0]
    if not two_d:
        listing = ", ".join(f"{k} {tuple(v)}" for k, v in shapes.items()) or "nothing"
        raise AuditInputError(
            f"{path.name} holds no 2-D table ({listing}); the audit needs "
            "[rows, dims]: save the embedding table itself"
        )
    raise AuditInputError(
        f"{path.name} holds {len(two_d)} 2-D tensors ({', '.join(two_d[:6])}"
        f"{', ...' if len(two_d) > 6 else ''}); choose one with --tensor NAME"
    )


def load_safetensors(path: Path, tensor: str | None) -> Table:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            names = list(handle.keys())
            shapes = {name: handle.get_slice(name).get_shape() for name in names}
            name = _choose(dict.fromkeys(names), tensor, path, shapes)
            array = handle.get_tensor(name)
    except AuditInputError:
        raise
    except Exception as error:
        raise _unreadable(
            path,
            "a .safetensors file",
            error,
            "the file may be truncated: re-save it with safetensors.torch.save_file",
        ) from error
    return Table(
        as_float32(array, f"tensor {name!r} of {path.name}"),
        source=f"{path} (.safetensors, tensor {name!r})",
    )


def _is_binary_word2vec(path: Path) -> bool:
    opener = __import__("gzip").open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        handle.readline()
        chunk = handle.read(4096)
    return any(b < 9 or 13 < b < 32 or b == 127 for b in chunk)


def load_word2vec(path: Path) -> Table:
    from gensim.models import KeyedVectors

    try:
        if path.suffix == ".kv":
            vectors = KeyedVectors.load(str(path))
            kind = "gensim KeyedVectors"
        else:
            binary = WORD2VEC_SUFFIXES.get(path.suffix)
            if binary is None:
                binary = _is_binary_word2vec(path)
            vectors = KeyedVectors.load_word2vec_format(str(path), binary=binary)
            kind = f"word2vec {'binary' if binary else 'text'}"
    except Exception as error:
        raise _unreadable(
            path,
            "word2vec vectors",
            error,
            "the file may be truncated or not in word2vec format (header 'rows dims', "
            "then one word and its numbers per row): re-save it with gensim's "
            "KeyedVectors.save_word2vec_format",
        ) from error
    words = list(vectors.index_to_key)
    return Table(
        as_float32(vectors.vectors, path.name), source=f"{path} ({kind})", labels=words
    )


def _embedding_from_weights(
    folder: Path, vocab_size: int | None
) -> tuple[torch.Tensor, str] | None:
    """Find the input embedding table among a folder's weight files without loading the model."""
    candidates = []
    for file in sorted(folder.glob("*.safetensors")):
        from safetensors import safe_open

        with safe_open(str(file), framework="pt") as handle:
            for name in handle.keys():
                shape = handle.get_slice(name).get_shape()
                if (
                    len(shape) == 2
                    and EMBEDDING_NAMES.search(name)
                    and "position" not in name
                    and "type" not in name
                ):
                    candidates.append((shape[0] != vocab_size, name, file))
    if not candidates:
        return None
    _, name, file = min(candidates)
    from safetensors import safe_open

    with safe_open(str(file), framework="pt") as handle:
        return handle.get_tensor(name), f"{file.name}, tensor {name!r}"


def load_model_folder(source: str, folder: Path) -> Table:
    config_file = folder / "config.json"
    gguf = sorted(folder.glob("*.gguf"))
    if not config_file.is_file() and not gguf:
        raise AuditInputError(
            f"{source} is a folder without config.json; pass a transformers model "
            "folder, a hub id, or an array file (.npy, .npz, .safetensors, word2vec)"
        )
    vocab_size = None
    if config_file.is_file():
        try:
            vocab_size = json.loads(config_file.read_text()).get("vocab_size")
        except (ValueError, OSError) as error:
            raise _unreadable(
                config_file, "JSON", error, "repair or re-download config.json"
            ) from error
    found = _embedding_from_weights(folder, vocab_size)
    if found is None:
        try:
            from transformers import AutoModel

            options = (
                {"gguf_file": gguf[0].name}
                if gguf and not config_file.is_file()
                else {}
            )
            model = AutoModel.from_pretrained(str(folder), **options)
            found = (model.get_input_embeddings().weight.detach(), "input embeddings")
        except Exception as error:
            raise AuditInputError(
                f"no input embedding table found in {source} (no weight named like "
                f"'embed_tokens.weight' and transformers could not load it: "
                f"{str(error).splitlines()[0] if str(error) else type(error).__name__}); "
                "pass the folder of a complete model or export the table to .npy"
            ) from error
    weight, where = found
    table = Table(
        as_float32(weight, f"the embedding table of {source}"),
        source=f"{source} ({where})",
    )
    attach_tokenizer(table, str(folder))
    return table


def attach_tokenizer(table: Table, source: str, tokenizer: Any = None) -> None:
    if tokenizer is None:
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(source)
        except Exception as error:  # a table without a tokenizer is still auditable
            table.notes.append(
                f"no tokenizer loaded ({type(error).__name__}); rows are unlabelled"
            )
            return
    n = table.vectors.shape[0]
    size = min(n, len(tokenizer))
    labels = tokenizer.convert_ids_to_tokens(list(range(size)))
    labels = [
        label if label is not None else f"<id {i}>" for i, label in enumerate(labels)
    ]
    table.labels = labels + [f"<no token {i}>" for i in range(size, n)]
    table.tokenizer = tokenizer
    table.special_tokens = set(getattr(tokenizer, "all_special_tokens", []))


def load_course_model(name: str) -> Table:
    import embedlib

    try:
        if name in ("", "minilm"):
            model, tokenizer = embedlib.load_model(), embedlib.load_tokenizer()
        else:
            model, tokenizer = embedlib.load_model(name), embedlib.load_tokenizer(name)
    except TypeError as error:
        raise AuditInputError(
            f"this embedlib has no course model {name!r}; use embedlib:minilm, "
            "or update embedlib"
        ) from error
    except Exception as error:
        raise AuditInputError(
            f"could not load the course model {name!r} "
            f"({str(error).splitlines()[0]}); see embedlib.models"
        ) from error
    weight = model.get_input_embeddings().weight.detach()
    table = Table(
        as_float32(weight, f"the embedding table of {name or 'minilm'}"),
        source=f"embedlib:{name or 'minilm'} (input embeddings)",
    )
    attach_tokenizer(table, "", tokenizer)
    note = getattr(embedlib.models, "model_note", None)
    if note is not None and name not in ("", "minilm"):
        table.notes.append(
            note(name)
        )  # e.g. that SmolLM2's local copy is 4-bit quantised
    return table


def load_table(path: str | Path, tensor: str | None = None) -> Table:
    """Read the embedding table at ``path`` (see the module docstring for the formats)."""
    text = str(path)
    if text.startswith("embedlib:"):
        return load_course_model(text.split(":", 1)[1].strip().lower())
    file = Path(text).expanduser()
    if file.is_dir():
        return load_model_folder(text, file)
    if not file.exists():
        if (
            re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", text)
            and not file.parent.exists()
        ):
            return load_hub_model(text)
        raise AuditInputError(
            f"no such file: {text}; check the path (or pass a hub id as owner/name)"
        )
    if not file.is_file():
        raise AuditInputError(
            f"{text} is not a regular file; pass an array file or a model folder"
        )
    suffix = file.suffix.lower()
    if suffix == ".npy":
        return load_npy(file)
    if suffix == ".npz":
        return load_npz(file, tensor)
    if suffix == ".safetensors":
        return load_safetensors(file, tensor)
    if suffix in WORD2VEC_SUFFIXES or suffix == ".kv":
        return load_word2vec(file)
    if suffix == ".gguf":
        return load_model_folder(text, file.parent)
    raise AuditInputError(
        f"unrecognised file type {suffix or '(none)'!r} for {file.name}; pass "
        ".npy, .npz, .safetensors, word2vec .txt/.vec/.bin, .kv, or a model folder"
    )


def load_hub_model(repo_id: str) -> Table:
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(
            repo_id,
            allow_patterns=[
                "*.json",
                "*.safetensors",
                "*.txt",
                "*.model",
                "tokenizer*",
                "*.tiktoken",
            ],
        )
    except Exception as error:
        raise AuditInputError(
            f"{repo_id} is neither a local path nor a hub model found here "
            f"({type(error).__name__}); check the name, or download the model first "
            "(offline: HF_HUB_OFFLINE=1 uses only the local cache)"
        ) from error
    return load_model_folder(repo_id, Path(folder))
