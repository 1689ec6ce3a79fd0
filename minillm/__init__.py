"""minillm: build a language model on your laptop.

The package behind the course's chapters. Public names are re-exported here and
imported lazily, so ``import minillm`` stays fast and never pulls in matplotlib or
ipywidgets (those live in :mod:`minillm.viz` and :mod:`minillm.widgets`).
"""

from __future__ import annotations

import importlib
import os
import sys


def _omp_defaults() -> None:
    """Let idle OpenMP threads sleep instead of spinning, unless the user chose otherwise.

    PyTorch's CPU kernels run on OpenMP threads, which by default spin (busy-wait) for a while
    after each parallel region. On a busy laptop those spinning threads compete with the work
    for the same cores: with other programs on both of a 2-core machine's cores, chapter 4's
    model trained 6-10x slower than with ``OMP_WAIT_POLICY=PASSIVE`` (benchmarks/contention.py).
    OpenMP reads the setting once, when torch loads it, so this only acts when ``minillm`` is
    imported before ``torch``; it never overrides ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` set
    by the user, and ``MINILLM_OMP_DEFAULTS=0`` turns it off.
    """
    if os.environ.get("MINILLM_OMP_DEFAULTS", "1") == "0" or "torch" in sys.modules:
        return
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


_omp_defaults()

from .utils import atomic_write, cache_dir, device, seed_everything  # noqa: E402

__version__ = "0.1.0"

# name -> module that defines it; resolved on first access (PEP 562).
_LAZY = {
    "BigramModel": "minillm.bigram",
    "load_book": "minillm.course.book",
    # data and world (chapter A)
    "World": "minillm.world",
    "corpus": "minillm.data",
    "load_corpus": "minillm.data",
    # tokenizer (chapter 1)
    "BPETokenizer": "minillm.tokenizer",
    # attention and model (chapters 2 and 3)
    "GPT": "minillm.model",
    "GPTConfig": "minillm.model",
    # training (chapter 4)
    "pretrained": "minillm.zoo",
    # RLHF (chapter 7)
    "Labeller": "minillm.rlhf",
    "RewardHead": "minillm.rlhf",
    "dpo_loss": "minillm.rlhf",
    "RewardModel": "minillm.rlhf",
    "RLConfig": "minillm.rlhf",
    "PPOTrainer": "minillm.rlhf",
    "DPOTrainer": "minillm.rlhf",
    "GRPOTrainer": "minillm.rlhf",
    # retrieval (chapter 8)
    "BM25": "minillm.rag",
    "DenseIndex": "minillm.rag",
    # quantisation (chapter 10)
    "QuantLinear": "minillm.quantize",
    "quantize_model": "minillm.quantize",
    # generation (chapter 5); the function itself is minillm.generate.generate (the module
    # minillm.generate would shadow a package attribute of that name)
    "Generation": "minillm.generate",
    "SamplingConfig": "minillm.generate",
    "stream": "minillm.generate",
    "beam_search": "minillm.generate",
    "speculative_generate": "minillm.generate",
    "KVCache": "minillm.attention",
}

__all__ = ["__version__", "atomic_write", "cache_dir", "device", "seed_everything", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'minillm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
