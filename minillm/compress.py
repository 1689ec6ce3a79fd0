"""Prediction is compression: an arithmetic coder driven by a language model (chapter 4).

A model that gives the next token probability ``p`` lets us store that token in about
``-log2 p`` bits, and an arithmetic coder gets within a couple of bits of that total over a
whole text. The decoder runs the same model on the tokens it has decoded so far, so it sees
the same probabilities and recovers the text exactly. A better language model is a better
compressor; "Language Modeling Is Compression" (Deletang et al., 2023) measures large models
this way against gzip and friends.

- :class:`ArithmeticEncoder` / :class:`ArithmeticDecoder`: a 32-bit integer coder with the
  classic "pending bits" trick (Witten, Neal and Cleary, 1987). Probabilities arrive as integer
  cumulative counts (see :func:`quantize`), so encoder and decoder split the interval in
  exactly the same way.
- :func:`compress` / :func:`decompress`: drive the coder with a model. The token ids are cut
  into ``rows`` pieces that the model reads side by side, one position at a time, so each step
  is a single batched forward pass ``(rows, t) -> (rows, V)``; the encoder and the decoder make
  the same calls with the same inputs and therefore get bit-identical probabilities.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import torch

from .utils import InputTypeError, check_int, check_memory

PRECISION = 32
_FULL = (1 << PRECISION) - 1
_HALF = 1 << (PRECISION - 1)
_QUARTER = 1 << (PRECISION - 2)
TOTAL = 1 << 24
"""Sum of the integer counts per step. It must stay below a quarter of the coder's range so
that every token, however unlikely, keeps an interval of at least one."""


def quantize(probs: np.ndarray, total: int = TOTAL) -> np.ndarray:
    """Probabilities ``(..., V)`` -> integer cumulative counts ``(..., V + 1)`` ending near ``total``.

    Every token gets a count of at least 1 (so any token can be coded), the rest is shared in
    proportion to ``probs``. ``cum[s]`` to ``cum[s + 1]`` is token ``s``'s slice of the interval.
    """
    check_int("total", total, 2)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim < 1 or not np.all(np.isfinite(probs)) or (probs < 0).any():
        raise ValueError("probs must be an array (..., V) of finite, non-negative probabilities")
    vocab = probs.shape[-1]
    if total - vocab < vocab:
        raise ValueError(f"total {total} is too small for a vocabulary of {vocab}; use a larger total")
    counts = np.floor(probs * (total - vocab)).astype(np.int64) + 1
    cum = np.zeros(probs.shape[:-1] + (vocab + 1,), dtype=np.int64)
    np.cumsum(counts, axis=-1, out=cum[..., 1:])
    return cum


class ArithmeticEncoder:
    """Turns a sequence of (interval, total) choices into bits; ``finish()`` returns bytes."""

    def __init__(self):
        self.low, self.high, self.pending = 0, _FULL, 0
        self.bits: list[int] = []

    def _emit(self, bit: int) -> None:
        self.bits.append(bit)
        self.bits.extend([1 - bit] * self.pending)
        self.pending = 0

    def encode(self, cum_low: int, cum_high: int, total: int) -> None:
        """Narrow the interval to the slice ``[cum_low, cum_high)`` out of ``total``."""
        span = self.high - self.low + 1
        self.high = self.low + span * cum_high // total - 1
        self.low = self.low + span * cum_low // total
        while True:
            if self.high < _HALF:  # both in the lower half: the next bit is 0
                self._emit(0)
            elif self.low >= _HALF:  # both in the upper half: the next bit is 1
                self._emit(1)
                self.low -= _HALF
                self.high -= _HALF
            elif self.low >= _QUARTER and self.high < 3 * _QUARTER:
                # straddling the middle: the bit is not known yet, remember to emit its opposite
                self.pending += 1
                self.low -= _QUARTER
                self.high -= _QUARTER
            else:
                break
            self.low, self.high = 2 * self.low, 2 * self.high + 1

    def finish(self) -> bytes:
        """Flush enough bits to pin down the final interval, then pack them into bytes."""
        self.pending += 1
        self._emit(0 if self.low < _QUARTER else 1)
        return np.packbits(np.array(self.bits, dtype=np.uint8)).tobytes()


class ArithmeticDecoder:
    """Reads the bits of :class:`ArithmeticEncoder` back, given the same counts at every step."""

    def __init__(self, data: bytes):
        self.bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8)).tolist()
        self.pos = 0
        self.low, self.high, self.value = 0, _FULL, 0
        for _ in range(PRECISION):
            self.value = 2 * self.value + self._next_bit()

    def _next_bit(self) -> int:
        bit = self.bits[self.pos] if self.pos < len(self.bits) else 0  # zeros after the end
        self.pos += 1
        return bit

    def decode(self, cum: np.ndarray) -> int:
        """The token whose slice of ``cum`` (cumulative counts, length ``V + 1``) holds the value."""
        total = int(cum[-1])
        span = self.high - self.low + 1
        target = ((self.value - self.low + 1) * total - 1) // span
        s = int(np.searchsorted(cum, target, side="right")) - 1
        self.high = self.low + span * int(cum[s + 1]) // total - 1
        self.low = self.low + span * int(cum[s]) // total
        while True:
            if self.high < _HALF:
                pass
            elif self.low >= _HALF:
                self.value -= _HALF
                self.low -= _HALF
                self.high -= _HALF
            elif self.low >= _QUARTER and self.high < 3 * _QUARTER:
                self.value -= _QUARTER
                self.low -= _QUARTER
                self.high -= _QUARTER
            else:
                break
            self.low, self.high = 2 * self.low, 2 * self.high + 1
            self.value = 2 * self.value + self._next_bit()
        return s


# ----------------------------------------------------------------------------------------------
# driving the coder with a language model

_HEADER = struct.Struct("<IHH")  # number of tokens, rows, start token


def _block_size(model) -> int:
    block = getattr(getattr(model, "config", None), "block_size", None)
    if block is None:
        raise ValueError("the model needs config.block_size (its context length) to compress")
    return int(block)


@torch.no_grad()
def _step_counts(model, ctx: torch.Tensor, block: int) -> np.ndarray:
    """Cumulative counts ``(rows, V + 1)`` for the token after each row of ``ctx`` ``(rows, t)``."""
    logits, _ = model(ctx[:, -block:])
    probs = torch.softmax(logits[:, -1, :].double(), dim=-1)
    return quantize(probs.cpu().numpy())


def _id_list(ids, what: str) -> list[int]:
    """Token ids (a list, a numpy array or a 1-D tensor) as a non-empty list of ints."""
    if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
        raise InputTypeError(f"ids must be a list, array or 1-D tensor of token ids, got {type(ids).__name__}")
    ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
    bad = next((i for i in ids if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer))), None)
    if bad is not None:
        raise InputTypeError(f"token ids must be ints, got {bad!r} ({type(bad).__name__})")
    ids = [int(i) for i in ids]
    if not ids:
        raise ValueError(f"nothing to {what}: ids is empty")
    return ids


def _grid(ids: list[int], rows: int, start_token: int) -> tuple[torch.Tensor, list[int]]:
    """Lay ``ids`` out as ``rows`` consecutive pieces after a column of ``start_token``.

    Returns the grid ``(rows, length + 1)`` (zeros after a short last piece) and each row's
    number of ids. Fewer rows than asked when there are fewer ids than rows. :func:`decompress`
    calls it with placeholder ids to get the same layout before it knows the ids.
    """
    n = len(ids)
    rows = max(1, min(rows, n))
    length = math.ceil(n / rows)
    grid = torch.zeros(rows, length + 1, dtype=torch.long)
    grid[:, 0] = start_token
    lengths = []
    for r in range(rows):
        piece = ids[r * length:(r + 1) * length]
        grid[r, 1:1 + len(piece)] = torch.tensor(piece, dtype=torch.long)
        lengths.append(len(piece))
    return grid, lengths


def compress(model, ids, start_token: int, rows: int = 16) -> bytes:
    """Losslessly code the token ids ``ids`` with ``model``'s predictions; returns the bytes.

    The ids are cut into ``rows`` consecutive pieces that are coded side by side (each row
    starts from ``start_token`` as its only context). The result starts with an 8-byte header
    (token count, rows, start token) so :func:`decompress` needs only the model.
    """
    ids = _id_list(ids, "compress")
    check_int("start_token", start_token, 0)
    check_int("rows", rows, 1)
    n = len(ids)
    vocab = getattr(getattr(model, "config", None), "vocab_size", None)
    if vocab is not None and (min(ids) < 0 or max(ids) >= vocab or not 0 <= start_token < vocab):
        raise ValueError(f"token ids (and start_token) must lie in 0..{vocab - 1} for this model")
    grid, lengths = _grid(ids, rows, start_token)
    rows, length = grid.shape[0], grid.shape[1] - 1
    if n >= 2**32 or rows >= 2**16 or start_token >= 2**16:
        raise ValueError("compress handles fewer than 2**32 tokens, 2**16 rows and start ids")
    model.eval()
    block = _block_size(model)
    enc = ArithmeticEncoder()
    for t in range(length):
        cum = _step_counts(model, grid[:, :t + 1], block)
        for r in range(rows):
            if t < lengths[r]:
                s = int(grid[r, t + 1])
                enc.encode(int(cum[r, s]), int(cum[r, s + 1]), int(cum[r, -1]))
    return _HEADER.pack(n, rows, start_token) + enc.finish()


def decompress(model, data: bytes) -> list[int]:
    """Recover the token ids from :func:`compress`'s bytes, using the same model."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InputTypeError(f"data must be the bytes that compress returned, got {type(data).__name__}")
    if len(data) < _HEADER.size:
        raise ValueError(f"{len(data)} bytes is too short to hold the {_HEADER.size}-byte header")
    n, rows, start_token = _HEADER.unpack_from(data)
    vocab = getattr(getattr(model, "config", None), "vocab_size", None)
    if n == 0 or rows == 0 or (vocab is not None and start_token >= vocab):
        raise ValueError(f"data's header (tokens {n}, rows {rows}, start token {start_token}) was not "
                         "written by compress for this model; the data is damaged or from elsewhere")
    check_memory(3 * 8 * n, f"decompressing {n:,} tokens (the count in data's header)")
    model.eval()
    block = _block_size(model)
    grid, lengths = _grid([0] * n, rows, start_token)  # the encoder's layout; ids filled in below
    rows, length = grid.shape[0], grid.shape[1] - 1
    dec = ArithmeticDecoder(data[_HEADER.size:])
    for t in range(length):
        cum = _step_counts(model, grid[:, :t + 1], block)
        for r in range(rows):
            if t < lengths[r]:
                grid[r, t + 1] = dec.decode(cum[r])
    return [int(grid[r, 1 + t]) for r in range(rows) for t in range(lengths[r])]


