"""The GPT model: embeddings, a stack of pre-norm Transformer blocks, and an output head (chapter 3).

Read top to bottom:

1. :class:`GPTConfig`, a dataclass with named presets (``GPTConfig.preset("tiny")``).
2. The parts of a block: :class:`RMSNorm` (LayerNorm comes from torch), :class:`MLP`, and
   :class:`Block`, which adds attention and the MLP to the residual stream.
3. :class:`GPT`: token (and position) embeddings -> blocks -> final norm -> logits over the
   vocabulary; ``forward`` also returns the cross-entropy loss when given targets.
4. Sampling (:meth:`GPT.generate`), the two files on disk (:meth:`GPT.save`, :meth:`GPT.load`)
   and loading a Hugging Face GPT-2 checkpoint (:meth:`GPT.from_hf_gpt2`).

Shapes: ``B`` batch, ``T`` tokens, ``C = n_embd``, ``V = vocab_size``.
Attention itself lives in :mod:`minillm.attention` (chapter 2).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .attention import (
    KVCache,
    MultiHeadAttention,
    causal_mask,
    merge_heads,
    qkv_heads,
    rope_cos_sin,
    scaled_dot_product_attention,
    sinusoidal_positions,
)
from .utils import (
    InputTypeError,
    atomic_write,
    check_bool,
    check_float,
    check_int,
    check_memory,
    check_output_dir,
)

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"

# --- 1. configuration -------------------------------------------------------------------------


@dataclass
class GPTConfig:
    """Every number that fixes a GPT's shape. Use a preset: ``GPTConfig.preset("tiny")``.

    - ``vocab_size``: number of token ids (set it to your tokenizer's ``vocab_size``).
    - ``block_size``: the context length, the most tokens the model sees at once.
    - ``n_layer``, ``n_head``, ``n_embd``: blocks, heads per block, channels per token.
    - ``dropout``: dropout rate during training (0 for small data and for inference).
    - ``bias``: biases in the linear layers and norms (GPT-2 has them).
    - ``norm``: ``"layernorm"`` (GPT-2) or ``"rmsnorm"`` (Llama).
    - ``pos``: ``"learned"`` (GPT-2), ``"sinusoidal"`` (the original Transformer) or ``"rope"``.
    - ``tie_weights``: the output head reuses the token embedding matrix.
    - ``mlp_ratio``: the MLP's hidden width is ``mlp_ratio * n_embd``.
    - ``fast_attention``: use PyTorch's fused attention kernel (True) or the from-scratch one.
    - ``gelu``: the MLP's GELU, ``"tanh"`` (GPT-2's approximation) or ``"exact"`` (the erf form,
      a little cheaper on a CPU).

    Options from recent speed records (chapter 4 measures each; all off by default):

    - ``mlp_act``: ``"gelu"`` or ``"relu2"``, squared ReLU ``relu(x)**2`` ("Primer: Searching for
      Efficient Transformers for Language Modeling", So et al., 2021, arXiv:2109.08668).
    - ``qk_norm``: RMS-normalise each head's queries and keys (with learned gains) before the
      dot product, which keeps attention logits bounded ("Scaling Vision Transformers to 22
      Billion Parameters", Dehghani et al., 2023; "Small-scale proxies for large-scale
      Transformer training instabilities", Wortsman et al., 2023).
    - ``zero_init_proj``: start the layers that write into the residual stream (attention's and
      the MLP's output projections) at zero, so each block starts as the identity.
    - ``logit_softcap``: ``None`` or a cap ``c``; logits become ``c * tanh(logits / c)``
      ("Gemma 2", Gemma Team, 2024, arXiv:2408.00118).
    """

    vocab_size: int = 4096
    block_size: int = 128
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = True
    norm: str = "layernorm"
    pos: str = "learned"
    tie_weights: bool = True
    mlp_ratio: int = 4
    norm_eps: float = 1e-5
    rope_base: float = 10000.0
    fast_attention: bool = True
    gelu: str = "tanh"
    mlp_act: str = "gelu"
    qk_norm: bool = False
    zero_init_proj: bool = False
    logit_softcap: float | None = None

    PRESETS: ClassVar[dict[str, dict]] = {
        # trains in seconds on a laptop CPU; the chapters' demos use it
        "tiny": dict(block_size=128, n_layer=2, n_head=4, n_embd=64),
        # a few minutes on a CPU; writes simple TinyWorld sentences
        "small": dict(block_size=256, n_layer=4, n_head=4, n_embd=128),
        # about 10M parameters besides the embeddings: an hour-scale CPU run, minutes on a GPU
        "medium": dict(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.1),
        # GPT-2 small, 124M parameters (Radford et al., 2019): for a GPU, or to load real weights
        "gpt2": dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768),
    }

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "mlp_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                kind = InputTypeError if not isinstance(value, int) or isinstance(value, bool) else ValueError
                raise kind(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(
                f"GPTConfig.n_embd={self.n_embd} must be divisible by n_head={self.n_head} "
                "(each head gets n_embd // n_head channels)"
            )
        check_float("GPTConfig.dropout", self.dropout, 0.0, 1.0, exclusive_maximum=True)
        check_float("GPTConfig.norm_eps", self.norm_eps, 0.0, exclusive_minimum=True)
        check_float("GPTConfig.rope_base", self.rope_base, 1.0, exclusive_minimum=True)
        for name in ("bias", "tie_weights", "fast_attention"):
            check_bool(f"GPTConfig.{name}", getattr(self, name))
        for name in ("norm", "pos", "gelu"):
            if not isinstance(getattr(self, name), str):
                raise InputTypeError(f"GPTConfig.{name} must be a str, got {getattr(self, name)!r}")
        if self.norm not in ("layernorm", "rmsnorm"):
            raise ValueError(f"GPTConfig.norm must be 'layernorm' or 'rmsnorm', got {self.norm!r}")
        if self.pos not in ("learned", "sinusoidal", "rope"):
            raise ValueError(
                f"GPTConfig.pos must be 'learned', 'sinusoidal' or 'rope', got {self.pos!r}"
            )
        if self.gelu not in ("tanh", "exact"):
            raise ValueError(f"GPTConfig.gelu must be 'tanh' or 'exact', got {self.gelu!r}")
        if self.mlp_act not in ("gelu", "relu2"):
            raise ValueError(f"GPTConfig.mlp_act must be 'gelu' or 'relu2', got {self.mlp_act!r}")
        for name in ("qk_norm", "zero_init_proj"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"GPTConfig.{name} must be True or False, got {getattr(self, name)!r}")
        cap = self.logit_softcap
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, float))
                                or not math.isfinite(cap) or cap <= 0):
            raise ValueError(f"GPTConfig.logit_softcap must be None (off) or a positive number "
                             f"such as 30.0, got {cap!r}")
        if self.pos == "rope" and self.head_dim % 2:
            raise ValueError(
                f"pos='rope' needs an even head size, but n_embd // n_head = {self.head_dim}"
            )

    @property
    def head_dim(self) -> int:
        """Channels per attention head, ``n_embd // n_head``."""
        return self.n_embd // self.n_head

    @classmethod
    def preset(cls, name: str, **overrides) -> GPTConfig:
        """A named configuration (``"tiny"``, ``"small"``, ``"medium"``, ``"gpt2"``), with overrides.

        ``GPTConfig.preset("tiny", vocab_size=tokenizer.vocab_size)``
        """
        if not isinstance(name, str) or name not in cls.PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(cls.PRESETS)}")
        return cls(**{**cls.PRESETS[name], **overrides})

    def to_dict(self) -> dict:
        """The fields as a plain dict (what ``config.json`` holds)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GPTConfig:
        """Build a config from a dict; unknown keys are an error, never silently dropped."""
        if not isinstance(d, dict):
            raise ValueError(f"a GPT config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown GPTConfig fields {unknown}; known fields are {sorted(known)}")
        return cls(**d)


def estimate_params(c: GPTConfig) -> int:
    """Parameters (plus position tables) a :class:`GPT` of config ``c`` allocates, computed
    without allocating: used to refuse impossible sizes before torch tries (and fails)."""
    hidden = c.mlp_ratio * c.n_embd
    per_block = (3 * c.n_embd * c.n_embd + c.n_embd * c.n_embd + 2 * c.n_embd * hidden
                 + (4 * c.n_embd + hidden + 4 * c.n_embd if c.bias else 0) + 4 * c.n_embd)
    n = c.vocab_size * c.n_embd + c.n_layer * per_block + 2 * c.n_embd
    n += c.block_size * c.n_embd if c.pos != "rope" else c.block_size * c.head_dim
    if not c.tie_weights:
        n += c.vocab_size * c.n_embd
    return n


def check_model_memory(c: GPTConfig) -> None:
    """Refuse, before allocating, a GPT whose float32 weights would not fit in this machine's memory.

    Under ``with torch.device("meta")`` nothing is allocated, so any size is fine there.
    """
    get_default = getattr(torch, "get_default_device", None)
    if get_default is not None and get_default().type == "meta":
        return
    n = estimate_params(c)
    check_memory(4 * n, f"a GPT with vocab_size={c.vocab_size}, block_size={c.block_size}, "
                 f"n_layer={c.n_layer}, n_embd={c.n_embd} ({n:,} float32 parameters)")


# --- 2. the parts of a block ------------------------------------------------------------------


class RMSNorm(nn.Module):
    """Root-mean-square norm (Zhang and Sennrich, 2019): ``x / rms(x) * weight``, no centring.

    Shapes: ``(..., C)`` -> ``(..., C)``. A cheaper LayerNorm used by Llama and friends.
    """

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def _compiling() -> bool:
    """True while ``torch.compile`` traces the model (``torch.compiler.is_compiling``, torch >= 2.3).
    The checks of token-id values are skipped then, because reading a value back to Python breaks
    the compiled graph and stalls a GPU each step (the shape checks still run): a compiled model
    trades that one clear error for speed; the uncompiled model gives it."""
    fn = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    return bool(fn()) if fn is not None else False


def _norm(x: torch.Tensor, spec) -> torch.Tensor:
    """A norm layer's computation from its ``(weight, bias, eps, is_rms)`` (the inference fast path)."""
    weight, bias, eps, is_rms = spec
    if is_rms:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight
    return F.layer_norm(x, weight.shape, weight, bias, eps)


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, i.e. ``x @ weight.T + bias``, for the inference fast path (chapter 5).

    ``x`` ``(..., in)``, ``weight`` ``(out, in)`` -> ``(..., out)``. A decoding step multiplies
    only a few rows (one per sequence) by each weight matrix, so its time is mostly reading the
    weights from memory. On a CPU, with 8 to 32 rows and a weight of a million numbers or more
    (4 MB in float32: larger than a core's L2 cache), BLAS (MKL) computes the same products up
    to 50% faster as ``(weight @ x.T).T`` than through ``F.linear``, whose transposed operand
    takes a slower path there (measured on GPT-2-small's shapes, 1 thread). This makes a
    batch-8 GPT-2-small decoding step 10-15% faster (``benchmarks/generate.py``, part b). With
    fewer rows, smaller weights (the extra transposes then cost more than they save) or on
    other devices, ``F.linear`` is as fast or faster, so it is kept. The results agree to float rounding (the sums run in another order).
    """
    rows = x.numel() // x.size(-1)
    if x.device.type != "cpu" or not 8 <= rows <= 32 or weight.numel() < 1 << 20:
        return F.linear(x, weight, bias)
    xt = x.reshape(rows, x.size(-1)).t()  # (in, rows)
    y = torch.mm(weight, xt) if bias is None else torch.addmm(bias[:, None], weight, xt)  # (out, rows)
    return y.t().contiguous().view(*x.shape[:-1], weight.size(0))  # a plain layout for what follows


def make_norm(config: GPTConfig) -> nn.Module:
    """The normalisation layer the config asks for, over ``n_embd`` channels."""
    if config.norm == "rmsnorm":
        return RMSNorm(config.n_embd, eps=config.norm_eps)
    return nn.LayerNorm(config.n_embd, eps=config.norm_eps, bias=config.bias)


class MLP(nn.Module):
    """The feed-forward part of a block: widen, GELU, narrow. ``(B, T, C)`` -> ``(B, T, C)``.

    Each token is processed on its own (no mixing across positions). GELU uses the tanh
    approximation by default, as GPT-2 does, so GPT-2's weights give GPT-2's outputs;
    ``config.gelu="exact"`` uses the exact (erf) form instead.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        hidden = config.mlp_ratio * config.n_embd
        self.fc = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)
        self.approximate = "tanh" if config.gelu == "tanh" else "none"
        self.relu2 = config.mlp_act == "relu2"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)
        h = F.relu(h).square() if self.relu2 else F.gelu(h, approximate=self.approximate)
        return self.dropout(self.proj(h))


class Block(nn.Module):
    """One pre-norm Transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``.

    ``x`` is the residual stream ``(B, T, C)``; each sub-layer reads a normalised copy of it and
    adds its result back, so information (and gradient) can always flow straight through.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.norm1 = make_norm(config)
        self.attn = MultiHeadAttention(
            config.n_embd, config.n_head, bias=config.bias, dropout=config.dropout,
            causal=True, fast=config.fast_attention, qk_norm=config.qk_norm,
        )
        self.norm2 = make_norm(config)
        self.mlp = MLP(config)

    def forward(self, x, *, rope=None, mask=None, return_weights: bool = False, cache=None, layer: int = 0):
        if return_weights:
            a, weights = self.attn(self.norm1(x), rope=rope, mask=mask, return_weights=True,
                                   cache=cache, layer=layer)
        else:
            a, weights = self.attn(self.norm1(x), rope=rope, mask=mask, cache=cache, layer=layer), None
        x = x + a
        x = x + self.mlp(self.norm2(x))
        return (x, weights) if return_weights else x


# --- 3. the model -----------------------------------------------------------------------------


class GPT(nn.Module):
    """A decoder-only Transformer language model (chapter 3).

    ``GPT(GPTConfig.preset("tiny", vocab_size=...))``. ``forward(idx, targets)`` maps token ids
    ``(B, T)`` to logits ``(B, T, V)`` and, given targets ``(B, T)``, the mean cross-entropy loss.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT needs a GPTConfig, got {type(config).__name__}")
        self.config = config
        c = config
        check_model_memory(c)
        self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd)
        if c.pos == "learned":
            self.pos_emb = nn.Embedding(c.block_size, c.n_embd)
        elif c.pos == "sinusoidal":
            # the fixed table, scaled so its entries have the same size (RMS 0.02) as a freshly
            # initialised token embedding; unscaled, position would drown out the token at first
            table = sinusoidal_positions(c.block_size, c.n_embd) * (0.02 * math.sqrt(2))
            self.register_buffer("pos_table", table, persistent=False)
        else:  # rope: rotate queries and keys inside attention
            cos, sin = rope_cos_sin(c.block_size, c.head_dim, base=c.rope_base)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.norm_f = make_norm(c)
        self.head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.head.weight = self.tok_emb.weight
        self.apply(self._init_weights)
        # GPT-2's trick: shrink the layers that write into the residual stream, so its variance
        # does not grow with depth (2 writes per block).
        # zero_init_proj: start them at zero instead (each block begins as the identity).
        std = 0.02 / math.sqrt(2 * c.n_layer)
        for block in self.blocks:
            for proj in (block.attn.proj, block.mlp.proj):
                if c.zero_init_proj:
                    nn.init.zeros_(proj.weight)
                else:
                    nn.init.normal_(proj.weight, mean=0.0, std=std)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    # -- attention implementation switch --

    @property
    def fast_attention(self) -> bool:
        """True: attention uses PyTorch's fused kernel; False: the from-scratch one (chapter 2)."""
        return self.config.fast_attention

    @fast_attention.setter
    def fast_attention(self, value: bool) -> None:
        self.config.fast_attention = bool(value)
        for block in self.blocks:
            block.attn.fast = bool(value)

    # -- input checks --

    def _check_ids(self, ids, name: str) -> None:
        if not isinstance(ids, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
        if ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(
                f"{name} must hold integer token ids (torch.long), got dtype {ids.dtype}; "
                f"convert with {name}.long()"
            )
        if ids.dim() != 2:
            raise ValueError(
                f"{name} must have shape (B, T), got {tuple(ids.shape)}; "
                f"for a single sequence pass {name}[None]"
            )
        here = self.tok_emb.weight.device
        if ids.device != here:
            raise ValueError(f"{name} is on {ids.device} but the model is on {here}; "
                             f"move it with {name}.to({str(here)!r})")

    def _check_idx(self, idx, limit: int | None = -1) -> None:
        self._check_ids(idx, "idx")
        b, t = idx.shape
        if t == 0 or b == 0:
            raise ValueError(f"idx has shape {tuple(idx.shape)}; it needs at least one token")
        if limit is not None and limit != -1 and t > limit:
            raise ValueError(f"{t} new tokens do not fit in a KV cache of {limit} positions")
        if limit == -1 and t > self.config.block_size:
            raise ValueError(
                f"sequence length {t} is longer than the model's context "
                f"(block_size={self.config.block_size}); crop it, e.g. idx[:, -{self.config.block_size}:]"
            )
        if _compiling():  # reading values back would break the compiled graph (and sync a GPU)
            return
        lo, hi = torch.aminmax(idx)
        lo, hi = int(lo), int(hi)
        v = self.config.vocab_size
        if lo < 0 or hi >= v:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"token id {bad} in idx is outside the vocabulary (size {v}); ids must be in "
                f"0..{v - 1}: check that the tokenizer and the model's vocab_size match"
            )

    # -- forward --

    def _embed(self, idx: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Token (and learned or sinusoidal position) embeddings. ``positions``: a slice, or
        ``(B, T)`` position ids; default ``0 .. T-1``."""
        t = idx.size(1)
        x = self.tok_emb(idx)  # (B, T, C)
        if self.config.pos == "learned":
            if positions is None:
                x = x + self.pos_emb(torch.arange(t, device=idx.device))  # (T, C), broadcast over B
            else:  # a slice or (B, T) position ids
                x = x + self.pos_emb.weight[positions]
        elif self.config.pos == "sinusoidal":
            x = x + (self.pos_table[:t] if positions is None else self.pos_table[positions]).to(x.dtype)
        return self.drop(x)

    def _rope_tables(self, positions: torch.Tensor, need: int | None = None):
        """RoPE ``(cos, sin)`` rows for ``positions`` ``(T,)`` or ``(B, T)``; the tables grow on demand
        (a sliding-window cache keeps counting positions past ``block_size``). ``need``: an upper
        bound on the largest position + 1, if known (saves a device sync)."""
        if need is None:
            need = positions.stop if isinstance(positions, slice) else int(positions.max()) + 1
        if need > self.rope_cos.size(0):
            n = max(need, 2 * self.rope_cos.size(0))
            # grown tables outlive this call: never make them inference tensors (generation runs
            # under torch.inference_mode, and a later training step could not use them)
            with torch.inference_mode(False):
                cos, sin = rope_cos_sin(n, self.config.head_dim, base=self.config.rope_base,
                                        device=self.rope_cos.device, dtype=self.rope_cos.dtype)
            self.rope_cos, self.rope_sin = cos, sin
        return self.rope_cos[positions], self.rope_sin[positions]

    def _attention_args(self, t: int, padding_mask):
        rope = None
        if self.config.pos == "rope":
            rope = (self.rope_cos[:t], self.rope_sin[:t])
        mask = None
        if padding_mask is not None:
            if padding_mask.dtype != torch.bool or padding_mask.dim() != 2 or padding_mask.size(1) != t:
                raise ValueError(
                    f"padding_mask must be a bool tensor of shape (B, {t}) (True = real token), got "
                    f"{padding_mask.dtype} {tuple(padding_mask.shape)}"
                )
            eye = torch.eye(t, dtype=torch.bool, device=padding_mask.device)
            # causal, keys must be real tokens; every token may always see itself, so a padding
            # query never has an empty row (which would give NaN)
            mask = causal_mask(t, device=padding_mask.device) & (padding_mask[:, None, None, :] | eye)
        return rope, mask

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        padding_mask: torch.Tensor | None = None,
        last_only: bool = False,
        cache: KVCache | None = None,
        return_hidden: bool = False,
    ):
        """Token ids ``idx`` ``(B, T)`` -> ``(logits, loss)``.

        - ``logits``: ``(B, T, V)``, unnormalised scores for the next token at every position
          (``(B, 1, V)`` with ``last_only=True``, which is all generation needs and saves the
          largest matrix multiply).
        - ``loss``: mean cross-entropy against ``targets`` ``(B, T)`` (positions with target
          ``-100`` are ignored), or ``None`` without targets.
        - ``padding_mask``: optional ``(B, T)`` bool, False where ``idx`` is padding, so no
          token attends to it.
        - ``cache`` (chapter 5): a :class:`~minillm.attention.KVCache` (see :meth:`new_cache`).
          ``idx`` then holds only the *new* tokens; their keys and values are appended to the
          cache and they attend to everything stored before. Positions continue where the cache
          left off (per row: left padding does not shift a row's positions).
        - ``return_hidden=True``: return ``(hidden, None)`` instead, the final-normed hidden
          states ``(B, T, C)`` that the head would read (a classifier's input, chapter 6).
        """
        if cache is not None:
            if targets is not None or return_hidden:
                raise ValueError("forward with a cache is for generation; it cannot take targets "
                                 "or return_hidden")
            self._check_idx(idx, limit=cache.max_len if not cache.rolling else None)
            return self.forward_cached(idx, cache, padding_mask=padding_mask, last_only=last_only), None
        self._check_idx(idx)
        b, t = idx.shape
        if targets is not None:
            self._check_ids(targets, "targets")
            if targets.shape != idx.shape:
                raise ValueError(
                    f"targets has shape {tuple(targets.shape)} but idx has {tuple(idx.shape)}; "
                    "targets[b, t] is the token that follows idx[b, t]"
                )
            if last_only:
                raise ValueError("last_only=True computes one position only; it cannot take targets")
            lo, hi = (0, 0) if _compiling() else (int(v) for v in torch.aminmax(targets))
            v = self.config.vocab_size
            outside = ((targets < 0) & (targets != -100)) | (targets >= v) if lo < 0 or hi >= v else None
            if outside is not None and bool(outside.any()):
                bad = int(targets[outside][0])
                raise ValueError(
                    f"target id {bad} in targets is outside the vocabulary (size {v}); targets must "
                    f"be in 0..{v - 1}, or -100 for a position the loss ignores"
                )
        rope, mask = self._attention_args(t, padding_mask)
        x = self._embed(idx)
        for block in self.blocks:
            x = block(x, rope=rope, mask=mask)
        x = self.norm_f(x)
        if return_hidden:
            if targets is not None or last_only:
                raise ValueError("return_hidden=True returns hidden states only; leave out "
                                 "targets and last_only")
            return x, None
        if last_only:
            x = x[:, -1:, :]
        logits = self._logits(x)  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(
                logits.view(b * t, -1), targets.reshape(b * t).long(), ignore_index=-100
            )
        return logits, loss

    # -- generation with a KV cache (chapter 5) --

    def new_cache(self, batch: int, max_len: int | None = None, rolling: bool = False) -> KVCache:
        """An empty :class:`~minillm.attention.KVCache` for ``batch`` rows and ``max_len`` positions
        (default ``block_size``), on the model's device and in its dtype.

        ``rolling=True`` (rotary positions only) keeps a sliding window of the last ``max_len``
        tokens, so generation can run past the context length.
        """
        c = self.config
        max_len = c.block_size if max_len is None else max_len
        if rolling and c.pos != "rope":
            raise ValueError(
                f"a rolling (sliding-window) cache needs pos='rope', this model has pos={c.pos!r}: "
                "its positions are added to the input, so old keys cannot be kept past block_size"
            )
        if max_len > c.block_size and c.pos != "rope":
            raise ValueError(f"max_len={max_len} is longer than the context (block_size={c.block_size}) "
                             f"and pos={c.pos!r} has no embedding for later positions")
        w = self.tok_emb.weight
        return KVCache(c.n_layer, batch, c.n_head, max_len, c.head_dim, device=w.device,
                       dtype=w.dtype, rolling=rolling)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """The output head on final hidden states ``(B, T, C)`` -> ``(B, T, V)``, soft-capped
        (``c * tanh(logits / c)``, a smooth clip into ``(-c, c)``) when ``logit_softcap`` is set."""
        logits = self.head(x)
        cap = self.config.logit_softcap
        return cap * torch.tanh(logits / cap) if cap else logits

    def forward_cached(self, idx: torch.Tensor, cache: KVCache, *, padding_mask=None,
                       last_only: bool = True) -> torch.Tensor:
        """Logits for the new tokens ``idx`` ``(B, T)`` against ``cache``; returns ``(B, T or 1, V)``.

        The fast path :func:`minillm.generate.generate` calls at every step (no input checks:
        use ``forward(idx, cache=cache)`` for checked input). ``padding_mask`` ``(B, T)``: False
        at left padding of a prompt.
        """
        b, t = idx.shape
        start = cache.length
        cache.begin(t)
        dev = idx.device
        if padding_mask is not None and not cache.has_padding and not bool(padding_mask.all()):
            cache.next_pos.fill_(start)  # until now every row's positions followed the length
            cache.has_padding = True
        if padding_mask is not None and not isinstance(cache._write, int):
            cache.valid[:, cache._write] = padding_mask
        elif isinstance(cache._write, int):
            cache.valid[:, cache._write] = True
        # positions: one shared slice when no row is padded, else one row of ids per sequence
        if not cache.has_padding:
            positions = slice(start, start + t)
        elif padding_mask is not None:
            positions = cache.next_pos[:, None] + (padding_mask.long().cumsum(1) - 1).clamp(min=0)
            cache.next_pos += padding_mask.sum(1)
        else:
            positions = cache.next_pos[:, None] + torch.arange(t, device=dev)
            cache.next_pos += t
        # the mask: none when every key may be seen (decoding one token, or a fresh causal prefill)
        n_keys = cache._read
        mask = None
        if cache.has_padding:
            if isinstance(cache._write, int):  # rolling: one query, any valid slot
                mask = cache.valid[:, None, None, :]
            else:
                allowed = causal_mask(t, n_keys, device=dev)
                own = torch.arange(n_keys, device=dev)[None, :] == torch.arange(start, start + t, device=dev)[:, None]
                # a padding query sees itself only, so no row of the mask is empty
                mask = allowed & (cache.valid[:, None, None, :n_keys] | own)
        elif t > 1 and start > 0:
            mask = causal_mask(t, n_keys, device=dev)
        rope = None
        if self.config.pos == "rope":
            # a row's position never exceeds the number of tokens fed so far
            rope = self._rope_tables(positions, need=start + t)
        c = self.config
        # the fast path's plan: built once per cache (one generate call), None when a linear layer
        # was replaced by something else (a LoRA wrapper, a quantised layer) whose forward must run
        if cache.plan is None or cache.plan[0] is not self:
            cache.plan = (self, self._inference_plan() if self._plain_linears() else None)
        if self.training or c.mlp_act != "gelu" or c.qk_norm or cache.plan[1] is None:
            # dropout, options the fast path below does not cover, or replaced linear layers: the modules
            x = self._embed(idx, positions)
            for i, block in enumerate(self.blocks):
                x = block(x, rope=rope, mask=mask, cache=cache, layer=i)
            cache.advance(t)
            return self._logits(self.norm_f(x[:, -1:, :] if last_only else x))
        # inference: the same computation as the modules, without their per-call overhead
        # (a decoding step of a small model is mostly Python overhead otherwise)
        layers, norm_f, lin = cache.plan[1]
        x = self._embed(idx, positions)
        h = self.config.n_head
        for i, (n1, wqkv, bqkv, wo, bo, fast, n2, w1, b1, w2, b2, approx) in enumerate(layers):
            q, k, v = qkv_heads(lin(_norm(x, n1), wqkv, bqkv), h, rope)
            k, v = cache.update(i, k, v)
            if fast:
                causal = mask is None and q.size(2) == k.size(2) and t > 1
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
            else:
                y = scaled_dot_product_attention(q, k, v, causal=mask is None, mask=mask)
            x = x + lin(merge_heads(y), wo, bo)
            x = x + lin(F.gelu(lin(_norm(x, n2), w1, b1), approximate=approx), w2, b2)
        cache.advance(t)
        logits = lin(_norm(x[:, -1:, :] if last_only else x, norm_f), self.head.weight)
        return c.logit_softcap * torch.tanh(logits / c.logit_softcap) if c.logit_softcap else logits

    def _plain_linears(self) -> bool:
        """True when every linear layer is a plain ``nn.Linear``, so that its ``weight`` is all
        there is to it (a LoRA-wrapped or quantised layer is not: :meth:`forward_cached` then runs
        the modules, so that unmerged adapters are not silently skipped)."""
        plain = nn.Linear
        if type(self.head) is not plain:
            return False
        return all(type(b.attn.qkv) is plain and type(b.attn.proj) is plain and type(b.mlp.fc) is plain
                   and type(b.mlp.proj) is plain for b in self.blocks)

    def _inference_plan(self):
        """Every layer's weights as plain tensors, for :meth:`forward_cached`'s fast path, and the
        multiply to use: ``F.linear``, unless a weight is large enough on a CPU for
        :func:`_linear`'s other layout to pay (GPT-2-small; chapter 4's model is far below it)."""
        def norm(n):
            return (n.weight, getattr(n, "bias", None), n.eps, isinstance(n, RMSNorm))

        layers = []
        for b in self.blocks:
            a, m = b.attn, b.mlp
            layers.append((norm(b.norm1), a.qkv.weight, a.qkv.bias, a.proj.weight, a.proj.bias,
                           a.fast, norm(b.norm2), m.fc.weight, m.fc.bias, m.proj.weight,
                           m.proj.bias, m.approximate))
        big = any(p.dim() == 2 and p.numel() >= 1 << 20 for p in self.parameters())
        lin = _linear if big and self.head.weight.device.type == "cpu" else F.linear
        return layers, norm(self.norm_f), lin

    @torch.no_grad()
    def attention_weights(self, idx: torch.Tensor) -> torch.Tensor:
        """Every layer's attention weights for ``idx`` ``(B, T)``: a tensor ``(L, B, H, T, T)``.

        Row ``i`` of ``[layer, b, head]`` says how much token ``i`` takes from each earlier
        token. Uses the from-scratch attention (the fused kernel never builds these weights).
        """
        self._check_idx(idx)
        rope, mask = self._attention_args(idx.size(1), None)
        x = self._embed(idx)
        maps = []
        for block in self.blocks:
            x, w = block(x, rope=rope, mask=mask, return_weights=True)
            maps.append(w)
        return torch.stack(maps)

    # -- sizes --

    def num_params(self, non_embedding: bool = False) -> int:
        """Number of parameters (a tied matrix counts once).

        ``non_embedding=True`` leaves out the token and position embeddings, the count scaling
        laws use (Kaplan et al., 2020).
        """
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.tok_emb.weight.numel()
            if self.config.pos == "learned":
                n -= self.pos_emb.weight.numel()
        return n

    def parameter_breakdown(self) -> dict[str, int]:
        """Parameters by component: embeddings, attention, MLP, norms, and an untied head."""
        parts = {"token embedding": self.tok_emb.weight.numel()}
        parts["position embedding"] = self.pos_emb.weight.numel() if self.config.pos == "learned" else 0
        count = lambda modules: sum(p.numel() for m in modules for p in m.parameters())
        parts["attention"] = count(b.attn for b in self.blocks)
        parts["MLP"] = count(b.mlp for b in self.blocks)
        parts["norms"] = count([*(b.norm1 for b in self.blocks), *(b.norm2 for b in self.blocks), self.norm_f])
        parts["output head"] = 0 if self.config.tie_weights else self.head.weight.numel()
        assert sum(parts.values()) == self.num_params()
        return parts

    def flops_per_token(self, seq_len: int | None = None, training: bool = True) -> int:
        """Estimated floating-point operations per token at context ``seq_len`` (default block_size).

        Forward: 2 per weight in a matrix multiply (the non-embedding parameters plus the output
        head, tied or not) plus ``4 * n_layer * T * C`` for the attention scores and the weighted
        sum (no saving from the causal mask counted). Training (``training=True``) costs three
        times the forward: the backward pass is about twice the forward. This is the estimate
        of the PaLM paper's appendix B (Chowdhery et al., 2022): ``6N + 12 L T C``.
        """
        c = self.config
        check_int("seq_len", seq_len, 1, allow_none=True)
        t = c.block_size if seq_len is None else seq_len
        n_matmul = self.num_params(non_embedding=True)
        if c.tie_weights:
            n_matmul += c.vocab_size * c.n_embd  # the head still multiplies by the embedding matrix
        forward = 2 * n_matmul + 4 * c.n_layer * t * c.n_embd
        return 3 * forward if training else forward

    # -- sampling --

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Append ``max_new_tokens`` sampled tokens to ``idx`` ``(B, T)``; returns ``(B, T + n)``.

        ``temperature`` divides the logits (0 means greedy: always the most likely token);
        ``top_k`` keeps only the k most likely tokens; ``generator`` makes sampling repeatable.
        A thin wrapper over :func:`minillm.generate.generate` (chapter 5: a KV cache, more
        sampling controls, stop conditions, log-probabilities), which generates past the
        context with a sliding window (``overflow="slide"``).
        """
        check_float("temperature (0 = greedy)", temperature, 0.0)
        check_int("top_k (a positive int, or None for no limit)", top_k, 1, allow_none=True)
        if top_k is not None and top_k > self.config.vocab_size:
            raise ValueError(f"top_k={top_k} is larger than the vocabulary ({self.config.vocab_size} "
                             "tokens); use top_k=None for no limit")
        check_int("max_new_tokens", max_new_tokens, 0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise InputTypeError(f"generator must be a torch.Generator or None, got {generator!r}")
        from .generate import generate

        self._check_ids(idx, "idx")
        if idx.size(0) == 0 or idx.size(1) == 0:
            raise ValueError(f"idx has shape {tuple(idx.shape)}; it needs at least one token per row")
        out = generate(self, idx, max_new_tokens=max_new_tokens, temperature=temperature,
                       top_k=top_k, generator=generator, overflow="slide", truncate_prompt=True)
        new = torch.tensor(out.ids, dtype=idx.dtype, device=idx.device).view(idx.size(0), -1)
        return torch.cat([idx, new], dim=1)

    # -- the two files --

    def save(self, directory) -> Path:
        """Write ``model.safetensors`` (the weights) and ``config.json`` (the shape) to ``directory``.

        Both writes are atomic. A tied head is stored once (as the token embedding).
        """
        from safetensors.torch import save as st_save

        from . import __version__

        directory = check_output_dir(directory, "the model folder")
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {
            k: v.detach().contiguous().cpu()
            for k, v in self.state_dict().items()
            if not (self.config.tie_weights and k == "head.weight")
        }
        data = st_save(tensors, metadata={"format": "pt", "producer": f"minillm {__version__}"})
        with atomic_write(directory / WEIGHTS_FILE) as f:
            f.write(data)
        with atomic_write(directory / CONFIG_FILE, "w") as f:
            json.dump(self.config.to_dict(), f, indent=2)
            f.write("\n")
        return directory

    @classmethod
    def load(cls, directory, device=None) -> GPT:
        """Read a model written by :meth:`save`. A missing, corrupt or mismatched file raises."""
        directory = Path(directory)
        config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
        for p in (config_path, weights_path):
            if not p.is_file():
                raise FileNotFoundError(
                    f"{p} not found; a saved model folder holds {CONFIG_FILE} and {WEIGHTS_FILE} "
                    "(written by GPT.save)"
                )
        data = _read_json(config_path)
        try:
            config = GPTConfig.from_dict(data)
        except ValueError as exc:  # name the file: the field alone does not say where it came from
            raise type(exc)(f"{config_path}: {exc}") from None
        if device is not None:
            device = _pick_device(device)
        model = cls(config)
        model.load_tensors(_read_safetensors(weights_path), source=str(weights_path))
        return model if device is None else model.to(device)

    def load_tensors(self, tensors: dict[str, torch.Tensor], source: str = "the weights") -> None:
        """Copy ``tensors`` (named as in ``state_dict``) into the model, all or nothing.

        Missing names, unexpected names and wrong shapes are all reported together before any
        weight changes.
        """
        expected = {
            k: v for k, v in self.state_dict().items()
            if not (self.config.tie_weights and k == "head.weight")
        }
        tensors = dict(tensors)
        if self.config.tie_weights and "head.weight" in tensors:
            head = tensors.pop("head.weight")
            emb = tensors.get("tok_emb.weight")
            if emb is not None and not torch.equal(head, emb):
                raise ValueError(
                    f"{source}: the config ties the head to the token embedding, but the file "
                    "holds a different head.weight; set tie_weights=False in the config"
                )
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        wrong = [
            f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(expected[k].shape)}"
            for k in sorted(set(expected) & set(tensors))
            if tuple(tensors[k].shape) != tuple(expected[k].shape)
        ]
        problems = []
        if missing:
            problems.append(f"missing {len(missing)} tensors (e.g. {missing[:3]})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[:3]})")
        if wrong:
            problems.append(f"{len(wrong)} with the wrong shape (e.g. {wrong[:3]})")
        if problems:
            raise ValueError(
                f"{source} does not match the model's config: " + "; ".join(problems)
                + ". The weights and config.json must come from the same model."
            )
        if self.config.tie_weights:
            tensors["head.weight"] = tensors["tok_emb.weight"]
        self.load_state_dict(tensors, strict=True)

    @classmethod
    def from_hf_gpt2(cls, folder, device=None) -> GPT:
        """Load a Hugging Face GPT-2 checkpoint folder (``config.json`` + ``model.safetensors``).

        Hugging Face names the same tensors differently (``h.0.attn.c_attn.weight``) and stores
        its linear layers transposed (its ``Conv1D`` keeps ``(in, out)``); this renames and
        transposes them. Works offline for any folder written by ``save_pretrained``.
        """
        folder = Path(folder)
        config_path, weights_path = folder / "config.json", folder / "model.safetensors"
        if not config_path.is_file():
            raise FileNotFoundError(f"{config_path} not found; pass a Hugging Face GPT-2 folder")
        if not weights_path.is_file():
            raise FileNotFoundError(
                f"{weights_path} not found; minillm reads safetensors only "
                "(save the model with save_pretrained(..., safe_serialization=True))"
            )
        hf = _read_json(config_path)
        if hf.get("model_type", "gpt2") != "gpt2":
            raise ValueError(f"{config_path}: model_type is {hf.get('model_type')!r}, expected 'gpt2'")
        missing = [k for k in ("vocab_size", "n_positions", "n_layer", "n_head", "n_embd") if k not in hf]
        if missing:
            raise ValueError(f"{config_path} lacks {missing}; it is not a complete GPT-2 config.json")
        unsupported = {
            "activation_function": hf.get("activation_function", "gelu_new")
            not in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"),
            "n_inner": hf.get("n_inner") not in (None, 4 * hf["n_embd"]),
            "scale_attn_by_inverse_layer_idx": bool(hf.get("scale_attn_by_inverse_layer_idx")),
            "scale_attn_weights": not hf.get("scale_attn_weights", True),
        }
        bad = [k for k, v in unsupported.items() if v]
        if bad:
            raise ValueError(f"{config_path}: settings minillm's GPT does not implement: {bad}")
        try:
            config = GPTConfig(
                vocab_size=hf["vocab_size"], block_size=hf["n_positions"], n_layer=hf["n_layer"],
                n_head=hf["n_head"], n_embd=hf["n_embd"], dropout=0.0, bias=True, norm="layernorm",
                pos="learned", tie_weights=hf.get("tie_word_embeddings", True),
                norm_eps=hf.get("layer_norm_epsilon", 1e-5),
            )
        except ValueError as exc:
            raise type(exc)(f"{config_path}: {exc} (read from the GPT-2 config's fields)") from None
        raw = _read_safetensors(weights_path)
        tensors = {}
        for name, t in raw.items():
            name = name.removeprefix("transformer.")
            if name.endswith((".attn.bias", ".attn.masked_bias")):
                continue  # old checkpoints store the causal mask as a buffer
            if name == "lm_head.weight" and config.tie_weights:
                continue
            new = _hf_name(name)
            if new is None:
                raise ValueError(f"{weights_path}: unexpected tensor {name!r} for a GPT-2 model")
            if new.endswith(_HF_TRANSPOSED):
                t = t.t()
            tensors[new] = t.contiguous()
        model = cls(config)
        model.load_tensors(tensors, source=str(weights_path))
        return model if device is None else model.to(_pick_device(device))


    def save_hf(self, folder, tokenizer=None) -> Path:
        """Write this model as a Hugging Face ``GPT2LMHeadModel`` folder (chapter 5).

        ``config.json`` and ``model.safetensors`` in Hugging Face's names and layout (its
        ``Conv1D`` layers keep weights as ``(in, out)``, so the linear weights are transposed), and
        ``tokenizer.json`` when a ``tokenizer`` is given. ``transformers`` then loads it offline with
        ``GPT2LMHeadModel.from_pretrained(folder)``, and :meth:`from_hf_gpt2` reads it back. Only
        GPT-2's architecture can be written: learned positions, LayerNorm, tanh GELU, biases; any
        other setting raises an error naming it.
        """
        from safetensors.torch import save as st_save

        c = self.config
        wrong = {
            "pos": (c.pos, "learned"), "norm": (c.norm, "layernorm"), "gelu": (c.gelu, "tanh"),
            "bias": (c.bias, True),
        }
        bad = [f"{k}={have!r} (GPT-2 has {k}={want!r})" for k, (have, want) in wrong.items() if have != want]
        if bad:
            raise ValueError(
                "save_hf writes GPT-2's architecture only; this model's config differs: " + ", ".join(bad)
                + ". Train a model with those settings to export it, or keep minillm's own format (save)."
            )
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        inverse = {v: k for k, v in _HF_RENAMES.items()}
        block_inverse = {v: k for k, v in _HF_BLOCK.items()}
        tensors = {}
        for name, t in self.state_dict().items():
            if name == "head.weight" and c.tie_weights:
                continue
            if name in inverse:
                hf = inverse[name]
            else:  # blocks.3.mlp.fc.weight -> h.3.mlp.c_fc.weight
                _, layer, *module, leaf = name.split(".")
                hf = f"h.{layer}.{block_inverse['.'.join(module)]}.{leaf}"
            t = t.detach().float().cpu()
            if name.endswith(_HF_TRANSPOSED):
                t = t.t()
            tensors[hf if hf == "lm_head.weight" else f"transformer.{hf}"] = t.contiguous()
        hf_config = {
            "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
            "vocab_size": c.vocab_size, "n_positions": c.block_size, "n_ctx": c.block_size,
            "n_embd": c.n_embd, "n_layer": c.n_layer, "n_head": c.n_head,
            "n_inner": c.mlp_ratio * c.n_embd, "activation_function": "gelu_new",
            "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
            "layer_norm_epsilon": c.norm_eps, "initializer_range": 0.02,
            "scale_attn_weights": True, "tie_word_embeddings": c.tie_weights, "use_cache": True,
        }
        # without these, transformers assumes GPT-2's 50256, which may not even be in the vocabulary
        specials = getattr(tokenizer, "special_tokens", {}) or {}
        end = specials.get("<|endoftext|>")
        hf_config["bos_token_id"] = hf_config["eos_token_id"] = end
        with atomic_write(folder / "model.safetensors") as f:
            f.write(st_save(tensors, metadata={"format": "pt"}))
        with atomic_write(folder / "config.json", "w") as f:
            json.dump(hf_config, f, indent=2)
            f.write("\n")
        if tokenizer is not None:
            tokenizer.save(folder / "tokenizer.json")
        return folder


# --- GPT-2's real weights ---------------------------------------------------------------------

GPT2_REVISION = "607a30d783dfa663caf39e06633721c8d4cfcd7e"
"""The pinned commit of https://huggingface.co/openai-community/gpt2 the files below come from."""

GPT2_FILES = {
    "config.json": "0daed7749b4f02b8f76240d5444551d7b08712dab4d0adb8239c56ba823bb7b4",
    "model.safetensors": "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707",
    "tokenizer.json": "8414cab924d8b9b33013f0d221c5862f365ee9be39c5c2bfae8a5a9e970478a6",
}
"""GPT-2 small's files (548 MB of weights in all) and their sha256 checksums."""


def download_gpt2(folder=None, progress: bool = True) -> Path:
    """Download GPT-2 small (124M) from Hugging Face into ``folder`` and return the folder.

    Default folder: ``cache_dir()/gpt2``. Files already there with the right checksum are kept;
    the others are downloaded (with a progress bar) and checked against :data:`GPT2_FILES`.
    Needs the network; offline it raises :class:`minillm.data.DownloadError` saying how to get
    the files by hand. Load the result with ``GPT.from_hf_gpt2(folder)`` (chapter 3).
    """
    from .data import download, sha256_of
    from .utils import cache_dir

    folder = Path(folder) if folder is not None else cache_dir() / "gpt2"
    base = f"https://huggingface.co/openai-community/gpt2/resolve/{GPT2_REVISION}"
    for name, sha in GPT2_FILES.items():
        path = folder / name
        if path.is_file() and sha256_of(path) == sha:
            continue
        download(f"{base}/{name}", path, sha, progress=progress)
    return folder


# --- helpers for the files ------------------------------------------------------------------

_HF_RENAMES = {
    "wte.weight": "tok_emb.weight",
    "wpe.weight": "pos_emb.weight",
    "ln_f.weight": "norm_f.weight",
    "ln_f.bias": "norm_f.bias",
    "lm_head.weight": "head.weight",
}
_HF_BLOCK = {
    "ln_1": "norm1", "attn.c_attn": "attn.qkv", "attn.c_proj": "attn.proj",
    "ln_2": "norm2", "mlp.c_fc": "mlp.fc", "mlp.c_proj": "mlp.proj",
}
_HF_TRANSPOSED = ("attn.qkv.weight", "attn.proj.weight", "mlp.fc.weight", "mlp.proj.weight")


def _hf_name(name: str) -> str | None:
    """Hugging Face GPT-2 tensor name -> minillm name (``h.3.mlp.c_fc.bias`` -> ``blocks.3.mlp.fc.bias``)."""
    if name in _HF_RENAMES:
        return _HF_RENAMES[name]
    parts = name.split(".")
    if len(parts) >= 4 and parts[0] == "h" and parts[1].isdigit():
        module, leaf = ".".join(parts[2:-1]), parts[-1]
        if module in _HF_BLOCK and leaf in ("weight", "bias"):
            return f"blocks.{parts[1]}.{_HF_BLOCK[module]}.{leaf}"
    return None


def _pick_device(device) -> torch.device:
    from .utils import device as pick

    return pick(device)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); the file is corrupt, save the model again") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, but a config.json must be a JSON "
                         "object {...}; the file is damaged or the wrong file")
    return data


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own SafetensorError (and OSError)
        raise ValueError(
            f"{path} is not a readable safetensors file ({exc}); it may be truncated or corrupt, "
            "save the model again"
        ) from exc
