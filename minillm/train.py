"""Pretraining: the loop that turns a random model into one that writes stories (chapter 4).

The loop is the one chapter 4 writes out by hand, made safe for long runs:

- **Batches.** :class:`RandomWindows` cuts random windows of ``block_size + 1`` tokens out of
  one long token array; ``x`` is a window without its last token and ``y`` the same window
  shifted by one, both ``(B, T)``. The windows of step ``s`` depend only on ``(seed, s)``, so
  the *data position* of a run is just its step number: resuming needs no iterator state, and
  with several processes each rank takes its own slice of the same global batch.
- **Optimisation.** AdamW with weight decay on the weight matrices only (no decay on norms,
  biases and embeddings, see :func:`param_groups`), linear warmup then cosine decay
  (:func:`lr_at`), gradient clipping, gradient accumulation, bf16 autocast on CUDA only,
  optional ``torch.compile``.
- **Nothing lost.** Every ``checkpoint_every`` steps the model, optimizer, scheduler, step
  (the data position), random states and history go to ``out_dir/checkpoint.pt``, written
  atomically; ``resume=True`` continues exactly where the checkpoint left off. A NaN or infinite
  loss stops the run with :class:`NonFiniteLossError` before it touches the weights or the
  checkpoint.
- **Scale out.** Launched with ``torchrun --nproc_per_node=N``, the same code trains with
  DistributedDataParallel (gloo on CPU, nccl on GPU); only rank 0 writes files and shows the bar.

:func:`minillm.zoo.pretrained` trains the chapter's TinyWorld recipe with this trainer once and
caches it; ``minillm pretrain`` (:mod:`minillm.cli`) runs it on any corpus.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .utils import (
    InputTypeError,
    atomic_write,
    check_bool,
    check_float,
    check_int,
    check_memory,
    check_output_dir,
    format_bytes,
    remove_stale_temporaries,
)

CHECKPOINT = "checkpoint.pt"


# ----------------------------------------------------------------------------------------------
# configuration


@dataclass
class TrainConfig:
    """How to train: steps, batch, learning-rate schedule, evaluation and checkpoints.

    ``batch_size`` counts sequences per process and micro-step; one optimizer step sees
    ``batch_size * grad_accum * world_size`` sequences of ``block_size`` tokens.
    ``steps=None`` with ``minutes`` set lets the trainer choose the number of steps from the
    speed of its first steps. Presets: ``TrainConfig.preset("tinyworld")`` and others in
    :data:`PRESETS`.

    - ``schedule``: ``"cosine"`` (warmup, then half a cosine down to ``min_lr``) or ``"wsd"``
      (warmup-stable-decay: warmup, constant ``lr``, then a linear decay to ``min_lr`` over the
      last ``decay_frac`` of the steps after warmup; Hu et al., 2024, "MiniCPM",
      arXiv:2404.06395). See :func:`lr_at`.
    - ``optimizer``: ``"adamw"``, or ``"muon"`` (:class:`minillm.optim.Muon` at ``muon_lr``
      with momentum ``muon_momentum`` for the hidden weight matrices, AdamW at ``lr`` for
      embeddings, head, norms and biases; the schedule scales both rates alike).
    """

    steps: int | None = 1000
    minutes: float | None = None  # stop after this much training time (also a safety cap)
    batch_size: int = 16
    block_size: int | None = None  # None: the model's context length (model.config.block_size)
    grad_accum: int = 1
    lr: float = 1e-3
    min_lr: float | None = None  # None: lr / 10
    warmup_steps: int = 100
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float | None = 1.0  # None or 0 turns clipping off
    eval_every: int = 100
    eval_batches: int = 20
    checkpoint_every: int = 0  # 0: only at the end of the run (when out_dir is set)
    out_dir: str | None = None
    seed: int = 0
    compile: bool = False
    amp: bool = True  # bf16 autocast; only ever used on CUDA
    progress: bool = True
    schedule: str = "cosine"
    decay_frac: float = 0.2  # "wsd" only: the share of the post-warmup steps spent decaying
    optimizer: str = "adamw"
    muon_lr: float = 0.02
    muon_momentum: float = 0.95

    def __post_init__(self) -> None:
        if isinstance(self.betas, (str, bytes)) or not hasattr(self.betas, "__len__") or len(self.betas) != 2:
            raise InputTypeError(f"TrainConfig.betas must be a pair of numbers such as (0.9, 0.95), "
                                 f"got {self.betas!r}")
        self.betas = tuple(self.betas)
        for k, b in enumerate(self.betas):
            check_float(f"TrainConfig.betas[{k}]", b, 0.0, 1.0, exclusive_maximum=True)
        if self.schedule not in ("cosine", "wsd"):
            raise ValueError(f"TrainConfig.schedule must be 'cosine' or 'wsd', got {self.schedule!r}")
        if not (isinstance(self.decay_frac, (int, float)) and 0.0 < self.decay_frac <= 1.0):
            raise ValueError(f"TrainConfig.decay_frac must be in (0, 1], got {self.decay_frac!r}")
        if self.optimizer not in ("adamw", "muon"):
            raise ValueError(f"TrainConfig.optimizer must be 'adamw' or 'muon', got {self.optimizer!r}")
        if not (isinstance(self.muon_lr, (int, float)) and self.muon_lr > 0):
            raise ValueError(f"TrainConfig.muon_lr must be positive, got {self.muon_lr!r}")
        if not (isinstance(self.muon_momentum, (int, float)) and 0.0 <= self.muon_momentum < 1.0):
            raise ValueError(f"TrainConfig.muon_momentum must be in [0, 1), got {self.muon_momentum!r}")
        if self.steps is None and self.minutes is None:
            raise ValueError("TrainConfig needs steps or minutes; set steps=1000 or minutes=2")
        for name in ("batch_size", "grad_accum", "eval_batches"):
            check_int(f"TrainConfig.{name}", getattr(self, name), 1)
        check_int("TrainConfig.steps", self.steps, 1, allow_none=True)
        check_float("TrainConfig.minutes", self.minutes, 0.0, exclusive_minimum=True, allow_none=True)
        check_float("TrainConfig.lr", self.lr, 0.0, exclusive_minimum=True)
        check_float("TrainConfig.min_lr", self.min_lr, 0.0, allow_none=True)
        if self.min_lr is not None and self.min_lr > self.lr:
            raise ValueError(f"TrainConfig.min_lr={self.min_lr!r} is larger than lr={self.lr!r}; the "
                             "schedule decays from lr down to min_lr, so min_lr must be <= lr")
        check_float("TrainConfig.weight_decay", self.weight_decay, 0.0)
        check_float("TrainConfig.grad_clip (None or 0 turns clipping off)", self.grad_clip, 0.0,
                    allow_none=True)
        for name in ("warmup_steps", "eval_every", "checkpoint_every"):
            check_int(f"TrainConfig.{name}", getattr(self, name), 0)
        check_int("TrainConfig.block_size", self.block_size, 1, allow_none=True)
        check_int("TrainConfig.seed", self.seed, 0)
        for name in ("compile", "amp", "progress"):
            check_bool(f"TrainConfig.{name}", getattr(self, name))
        if self.out_dir is not None and not isinstance(self.out_dir, (str, os.PathLike)):
            raise InputTypeError(f"TrainConfig.out_dir must be a folder path or None, got {self.out_dir!r}")
        if self.out_dir is not None:
            self.out_dir = os.fspath(self.out_dir)  # a str: the checkpoint stores plain types only

    @property
    def final_lr(self) -> float:
        return self.lr / 10 if self.min_lr is None else self.min_lr

    @classmethod
    def preset(cls, name: str, **overrides) -> TrainConfig:
        """A named recipe from :data:`PRESETS`, with any field overridden by keyword."""
        if not isinstance(name, str) or name not in PRESETS:
            raise ValueError(f"unknown TrainConfig preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d


PRESETS: dict[str, dict] = {
    # nanoGPT's documented CPU recipe for character-level Shakespeare (the benchmark's baseline)
    "shakespeare-char-nanogpt": dict(
        steps=2000, batch_size=12, lr=1e-3, min_lr=1e-4, warmup_steps=100, weight_decay=0.1,
        betas=(0.9, 0.99), grad_clip=1.0, eval_every=250, eval_batches=20,
    ),
    # chapter 4: a TinyWorld story model in about a minute on a laptop CPU
    "tinyworld": dict(
        steps=450, batch_size=16, lr=3e-3, min_lr=3e-4, warmup_steps=30, weight_decay=0.1,
        grad_clip=1.0, eval_every=75, eval_batches=10,
    ),
}

# Fields that may change between a run and its resumption without changing its result.
_RESUMABLE_CHANGES = {"minutes", "eval_every", "eval_batches", "checkpoint_every", "out_dir",
                      "compile", "progress"}


def lr_at(step: int, cfg: TrainConfig, total_steps: int | None = None) -> float:
    """The learning rate at optimizer step ``step`` (0-based): linear warmup, then the decay.

    Rises linearly from ``lr / warmup_steps`` to ``lr`` over ``warmup_steps`` steps, then
    (``schedule="cosine"``) follows half a cosine down to ``min_lr`` at the last step, or
    (``schedule="wsd"``) stays at ``lr`` until the last ``decay_frac`` of the remaining steps and
    falls along a straight line to ``min_lr``.
    """
    total = total_steps or cfg.steps
    if total is None:
        raise ValueError("lr_at needs the total number of steps (cfg.steps or total_steps)")
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    decay_steps = max(1, total - cfg.warmup_steps)
    if cfg.schedule == "wsd":
        decay = max(1, round(cfg.decay_frac * decay_steps))
        progress = min(1.0, max(0, step - (total - decay)) / decay)
        return cfg.lr + progress * (cfg.final_lr - cfg.lr)
    progress = min(1.0, (step - cfg.warmup_steps) / decay_steps)
    return cfg.final_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (cfg.lr - cfg.final_lr)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Split parameters for AdamW: decay on weight matrices; none on norms, biases, embeddings.

    Embedding tables (and a head tied to one) are lookups, not maps, and norm gains and biases
    are offsets: shrinking them towards zero does not regularise, it just hurts.
    """
    no_decay: set[int] = set()
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            no_decay.add(id(module.weight))
    decay, other, seen = [], [], set()
    for _, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() >= 2 and id(p) not in no_decay else other).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": other, "weight_decay": 0.0},
    ]


