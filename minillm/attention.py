"""Attention: how each token gathers information from the tokens before it (chapter 2).

Read top to bottom:

1. :func:`causal_mask` and :func:`scaled_dot_product_attention`, written from scratch:
   scores ``q @ k^T / sqrt(d)``, a mask, a softmax, a weighted sum of the values.
2. :func:`split_heads` / :func:`merge_heads` and :class:`MultiHeadAttention`, which computes
   queries, keys and values for all heads with one fused linear layer.
3. Position: :func:`sinusoidal_positions` (added to the input once) and rotary embeddings
   (:func:`rope_cos_sin`, :func:`apply_rope`), which rotate queries and keys so that their dot
   product depends only on how far apart two tokens are.

Shapes: ``B`` batch, ``T`` tokens, ``C`` channels (embedding size), ``H`` heads,
``D = C // H`` channels per head.

The from-scratch function is the one to read; :class:`MultiHeadAttention` can also call
PyTorch's fused ``torch.nn.functional.scaled_dot_product_attention`` (``fast=True``), which
computes the same thing faster and with less memory. The tests check that both agree with
PyTorch's own implementations.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .utils import InputTypeError, check_float, check_int, check_memory


def _user_device(device):
    """A device a user named as a string goes through :func:`minillm.utils.device`, which says
    what is available when it is not there; ``None`` and ``torch.device`` objects pass as they are."""
    if isinstance(device, str):
        from .utils import device as pick

        return pick(device)
    return device


# --- 1. scaled dot-product attention ---------------------------------------------------------


def causal_mask(t_query: int, t_key: int | None = None, device=None) -> torch.Tensor:
    """A ``(t_query, t_key)`` boolean mask, True where query ``i`` may look at key ``j``.

    Query ``i`` sees keys ``0 .. i`` (itself and the past, never the future). When there are
    more keys than queries (the queries are the *last* ``t_query`` tokens, as with a KV cache),
    the mask is aligned to the bottom right: the last query sees every key.
    """
    device = _user_device(device)
    check_int("t_query", t_query, 0)
    check_int("t_key", t_key, 0, allow_none=True)
    t_key = t_query if t_key is None else t_key
    check_memory(t_query * t_key, f"causal_mask({t_query}, {t_key})", device=device)
    return torch.ones(t_query, t_key, dtype=torch.bool, device=device).tril(diagonal=t_key - t_query)


def _padding_to_mask(padding_mask: torch.Tensor, ndim: int) -> torch.Tensor:
    """``(B, Tk)`` padding mask -> a mask that broadcasts against scores of ``ndim`` dims."""
    if padding_mask.dtype != torch.bool:
        raise TypeError(
            f"padding_mask must be a bool tensor (True = real token), got dtype {padding_mask.dtype}; "
            "convert it with padding_mask.bool()"
        )
    if padding_mask.dim() != 2:
        raise ValueError(
            f"padding_mask must have shape (B, T_key), got {tuple(padding_mask.shape)}"
        )
    b, tk = padding_mask.shape
    return padding_mask.view(b, *([1] * (ndim - 2)), tk)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    padding_mask: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    scale: float | None = None,
    return_weights: bool = False,
):
    """Attention from scratch: ``softmax(q @ k^T * scale + mask) @ v``.

    Shapes: ``q`` is ``(..., Tq, D)``, ``k`` is ``(..., Tk, D)``, ``v`` is ``(..., Tk, Dv)``; the
    leading dims (batch, heads) broadcast. Returns ``(..., Tq, Dv)``, and also the attention
    weights ``(..., Tq, Tk)`` (each row sums to 1) when ``return_weights`` is True.

    - ``scale`` defaults to ``1 / sqrt(D)``, which keeps the scores' variance near 1 so the
      softmax does not saturate.
    - ``causal``: query ``i`` sees only keys ``j <= i`` (see :func:`causal_mask`).
    - ``padding_mask``: ``(B, Tk)`` bool, True for real tokens, False for padding keys.
    - ``mask``: any extra boolean mask that broadcasts to ``(..., Tq, Tk)``, True = allowed.
    - A query row with no allowed key gets all-zero weights (and a zero output), not NaN.
    """
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor):
            raise InputTypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() < 2:
            raise ValueError(f"{name} must have shape (..., T, D), got {tuple(x.shape)}")
    if q.size(-1) != k.size(-1):
        raise ValueError(f"q and k must have the same last dimension D (a query is compared with each "
                         f"key), got q {tuple(q.shape)} and k {tuple(k.shape)}")
    if k.size(-2) != v.size(-2):
        raise ValueError(f"k and v must have the same number of tokens (one value per key), got k "
                         f"{tuple(k.shape)} and v {tuple(v.shape)}")
    check_float("dropout_p", dropout_p, 0.0, 1.0, exclusive_maximum=True)
    check_float("scale", scale, allow_none=True)
    d = q.size(-1)
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., Tq, Tk)

    allowed = None
    if causal:
        allowed = causal_mask(q.size(-2), k.size(-2), device=q.device)
    if padding_mask is not None:
        pad = _padding_to_mask(padding_mask, scores.dim())
        allowed = pad if allowed is None else allowed & pad
    if mask is not None:
        if mask.dtype != torch.bool:
            raise TypeError(f"mask must be a bool tensor (True = allowed), got dtype {mask.dtype}")
        allowed = mask if allowed is None else allowed & mask

    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if allowed is not None:
        # A row where every key is masked is all -inf -> NaN after softmax; make it zeros.
        weights = weights.masked_fill(~allowed, 0.0)
    if dropout_p > 0.0:
        weights_used = F.dropout(weights, p=dropout_p, training=True)
    else:
        weights_used = weights
    out = weights_used @ v
    return (out, weights) if return_weights else out


# --- 2. many heads ----------------------------------------------------------------------------


def split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """``(B, T, C)`` -> ``(B, H, T, D)``: each head gets its own slice of ``D = C // H`` channels.

    A view plus a transpose: no data is copied.
    """
    check_int("n_head", n_head, 1)
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"x must be a tensor of shape (B, T, C), got {getattr(x, 'shape', type(x).__name__)}")
    b, t, c = x.shape
    if c % n_head:
        raise ValueError(f"the embedding size {c} is not divisible by n_head={n_head}")
    return x.view(b, t, n_head, c // n_head).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, T, D)`` -> ``(B, T, H * D)``: the inverse of :func:`split_heads`."""
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


