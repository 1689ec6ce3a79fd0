"""Generation: turn a trained GPT and a prompt into text, one token at a time, fast (chapter 5).

Read top to bottom:

1. Sampling functions on logits ``(B, V)``, each small and separate:
   :func:`apply_temperature`, :func:`top_k_filter`, :func:`top_p_filter`, :func:`min_p_filter`,
   :func:`repetition_penalty`, then :func:`sample` / :func:`greedy`. :func:`process_logits`
   chains them in the order the engine uses.
2. The engine, :func:`generate`: prefill the (left-padded) prompts in one forward pass, then
   decode one token per step against a key/value cache (:class:`minillm.attention.KVCache`),
   with per-row stopping (stop strings, stop token ids, a length limit). It returns a
   :class:`Generation`: token ids, text, per-token log-probabilities and finish reasons.
3. :func:`stream`: the same engine for one prompt, yielding text as it is produced, never
   in the middle of a multi-byte character.
4. Beyond sampling: :func:`beam_search` and :func:`speculative_generate`.
5. :func:`score`: log-probabilities of given completions (later chapters score answers with it).

Shapes: ``B`` rows (prompts), ``V`` vocabulary size, ``T`` tokens.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .utils import InputTypeError, check_bool, check_float, check_int, check_memory

NEG_INF = float("-inf")

# --- 1. sampling functions --------------------------------------------------------------------


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _check_temperature(temperature) -> float:
    if not _is_number(temperature):
        raise InputTypeError(f"temperature must be a finite number >= 0, got {temperature!r} of type "
                             f"{type(temperature).__name__}")
    if not math.isfinite(temperature):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy, 1 = the model's own distribution), "
                         f"got {temperature}")
    return float(temperature)


def _check_top_k(k) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, (bool, np.bool_)):
        raise InputTypeError(f"top_k must be an int >= 1 (or None for no limit), got {k!r} of type "
                             f"{type(k).__name__}")
    k = int(k)
    if k < 1:
        raise ValueError(f"top_k must be an int >= 1 (or None for no limit), got {k!r}")
    return k


def _check_unit(p, name: str, low_open: bool) -> float:
    if not _is_number(p):
        rng = "(0, 1]" if low_open else "[0, 1]"
        raise InputTypeError(f"{name} must be a number in {rng}, got {p!r} of type {type(p).__name__}")
    ok = math.isfinite(p)
    if ok:
        ok = (0 < p <= 1) if low_open else (0 <= p <= 1)
    if not ok:
        rng = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{name} must be a number in {rng}, got {p!r}" +
                         ("; 1 keeps every token" if low_open else "; 0 keeps every token"))
    return float(p)


def _check_logits(logits, name: str = "logits") -> torch.Tensor:
    """``logits`` must be a floating-point tensor ``(..., V)`` with ``V >= 1``."""
    if not isinstance(logits, torch.Tensor):
        raise InputTypeError(f"{name} must be a torch.Tensor of shape (..., V), got "
                             f"{type(logits).__name__}; wrap it with torch.tensor(...)")
    if not logits.is_floating_point():
        raise InputTypeError(f"{name} must be a floating-point tensor (scores of the vocabulary), got "
                             f"dtype {logits.dtype}; use logits.float()")
    if logits.dim() < 1 or logits.size(-1) == 0:
        raise ValueError(f"{name} must have shape (..., V) with V >= 1 tokens, got {tuple(logits.shape)}")
    return logits


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise InputTypeError(f"generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)) "
                             f"or None, got {generator!r}; pass seed=N for a seed")


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits ``(..., V)`` by ``temperature`` (> 0).

    Below 1 the distribution sharpens (towards the most likely token), above 1 it flattens
    (towards uniform). Temperature 0 is the limit "always the most likely token": use
    :func:`greedy` for it (dividing by 0 is not defined).
    """
    t = _check_temperature(temperature)
    _check_logits(logits)
    if t == 0:
        raise ValueError("temperature 0 means greedy decoding: use greedy(logits), not a division by 0")
    return logits / t


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row ``(..., V)``; set the others to ``-inf``.

    Ties with the k-th largest value are all kept. ``k >= V`` changes nothing. From "Hierarchical
    Neural Story Generation" (Fan, Lewis and Dauphin, 2018, https://arxiv.org/abs/1805.04833).
    """
    k = _check_top_k(k)
    _check_logits(logits)
    if k >= logits.size(-1):
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, NEG_INF)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probability reaches ``p``.

    Tokens are sorted by probability; a token is dropped when the tokens ranked above it already
    sum to ``p`` or more. The most likely token is always kept. ``p = 1`` keeps everything. From
    "The Curious Case of Neural Text Degeneration" (Holtzman et al., 2020,
    https://arxiv.org/abs/1904.09751). Shapes: ``(..., V)`` -> ``(..., V)``.
    """
    p = _check_unit(p, "top_p", low_open=True)
    _check_logits(logits)
    if p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = torch.softmax(sorted_logits.float(), dim=-1)
    before = probs.cumsum(dim=-1) - probs  # probability of the tokens ranked above
    drop_sorted = before >= p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, NEG_INF)