@torch.no_grad()
def ideal_bits(model, ids, start_token: int, rows: int = 16) -> float:
    """The information content ``sum(-log2 p)`` of ``ids`` under the model, with the same rows
    and contexts as :func:`compress`: the size an ideal coder would reach, in bits."""
    ids = _id_list(ids, "score")
    check_int("start_token", start_token, 0)
    check_int("rows", rows, 1)
    grid, lengths = _grid(ids, rows, start_token)
    model.eval()
    block = _block_size(model)
    length = grid.shape[1] - 1
    if length <= block:  # every context fits: one forward pass scores all positions
        logp = torch.log_softmax(model(grid[:, :-1])[0].double(), dim=-1)
        chosen = logp.gather(-1, grid[:, 1:, None])[..., 0]  # (rows, length)
    else:
        chosen = torch.zeros(grid.shape[0], length, dtype=torch.float64)
        for t in range(length):
            logits, _ = model(grid[:, :t + 1][:, -block:])
            logp = torch.log_softmax(logits[:, -1, :].double(), dim=-1)
            chosen[:, t] = logp.gather(-1, grid[:, t + 1, None])[:, 0]
    keep = torch.arange(length)[None, :] < torch.tensor(lengths)[:, None]
    return float(-(chosen * keep).sum() / math.log(2))