def qkv_heads(qkv: torch.Tensor, n_head: int, rope=None, norm_qk=None):
    """Fused projection output ``(B, T, 3C)`` -> queries, keys, values, each ``(B, H, T, D)``.

    With ``rope`` (``(cos, sin)``, each ``(T, D)`` or ``(B, T, D)``) queries and keys are rotated
    by their positions. ``norm_qk`` (QK-norm, ``GPTConfig.qk_norm``) maps queries and keys laid
    out as ``(B, T, 2H, D)`` to their normalised values, before the rotation.
    """
    b, t, c3 = qkv.shape
    c = c3 // 3
    if rope is None and norm_qk is None:
        q, k, v = qkv.split(c, dim=2)  # three (B, T, C) views
        return tuple(split_heads(z, n_head) for z in (q, k, v))  # (B, H, T, D)
    # queries and keys together, as 2H heads in one set of operations (the same numbers as
    # treating each, in half the calls): (B, T, 2H, D) with cos/sin (T, 1, D) or (B, T, 1, D)
    qk = qkv[..., : 2 * c].view(b, t, 2 * n_head, c // n_head)
    if norm_qk is not None:
        qk = norm_qk(qk)
    if rope is not None:
        cos, sin = rope
        qk = apply_rope(qk, cos.unsqueeze(-2), sin.unsqueeze(-2))
    q, k = qk.transpose(1, 2).split(n_head, dim=1)  # (B, H, T, D) each
    return q, k, split_heads(qkv[..., 2 * c :], n_head)


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with a fused query/key/value projection (chapter 2).

    ``qkv`` maps ``(B, T, C)`` to ``(B, T, 3C)`` in one matrix multiply (queries, then keys, then
    values, the same layout as ``torch.nn.MultiheadAttention``'s ``in_proj_weight``); the result is
    split into ``H`` heads of ``D = C // H`` channels, each head attends on its own, and ``proj``
    mixes the heads' outputs back into ``(B, T, C)``.

    ``fast=True`` calls ``torch.nn.functional.scaled_dot_product_attention`` (a fused kernel);
    ``fast=False`` calls this module's from-scratch :func:`scaled_dot_product_attention`. Both
    compute the same function; the tests check it. Asking for the weights always uses the
    from-scratch path, since the fused kernel never materialises them.

    ``qk_norm=True`` RMS-normalises each head's queries and keys over their ``D`` channels
    (with a learned gain per channel, one for queries and one for keys) before rotary
    positions and the dot product, so no score can grow without bound (``GPTConfig.qk_norm``).
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        *,
        bias: bool = True,
        dropout: float = 0.0,
        causal: bool = True,
        fast: bool = True,
        qk_norm: bool = False,
    ):
        super().__init__()
        check_int("n_embd", n_embd, 1)
        check_int("n_head", n_head, 1)
        check_float("dropout", dropout, 0.0, 1.0, exclusive_maximum=True)
        check_memory(4 * 4 * n_embd * n_embd, f"MultiHeadAttention(n_embd={n_embd})")
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} must be divisible by n_head={n_head}")
        self.n_embd, self.n_head = n_embd, n_head
        self.head_dim = n_embd // n_head
        self.causal = causal
        self.fast = fast
        self.dropout = dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)
        self.qk_norm = qk_norm
        if qk_norm:
            self.q_norm = nn.RMSNorm(self.head_dim, eps=1e-6)
            self.k_norm = nn.RMSNorm(self.head_dim, eps=1e-6)

    def _norm_qk(self, qk: torch.Tensor) -> torch.Tensor:
        """RMS-normalise ``(B, T, 2H, D)`` queries-then-keys, each with its own gain."""
        h = self.n_head
        gain = torch.cat([self.q_norm.weight.expand(h, -1), self.k_norm.weight.expand(h, -1)])
        return F.rms_norm(qk, (self.head_dim,), eps=self.q_norm.eps) * gain  # gain (2H, D)

    def forward(
        self,
        x: torch.Tensor,
        *,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        mask: torch.Tensor | None = None,
        return_weights: bool = False,
        cache: KVCache | None = None,
        layer: int = 0,
    ):
        """``x`` ``(B, T, C)`` -> ``(B, T, C)`` (and weights ``(B, H, T, T_key)`` if asked).

        ``rope``: the ``(cos, sin)`` tables from :func:`rope_cos_sin`, each ``(T, D)`` (or
        ``(B, T, D)``, one row of positions per sequence), to rotate queries and keys. ``mask``: a
        boolean mask broadcasting to ``(B, H, T, T_key)``, True = allowed, used *instead of* the
        plain causal mask (the model builds it from a padding mask or for a KV cache).

        ``cache`` (chapter 5): a :class:`KVCache`; this layer's new keys and values are written
        into its slot ``layer`` and the queries attend to every key stored so far. Without a
        ``mask``, the queries are taken to be the last ``T`` positions (bottom-right causal).
        """
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.size(-1) != self.n_embd:
            raise ValueError(f"x must be a tensor of shape (B, T, {self.n_embd}) (n_embd={self.n_embd}), "
                             f"got {tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        q, k, v = qkv_heads(self.qkv(x), self.n_head, rope, self._norm_qk if self.qk_norm else None)
        if cache is not None:
            k, v = cache.update(layer, k, v)  # every key and value so far, (B, H, T_key, D)
        p = self.dropout if self.training else 0.0
        weights = None
        if self.fast and not return_weights:
            if mask is None:
                # with a cache and one query (decoding), the query is the newest token and may see
                # every key: no mask at all
                causal = self.causal and q.size(-2) == k.size(-2)
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=causal)
            else:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:
            y, weights = scaled_dot_product_attention(
                q, k, v, causal=self.causal and mask is None, mask=mask, dropout_p=p,
                return_weights=True,
            )
        y = self.resid_dropout(self.proj(merge_heads(y)))
        return (y, weights) if return_weights else y


