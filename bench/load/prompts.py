"""Token-exact prompts for the served tokenizer, seeded.

Completions prompts are sent as token ids, so the server sees exactly the requested length.
Chat prompts must be text: random ids are decoded, re-encoded and trimmed until the text is
the requested number of tokens (the chat template adds its own few tokens on top).
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from bench.scenario.schema import Tokens


@functools.lru_cache(maxsize=8)
def _vocabulary(path: str, mtime_ns: int) -> tuple[Tokenizer, np.ndarray]:
    """The served tokenizer and its ordinary (non-special) token ids, read once per file version:
    a real model's tokenizer.json is megabytes, and every level of every deployment asks for it."""
    tokenizer = Tokenizer.from_file(path)
    special = {t.content for t in tokenizer.get_added_tokens_decoder().values()}
    ordinary = sorted(i for tok, i in tokenizer.get_vocab().items() if tok not in special)
    return tokenizer, np.array(ordinary, dtype=np.int64)


class PromptSource:
    def __init__(self, tokenizer_file: Path, seed: int) -> None:
        self.tokenizer, self.ordinary = _vocabulary(str(tokenizer_file), tokenizer_file.stat().st_mtime_ns)
        self.rng = np.random.default_rng(seed)
        self.seed = seed

    def count(self, tokens: Tokens) -> int:
        """One draw from the distribution, at least `tokens.min`."""
        value: float
        if tokens.dist == "fixed" or tokens.spread == 0:
            value = tokens.mean
        elif tokens.dist == "uniform":
            value = self.rng.uniform(tokens.mean * (1 - tokens.spread), tokens.mean * (1 + tokens.spread))
        else:
            value = self.rng.normal(tokens.mean, tokens.mean * tokens.spread)
        return max(tokens.min, int(round(value)))

    def segment_ids(self, key: str, n: int) -> list[int]:
        """The n tokens of a trace's content segment: the same key and seed give the same tokens, so
        prompts sharing segments share a prefix on the server as in the trace (traces/schema.py)."""
        rng = np.random.default_rng([self.seed, zlib.crc32(key.encode())])
        return [int(i) for i in rng.choice(self.ordinary, size=n)]

    def ids(self, n: int) -> list[int]:
        return [int(i) for i in self.rng.choice(self.ordinary, size=n)]

    def text(self, n: int) -> str:
        """Text that encodes to exactly n tokens (or as close as the tokenizer allows, within 3 passes)."""
        ids = self.ids(n)
        for _ in range(3):
            text = self.tokenizer.decode(ids)
            encoded = self.tokenizer.encode(text, add_special_tokens=False).ids
            if len(encoded) == n:
                return text
            ids = encoded[:n] if len(encoded) > n else encoded + self.ids(n - len(encoded))
        return self.tokenizer.decode(ids)

    def token_count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)
