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

# --- 1. scaled dot-product attention ---------------------------------------------------------


def causal_mask(t_query: int, t_key: int | None = None, device=None) -> torch.Tensor:
    """A ``(t_query, t_key)`` boolean mask, True where query ``i`` may look at key ``j``.

    Query ``i`` sees keys ``0 .. i`` (itself and the past, never the future). When there are
    more keys than queries (the queries are the *last* ``t_query`` tokens, as with a KV cache),
    the mask is aligned to the bottom right: the last query sees every key.
    """
    t_key = t_query if t_key is None else t_key
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
    b, t, c = x.shape
    if c % n_head:
        raise ValueError(f"the embedding size {c} is not divisible by n_head={n_head}")
    return x.view(b, t, n_head, c // n_head).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, T, D)`` -> ``(B, T, H * D)``: the inverse of :func:`split_heads`."""
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


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
    ):
        """``x`` ``(B, T, C)`` -> ``(B, T, C)`` (and weights ``(B, H, T, T)`` if asked).

        ``rope``: the ``(cos, sin)`` tables from :func:`rope_cos_sin`, each ``(T, D)``, to rotate
        queries and keys. ``mask``: a boolean mask broadcasting to ``(B, H, T, T)``, True =
        allowed, used *instead of* the plain causal mask (the model builds it from a padding mask).
        """
        b, t, c = x.shape
        qkv = self.qkv(x)  # (B, T, 3C)
        if rope is None:
            q, k, v = qkv.split(self.n_embd, dim=2)  # three (B, T, C) views
            q, k, v = (split_heads(z, self.n_head) for z in (q, k, v))  # (B, H, T, D)
            if self.qk_norm:
                q, k = self.q_norm(q), self.k_norm(k)
        else:
            # rotate queries and keys together, as 2H heads in one set of operations (the same
            # numbers as rotating each, in half the calls): (B, T, 2H, D) with cos/sin (T, 1, D)
            cos, sin = rope
            qk = qkv[..., : 2 * c].view(b, t, 2 * self.n_head, self.head_dim)
            if self.qk_norm:
                qk = self._norm_qk(qk)
            qk = apply_rope(qk, cos[:, None, :], sin[:, None, :]).transpose(1, 2)  # (B, 2H, T, D)
            q, k = qk.split(self.n_head, dim=1)
            v = split_heads(qkv[..., 2 * c :], self.n_head)
        p = self.dropout if self.training else 0.0
        weights = None
        if self.fast and not return_weights:
            if mask is None:
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=self.causal)
            else:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        else:
            y, weights = scaled_dot_product_attention(
                q, k, v, causal=self.causal and mask is None, mask=mask, dropout_p=p,
                return_weights=True,
            )
        y = self.resid_dropout(self.proj(merge_heads(y)))
        return (y, weights) if return_weights else y


# --- 3. position ------------------------------------------------------------------------------


def sinusoidal_positions(t: int, c: int, base: float = 10000.0, device=None) -> torch.Tensor:
    """The fixed position table of "Attention Is All You Need" (Vaswani et al., 2017), ``(t, c)``.

    Channel pair ``(2i, 2i+1)`` holds ``sin`` and ``cos`` of ``pos / base**(2i / c)``: fast waves
    in the first channels, slow ones in the last, so every position gets a distinct pattern.
    """
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
    if head_dim % 2:
        raise ValueError(f"RoPE needs an even head dimension, got {head_dim}; change n_embd or n_head")
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