def min_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the tokens whose probability is at least ``p`` times the top token's probability.

    The cut adapts to the model's confidence: a sure model keeps few tokens, an unsure one many.
    ``p = 0`` keeps everything. From "Turning Up the Heat: Min-p Sampling for Creative and
    Coherent LLM Outputs" (Nguyen et al., 2024, https://arxiv.org/abs/2407.01082). In logits,
    ``prob >= p * max_prob`` is ``logit >= max_logit + log(p)``.
    """
    p = _check_unit(p, "min_p", low_open=False)
    _check_logits(logits)
    if p == 0.0:
        return logits
    threshold = logits.max(dim=-1, keepdim=True).values + math.log(p)
    return logits.masked_fill(logits < threshold, NEG_INF)


def repetition_penalty(logits: torch.Tensor, ids: torch.Tensor, penalty: float,
                       mask: torch.Tensor | None = None) -> torch.Tensor:
    """Make tokens that already appeared in ``ids`` less likely (``penalty > 1``).

    The rule of the CTRL paper (Keskar et al., 2019, "CTRL: A Conditional Transformer Language
    Model for Controllable Generation", https://arxiv.org/abs/1909.05858), as Hugging Face
    implements it: for every token present in the row's history, a positive logit is divided by
    ``penalty`` and a negative one multiplied by it (both lower the token). ``logits`` ``(B, V)``,
    ``ids`` ``(B, T)`` the history (prompt and generated tokens), ``mask`` ``(B, T)`` bool, False
    at padding. ``penalty = 1`` changes nothing; below 1 it *rewards* repetition.
    """
    if not _is_number(penalty):
        raise InputTypeError(f"repetition_penalty must be a number > 0 (1 = off, 1.1-1.5 typical), got "
                             f"{penalty!r} of type {type(penalty).__name__}")
    if not penalty > 0 or not math.isfinite(penalty):
        raise ValueError(f"repetition_penalty must be a number > 0 (1 = off, 1.1-1.5 typical), got {penalty!r}")
    _check_logits(logits)
    if not isinstance(ids, torch.Tensor) or ids.is_floating_point() or ids.dtype == torch.bool:
        got = f"dtype {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise InputTypeError(f"ids (the history) must be an integer tensor (B, T) of token ids, got {got}")
    if ids.dim() != logits.dim() or ids.shape[:-1] != logits.shape[:-1]:
        raise ValueError(f"ids (the history) must have shape {(*logits.shape[:-1], 'T')} to match logits "
                         f"{tuple(logits.shape)}, got {tuple(ids.shape)}")
    if mask is not None and (not isinstance(mask, torch.Tensor) or mask.shape != ids.shape):
        got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask must be a bool tensor shaped like ids {tuple(ids.shape)}, got {got}")
    if penalty == 1.0 or ids.numel() == 0:
        return logits
    weight = torch.ones_like(ids, dtype=logits.dtype) if mask is None else mask.to(logits.dtype)
    v = logits.size(-1)
    if ids.device.type == "cpu" and (int(ids.min()) < 0 or int(ids.max()) >= v):
        bad = ids[(ids < 0) | (ids >= v)].flatten()[0].item()
        raise ValueError(f"ids (the history) holds token id {bad}, outside the vocabulary of the logits "
                         f"(0..{v - 1})")
    counts = torch.zeros_like(logits).scatter_add_(-1, ids.long(), weight)
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(counts > 0, penalised, logits)


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """The most likely token of each row: ``(B, V)`` -> ``(B,)``."""
    return _check_logits(logits).argmax(dim=-1)


def sample(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one token per row from ``softmax(logits)``: ``(B, V)`` -> ``(B,)``.

    ``generator`` (a seeded ``torch.Generator``) makes the draw repeatable.
    """
    _check_logits(logits)
    _check_generator(generator)
    probs = torch.softmax(logits.float(), dim=-1)
    try:
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    except RuntimeError as exc:  # say which row, in words (checked only on failure: no sync per step)
        bad = (~torch.isfinite(probs)).any(-1) | (probs < 0).any(-1)
        if bad.any():
            row = int(bad.nonzero()[0, 0])
            raise ValueError(f"logits row {row} has no token left to sample: its values are NaN or all "
                             "-inf (every token was filtered out, or the model produced NaN)") from None
        raise ValueError(f"cannot sample from logits of shape {tuple(logits.shape)}: {exc}") from None


@dataclass
class SamplingConfig:
    """The sampling controls of :func:`generate`, checked on creation (chapter 5).

    ``temperature`` 0 = greedy; ``top_k``, ``top_p``, ``min_p`` None = off;
    ``repetition_penalty`` None or 1 = off.
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None

    def __post_init__(self):
        _check_temperature(self.temperature)
        if self.top_k is not None:
            _check_top_k(self.top_k)
        if self.top_p is not None:
            _check_unit(self.top_p, "top_p", low_open=True)
        if self.min_p is not None:
            _check_unit(self.min_p, "min_p", low_open=False)
        if self.repetition_penalty is not None:
            repetition_penalty(torch.zeros(1, 1), torch.zeros(1, 0, dtype=torch.long), self.repetition_penalty)


def process_logits(logits: torch.Tensor, cfg: SamplingConfig, history: torch.Tensor | None = None,
                   history_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Apply the controls of ``cfg`` in order: repetition penalty, temperature, top-k, top-p, min-p.

    (Hugging Face's order.) Returns the logits to sample from; with temperature 0 only the
    repetition penalty applies (greedy takes the argmax of what is left).
    """
    if not isinstance(cfg, SamplingConfig):
        raise InputTypeError(f"cfg must be a SamplingConfig(temperature=..., top_k=...), got "
                             f"{type(cfg).__name__}")
    if cfg.repetition_penalty not in (None, 1.0) and history is not None:
        logits = repetition_penalty(logits, history, cfg.repetition_penalty, history_mask)
    if cfg.temperature == 0:
        return logits
    logits = apply_temperature(logits, cfg.temperature)
    if cfg.top_k is not None:
        logits = top_k_filter(logits, cfg.top_k)
    if cfg.top_p is not None:
        logits = top_p_filter(logits, cfg.top_p)
    if cfg.min_p is not None:
        logits = min_p_filter(logits, cfg.min_p)
    return logits


def choose(logits: torch.Tensor, cfg: SamplingConfig, generator=None, history=None, history_mask=None) -> torch.Tensor:
    """The next token of each row under ``cfg``: ``(B, V)`` -> ``(B,)``."""
    logits = process_logits(logits, cfg, history, history_mask)
    return greedy(logits) if cfg.temperature == 0 else sample(logits, generator)


# --- 2. the engine ----------------------------------------------------------------------------


@dataclass
class Generation:
    """What :func:`generate` returns, one entry per prompt (row).

    - ``ids``: the generated token ids (the prompt not included). A stop token id that ended a
      row is included (so its log-probability is there too); text that a stop string completed
      is included up to the token that completed it.
    - ``text``: the generated text, without a final stop token and cut just before a stop string.
    - ``logprobs``: for each generated token, ``log p(token | everything before)`` under the
      model's *unmodified* distribution: ``log_softmax`` of the raw logits (temperature 1, no
      top-k/top-p/min-p, no repetition penalty), whatever was used to pick the token. This is
      what scoring and RLHF need.
    - ``finish_reasons``: ``"stop_id"`` (a stop token id), ``"stop"`` (a stop string) or
      ``"length"`` (``max_new_tokens`` reached).
    - ``prompt_ids``: the prompts' ids as the model saw them (after any truncation).
    """

    ids: list[list[int]]
    text: list[str | None]
    logprobs: list[list[float]]
    finish_reasons: list[str]
    prompt_ids: list[list[int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def _as_prompt_ids(prompts, tokenizer) -> tuple[list[list[int]], bool]:
    """Prompts (str, list of str, list of ids, list of lists, (B, T) tensor) -> id lists, single?"""
    if isinstance(prompts, np.ndarray) and prompts.dtype.kind in "iu":
        prompts = torch.from_numpy(prompts.astype(np.int64))
    if isinstance(prompts, torch.Tensor):
        if prompts.is_floating_point() or prompts.is_complex() or prompts.dtype == torch.bool:
            raise InputTypeError(f"a prompt tensor must hold integer token ids, got dtype {prompts.dtype}; "
                                 "use prompts.long() if the values are token ids")
        if prompts.dim() == 1:
            return [prompts.tolist()], True
        if prompts.dim() == 2:
            return prompts.tolist(), False
        raise ValueError(f"a prompt tensor must be (T,) or (B, T), got shape {tuple(prompts.shape)}")
    if isinstance(prompts, str):
        prompts, single = [prompts], True
    elif isinstance(prompts, Sequence) and prompts and all(_is_id(i) for i in prompts):
        return [[int(i) for i in prompts]], True
    else:
        single = False
    if not isinstance(prompts, Sequence) or len(prompts) == 0:
        if isinstance(prompts, Sequence):
            raise ValueError("prompts is empty; give a str, a list of str, a list of token ids, or a list "
                             "of such lists")
        raise InputTypeError("prompts must be a str, a list of str, a list of token ids, or a list of "
                         f"such lists; got {type(prompts).__name__} {prompts!r:.60}")
    out = []
    for i, p in enumerate(prompts):
        if isinstance(p, str):
            if tokenizer is None:
                raise ValueError("text prompts need a tokenizer: generate(model, prompts, tokenizer)")
            out.append(tokenizer.encode(p))
        elif isinstance(p, (list, tuple)) and all(_is_id(t) for t in p):
            out.append([int(t) for t in p])
        elif isinstance(p, (list, tuple)):
            bad = next(t for t in p if not _is_id(t))
            raise InputTypeError(f"prompt {i} must be a list of int token ids, but it holds {bad!r} of type "
                                 f"{type(bad).__name__}")
        else:
            raise InputTypeError(f"prompt {i} must be a str or a list of int token ids, got "
                                 f"{type(p).__name__} {p!r:.60}")
    return out, single


def _is_id(t) -> bool:
    return isinstance(t, (int, np.integer)) and not isinstance(t, (bool, np.bool_))


def _utf8_complete(b: bytes | bytearray) -> int:
    """Length of the longest prefix of ``b`` that does not end inside a multi-byte character."""
    n = len(b)
    i = n - 1
    while i >= 0 and n - i <= 4 and (b[i] & 0xC0) == 0x80:  # continuation bytes 10xxxxxx
        i -= 1
    if i < 0 or n - i > 4:
        return n
    lead = b[i]
    need = 1 if lead < 0x80 else 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4 if lead >> 3 == 0b11110 else 1
    return n if n - i >= need else i


def _held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters of ``text`` could be the beginning of a stop string."""
    hold = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), hold, -1):
            if text.endswith(s[:n]):
                hold = n
                break
    return hold


class _StopWatch:
    """Per-row incremental stop-string detection on the decoded text (only at whole characters)."""

    def __init__(self, tokenizer, stops: Sequence[str], rows: int, skip_ids: set[int]):
        self.tok, self.stops, self.skip = tokenizer, list(stops), skip_ids
        self.buf = [bytearray() for _ in range(rows)]
        self.checked = [0] * rows
        self.longest = max((len(s) for s in self.stops), default=0)

    def text(self, row: int) -> str:
        b = self.buf[row]
        return bytes(b[: _utf8_complete(b)]).decode("utf-8", errors="replace")

    def push(self, row: int, token: int) -> bool:
        """Add a token to row ``row``; True when a stop string now appears in its text."""
        if token not in self.skip:
            self.buf[row] += self.tok.decode_bytes([token])
        if not self.stops:
            return False
        text = self.text(row)
        lo = max(0, self.checked[row] - self.longest + 1)
        hit = any(text.find(s, lo) >= 0 for s in self.stops)
        self.checked[row] = len(text)
        return hit


def _final_text(tokenizer, ids: list[int], stop_ids: set[int], stops: Sequence[str]) -> str:
    if ids and ids[-1] in stop_ids:
        ids = ids[:-1]
    text = tokenizer.decode(ids)
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return text[:cut] if cut >= 0 else text


def _left_pad(prompts: list[list[int]], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Id lists -> left-padded ``(B, T)`` ids (pad id 0) and a ``(B, T)`` mask, True at real tokens."""
    t = max(len(p) for p in prompts)
    ids = torch.zeros(len(prompts), t, dtype=torch.long)
    mask = torch.zeros(len(prompts), t, dtype=torch.bool)
    for i, p in enumerate(prompts):
        if p:
            ids[i, t - len(p):] = torch.tensor(p, dtype=torch.long)
            mask[i, t - len(p):] = True
    return ids.to(device), mask.to(device)


def _model_device(model) -> torch.device:
    return model.tok_emb.weight.device


def _check_model(model, name: str = "model") -> None:
    """``model`` must be a minillm GPT (the engine needs its config, cache and cached forward)."""
    cfg = getattr(model, "config", None)
    if (not isinstance(model, torch.nn.Module) or not hasattr(cfg, "vocab_size") or not hasattr(cfg, "block_size")
            or not hasattr(model, "forward_cached") or not hasattr(model, "new_cache")):
        raise InputTypeError(f"{name} must be a minillm GPT (minillm.model.GPT), got {type(model).__name__}"
                             f"{'' if not isinstance(model, str) else f' {model!r}'}; load one with "
                             "minillm.pretrained(...) or GPT.load(folder)")


def _check_tokenizer(tokenizer) -> None:
    if tokenizer is not None and not (hasattr(tokenizer, "encode") and hasattr(tokenizer, "decode")
                                      and hasattr(tokenizer, "decode_bytes")):
        raise InputTypeError(f"tokenizer must be a minillm tokenizer (with encode, decode and decode_bytes) "
                             f"or None, got {type(tokenizer).__name__} {tokenizer!r:.40}")


def _prepare(model, prompts, tokenizer, max_new_tokens, stop, stop_ids, truncate_prompt, overflow,
             start_id, reserve: int = 0):
    """Check every input of the engine; returns prompt ids, stop ids and the stop strings."""
    _check_model(model)
    _check_tokenizer(tokenizer)
    cfg = model.config
    if not _is_id(max_new_tokens):
        raise InputTypeError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r} of type "
                             f"{type(max_new_tokens).__name__}")
    max_new_tokens = int(max_new_tokens)
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    check_bool("truncate_prompt", truncate_prompt)
    if not isinstance(overflow, str) or overflow not in ("error", "slide"):
        raise ValueError(f"overflow must be 'error' or 'slide', got {overflow!r}")
    ids, single = _as_prompt_ids(prompts, tokenizer)
    v = cfg.vocab_size
    if start_id is not None and not _is_id(start_id):
        raise InputTypeError(f"start_id must be a token id (an int) of this model, got {start_id!r} of type "
                             f"{type(start_id).__name__}; e.g. tokenizer.token_to_id('<|endoftext|>')")
    if start_id is not None and not 0 <= start_id < v:
        raise ValueError(f"start_id {start_id!r} is not a token id of this model (0..{v - 1})")
    for i, p in enumerate(ids):
        if not p:
            if start_id is None:
                raise ValueError(
                    f"prompt {i} is empty and there is no start token to begin from; give some text, "
                    "or pass start_id (e.g. tokenizer.token_to_id('<|endoftext|>'))")
            ids[i] = [start_id]
        bad = [t for t in ids[i] if not 0 <= t < v]
        if bad:
            raise ValueError(f"prompt {i} holds token id {bad[0]}, outside the vocabulary (0..{v - 1}); "
                             "do the tokenizer and the model match?")
    limit = cfg.block_size
    for i, p in enumerate(ids):
        if len(p) > limit:
            if not truncate_prompt:
                raise ValueError(
                    f"prompt {i} has {len(p)} tokens, more than the model's context (block_size={limit}); "
                    f"shorten it, or pass truncate_prompt=True to keep its last {limit} tokens")
            ids[i] = p[-limit:]
    longest = max(len(p) for p in ids)
    # the last new token is never fed back, so it needs no slot
    if overflow == "error" and longest + max_new_tokens - 1 + reserve > limit:
        raise ValueError(
            f"the prompt ({longest} tokens) plus max_new_tokens={max_new_tokens} exceed the model's "
            f"context (block_size={limit}); ask for fewer tokens, shorten the prompt "
            "(truncate_prompt=True keeps its end), or pass overflow='slide' to keep generating "
            "over a sliding window of the last block_size tokens")
    if stop_ids is None:
        stop_set = set()
    else:
        if _is_id(stop_ids):
            stop_ids = [stop_ids]
        if isinstance(stop_ids, (str, bytes)) or not isinstance(stop_ids, (Sequence, set, frozenset, torch.Tensor)):
            raise InputTypeError(f"stop_ids must be a token id or a list of token ids, got {stop_ids!r:.60}; "
                                 "for text, pass stop='...'")
        if isinstance(stop_ids, torch.Tensor):
            stop_ids = stop_ids.flatten().tolist()
        stop_set = set()
        for s in stop_ids:
            if not _is_id(s):
                raise InputTypeError(f"stop id {s!r} is not a token id (an int) of this model; "
                                     "use tokenizer.token_to_id('<|end|>') for a special token")
            s = int(s)
            if not 0 <= s < v:
                raise ValueError(f"stop id {s!r} is not a token id of this model (0..{v - 1}); "
                                 "use tokenizer.token_to_id('<|end|>') for a special token")
            stop_set.add(s)
    if stop is None:
        stops = []
    else:
        if not isinstance(stop, (str, list, tuple, set, frozenset)):
            raise InputTypeError(f"stop must be a non-empty string or a list of them, got {stop!r} of type "
                                 f"{type(stop).__name__}; for token ids, pass stop_ids=...")
        stops = [stop] if isinstance(stop, str) else list(stop)
        wrong = [s for s in stops if not isinstance(s, str)]
        if wrong:
            raise InputTypeError(f"stop must be a non-empty string or a list of them, got {stop!r}: "
                                 f"{wrong[0]!r} is of type {type(wrong[0]).__name__}, not str")
        if not all(stops):
            raise ValueError(f"stop must be a non-empty string or a list of them, got {stop!r}")
        if tokenizer is None:
            raise ValueError("stop strings are checked on decoded text: pass the tokenizer")
    return ids, single, stop_set, stops


@torch.inference_mode()
def _run(model, prompts, tokenizer=None, *, max_new_tokens: int = 64, temperature: float = 1.0,
         top_k=None, top_p=None, min_p=None, repetition_penalty=None, stop=None, stop_ids=None,
         seed: int | None = None, generator: torch.Generator | None = None, use_cache: bool = True,
         truncate_prompt: bool = False, overflow: str = "error", start_id: int | None = None):
    """The engine, as a generator: yields ``(tokens (B,), done (B,))`` after every step and
    returns the :class:`Generation` (see :func:`generate` for the arguments)."""
    _check_model(model)
    cfg = SamplingConfig(temperature, top_k, top_p, min_p, repetition_penalty)
    vocab = getattr(getattr(model, "config", None), "vocab_size", None)
    if top_k is not None and vocab is not None and top_k > vocab:
        raise ValueError(f"top_k={top_k} is larger than the vocabulary ({vocab} tokens); "
                         "use top_k=None for no limit")
    ids, _, stop_set, stops = _prepare(model, prompts, tokenizer, max_new_tokens, stop, stop_ids,
                                       truncate_prompt, overflow, start_id)
    check_bool("use_cache", use_cache)
    seed = check_int("seed", seed, 0, 2**63 - 1, allow_none=True)
    _check_generator(generator)
    dev = _model_device(model)
    # the history (ids, mask) and the log-probabilities grow with max_new_tokens: check before allocating
    check_memory(len(ids) * (max(map(len, ids)) + max_new_tokens) * 13,
                 f"max_new_tokens={max_new_tokens} for {len(ids)} prompt(s)", dev)
    if generator is None and seed is not None:
        generator = torch.Generator(device=dev).manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        b = len(ids)
        seq, mask = _left_pad(ids, dev)  # (B, P)
        padded = not bool(mask.all())
        block = model.config.block_size
        rolling = model.config.pos == "rope" and overflow == "slide"
        p_len = seq.size(1)
        total = p_len + max_new_tokens
        cache = None
        if use_cache:
            # room for the whole run, or a window of block_size (rolling, or re-prefilled when full)
            cache = model.new_cache(b, min(total, block), rolling=rolling)
            logits = model.forward_cached(seq, cache, padding_mask=mask if padded else None)[:, -1]
        else:
            logits = _full_forward(model, seq, mask if padded else None)
        history = torch.zeros(b, total, dtype=torch.long, device=dev)
        hmask = torch.zeros(b, total, dtype=torch.bool, device=dev)
        history[:, :p_len], hmask[:, :p_len] = seq, mask
        new_lp = torch.zeros(b, max_new_tokens, device=dev)
        done = torch.zeros(b, dtype=torch.bool, device=dev)
        lengths = torch.full((b,), max_new_tokens, dtype=torch.long, device=dev)
        reasons = ["length"] * b
        stop_t = torch.tensor(sorted(stop_set), dtype=torch.long, device=dev) if stop_set else None
        watch = _StopWatch(tokenizer, stops, b, stop_set) if stops else None
        use_hist = cfg.repetition_penalty not in (None, 1.0)
        for step in range(max_new_tokens):
            n = p_len + step
            logits = logits.float()
            nxt = choose(logits, cfg, generator, history[:, :n] if use_hist else None,
                         hmask[:, :n] if use_hist else None)
            new_lp[:, step] = torch.log_softmax(logits, dim=-1).gather(1, nxt[:, None])[:, 0]
            history[:, n], hmask[:, n] = nxt, True
            finished_now = torch.zeros_like(done)
            if stop_t is not None:
                finished_now |= torch.isin(nxt, stop_t) & ~done
                for r in finished_now.nonzero().flatten().tolist():
                    reasons[r] = "stop_id"
            if watch is not None:
                for r in (~done & ~finished_now).nonzero().flatten().tolist():
                    if watch.push(r, int(nxt[r])):
                        finished_now[r] = True
                        reasons[r] = "stop"
            if finished_now.any():
                lengths[finished_now] = step + 1
                done |= finished_now
            yield nxt, done
            if step == max_new_tokens - 1 or bool(done.all()):
                break
            if cache is None:
                window = history[:, max(0, n + 1 - block): n + 1]
                wmask = hmask[:, max(0, n + 1 - block): n + 1]
                logits = _full_forward(model, window, wmask if padded else None)
            elif cache.length >= cache.max_len and not cache.rolling:
                # learned/sinusoidal positions past the context: start again from the last half
                keep = max(1, block // 2)
                cache.reset()
                window, wmask = history[:, n + 1 - keep: n + 1], hmask[:, n + 1 - keep: n + 1]
                logits = model.forward_cached(window, cache, padding_mask=wmask if padded else None)[:, -1]
            else:
                logits = model.forward_cached(nxt[:, None], cache)[:, -1]
    finally:
        model.train(was_training)
    lens = lengths.tolist()
    gen = history[:, p_len:].tolist()
    lps = new_lp.tolist()
    out_ids = [gen[r][: lens[r]] for r in range(b)]
    text = [_final_text(tokenizer, out_ids[r], stop_set, stops) if tokenizer is not None else None
            for r in range(b)]
    return Generation(out_ids, text, [lps[r][: lens[r]] for r in range(b)], reasons, ids)


def _full_forward(model, seq: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Last-position logits ``(B, V)`` recomputed from scratch over ``seq`` (no cache kept).

    Runs the same code as the cached path, through a throwaway cache (which also gives
    left-padded rows their own positions), so that timing it against the cache measures the
    cache and nothing else.
    """
    cache = model.new_cache(seq.size(0), seq.size(1))
    return model.forward_cached(seq, cache, padding_mask=mask)[:, -1]


def generate(model, prompts, tokenizer=None, *, max_new_tokens: int = 64, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, min_p: float | None = None,
             repetition_penalty: float | None = None, stop=None, stop_ids=None,
             seed: int | None = None, generator: torch.Generator | None = None,
             use_cache: bool = True, truncate_prompt: bool = False, overflow: str = "error",
             start_id: int | None = None) -> Generation:
    """Continue one or several prompts with ``model`` (a :class:`minillm.model.GPT`) (chapter 5).

    ``prompts``: a str, a list of str (needs ``tokenizer``), a list of token ids, a list of
    such lists, or a ``(B, T)`` tensor. Prompts of different lengths are left-padded into one
    batch; each row keeps the positions it would have alone, so its output does not depend on
    the others. The prompt is prefilled in one forward pass, then each step feeds only the new
    token against the key/value cache (``use_cache=False`` recomputes the whole window every
    step: same tokens, slower; chapter 5 measures it).

    - Sampling: ``temperature`` (0 = greedy), ``top_k``, ``top_p``, ``min_p``,
      ``repetition_penalty`` (see :func:`process_logits`); ``seed`` or ``generator`` make
      sampling repeatable.
    - Stopping, per row: ``stop`` (a string or list of strings, matched on the decoded text),
      ``stop_ids`` (token ids, e.g. ``<|end|>``), ``max_new_tokens``.
    - Length: by default the prompt plus ``max_new_tokens`` must fit in ``block_size``.
      ``truncate_prompt=True`` keeps a too-long prompt's last tokens. ``overflow="slide"``
      generates past the context: with rotary positions the cache becomes a sliding window of
      the last ``block_size`` tokens (exact window attention); with learned or sinusoidal
      positions the engine restarts from the last ``block_size // 2`` tokens whenever the
      cache is full (so output past the context differs from ``use_cache=False``, which crops
      to the last ``block_size`` tokens at every step).
    - ``start_id``: the token an empty prompt starts from (without it an empty prompt is an error).

    Returns a :class:`Generation` (ids, text, log-probabilities, finish reasons).
    """
    it = _run(model, prompts, tokenizer, max_new_tokens=max_new_tokens, temperature=temperature,
              top_k=top_k, top_p=top_p, min_p=min_p, repetition_penalty=repetition_penalty,
              stop=stop, stop_ids=stop_ids, seed=seed, generator=generator, use_cache=use_cache,
              truncate_prompt=truncate_prompt, overflow=overflow, start_id=start_id)
    while True:
        try:
            next(it)
        except StopIteration as fin:
            return fin.value


_RUN_ARGS = {"max_new_tokens", "temperature", "top_k", "top_p", "min_p", "repetition_penalty", "stop",
             "stop_ids", "seed", "generator", "use_cache", "truncate_prompt", "overflow", "start_id"}

# --- 3. streaming -----------------------------------------------------------------------------


class stream:  # noqa: N801 - used like a function: `for piece in stream(...)`
    """Generate for one prompt and yield the text as it is produced (chapter 5; the CLI chat uses it).

    ``for piece in stream(model, tokenizer, "Once upon", max_new_tokens=50): print(piece, end="")``

    Takes the arguments of :func:`generate` (one prompt). A piece is yielded only at a whole
    UTF-8 character, never in the middle of a multi-byte one, and text that might be the start
    of a stop string is held back until it is clear. The concatenated pieces equal
    ``generation.text[0]``; after the loop, ``.generation`` holds the full :class:`Generation`.
    """

    def __init__(self, model, tokenizer, prompt, **kwargs):
        if tokenizer is None:
            raise ValueError("stream needs the tokenizer to turn tokens into text")
        unknown = sorted(set(kwargs) - _RUN_ARGS)
        if unknown:
            raise TypeError(f"stream got an unknown argument {unknown[0]!r}; it takes the arguments of "
                            f"generate(): {', '.join(sorted(_RUN_ARGS))}")
        ids, _ = _as_prompt_ids(prompt, tokenizer)
        if len(ids) != 1:
            raise ValueError(f"stream takes one prompt, got {len(ids)}; use generate() for a batch")
        self.model, self.tokenizer, self.prompt, self.kwargs = model, tokenizer, ids[0], kwargs
        self.generation: Generation | None = None

    def __iter__(self) -> Iterator[str]:
        kw = self.kwargs
        run = _run(self.model, [self.prompt], self.tokenizer, **kw)
        stop_ids = kw.get("stop_ids")
        stop_ids = {stop_ids} if isinstance(stop_ids, int) else set(stop_ids or ())
        stops = kw.get("stop")
        stops = [stops] if isinstance(stops, str) else list(stops or ())
        watch = _StopWatch(self.tokenizer, [], 1, stop_ids)
        emitted = 0
        while True:
            try:
                tok, done = next(run)
            except StopIteration as fin:
                self.generation = fin.value
                break
            watch.push(0, int(tok[0]))
            text = watch.text(0)
            cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
            end = cut if cut >= 0 else len(text) - _held_back(text, stops)
            if end > emitted:
                yield text[emitted:end]
                emitted = end
        final = self.generation.text[0]
        if len(final) > emitted:
            yield final[emitted:]


# --- 4. beyond sampling: beam search and speculative decoding ---------------------------------


@dataclass
class Beam:
    """One finished beam-search hypothesis: generated ``ids``, summed ``logprob``, length-normalised
    ``score``, and ``text`` when a tokenizer was given."""

    ids: list[int]
    logprob: float
    score: float
    text: str | None = None


@torch.inference_mode()
def beam_search(model, prompt, tokenizer=None, *, num_beams: int = 4, max_new_tokens: int = 32,
                length_penalty: float = 1.0, stop_ids=None) -> list[Beam]:
    """Search for a likely continuation by keeping the ``num_beams`` best partial sequences (chapter 5).

    At each step every beam is extended by every token; the ``num_beams`` extensions with the
    highest total log-probability survive (the cache rows are reordered to follow their parent
    beams). A beam that emits a stop id is finished; finished beams are ranked by
    ``logprob / length ** length_penalty`` (0 = no normalisation; larger favours longer).
    Returns the hypotheses, best first. One prompt (str with a tokenizer, or a list of ids).
    """
    num_beams = check_int("num_beams", num_beams, 1)
    length_penalty = check_float("length_penalty", length_penalty)
    ids, _, stop_set, _ = _prepare(model, prompt, tokenizer, max_new_tokens, None, stop_ids, False,
                                   "error", None)
    c = model.config
    # every beam has its own key/value cache rows: n_layer * 2 * (prompt + new) * n_embd floats
    check_memory(num_beams * c.n_layer * 2 * (len(ids[0]) + max_new_tokens) * c.n_embd * 4,
                 f"num_beams={num_beams} (one key/value cache per beam)", _model_device(model))
    if len(ids) != 1:
        raise ValueError(f"beam_search takes one prompt, got {len(ids)}")
    dev = _model_device(model)
    was_training = model.training
    model.eval()
    try:
        prompt_t = torch.tensor([ids[0]], dtype=torch.long, device=dev)
        cache = model.new_cache(1, max(1, len(ids[0]) + max_new_tokens))
        logits = model.forward_cached(prompt_t, cache)[:, -1]
        cache.reorder(torch.zeros(num_beams, dtype=torch.long, device=dev))
        logits = logits.expand(num_beams, -1)
        scores = torch.full((num_beams,), NEG_INF, device=dev)
        scores[0] = 0.0  # all beams start equal: expand the first only, so they differ
        seqs: list[list[int]] = [[] for _ in range(num_beams)]
        finished: list[Beam] = []

        def norm(lp, n):
            return lp / (max(n, 1) ** length_penalty)

        for step in range(max_new_tokens):
            logp = torch.log_softmax(logits.float(), dim=-1)
            cand = (scores[:, None] + logp).flatten()
            top = torch.topk(cand, min(2 * num_beams, cand.numel()))
            v = logp.size(-1)
            parents, tokens, new_scores = [], [], []
            for s, flat in zip(top.values.tolist(), top.indices.tolist()):
                if s == NEG_INF:
                    break
                parent, token = divmod(flat, v)
                if token in stop_set:
                    finished.append(Beam(seqs[parent] + [token], s, norm(s, step + 1)))
                    continue
                parents.append(parent)
                tokens.append(token)
                new_scores.append(s)
                if len(parents) == num_beams:
                    break
            if not parents:
                break
            while len(parents) < num_beams:  # fewer live candidates than beams: pad with dead ones
                parents.append(parents[0])
                tokens.append(tokens[0])
                new_scores.append(NEG_INF)
            seqs = [seqs[p] + [t] for p, t in zip(parents, tokens)]
            scores = torch.tensor(new_scores, device=dev)
            if len(finished) >= num_beams:
                best_live = max(norm(s, step + 1) for s in new_scores)
                if best_live <= min(sorted((f.score for f in finished), reverse=True)[:num_beams]):
                    break
            if step == max_new_tokens - 1:
                break
            cache.reorder(torch.tensor(parents, dtype=torch.long, device=dev))
            logits = model.forward_cached(torch.tensor(tokens, device=dev)[:, None], cache)[:, -1]
        for s, seq in zip(scores.tolist(), seqs):
            if s > NEG_INF:
                finished.append(Beam(seq, s, norm(s, len(seq))))
    finally:
        model.train(was_training)
    finished.sort(key=lambda h: h.score, reverse=True)
    out = finished[:num_beams]
    if tokenizer is not None:
        for h in out:
            h.text = _final_text(tokenizer, h.ids, stop_set, [])
    return out


@dataclass
class Speculation:
    """What :func:`speculative_generate` returns: generated ``ids`` (and ``text``), and counts:
    ``proposed`` draft tokens, ``accepted`` ones, ``rounds`` (target forward passes)."""

    ids: list[int]
    text: str | None
    proposed: int
    accepted: int
    rounds: int

    @property
    def acceptance_rate(self) -> float:
        """Fraction of the draft's proposals the target accepted."""
        return self.accepted / max(self.proposed, 1)


@torch.inference_mode()
def speculative_generate(target, draft, prompt, tokenizer=None, *, max_new_tokens: int = 64,
                         k: int = 4, temperature: float = 1.0, seed: int | None = None,
                         generator: torch.Generator | None = None, stop_ids=None) -> Speculation:
    """Speculative decoding: a small ``draft`` model proposes ``k`` tokens, ``target`` checks them
    in one forward pass (chapter 5).

    The rule of "Fast Inference from Transformers via Speculative Decoding" (Leviathan, Kalman
    and Matias, 2023, https://arxiv.org/abs/2211.17192) and "Accelerating Large Language Model
    Decoding with Speculative Sampling" (Chen et al., 2023, https://arxiv.org/abs/2302.01318):
    draft token ``x`` with draft probability ``q(x)`` and target probability ``p(x)`` is accepted
    with probability ``min(1, p(x) / q(x))``; at the first rejection the token is drawn from
    ``max(0, p - q)`` renormalised; if all ``k`` are accepted a bonus token comes from the
    target's next distribution. The output then follows the target's distribution *exactly*
    (at the given ``temperature``; 0 = greedy, where the output equals the target's greedy
    output). One prompt; both models must share the tokenizer.
    """
    if not _is_id(k):
        raise InputTypeError(f"k (draft tokens per round) must be an int >= 1, got {k!r}")
    if k < 1:
        raise ValueError(f"k (draft tokens per round) must be an int >= 1, got {k!r}")
    temperature = _check_temperature(temperature)
    _check_model(target, "target")
    _check_model(draft, "draft")
    seed = check_int("seed", seed, 0, 2**63 - 1, allow_none=True)
    _check_generator(generator)
    if draft.config.vocab_size != target.config.vocab_size:
        raise ValueError(f"the draft's vocabulary ({draft.config.vocab_size}) differs from the "
                         f"target's ({target.config.vocab_size}); they must share a tokenizer")
    ids, _, stop_set, _ = _prepare(target, prompt, tokenizer, max_new_tokens, None, stop_ids, False,
                                   "error", None, reserve=k + 1)
    _prepare(draft, ids, None, max_new_tokens, None, None, False, "error", None, reserve=k + 1)
    if len(ids) != 1:
        raise ValueError(f"speculative_generate takes one prompt, got {len(ids)}")
    dev = _model_device(target)
    if generator is None and seed is not None:
        generator = torch.Generator(device=dev).manual_seed(seed)
    states = [(m, m.training) for m in (target, draft)]
    for m, _ in states:
        m.eval()

    def dist(logits):  # (N, V) -> probabilities at this temperature (one-hot for greedy)
        logits = logits.float()
        if temperature == 0:
            return F.one_hot(logits.argmax(-1), logits.size(-1)).float()
        return torch.softmax(logits / temperature, dim=-1)

    def draw(p):  # p (V,) -> int
        if temperature == 0:
            return int(p.argmax())
        return int(torch.multinomial(p, 1, generator=generator))

    try:
        n_max = len(ids[0]) + max_new_tokens + k + 1
        t_cache, d_cache = target.new_cache(1, n_max), draft.new_cache(1, n_max)
        prompt_t = torch.tensor([ids[0]], dtype=torch.long, device=dev)
        # both models see the prompt but its last token, which each round starts by feeding
        if prompt_t.size(1) > 1:
            target.forward_cached(prompt_t[:, :-1], t_cache)
            draft.forward_cached(prompt_t[:, :-1], d_cache)
        out: list[int] = []
        t_pending, d_pending = [ids[0][-1]], [ids[0][-1]]
        proposed = accepted = rounds = 0
        while len(out) < max_new_tokens:
            kk = min(k, max_new_tokens - len(out))
            # 1. the draft proposes kk tokens, one at a time
            d_start, n_dp = d_cache.length, len(d_pending)
            props, qs = [], []
            for _ in range(kk):
                q = dist(draft.forward_cached(torch.tensor([d_pending], device=dev), d_cache)[0, -1:])[0]
                x = draw(q)
                props.append(x)
                qs.append(q)
                d_pending = [x]
            # 2. the target scores them all in one pass: kk + 1 next-token distributions
            t_start = t_cache.length
            feed = torch.tensor([t_pending + props], device=dev)
            p_all = dist(target.forward_cached(feed, t_cache, last_only=False)[0])
            rounds += 1
            proposed += kk
            # 3. accept or reject, left to right
            # (all ratios p(x) / q(x) and all uniform draws at once: one sync instead of 2k)
            picked = torch.tensor(props, device=dev)[:, None]
            q_stack = torch.stack(qs)
            ratios = (p_all[:kk].gather(1, picked) / q_stack.gather(1, picked))[:, 0].tolist()
            draws = torch.rand(kk, generator=generator, device=dev).tolist()
            n_ok = 0
            new: list[int] = []
            for i, x in enumerate(props):
                if draws[i] < min(1.0, ratios[i]):  # q(x) > 0: x was drawn from q
                    n_ok += 1
                    new.append(x)
                    if x in stop_set:
                        break
                    continue
                residual = (p_all[i] - q_stack[i]).clamp(min=0)
                total = residual.sum()
                new.append(draw(residual / total if total > 0 else p_all[i]))
                break
            else:
                new.append(draw(p_all[kk]))  # every proposal accepted: a bonus token
            accepted += n_ok
            # 4. roll the caches back to the tokens that are now certain
            t_cache.truncate(t_start + 1 + n_ok)
            if n_ok == kk:
                # the draft never fed its last proposal: it goes in next round, before the bonus
                d_pending = [props[-1], new[-1]]
            else:
                d_cache.truncate(d_start + n_dp + n_ok)
                d_pending = [new[-1]]
            t_pending = [new[-1]]
            out.extend(new)
            if any(t in stop_set for t in new):
                out = out[: next(i for i, t in enumerate(out) if t in stop_set) + 1]
                break
        out = out[:max_new_tokens]
    finally:
        for m, was in states:
            m.train(was)
    text = _final_text(tokenizer, out, stop_set, []) if tokenizer is not None else None
    return Speculation(out, text, proposed, accepted, rounds)


# --- 5. scoring -------------------------------------------------------------------------------


@torch.no_grad()
def score(model, prompts: list[list[int]], completions: list[list[int]]) -> list[list[float]]:
    """``log p(completion token | prompt, earlier completion tokens)`` for each completion token.

    The log-probabilities :func:`generate` reports, for given text: later chapters score answers
    (which of several answers the model prefers) and compute rewards with it. One forward pass
    over the left-padded batch; every row keeps its own positions.
    """
    _check_model(model)
    v = model.config.vocab_size
    for name, lists in (("prompts", prompts), ("completions", completions)):
        if not isinstance(lists, (list, tuple)) or not all(isinstance(x, (list, tuple)) for x in lists):
            raise InputTypeError(f"{name} must be a list of lists of token ids (one per row), got "
                                 f"{lists!r:.60}")
        for i, row in enumerate(lists):
            bad = [t for t in row if not _is_id(t)]
            if bad:
                raise InputTypeError(f"{name}[{i}] holds {bad[0]!r} of type {type(bad[0]).__name__}; "
                                     "token ids are ints")
            out = [t for t in row if not 0 <= t < v]
            if out:
                raise ValueError(f"{name}[{i}] holds token id {out[0]}, outside the vocabulary (0..{v - 1}); "
                                 "do the tokenizer and the model match?")
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions; pass one each")
    if not prompts:
        raise ValueError("prompts is empty; pass at least one prompt and its completion")
    rows = []
    for i, (p, c) in enumerate(zip(prompts, completions)):
        if not p:
            raise ValueError(f"prompt {i} is empty; the first completion token needs a token before it")
        rows.append([int(t) for t in p] + [int(t) for t in c])
    if max(len(r) for r in rows) > model.config.block_size:
        raise ValueError(f"a prompt plus its completion is longer than the context "
                         f"(block_size={model.config.block_size})")
    dev = _model_device(model)
    seq, mask = _left_pad(rows, dev)
    was = model.training
    model.eval()
    try:
        cache = model.new_cache(seq.size(0), seq.size(1))
        logits = model.forward_cached(seq, cache, padding_mask=mask, last_only=False).float()
    finally:
        model.train(was)
    logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, seq[:, 1:, None])[..., 0]
    out = []
    t = seq.size(1)
    for i, c in enumerate(completions):
        n = len(c)
        out.append(logp[i, t - 1 - n:].tolist() if n else [])
    return out
