"""minillm: build a language model on your laptop.

The package behind the course's chapters. Public names are re-exported here and
imported lazily, so ``import minillm`` stays fast and never pulls in matplotlib or
ipywidgets (those live in :mod:`minillm.viz` and :mod:`minillm.widgets`).
"""

from __future__ import annotations

import importlib

from .utils import atomic_write, cache_dir, device, seed_everything

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