# --- 2b. the key/value cache (chapter 5) -------------------------------------------------------


class KVCache:
    """Keys and values of every layer, kept between decoding steps (chapter 5).

    When a model generates, token ``t`` needs the keys and values of tokens ``0 .. t``; all but
    its own were already computed at earlier steps. The cache keeps them in buffers preallocated
    for the whole generation, ``k`` and ``v`` of shape ``(L, B, H, T_max, D)``, so each step only
    computes the new token's and appends it (no reallocation, no concatenation).

    - ``length``: how many positions are filled (the same for every row: batches are left-padded
      so that rows end together).
    - ``valid``: ``(B, T_max)`` bool, False at padding slots, which no query may attend to.
    - ``next_pos``: ``(B,)`` the position id of each row's next token (a left-padded row's first
      real token has position 0, as it would alone).
    - ``rolling``: when True, once ``T_max`` slots are full each new token overwrites the oldest
      slot, so attention sees the last ``T_max`` tokens (a sliding window, as in Mistral 7B, Jiang
      et al. 2023, https://arxiv.org/abs/2310.06825). Only rotary positions allow it: their keys
      carry their position, so the order of the slots does not matter.

    Memory: ``2 * L * B * H * T_max * D`` numbers (:attr:`nbytes`).
    """

    def __init__(self, n_layer: int, batch: int, n_head: int, max_len: int, head_dim: int, *,
                 device=None, dtype=torch.float32, rolling: bool = False):
        for name, value in (("n_layer", n_layer), ("batch", batch), ("n_head", n_head),
                            ("max_len", max_len), ("head_dim", head_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"KVCache {name} must be a positive int, got {value!r}")
        shape = (n_layer, batch, n_head, max_len, head_dim)
        # never read before written, so no need to zero them
        self.k = torch.empty(shape, device=device, dtype=dtype)
        self.v = torch.empty(shape, device=device, dtype=dtype)
        self._views()
        self.valid = torch.ones(batch, max_len, dtype=torch.bool, device=device)
        self.next_pos = torch.zeros(batch, dtype=torch.long, device=device)
        self.max_len, self.rolling = max_len, rolling
        self.length = 0
        self.has_padding = False
        self._write: slice | int = slice(0, 0)
        self._read = 0
        self.plan = None  # the model's inference weights, gathered once (GPT.forward_cached)

    def _views(self) -> None:
        self._k, self._v = self.k.unbind(0), self.v.unbind(0)  # one (B, H, T_max, D) view per layer

    @property
    def nbytes(self) -> int:
        """Bytes held by the key and value buffers."""
        return self.k.numel() * self.k.element_size() * 2

    def reset(self) -> None:
        """Forget everything (the buffers are reused)."""
        self.truncate(0)

    def truncate(self, length: int) -> None:
        """Keep only the first ``length`` positions (speculative decoding rolls back rejected tokens).

        Only for a cache without padding that has not wrapped around.
        """
        if not 0 <= length <= min(self.length, self.max_len) or (self.rolling and self.length > self.max_len):
            raise ValueError(f"cannot truncate a cache of length {self.length} to {length}")
        if self.has_padding and length > 0:
            raise ValueError("truncate() needs a cache without padding (a batch of one, or equal lengths)")
        self.length = length  # without padding, positions follow the length (next_pos is unused)
        if length == 0:
            self.next_pos.zero_()
            self.valid.fill_(True)
            self.has_padding = False

    def reorder(self, index: torch.Tensor) -> None:
        """Keep rows ``index`` ``(B,)`` (beam search: each beam continues one parent beam)."""
        self.k = self.k.index_select(1, index)
        self.v = self.v.index_select(1, index)
        self.valid = self.valid.index_select(0, index)
        self.next_pos = self.next_pos.index_select(0, index)
        self._views()

    def begin(self, t: int) -> None:
        """Reserve the slots for ``t`` new tokens (the model calls this once per forward)."""
        start = self.length
        if start + t <= self.max_len:
            self._write, self._read = slice(start, start + t), start + t
        elif self.rolling and t == 1:
            self._write, self._read = start % self.max_len, self.max_len
        else:
            how = (" (a rolling cache takes one token at a time once full)" if self.rolling else
                   "; make the cache longer (max_len) or let generation slide its window")
            raise ValueError(f"the KV cache holds {self.max_len} positions; {start} are filled and "
                             f"{t} more do not fit{how}")

    def advance(self, t: int) -> None:
        """Mark the ``t`` reserved slots as filled."""
        self.length += t

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        """Store layer ``layer``'s new keys/values ``(B, H, t, D)``; return all ``(B, H, T_key, D)``."""
        w, kl, vl = self._write, self._k[layer], self._v[layer]
        if isinstance(w, int):
            kl.select(2, w).copy_(k.squeeze(2))
            vl.select(2, w).copy_(v.squeeze(2))
        else:
            kl.narrow(2, w.start, w.stop - w.start).copy_(k)
            vl.narrow(2, w.start, w.stop - w.start).copy_(v)
        r = self._read
        return kl.narrow(2, 0, r), vl.narrow(2, 0, r)


# --- 3. position ------------------------------------------------------------------------------


def sinusoidal_positions(t: int, c: int, base: float = 10000.0, device=None) -> torch.Tensor:
    """The fixed position table of "Attention Is All You Need" (Vaswani et al., 2017), ``(t, c)``.

    Channel pair ``(2i, 2i+1)`` holds ``sin`` and ``cos`` of ``pos / base**(2i / c)``: fast waves
    in the first channels, slow ones in the last, so every position gets a distinct pattern.
    """
    device = _user_device(device)
    check_int("t", t, 0)
    check_int("c", c, 1)
    check_float("base", base, 1.0, exclusive_minimum=True)
    check_memory(3 * 4 * t * c, f"sinusoidal_positions({t}, {c})", device=device)
    pos = torch.arange(t, dtype=torch.float32, device=device)[:, None]  # (t, 1)
    i = torch.arange(0, c, 2, dtype=torch.float32, device=device)  # (ceil(c/2),)
    angles = pos / base ** (i / c)  # (t, ceil(c/2))
    table = torch.zeros(t, c, device=device)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles[:, : c // 2])
    return table


def rope_cos_sin(
    t: int, head_dim: int, base: float = 10000.0, device=None, dtype=torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and sine tables for rotary position embeddings, each ``(t, head_dim)``.

    RoPE ("RoFormer: Enhanced Transformer with Rotary Position Embedding", Su et al., 2021,
    https://arxiv.org/abs/2104.09864) treats the channels of a query or key as ``head_dim / 2``
    pairs ``(x[i], x[i + D/2])`` and rotates pair ``i`` of the token at position ``m`` by the
    angle ``m * base**(-2i / D)``. ``head_dim`` must be even.
    """
    device = _user_device(device)
    check_int("t", t, 0)
    check_int("head_dim", head_dim, 1)
    check_float("base", base, 1.0, exclusive_minimum=True)
    if head_dim % 2:
        raise ValueError(f"RoPE needs an even head dimension, got {head_dim}; change n_embd or n_head")
    check_memory(4 * 4 * t * head_dim, f"rope_cos_sin({t}, {head_dim})", device=device)
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim)
    angles = torch.arange(t, dtype=torch.float32, device=device)[:, None] * inv_freq  # (t, D/2)
    angles = torch.cat([angles, angles], dim=-1)  # (t, D): pair i uses channels i and i + D/2
    return angles.cos().to(dtype), angles.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``(x1, x2) -> (-x2, x1)`` on the two halves of the last dim: a 90 degree turn per pair."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys ``x`` ``(..., T, D)`` by their position; ``cos``/``sin`` ``(T, D)``.

    After rotation, ``apply_rope(q)[m] . apply_rope(k)[n]`` depends on ``m - n`` only.
    """
    return x * cos + rotate_half(x) * sin