def make_optimizer(model: nn.Module, cfg: TrainConfig, device=None) -> torch.optim.Optimizer:
    """The optimizer ``cfg.optimizer`` names, with :func:`param_groups` (AdamW) or
    :func:`minillm.optim.muon_param_groups` (Muon for hidden matrices, AdamW for the rest)."""
    if cfg.optimizer == "muon":
        from .optim import Muon, muon_param_groups

        groups = muon_param_groups(model, lr=cfg.lr, muon_lr=cfg.muon_lr,
                                   weight_decay=cfg.weight_decay)
        return Muon(groups, momentum=cfg.muon_momentum, betas=cfg.betas)
    fused = device is not None and torch.device(device).type in ("cuda", "cpu")
    return torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas,
                             fused=fused)


# ----------------------------------------------------------------------------------------------
# data


def _as_token_array(tokens, what: str) -> np.ndarray:
    if isinstance(tokens, torch.Tensor):
        tokens = tokens.detach().cpu().numpy()
    arr = np.asarray(tokens)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array of token ids, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{what} must hold integer token ids, got dtype {arr.dtype}")
    return arr


class RandomWindows:
    """Random training windows of a token array, deterministic for ``(seed, step)``.

    ``batch(step, micro, rank, world)`` returns ``x, y`` of shape ``(batch_size, block_size)``:
    process ``rank`` of ``world`` takes its slice of the step's global batch of
    ``batch_size * grad_accum * world`` windows, so one process with ``world * batch_size``
    sequences sees exactly the windows that ``world`` processes see together.
    """

    def __init__(self, tokens, block_size: int, batch_size: int, grad_accum: int = 1,
                 seed: int = 0, what: str = "the training tokens"):
        self.tokens = _as_token_array(tokens, what)
        if len(self.tokens) < block_size + 2:
            raise ValueError(
                f"{what} hold {len(self.tokens)} tokens, fewer than one window of "
                f"block_size + 1 = {block_size + 1} tokens and a spare one (the sampler needs at "
                f"least {block_size + 2}); use more text or a smaller block_size"
            )
        self.block_size, self.batch_size, self.grad_accum, self.seed = (
            block_size, batch_size, grad_accum, seed)
        self._offsets = np.arange(block_size + 1)

    def starts(self, step: int, world: int = 1) -> np.ndarray:
        """Start positions of the step's global batch, ``(batch_size * grad_accum * world,)``."""
        rng = np.random.default_rng([self.seed, step])
        n = self.batch_size * self.grad_accum * world
        return rng.integers(0, len(self.tokens) - self.block_size - 1, size=n)

    def windows(self, starts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``x, y`` (each ``(len(starts), block_size)``, int64) for the given start positions."""
        chunk = torch.from_numpy(self.tokens[starts[:, None] + self._offsets].astype(np.int64))
        return chunk[:, :-1], chunk[:, 1:]

    def batch(self, step: int, micro: int = 0, rank: int = 0, world: int = 1):
        starts = self.starts(step, world)
        i = (micro * world + rank) * self.batch_size
        return self.windows(starts[i: i + self.batch_size])


# ----------------------------------------------------------------------------------------------
# distributed


def setup_distributed() -> tuple[int, int, int]:
    """Join the process group that ``torchrun`` describes in the environment, if any.

    Returns ``(rank, world_size, local_rank)``; ``(0, 1, 0)`` when not launched by torchrun.
    The backend is nccl on GPUs and gloo on CPUs.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world <= 1:
        return 0, 1, 0
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl")
    else:
        dist.init_process_group(backend="gloo")
    return dist.get_rank(), dist.get_world_size(), local_rank


# ----------------------------------------------------------------------------------------------
# the trainer


def _is_batch_source(data) -> bool:
    return callable(getattr(data, "batch", None)) and not isinstance(data, (np.ndarray, torch.Tensor))


class NonFiniteLossError(FloatingPointError):
    """The loss (or the gradient norm) became NaN or infinite; training stopped before the update."""


@dataclass
class History:
    """What a run measured: per step (loss, lr) and per evaluation (train/val loss, tokens seen,
    training seconds). Tokens per second reach ``on_step`` callbacks only; they are not kept."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _rng_state() -> dict:
    np_state = np.random.get_state()
    return {
        "python": list(random.getstate()[1]),
        "numpy": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict) -> None:
    random.setstate((3, tuple(state["python"]), None))
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


_TRAINER_KEYS = ("model", "optimizer", "scheduler", "step", "total_steps", "train_seconds",
                 "data", "rng", "config", "history")


def load_checkpoint(path: str | os.PathLike, fmt: str = "minillm-checkpoint-1",
                    keys=_TRAINER_KEYS, what: str = "Trainer") -> dict:
    """Read a trainer checkpoint (``checkpoint.pt`` or its folder) with ``weights_only=True``.

    ``fmt`` and ``keys`` are the format tag and the entries the file must hold (the defaults are
    :class:`Trainer`'s; the RLHF trainers of :mod:`minillm.rlhf` pass their own); ``what`` names
    the writer in the error messages.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; train with out_dir set to write one")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise ValueError(f"{path} is not a readable minillm checkpoint ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != fmt:
        found = (f"format {state.get('format')!r}" if isinstance(state, dict) and "format" in state
                 else f"a {type(state).__name__}" + (f" with keys {sorted(map(str, state))[:6]}"
                                                     if isinstance(state, dict) else ""))
        raise ValueError(f"{path} is not a minillm checkpoint (it holds {found}, not the "
                         f"{fmt!r} format that {what} writes); resume only from a "
                         f"checkpoint written by minillm's {what}")
    missing = sorted(set(keys) - set(state))
    if missing:
        raise ValueError(f"{path} is a damaged minillm checkpoint: it lacks {missing}; delete it "
                         "and train again, or resume from another copy")
    return state


class Trainer:
    """Train a language model: any ``nn.Module`` whose ``forward(x, y)`` returns ``(logits, loss)``.

    ``train_tokens`` and ``val_tokens`` are 1-D arrays of token ids (numpy, memmap or torch),
    cut into :class:`RandomWindows`; or *batch sources*, objects whose
    ``batch(step, micro=0, rank=0, world=1)`` returns ``(x, y)`` or ``(x, y, padding_mask)``
    for that step, deterministically (fine-tuning on examples, chapter 6: see
    :class:`minillm.finetune.ExampleBatches`). With a source, ``evaluate`` averages its first
    ``eval_batches`` batches, and the model is called as ``model(x, y, padding_mask=mask)``.
    ``callbacks`` are objects with optional methods ``on_step(trainer, info)``,
    ``on_eval(trainer, info)`` and ``on_end(trainer)``; a plain function is called at each
    evaluation. Callbacks that sample text should use their own ``torch.Generator`` so that
    they do not shift the run's random state. ``device`` defaults to
    :func:`minillm.utils.device` (so ``$MINILLM_DEVICE`` is honoured), or under ``torchrun``
    with GPUs to the GPU of the process's local rank. ``fit()`` runs the loop; see chapter 4.
    """

    def __init__(self, model: nn.Module, train_tokens, val_tokens=None,
                 config: TrainConfig | None = None, *, resume: bool = False,
                 callbacks: list | None = None, device: torch.device | str | None = None):
        from .utils import device as pick_device

        if config is not None and not isinstance(config, TrainConfig):
            raise InputTypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        if not isinstance(model, nn.Module):
            raise InputTypeError(f"model must be a torch.nn.Module (e.g. a GPT), got {type(model).__name__}")
        self.cfg = config or TrainConfig()
        self.rank, self.world, local_rank = setup_distributed()
        if device is None:  # under torchrun with GPUs, each process takes its local rank's GPU
            device = (torch.device("cuda", local_rank) if self.world > 1 and torch.cuda.is_available()
                      else pick_device())
        self.device = pick_device(device)  # a device that is not there names the ones that are
        if self.cfg.out_dir is not None:  # before the first step, not after it
            check_output_dir(self.cfg.out_dir, "TrainConfig.out_dir")
        block = self.cfg.block_size or getattr(getattr(model, "config", None), "block_size", None)
        if block is None:
            raise ValueError("TrainConfig.block_size is None and the model has no "
                             "config.block_size; set TrainConfig(block_size=...)")
        self.block_size = int(block)
        _check_step_memory(model, self.cfg, self.block_size, self.device)
        self.model = model.to(self.device)
        # a batch source (an object with .batch(step, micro, rank, world), like RandomWindows or
        # minillm.finetune.ExampleBatches) is used as it is; a token array gets random windows
        self.train_data = train_tokens if _is_batch_source(train_tokens) else RandomWindows(
            train_tokens, self.block_size, self.cfg.batch_size, self.cfg.grad_accum, self.cfg.seed)
        self.val_data = val_tokens if val_tokens is None or _is_batch_source(val_tokens) else \
            RandomWindows(val_tokens, self.block_size, self.cfg.batch_size, 1, self.cfg.seed,
                          what="the validation tokens")
        vocab = getattr(getattr(model, "config", None), "vocab_size", None)
        for what, data in (("train_tokens", self.train_data), ("val_tokens", self.val_data)):
            if not isinstance(data, RandomWindows) or not isinstance(vocab, int):
                continue
            lo, hi = int(data.tokens.min()), int(data.tokens.max())
            if lo < 0 or hi >= vocab:
                raise ValueError(f"{what} hold token id {lo if lo < 0 else hi}, outside the model's "
                                 f"vocabulary (vocab_size={vocab}, ids 0..{vocab - 1}); encode with the "
                                 "tokenizer the model was built for")
        self._eval_sets = self._fixed_eval_windows()
        if callbacks is not None and (isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__")):
            raise InputTypeError(f"callbacks must be a list of callbacks, got {type(callbacks).__name__}; "
                                 "wrap one in a list: callbacks=[cb]")
        self.callbacks = [cb if hasattr(cb, "on_eval") or hasattr(cb, "on_step")
                          or hasattr(cb, "on_end") else _EvalCallback(cb) for cb in callbacks or []]
        self.out_dir = Path(self.cfg.out_dir) if self.cfg.out_dir else None
        self.step = 0
        self.total_steps = self.cfg.steps
        self.train_seconds = 0.0
        self.history = History()
        self.last_checkpoint: tuple[Path, int] | None = None

        if self.out_dir is not None and self.rank == 0:  # an interrupted write leaves these behind
            remove_stale_temporaries(self.out_dir, CHECKPOINT)
        if not resume:
            torch.manual_seed(self.cfg.seed + self.rank)  # dropout masks differ across ranks
        self.optimizer = make_optimizer(self.model, self.cfg, self.device)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: self._lr_factor(step))
        if resume:
            self._resume()

        self.forward_model: nn.Module = self.model
        if self.cfg.compile:
            self.forward_model = torch.compile(self.model)
        self.ddp_model = self.forward_model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp_model = DDP(self.forward_model, device_ids=ids)
        self.autocast = (torch.autocast("cuda", dtype=torch.bfloat16)
                         if self.cfg.amp and self.device.type == "cuda" else contextlib.nullcontext())

    # -- schedule --------------------------------------------------------------------------

    def _lr_factor(self, step: int) -> float:
        total = self.total_steps or 10**9  # provisional while a time budget picks the steps
        return lr_at(step, self.cfg, total) / self.cfg.lr

    @property
    def tokens_per_step(self) -> int:
        return self.cfg.batch_size * self.cfg.grad_accum * self.world * self.block_size

    # -- evaluation ------------------------------------------------------------------------

    def _fixed_eval_windows(self) -> dict:
        sets = {}
        for name, data in (("train", self.train_data), ("val", self.val_data)):
            if data is None:
                continue
            if not isinstance(data, RandomWindows):  # a batch source: its first eval_batches
                sets[name] = range(self.cfg.eval_batches)
                continue
            rng = np.random.default_rng([self.cfg.seed, 2**31 - 1])
            high = len(data.tokens) - self.block_size - 1
            sets[name] = rng.integers(0, high, size=(self.cfg.eval_batches, self.cfg.batch_size))
        return sets

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean loss over the same fixed windows of each split at every call: ``{"train", "val"}``."""
        was_training = self.model.training
        self.model.eval()
        out = {}
        for name, starts in self._eval_sets.items():
            data = self.train_data if name == "train" else self.val_data
            total = 0.0
            for row in starts:
                batch = data.windows(row) if isinstance(data, RandomWindows) else data.batch(row)
                with self.autocast:
                    _, loss = self._forward(self.forward_model, batch)
                total += loss.item()
            out[name] = total / len(starts)
        self.model.train(was_training)
        return out

    # -- checkpoints -----------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path | None:
        return self.out_dir / CHECKPOINT if self.out_dir else None

    def state_dict(self) -> dict:
        """Everything needed to continue the run exactly (the model's weights included)."""
        model_config = getattr(self.model, "config", None)
        return {
            "format": "minillm-checkpoint-1",
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "model_config": dataclasses.asdict(model_config)
            if dataclasses.is_dataclass(model_config) else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "total_steps": self.total_steps,
            "train_seconds": self.train_seconds,
            "data": {"sampler": "random-windows" if isinstance(self.train_data, RandomWindows)
                     else type(self.train_data).__name__, "seed": self.cfg.seed, "next_step": self.step,
                     "world_size": self.world},
            "rng": _rng_state(),
            "config": self.cfg.to_dict(),
            "history": self.history.to_dict(),
        }

    def save_checkpoint(self) -> Path | None:
        """Write ``out_dir/checkpoint.pt`` atomically (rank 0 only); returns its path."""
        if self.checkpoint_path is None:
            return None
        if self.rank == 0:
            with atomic_write(self.checkpoint_path) as f:
                torch.save(self.state_dict(), f)
        if self.world > 1:
            dist.barrier()
        self.last_checkpoint = (self.checkpoint_path, self.step)
        return self.checkpoint_path

    def _resume(self) -> None:
        if self.checkpoint_path is None:
            raise ValueError("resume=True needs TrainConfig.out_dir, the folder of checkpoint.pt")
        state = load_checkpoint(self.checkpoint_path)
        mine_model = getattr(self.model, "config", None)
        saved_model = state.get("model_config")
        if dataclasses.is_dataclass(mine_model) and isinstance(saved_model, dict):
            now = dataclasses.asdict(mine_model)
            # fields both know (a field added to GPTConfig later is not a difference)
            differ = {k: (saved_model[k], now[k]) for k in sorted(set(now) & set(saved_model))
                      if k != "fast_attention" and saved_model[k] != now[k]}
            if differ:
                lines = ", ".join(f"{k}: {a!r} in the checkpoint, {b!r} now" for k, (a, b) in differ.items())
                raise ValueError(f"cannot resume {self.checkpoint_path}: it was written for a model with "
                                 f"a different configuration ({lines}); build the model with the "
                                 "checkpoint's configuration or start a new out_dir")
        saved = state["config"]
        mine = self.cfg.to_dict()
        defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
        # a field added after the checkpoint was written counts as its default value
        changed = {k: (saved.get(k, defaults[k]), v) for k, v in mine.items()
                   if k not in _RESUMABLE_CHANGES and saved.get(k, defaults[k]) != v}
        if changed:
            lines = ", ".join(f"{k}: {a!r} in the checkpoint, {b!r} now" for k, (a, b) in changed.items())
            raise ValueError(f"cannot resume {self.checkpoint_path} with a different recipe ({lines}); "
                             "use the checkpoint's settings or start a new out_dir")
        if state["data"]["world_size"] != self.world:
            raise ValueError(
                f"{self.checkpoint_path} was written by {state['data']['world_size']} process(es), "
                f"this run has {self.world}; resume with the same number of processes so that "
                "the batches stay the same")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        self.total_steps = state["total_steps"]
        self.scheduler.load_state_dict(state["scheduler"])
        self.train_seconds = state["train_seconds"]
        self.history = History(**state["history"])
        _set_rng_state(state["rng"])
        self.last_checkpoint = (self.checkpoint_path, self.step)

    # -- the loop --------------------------------------------------------------------------

    def train_step(self) -> dict:
        """One optimizer step over ``grad_accum`` micro-batches; returns loss, lr and grad norm."""
        self.model.train()
        cfg = self.cfg
        lr = self.optimizer.param_groups[0]["lr"]
        total_loss = 0.0
        for micro in range(cfg.grad_accum):
            batch = self.train_data.batch(self.step, micro, self.rank, self.world)
            last = micro == cfg.grad_accum - 1
            sync = contextlib.nullcontext() if last or self.world == 1 else self.ddp_model.no_sync()
            with sync:
                with self.autocast:
                    _, loss = self._forward(self.ddp_model, batch)
                (loss / cfg.grad_accum).backward()
            total_loss += loss.item() / cfg.grad_accum
        norm = float("nan")
        if cfg.grad_clip:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip).item()
        if not math.isfinite(total_loss) or (cfg.grad_clip and not math.isfinite(norm)):
            self.optimizer.zero_grad(set_to_none=True)
            what = "loss" if not math.isfinite(total_loss) else "gradient norm"
            value = total_loss if what == "loss" else norm
            if self.last_checkpoint:
                kept = (f"the last good checkpoint, {self.last_checkpoint[0]} (step "
                        f"{self.last_checkpoint[1]}), is untouched; resume from it with a lower lr")
            else:
                kept = "no checkpoint was written (set out_dir and checkpoint_every to keep one)"
            raise NonFiniteLossError(
                f"training stopped: the {what} became {value} at step {self.step} (lr {lr:.3g}) "
                f"and the weights were not updated; {kept}. Usual causes: a learning rate too "
                "high, no warmup, or bad data.")
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        return {"step": self.step, "loss": total_loss, "lr": lr, "grad_norm": norm}

    def _forward(self, model: nn.Module, batch):
        """``model(x, y)``, or ``model(x, y, padding_mask=m)`` for a batch ``(x, y, m)``."""
        if len(batch) == 3 and batch[2] is not None:
            x, y, mask = (t.to(self.device, non_blocking=True) for t in batch)
            return model(x, y, padding_mask=mask)
        x, y = batch[0].to(self.device, non_blocking=True), batch[1].to(self.device, non_blocking=True)
        return model(x, y)

    def _eval_and_report(self, bar) -> dict:
        metrics = self.evaluate()
        info = {"step": self.step, "tokens": self.step * self.tokens_per_step,
                "train_seconds": self.train_seconds,
                **{f"{k}_loss": v for k, v in metrics.items()}}
        self.history.evals.append(info)
        if bar is not None and "val" in metrics:
            bar.write(f"step {self.step:5d}  train {metrics['train']:.4f}  val {metrics['val']:.4f}")
        for cb in self.callbacks:
            if hasattr(cb, "on_eval"):
                cb.on_eval(self, info)
        return info

    def fit(self) -> History:
        """Train until ``steps`` (or ``minutes``) are done; evaluate, checkpoint, call back.

        Evaluates at step 0 and every ``eval_every`` steps, checkpoints every
        ``checkpoint_every`` steps and at the end. Returns the :class:`History`; the model is
        left in eval mode, ready to generate.
        """
        cfg = self.cfg
        show = cfg.progress and self.rank == 0
        bar = None
        if show:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.total_steps, initial=self.step, desc="training", unit="step",
                       dynamic_ncols=True)
        budget = cfg.minutes * 60 if cfg.minutes else math.inf
        calibrate_at = self.step + 5 if self.total_steps is None else None
        try:
            if self.step == 0 and cfg.eval_every and not self.history.evals:
                self._eval_and_report(bar)
            while (self.total_steps is None or self.step < self.total_steps) \
                    and self.train_seconds < budget:
                t0 = time.perf_counter()
                info = self.train_step()
                if self.device.type == "cuda":
                    torch.cuda.synchronize()
                dt = time.perf_counter() - t0
                self.train_seconds += dt
                info["tokens_per_s"] = self.tokens_per_step / dt
                self.history.step.append(info["step"])
                self.history.loss.append(info["loss"])
                self.history.lr.append(info["lr"])
                if calibrate_at is not None and self.step >= calibrate_at:
                    self.total_steps = max(self.step + 1, int(budget / (self.train_seconds / self.step)))
                    calibrate_at = None
                    if bar is not None:
                        bar.reset(total=self.total_steps)
                        bar.update(self.step)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{info['loss']:.3f}", tok_s=f"{info['tokens_per_s']:,.0f}",
                                    refresh=False)
                for cb in self.callbacks:
                    if hasattr(cb, "on_step"):
                        cb.on_step(self, info)
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    self._eval_and_report(bar)
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self.save_checkpoint()
            if cfg.eval_every and (not self.history.evals or self.history.evals[-1]["step"] != self.step):
                self._eval_and_report(bar)
            if self.out_dir is not None and (self.last_checkpoint is None
                                             or self.last_checkpoint[1] != self.step):
                self.save_checkpoint()
        finally:
            if bar is not None:
                bar.close()
        self.model.eval()
        for cb in self.callbacks:
            if hasattr(cb, "on_end"):
                cb.on_end(self)
        return self.history


