"""A count-based character bigram model: the smallest language model there is (chapter 0).

It predicts the next character from the current one by counting, in the training text,
how often each character follows each other character. Training is one pass of counting;
sampling draws from the normalised counts. It already has the shape of every LLM: a
vocabulary, a table of parameters, a probability for the next token, and a loss.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from .utils import (
    InputTypeError,
    atomic_write,
    check_float,
    check_int,
    check_memory,
    check_output_dir,
)


class BigramModel:
    """Next-character probabilities ``P(next | current)`` estimated from counts.

    ``counts[i, j]`` is how often character ``j`` followed character ``i`` in the training
    text, plus ``smoothing`` (add-k smoothing, so unseen pairs keep a small probability).
    ``probs`` is ``counts`` normalised along each row: shape ``(V, V)``, rows sum to 1.
    """

    def __init__(self, vocab: list[str], counts: torch.Tensor | None = None, smoothing: float = 1.0):
        if isinstance(vocab, str) or not isinstance(vocab, (list, tuple)):
            raise InputTypeError(f"vocab must be a list of characters, got {type(vocab).__name__}")
        bad = next((c for c in vocab if not isinstance(c, str) or len(c) != 1), None)
        if bad is not None:
            raise ValueError(f"vocab must hold single characters, got {bad!r}")
        if len(set(vocab)) != len(vocab) or not vocab:
            raise ValueError("vocab must be a non-empty list of distinct characters")
        check_float("smoothing", smoothing, 0.0)
        if counts is not None and not isinstance(counts, torch.Tensor):
            raise InputTypeError(f"counts must be a torch.Tensor of shape (V, V) or None, got {type(counts).__name__}")
        check_memory(3 * 8 * len(vocab) ** 2, f"a bigram table for {len(vocab):,} characters")
        self.vocab = list(vocab)
        self.stoi = {ch: i for i, ch in enumerate(self.vocab)}
        V = len(self.vocab)
        if counts is None:
            counts = torch.zeros(V, V, dtype=torch.float64)
        if counts.shape != (V, V):
            raise ValueError(f"counts has shape {tuple(counts.shape)}, expected ({V}, {V}) for {V} characters")
        self.counts = counts.to(torch.float64)
        self.smoothing = float(smoothing)

    # --- training ---------------------------------------------------------------------------
    @classmethod
    def fit(cls, text: str, smoothing: float = 1.0) -> BigramModel:
        """Count every adjacent pair of characters in ``text``. Takes well under a second for 1 MB."""
        if not isinstance(text, str):
            raise InputTypeError(f"text must be a str, got {type(text).__name__}")
        if len(text) < 2:
            raise ValueError("text must hold at least two characters to count a single pair")
        model = cls(sorted(set(text)), smoothing=smoothing)
        ids = model.encode(text)
        V = len(model.vocab)
        flat = ids[:-1] * V + ids[1:]  # one number per pair, counted in one call
        model.counts += torch.bincount(flat, minlength=V * V).reshape(V, V).to(torch.float64)
        return model

    # --- the model --------------------------------------------------------------------------
    @property
    def probs(self) -> torch.Tensor:
        """``(V, V)`` table: row ``i`` is the distribution of the character after ``vocab[i]``."""
        c = self.counts + self.smoothing
        return c / c.sum(dim=1, keepdim=True)

    def encode(self, text: str) -> torch.Tensor:
        """Characters to ids, shape ``(len(text),)``; unknown characters raise a ValueError."""
        if not isinstance(text, str):
            raise InputTypeError(f"text must be a str, got {type(text).__name__}")
        try:
            return torch.tensor([self.stoi[ch] for ch in text], dtype=torch.long)
        except KeyError as exc:
            raise ValueError(
                f"character {exc.args[0]!r} is not in the model's vocabulary of {len(self.vocab)} characters; "
                "train on text that contains it or remove it from the input"
            ) from None

    def decode(self, ids) -> str:
        V = len(self.vocab)
        out = []
        for i in ids.tolist() if hasattr(ids, "tolist") else ids:
            if isinstance(i, bool) or isinstance(i, float) or not hasattr(i, "__index__"):
                raise InputTypeError(f"token ids must be ints, got {i!r} ({type(i).__name__})")
            i = int(i)
            if not 0 <= i < V:
                raise ValueError(f"token id {i} is outside the vocabulary (size {V})")
            out.append(self.vocab[i])
        return "".join(out)

    def next_char_probs(self, char: str) -> dict[str, float]:
        """The distribution of the next character after ``char``, as a dict."""
        if not isinstance(char, str) or len(char) != 1:
            raise ValueError(f"char must be one character, got {char!r}")
        row = self.probs[self.encode(char)[0]]
        return {ch: float(p) for ch, p in zip(self.vocab, row)}

    def sample(
        self, prompt: str, n: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> str:
        """Continue ``prompt`` by ``n`` characters, each drawn from ``P(next | last)``.

        ``temperature`` divides the log-probabilities: below 1 sharpens, above 1 flattens,
        and 0 always takes the most likely character (greedy).
        """
        if not isinstance(prompt, str):
            raise InputTypeError(f"prompt must be a str, got {type(prompt).__name__}")
        if not prompt:
            raise ValueError("prompt must hold at least one character (the model needs a current character)")
        check_int("n", n, 0)
        check_float("temperature", temperature, 0.0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise InputTypeError(f"generator must be a torch.Generator or None, got {generator!r}")
        logp = self.probs.log()
        no_next = torch.isnan(logp[:, 0]).tolist()  # rows of zero counts with smoothing 0 are 0/0
        ids = self.encode(prompt).tolist()
        for _ in range(n):
            if no_next[ids[-1]]:
                raise ValueError(
                    f"character {self.vocab[ids[-1]]!r} is never followed by another character in the "
                    "training text and smoothing is 0, so the model has no next-character "
                    "distribution after it; fit with smoothing > 0"
                )
            row = logp[ids[-1]]
            if temperature == 0:
                nxt = int(row.argmax())
            else:
                p = torch.softmax(row / temperature, dim=0)
                nxt = int(torch.multinomial(p, 1, generator=generator))
            ids.append(nxt)
        return self.decode(ids)

    def nll(self, text: str) -> float:
        """Average negative log-likelihood of ``text``'s pairs, in nats per character."""
        ids = self.encode(text)
        if len(ids) < 2:
            raise ValueError("text must hold at least two characters to score a pair")
        logp = self.probs.log()
        return float(-logp[ids[:-1], ids[1:]].mean())

    def bits_per_char(self, text: str) -> float:
        """Cross-entropy in bits per character: what an ideal coder driven by this model needs."""
        return self.nll(text) / math.log(2)

    # --- the two files ----------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write ``model.safetensors`` (the counts) and ``config.json`` (vocab, smoothing)."""
        from safetensors.torch import save

        folder = check_output_dir(folder, "the bigram model's folder")
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(folder / "model.safetensors") as f:
            f.write(save({"counts": self.counts.contiguous()}))
        config = {"model": "bigram", "vocab": self.vocab, "smoothing": self.smoothing}
        with atomic_write(folder / "config.json", "w") as f:
            json.dump(config, f, indent=1)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> BigramModel:
        """Read a model written by :meth:`save`; a missing or corrupt file raises a clear error."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        folder = Path(folder)
        for name in ("config.json", "model.safetensors"):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"{folder / name} is missing; a bigram model folder holds config.json and model.safetensors")
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            vocab, smoothing = config["vocab"], config["smoothing"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{folder / 'config.json'} is not a bigram config ({exc}); re-save the model") from exc
        try:
            cls(vocab, None, smoothing)  # field types and values, before reading the weights
        except ValueError as exc:
            raise ValueError(f"{folder / 'config.json'}: {exc}; the file is damaged, re-save the model") from None
        try:
            counts = load_file(folder / "model.safetensors")["counts"]
        except (SafetensorError, KeyError, OSError) as exc:
            raise ValueError(f"{folder / 'model.safetensors'} is corrupt or not a bigram model ({exc}); re-save the model") from exc
        return cls(vocab, counts, smoothing)
