"""Dense similarity from static word embeddings that ship inside a pip wheel (wordllama's
`l2_supercat_256`: MIT, 16 MB, the mean of token vectors, CPU only, nothing downloaded at run time).
Optional: `pip install '.[embed]'` from a clone (the distribution `git-agentfiles[embed]`); without it `available()` is False and routing goes on
without this signal."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

CHUNK_LINES = 40  # a file is embedded as windows of this many lines; its similarity is the best window's
WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"


def available() -> bool:
    return _model() is not None


@lru_cache(maxsize=1)
def _model() -> tuple[Any, Any] | None:
    """(embedding matrix, tokenizer), read from the installed wheel's own files (wordllama's loader
    looks for its tokenizer in a folder its wheel does not have, then tries the network)."""
    try:
        from importlib.util import find_spec
        from pathlib import Path

        import numpy as np
        from safetensors import safe_open
        from tokenizers import Tokenizer

        spec = find_spec("wordllama")  # where its files are, without running its __init__ (0.7 s of imports)
    except ImportError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        root = Path(list(spec.submodule_search_locations)[0])
        with safe_open(str(root / WEIGHTS), framework="np", device="cpu") as f:
            matrix = f.get_tensor("embedding.weight")  # rows are converted when used: most never are
        tokenizer = Tokenizer.from_file(str(root / TOKENIZER))
    except Exception:  # noqa: BLE001
        return None  # a broken or partial install: the signal is left out, as without the extra
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return matrix, tokenizer


def embed(texts: list[str]) -> Any:
    """Unit vectors (n x 256, float32) of the texts: mean token vector, normalised."""
    import numpy as np

    model = _model()
    assert model is not None, "check available() first"
    matrix, tokenizer = model
    out = np.zeros((len(texts), matrix.shape[1]), dtype=np.float32)
    for row, encoding in enumerate(tokenizer.encode_batch(texts, add_special_tokens=False)):
        ids = np.asarray(encoding.ids, dtype=np.int64)
        ids = ids[(ids >= 0) & (ids < matrix.shape[0])]
        if ids.size:
            vector = matrix[ids].astype(np.float32).mean(axis=0)
            norm = float(np.linalg.norm(vector))
            out[row] = vector / norm if norm else vector
    return out


def chunks(path: str, text: str) -> list[str]:
    """The windows a file is embedded as, each headed by its path."""
    lines = text.splitlines()
    return [path + "\n" + "\n".join(lines[i : i + CHUNK_LINES]) for i in range(0, max(len(lines), 1), CHUNK_LINES)]


def file_vectors(path: str, text: str) -> Any:
    """The file's window vectors (k x 256)."""
    return embed(chunks(path, text))


def similarity(query: Any, vectors: Any) -> float:
    """The best window's cosine similarity to the query vector."""
    if vectors is None or not len(vectors):
        return 0.0
    return float((vectors @ query).max())
