"""Token counts and deterministic response text, offline.

The tokenizer is GPT-2's byte-level BPE, shipped in ``data/gpt2`` (MIT; provenance in its
SOURCE.md) and run by Hugging Face ``tokenizers`` (Rust, no network: files are read from the
package, never fetched).  Benchmark clients load the same folder with
``AutoTokenizer.from_pretrained`` (:func:`tokenizer_dir`), so their counts are the server's.

Response text is a fixed cycle of English words, each exactly one GPT-2 token with its leading
space, starting at an offset taken from a SHA-256 of the model and prompt: the same request gets
the same text, every streamed chunk is one token, and re-tokenizing the text gives back the
token count reported in ``usage``.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from pathlib import Path

#: words of the response text: each " word" is one GPT-2 token (a test checks it).
WORDS = (
    "The factory turns power into tokens at scale . Each rack shares one liquid loop , and the"
    " network joins every rack to the others . Users send work from many places ; the server batches them"
    " so that each step serves as many as the memory allows . When the cache is full , new work waits in the"
    " queue , and the first token comes later . A faster network , more memory or a smaller model cuts"
    " that wait , while the cost per token falls as the load rises"
).split()


def tokenizer_dir() -> Path:
    """The folder of the shipped GPT-2 tokenizer (vocab.json, merges.txt, tokenizer_config.json)."""
    return Path(str(resources.files("gigafactory.emulator") / "data" / "gpt2"))


@lru_cache(maxsize=1)
def _tokenizer():
    try:
        from tokenizers import Tokenizer, decoders, pre_tokenizers
        from tokenizers.models import BPE
    except ImportError as exc:  # pragma: no cover - the serve extra installs it
        raise ImportError("the emulator needs the `tokenizers` package: pip install 'gigafactory[serve]'") from exc
    d = tokenizer_dir()
    tok = Tokenizer(BPE.from_file(str(d / "vocab.json"), str(d / "merges.txt")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return tok


def encode(text: str) -> list[int]:
    """Token ids of ``text``."""
    return _tokenizer().encode(text, add_special_tokens=False).ids


def count(text: str) -> int:
    """Tokens in ``text`` [tokens]."""
    return len(encode(text)) if text else 0


@lru_cache(maxsize=1)
def _word_texts() -> tuple[str, ...]:
    return tuple(" " + w for w in WORDS)


def response_offset(model: str, prompt_ids: list[int] | str) -> int:
    """Where in the word cycle a response starts: a stable hash of model and prompt."""
    h = hashlib.sha256(model.encode() + b"\0" + repr(prompt_ids).encode()).digest()
    return int.from_bytes(h[:8], "big") % len(WORDS)


def response_tokens(offset: int, n: int) -> list[str]:
    """The first ``n`` tokens of the response text starting at ``offset``, as text pieces."""
    words = _word_texts()
    m = len(words)
    return [words[(offset + i) % m] for i in range(n)]