def _check_step_memory(model: nn.Module, cfg: TrainConfig, block_size: int, device) -> None:
    """Refuse, before allocating, a batch that cannot fit in memory however the step is computed.

    A lower bound, so that only impossible sizes are refused: the weights, their gradients and
    AdamW's two moments (16 bytes per parameter), the logits of one micro-batch (``B*T*V``
    values, 2 bytes each under bf16 autocast, else 4) and, for the from-scratch attention
    that builds them, every layer's ``B*H*T*T`` attention weights.
    """
    c = getattr(model, "config", None)
    vocab = getattr(c, "vocab_size", None)
    if not isinstance(vocab, int):
        return
    b, t = cfg.batch_size, block_size
    per_value = 2 if (cfg.amp and device.type == "cuda") else 4
    params = sum(p.numel() for p in model.parameters())
    nbytes = 16 * params + per_value * b * t * vocab
    if not getattr(c, "fast_attention", True):
        nbytes += per_value * getattr(c, "n_layer", 1) * b * getattr(c, "n_head", 1) * t * t
    check_memory(nbytes, f"training with batch_size={b} and block_size={t} (vocab_size={vocab}; "
                 f"weights, gradients and AdamW state alone: {format_bytes(16 * params)})", device=device)


class _EvalCallback:
    def __init__(self, fn: Callable):
        self.fn = fn

    def on_eval(self, trainer: Trainer, info: dict) -> None:
        self.fn(trainer, info)


def train(model: nn.Module, train_tokens, val_tokens=None, config: TrainConfig | None = None,
          **kwargs) -> History:
    """Train ``model`` in place with a :class:`Trainer` and return its :class:`History`."""
    return Trainer(model, train_tokens, val_tokens, config, **kwargs).fit()
