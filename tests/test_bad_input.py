"""Bad input, the way a careless user or an attacker tries it (issue 17).

Every case checks the exception type and that the message names the bad input (the argument,
field, file or flag, and usually the value). The command-line cases check that a mistake is one
line on stderr and exit status 2, never a traceback. The last tests check that a finished run
and a learner's edited exercises survive every command that could overwrite them, and that
interrupted writes are cleaned up on the next run.

Run them with::

    python -m pytest tests/test_bad_input.py -q -p no:cacheprovider
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from bad_input_files import BINARY
from bad_input_files import write as _write

from minillm.attention import (
    MultiHeadAttention,
    causal_mask,
    rope_cos_sin,
    scaled_dot_product_attention,
    sinusoidal_positions,
    split_heads,
)
from minillm.bigram import BigramModel
from minillm.compress import compress, decompress, quantize
from minillm.course.book import BookError, load_book
from minillm.course.exercises import ExerciseError, exercise_notebook_text, generate_all
from minillm.data import (
    Batches,
    DownloadError,
    corpus,
    download,
    dtype_for,
    get_batch,
    load_corpus,
    load_tokens,
    save_tokens,
)
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import BPETokenizer, CharTokenizer
from minillm.train import TrainConfig, Trainer
from minillm.utils import InputTypeError, check_output_dir, device, seed_everything

ROOT = Path(__file__).resolve().parents[1]
NAN, INF = float("nan"), float("inf")
HUGE = 10**12  # sizes no machine has memory for (checked before anything is allocated)

# -- small shared objects ---------------------------------------------------------------------

TINY = dict(vocab_size=300, block_size=16, n_layer=1, n_head=2, n_embd=16)


def tiny_model(**overrides) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**TINY, **overrides}))


_MODEL = tiny_model()
_IDX = torch.zeros(2, 4, dtype=torch.long)
_TOKENS = np.arange(2000, dtype=np.uint16) % 300
_TOK = BPETokenizer().train("the cat sat on the mat, the dog sat on the log. " * 20, 270)
_BIGRAM = BigramModel.fit("hello world")


def _world():
    from minillm.data import _world as cached_world

    return cached_world(0)


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{"steps": 2, "batch_size": 2, "eval_every": 0, "progress": False, **kw})


# -- 1. the API: (call, exception type, words the message must hold) ----------------------------

API = {
    # GPTConfig: every field, wrong type and wrong value
    "config-vocab-str": (lambda: GPTConfig(vocab_size="4096"), TypeError, ["vocab_size", "'4096'"]),
    "config-vocab-zero": (lambda: GPTConfig(vocab_size=0), ValueError, ["vocab_size", "0"]),
    "config-vocab-bool": (lambda: GPTConfig(vocab_size=True), TypeError, ["vocab_size", "True"]),
    "config-block-float": (lambda: GPTConfig(block_size=128.0), TypeError, ["block_size", "128.0"]),
    "config-layers-negative": (lambda: GPTConfig(n_layer=-1), ValueError, ["n_layer", "-1"]),
    "config-heads-indivisible": (lambda: GPTConfig(n_head=3), ValueError, ["n_head=3", "n_embd=64"]),
    "config-embd-none": (lambda: GPTConfig(n_embd=None), TypeError, ["n_embd", "None"]),
    "config-mlp-ratio-zero": (lambda: GPTConfig(mlp_ratio=0), ValueError, ["mlp_ratio"]),
    "config-dropout-one": (lambda: GPTConfig(dropout=1.0), ValueError, ["dropout", "1.0"]),
    "config-dropout-nan": (lambda: GPTConfig(dropout=NAN), ValueError, ["dropout", "nan"]),
    "config-dropout-str": (lambda: GPTConfig(dropout="0.1"), TypeError, ["dropout", "'0.1'"]),
    "config-norm-eps-negative": (lambda: GPTConfig(norm_eps=-1e-5), ValueError, ["norm_eps", "-1e-05"]),
    "config-norm-eps-zero": (lambda: GPTConfig(norm_eps=0.0), ValueError, ["norm_eps"]),
    "config-norm-eps-inf": (lambda: GPTConfig(norm_eps=INF), ValueError, ["norm_eps", "inf"]),
    "config-tie-str": (lambda: GPTConfig(tie_weights="yes"), TypeError, ["tie_weights", "'yes'"]),
    "config-tie-int": (lambda: GPTConfig(tie_weights=1), TypeError, ["tie_weights", "1"]),
    "config-bias-none": (lambda: GPTConfig(bias=None), TypeError, ["bias", "None"]),
    "config-fast-str": (lambda: GPTConfig(fast_attention="False"), TypeError, ["fast_attention"]),
    "config-norm-unknown": (lambda: GPTConfig(norm="batchnorm"), ValueError, ["norm", "'batchnorm'"]),
    "config-norm-none": (lambda: GPTConfig(norm=None), TypeError, ["norm", "None"]),
    "config-pos-unknown": (lambda: GPTConfig(pos="alibi"), ValueError, ["pos", "'alibi'"]),
    "config-gelu-unknown": (lambda: GPTConfig(gelu="relu"), ValueError, ["gelu", "'relu'"]),
    "config-rope-base-zero": (lambda: GPTConfig(rope_base=0), ValueError, ["rope_base"]),
    "config-rope-odd-head": (lambda: GPTConfig(pos="rope", n_embd=12, n_head=4), ValueError, ["rope", "3"]),
    "config-preset-unknown": (lambda: GPTConfig.preset("huge"), ValueError, ["preset", "'huge'"]),
    "config-preset-none": (lambda: GPTConfig.preset(None), ValueError, ["preset", "None"]),
    "config-from-list": (lambda: GPTConfig.from_dict([1]), ValueError, ["JSON object", "list"]),
    "config-from-unknown-key": (lambda: GPTConfig.from_dict({"vocab_sz": 3}), ValueError, ["vocab_sz"]),
    "gpt-config-dict": (lambda: GPT({"vocab_size": 10}), TypeError, ["GPTConfig", "dict"]),
    "gpt-vocab-too-big": (lambda: GPT(GPTConfig(vocab_size=HUGE)), ValueError,
                          ["vocab_size=1000000000000", "would need", "memory"]),
    "gpt-context-too-big": (lambda: GPT(GPTConfig(block_size=HUGE)), ValueError,
                            ["block_size=1000000000000", "would need"]),
    # GPT.forward
    "forward-idx-list": (lambda: _MODEL([[1, 2]]), TypeError, ["idx", "torch.Tensor", "list"]),
    "forward-idx-float": (lambda: _MODEL(torch.zeros(1, 3)), TypeError, ["idx", "float32"]),
    "forward-idx-1d": (lambda: _MODEL(torch.zeros(3, dtype=torch.long)), ValueError, ["idx", "(B, T)"]),
    "forward-idx-too-long": (lambda: _MODEL(torch.zeros(1, 17, dtype=torch.long)), ValueError,
                             ["17", "block_size=16"]),
    "forward-idx-id-too-big": (lambda: _MODEL(torch.full((1, 2), 300)), ValueError, ["token id 300", "300"]),
    "forward-idx-id-negative": (lambda: _MODEL(torch.full((1, 2), -3)), ValueError, ["token id -3"]),
    "forward-idx-empty": (lambda: _MODEL(torch.zeros(1, 0, dtype=torch.long)), ValueError, ["idx", "(1, 0)"]),
    "forward-target-too-big": (lambda: _MODEL(_IDX, torch.full((2, 4), 999)), ValueError,
                               ["target id 999", "vocabulary", "-100"]),
    "forward-target-negative": (lambda: _MODEL(_IDX, torch.full((2, 4), -5)), ValueError, ["target id -5"]),
    "forward-target-shape": (lambda: _MODEL(_IDX, torch.zeros(2, 3, dtype=torch.long)), ValueError,
                             ["targets", "(2, 3)", "(2, 4)"]),
    "forward-target-float": (lambda: _MODEL(_IDX, torch.zeros(2, 4)), TypeError, ["targets", "float32"]),
    "forward-padding-int": (lambda: _MODEL(_IDX, padding_mask=torch.ones(2, 4, dtype=torch.long)),
                            ValueError, ["padding_mask", "torch.int64"]),
    "forward-last-only-targets": (lambda: _MODEL(_IDX, _IDX, last_only=True), ValueError,
                                  ["last_only", "targets"]),
    # GPT.generate
    "generate-temperature-negative": (lambda: _MODEL.generate(_IDX, 2, temperature=-1), ValueError,
                                      ["temperature", "-1"]),
    "generate-temperature-nan": (lambda: _MODEL.generate(_IDX, 2, temperature=NAN), ValueError,
                                 ["temperature", "nan"]),
    "generate-temperature-str": (lambda: _MODEL.generate(_IDX, 2, temperature="hot"), TypeError,
                                 ["temperature", "'hot'"]),
    "generate-top-k-zero": (lambda: _MODEL.generate(_IDX, 2, top_k=0), ValueError, ["top_k", "0"]),
    "generate-top-k-above-vocab": (lambda: _MODEL.generate(_IDX, 2, top_k=5000), ValueError,
                                   ["top_k=5000", "larger than the vocabulary", "None"]),
    "generate-top-k-float": (lambda: _MODEL.generate(_IDX, 2, top_k=2.5), TypeError, ["top_k", "2.5"]),
    "generate-max-new-negative": (lambda: _MODEL.generate(_IDX, -1), ValueError, ["max_new_tokens", "-1"]),
    "generate-max-new-str": (lambda: _MODEL.generate(_IDX, "5"), TypeError, ["max_new_tokens", "'5'"]),
    "flops-seq-len-str": (lambda: _MODEL.flops_per_token("64"), TypeError, ["seq_len", "'64'"]),
    "generate-generator-int": (lambda: _MODEL.generate(_IDX, 2, generator=0), TypeError, ["generator"]),
    "generate-idx-out-of-vocab": (lambda: _MODEL.generate(torch.full((1, 2), 301), 2), ValueError,
                                  ["token id 301"]),
    # TrainConfig: every field
    "train-batch-bool": (lambda: TrainConfig(batch_size=True), TypeError, ["batch_size", "True"]),
    "train-batch-zero": (lambda: TrainConfig(batch_size=0), ValueError, ["batch_size", "0"]),
    "train-batch-float": (lambda: TrainConfig(batch_size=16.0), TypeError, ["batch_size", "16.0"]),
    "train-accum-zero": (lambda: TrainConfig(grad_accum=0), ValueError, ["grad_accum"]),
    "train-steps-zero": (lambda: TrainConfig(steps=0), ValueError, ["steps", "0"]),
    "train-steps-str": (lambda: TrainConfig(steps="100"), TypeError, ["steps", "'100'"]),
    "train-no-steps-no-minutes": (lambda: TrainConfig(steps=None), ValueError, ["steps or minutes"]),
    "train-minutes-negative": (lambda: TrainConfig(minutes=-1), ValueError, ["minutes", "-1"]),
    "train-minutes-nan": (lambda: TrainConfig(minutes=NAN), ValueError, ["minutes", "nan"]),
    "train-lr-zero": (lambda: TrainConfig(lr=0), ValueError, ["lr", "0"]),
    "train-lr-str": (lambda: TrainConfig(lr="1e-3"), TypeError, ["lr", "'1e-3'"]),
    "train-lr-inf": (lambda: TrainConfig(lr=INF), ValueError, ["lr", "inf"]),
    "train-min-lr-negative": (lambda: TrainConfig(min_lr=-1e-4), ValueError, ["min_lr", "-0.0001"]),
    "train-min-lr-above-lr": (lambda: TrainConfig(lr=1e-3, min_lr=1e-2), ValueError, ["min_lr=0.01", "lr=0.001"]),
    "train-grad-clip-negative": (lambda: TrainConfig(grad_clip=-1.0), ValueError, ["grad_clip", "-1.0"]),
    "train-grad-clip-nan": (lambda: TrainConfig(grad_clip=NAN), ValueError, ["grad_clip", "nan"]),
    "train-weight-decay-negative": (lambda: TrainConfig(weight_decay=-0.1), ValueError, ["weight_decay"]),
    "train-betas-one": (lambda: TrainConfig(betas=(0.9,)), TypeError, ["betas", "(0.9,)"]),
    "train-betas-above-one": (lambda: TrainConfig(betas=(0.9, 1.5)), ValueError, ["betas[1]", "1.5"]),
    "train-betas-str": (lambda: TrainConfig(betas="0.9"), TypeError, ["betas", "'0.9'"]),
    "train-warmup-negative": (lambda: TrainConfig(warmup_steps=-1), ValueError, ["warmup_steps", "-1"]),
    "train-eval-every-float": (lambda: TrainConfig(eval_every=1.5), TypeError, ["eval_every", "1.5"]),
    "train-checkpoint-every-negative": (lambda: TrainConfig(checkpoint_every=-5), ValueError,
                                        ["checkpoint_every", "-5"]),
    "train-seed-negative": (lambda: TrainConfig(seed=-1), ValueError, ["seed", "-1"]),
    "train-compile-str": (lambda: TrainConfig(compile="no"), TypeError, ["compile", "'no'"]),
    "train-amp-none": (lambda: TrainConfig(amp=None), TypeError, ["amp", "None"]),
    "train-out-dir-int": (lambda: TrainConfig(out_dir=5), TypeError, ["out_dir", "5"]),
    "train-block-zero": (lambda: TrainConfig(block_size=0), ValueError, ["block_size", "0"]),
    "train-preset-unknown": (lambda: TrainConfig.preset("fast"), ValueError, ["preset", "'fast'"]),
    # Trainer
    "trainer-config-dict": (lambda: Trainer(_MODEL, _TOKENS, None, {"steps": 2}), TypeError, ["config", "dict"]),
    "trainer-model-str": (lambda: Trainer("gpt", _TOKENS, None, cfg()), TypeError, ["model", "str"]),
    "trainer-tokens-2d": (lambda: Trainer(tiny_model(), np.zeros((2, 50), np.int64), None, cfg(), device="cpu"),
                          ValueError, ["1-D", "(2, 50)"]),
    "trainer-tokens-float": (lambda: Trainer(tiny_model(), np.zeros(100), None, cfg(), device="cpu"),
                             ValueError, ["integer token ids", "float64"]),
    "trainer-tokens-too-few": (lambda: Trainer(tiny_model(), _TOKENS[:10], None, cfg(), device="cpu"),
                               ValueError, ["10 tokens", "block_size"]),
    "trainer-tokens-outside-vocab": (lambda: Trainer(tiny_model(), np.arange(100) + 250, None, cfg(),
                                                     device="cpu"),
                                     ValueError, ["train_tokens", "token id 349", "vocab_size=300"]),
    "trainer-val-outside-vocab": (lambda: Trainer(tiny_model(), _TOKENS, np.arange(100) - 1, cfg(),
                                                  device="cpu"),
                                  ValueError, ["val_tokens", "token id -1"]),
    "trainer-device-missing-gpu": (lambda: Trainer(tiny_model(), _TOKENS, None, cfg(), device="cuda:7"),
                                   ValueError, ["'cuda:7'", "cpu"]),
    "trainer-device-unknown": (lambda: Trainer(tiny_model(), _TOKENS, None, cfg(), device="gpu"),
                               ValueError, ["'gpu'", "cpu"]),
    "trainer-resume-without-out-dir": (lambda: Trainer(tiny_model(), _TOKENS, None, cfg(), resume=True,
                                                       device="cpu"),
                                       ValueError, ["resume=True", "out_dir"]),
    "trainer-callbacks-function": (lambda: Trainer(tiny_model(), _TOKENS, None, cfg(), callbacks=print,
                                                   device="cpu"), TypeError, ["callbacks", "callbacks=[cb]"]),
    "trainer-batch-too-big": (lambda: Trainer(tiny_model(), _TOKENS, None, cfg(batch_size=HUGE), device="cpu"),
                              ValueError, ["batch_size=1000000000000", "would need"]),
    # tokenizers
    "bpe-token-to-id-int": (lambda: _TOK.token_to_id(5), TypeError, ["token", "5"]),
    "bpe-allowed-special-int": (lambda: _TOK.encode("a", allowed_special=5), ValueError, ["allowed_special", "5"]),
    "bpe-train-vocab-str": (lambda: BPETokenizer().train("abc", "300"), TypeError, ["vocab_size", "'300'"]),
    "bpe-train-vocab-small": (lambda: BPETokenizer().train("abc", 100), ValueError, ["vocab_size=100", "261"]),
    "bpe-train-text-none": (lambda: BPETokenizer().train(None, 300), TypeError, ["text", "NoneType"]),
    "bpe-encode-int": (lambda: _TOK.encode(5), TypeError, ["text", "int"]),
    "bpe-decode-float": (lambda: _TOK.decode([1.5]), TypeError, ["token ids", "1.5"]),
    "bpe-decode-id-too-big": (lambda: _TOK.decode([10**6]), ValueError, ["token id 1000000", "vocabulary"]),
    "bpe-allowed-special-str": (lambda: _TOK.encode("a", allowed_special="some"), ValueError,
                                ["allowed_special", "'some'"]),
    "bpe-pattern-invalid": (lambda: BPETokenizer(pattern="("), ValueError, ["pattern", "'('"]),
    "bpe-special-str": (lambda: BPETokenizer(special_tokens="<|x|>"), TypeError, ["special_tokens", "<|x|>"]),
    "char-encode-unknown": (lambda: CharTokenizer().train("abc").encode("abz"), ValueError, ["'z'"]),
    # data
    "corpus-size-unknown": (lambda: corpus("tinyworld", size="huge"), ValueError, ["size", "'huge'"]),
    "corpus-size-nan": (lambda: corpus("tinyworld", size=NAN), ValueError, ["size", "nan"]),
    "corpus-size-too-big": (lambda: corpus("tinyworld", size=10**15), ValueError, ["size=1000000000000000",
                                                                                  "would need"]),
    "corpus-val-fraction-str": (lambda: corpus("tinyworld", val_fraction="0.1"), TypeError,
                                ["val_fraction", "'0.1'"]),
    "corpus-seed-negative": (lambda: corpus("tinyworld", seed=-1), ValueError, ["seed", "-1"]),
    "corpus-seed-str": (lambda: corpus("tinyworld", seed="0"), TypeError, ["seed", "'0'"]),
    "corpus-mixture-str-share": (lambda: corpus("tinyworld", mixture={"story": "a lot"}), TypeError,
                                 ["mixture['story']", "'a lot'"]),
    "corpus-mixture-list": (lambda: corpus("tinyworld", mixture=["story"]), TypeError, ["mixture", "['story']"]),
    "corpus-canaries-bool": (lambda: corpus("tinyworld", canaries=True), TypeError, ["canaries", "True"]),
    "corpus-name-int": (lambda: corpus(3), TypeError, ["name", "3"]),
    "load-corpus-path-for-pydoc": (lambda: load_corpus("pydoc", path="x.txt"), ValueError,
                                   ["path='x.txt'", "'pydoc'", "tinyshakespeare"]),
    "load-corpus-url-for-tinyworld": (lambda: load_corpus("tinyworld", url="http://x"), ValueError,
                                      ["url='http://x'", "'tinyworld'"]),
    "load-corpus-unknown-arg": (lambda: load_corpus("pydoc", foo=1), TypeError, ["foo"]),
    "load-corpus-missing-path": (lambda: load_corpus("tinyshakespeare", path="/nonexistent/shake.txt"),
                                 FileNotFoundError, ["/nonexistent/shake.txt", "tinyshakespeare"]),
    "load-corpus-path-int": (lambda: load_corpus("tinyshakespeare", path=5), TypeError, ["path", "5"]),
    "load-corpus-unknown": (lambda: load_corpus("wikipedia"), ValueError, ["'wikipedia'"]),
    "get-batch-size-str": (lambda: get_batch(_TOKENS, "4", 8), TypeError, ["batch_size", "'4'"]),
    "get-batch-block-zero": (lambda: get_batch(_TOKENS, 4, 0), ValueError, ["block_size", "0"]),
    "get-batch-list": (lambda: get_batch(list(range(100)), 2, 8), ValueError, ["tokens", "list"]),
    "get-batch-float-tokens": (lambda: get_batch(np.zeros(100), 2, 8), ValueError, ["tokens", "float64"]),
    "get-batch-too-big": (lambda: get_batch(_TOKENS, HUGE, 8), ValueError, ["batch_size=1000000000000",
                                                                            "would need"]),
    "get-batch-device-missing": (lambda: get_batch(_TOKENS, 2, 8, device="cuda:5"), ValueError, ["'cuda:5'"]),
    "batches-block-str": (lambda: Batches(_TOKENS, 2, "8"), TypeError, ["block_size", "'8'"]),
    "dtype-for-str": (lambda: dtype_for("256"), TypeError, ["vocab_size", "'256'"]),
    "encode-tokenizer-str": (lambda: __import__("minillm.data").data.encode("abc", "gpt2"), TypeError,
                             ["tokenizer", "encode", "str"]),
    "save-tokens-2d": (lambda: save_tokens(np.zeros((2, 2), np.uint16), "/tmp/x.npy"), ValueError,
                       ["tokens", "(2, 2)"]),
    # bigram
    "bigram-vocab-strings": (lambda: BigramModel(["ab", "c"]), ValueError, ["single characters", "'ab'"]),
    "bigram-vocab-str": (lambda: BigramModel("abc"), TypeError, ["vocab", "str"]),
    "bigram-smoothing-negative": (lambda: BigramModel(["a"], smoothing=-1), ValueError, ["smoothing", "-1"]),
    "bigram-smoothing-nan": (lambda: BigramModel(["a"], smoothing=NAN), ValueError, ["smoothing", "nan"]),
    "bigram-counts-list": (lambda: BigramModel(["a"], counts=[[1.0]]), TypeError, ["counts", "list"]),
    "bigram-too-many-chars": (lambda: BigramModel([chr(i) for i in range(0x1000, 0x1000 + 10**6)]),
                              ValueError, ["1,000,000 characters", "would need"]),
    "bigram-fit-int": (lambda: BigramModel.fit(123), TypeError, ["text", "int"]),
    "bigram-sample-n-str": (lambda: _BIGRAM.sample("h", "5"), TypeError, ["n", "'5'"]),
    "bigram-sample-temperature-nan": (lambda: _BIGRAM.sample("h", 3, temperature=NAN), ValueError,
                                      ["temperature", "nan"]),
    "bigram-sample-prompt-int": (lambda: _BIGRAM.sample(5, 3), TypeError, ["prompt", "int"]),
    "bigram-sample-generator-int": (lambda: _BIGRAM.sample("h", 3, generator=1), TypeError, ["generator"]),
    "bigram-decode-float": (lambda: _BIGRAM.decode([1.5]), TypeError, ["token ids", "1.5"]),
    "bigram-next-char-two": (lambda: _BIGRAM.next_char_probs("he"), ValueError, ["char", "'he'"]),
    # world
    "world-story-int-rng": (lambda: _world().story(0), TypeError, ["rng", "random.Random", "0"]),
    "world-biography-person-str": (lambda: _world().biography("Mara", __import__("random").Random(0)),
                                   TypeError, ["person", "'Mara'"]),
    "world-review-rng-none": (lambda: _world().review(None), TypeError, ["rng", "None"]),
    "world-people-str": (lambda: __import__("minillm.world").world.World(n_people="100"), TypeError,
                         ["n_people", "'100'"]),
    "world-people-few": (lambda: __import__("minillm.world").world.World(n_people=10), ValueError,
                         ["n_people", "10"]),
    "world-held-out-nan": (lambda: __import__("minillm.world").world.World(held_out=NAN), ValueError,
                           ["held_out", "nan"]),
    "world-towns-float": (lambda: __import__("minillm.world").world.World(n_towns=4.5), TypeError,
                          ["n_towns", "4.5"]),
    "world-people-too-many": (lambda: __import__("minillm.world").world.World(n_people=HUGE), ValueError,
                              ["n_people=1,000,000,000,000", "would need"]),
    "world-person-int": (lambda: _world().person(5), TypeError, ["name", "5"]),
    "world-person-unknown": (lambda: _world().person("Nobody Atall"), KeyError, ["'Nobody Atall'"]),
    "world-qa-person-int": (lambda: _world().qa(5, "job"), TypeError, ["person", "5"]),
    "world-qa-relation": (lambda: _world().qa(_world().people[0], "shoe size"), ValueError, ["'shoe size'"]),
    "world-canaries-negative": (lambda: _world().canaries(-1), ValueError, ["n", "-1"]),
    # attention
    "sdpa-d-mismatch": (lambda: scaled_dot_product_attention(torch.zeros(1, 3, 4), torch.zeros(1, 3, 5),
                                                             torch.zeros(1, 3, 5)),
                        ValueError, ["q", "k", "(1, 3, 4)", "(1, 3, 5)"]),
    "sdpa-t-mismatch": (lambda: scaled_dot_product_attention(torch.zeros(1, 3, 4), torch.zeros(1, 3, 4),
                                                             torch.zeros(1, 2, 4)),
                        ValueError, ["k and v", "(1, 2, 4)"]),
    "sdpa-dropout": (lambda: scaled_dot_product_attention(torch.zeros(1, 3, 4), torch.zeros(1, 3, 4),
                                                          torch.zeros(1, 3, 4), dropout_p=1.5),
                     ValueError, ["dropout_p", "1.5"]),
    "sdpa-q-list": (lambda: scaled_dot_product_attention([[0.0]], torch.zeros(1, 1), torch.zeros(1, 1)),
                    TypeError, ["q", "list"]),
    "sdpa-mask-float": (lambda: scaled_dot_product_attention(torch.zeros(1, 3, 4), torch.zeros(1, 3, 4),
                                                             torch.zeros(1, 3, 4), mask=torch.ones(3, 3)),
                        TypeError, ["mask", "float32"]),
    "sdpa-padding-float": (lambda: scaled_dot_product_attention(torch.zeros(1, 3, 4), torch.zeros(1, 3, 4),
                                                                torch.zeros(1, 3, 4),
                                                                padding_mask=torch.ones(1, 3)),
                           TypeError, ["padding_mask", "float32"]),
    "mha-embd-str": (lambda: MultiHeadAttention("64", 4), TypeError, ["n_embd", "'64'"]),
    "mha-dropout-negative": (lambda: MultiHeadAttention(8, 2, dropout=-0.5), ValueError, ["dropout", "-0.5"]),
    "mha-forward-channels": (lambda: MultiHeadAttention(8, 2)(torch.zeros(1, 3, 6)), ValueError,
                             ["(B, T, 8)", "(1, 3, 6)"]),
    "causal-mask-negative": (lambda: causal_mask(-1), ValueError, ["t_query", "-1"]),
    "causal-mask-too-big": (lambda: causal_mask(10**7, 10**7), ValueError, ["causal_mask(10000000", "would need"]),
    "sinusoidal-zero-channels": (lambda: sinusoidal_positions(10, 0), ValueError, ["c", "0"]),
    "rope-odd": (lambda: rope_cos_sin(10, 7), ValueError, ["even", "7"]),
    "rope-too-big": (lambda: rope_cos_sin(HUGE, 64), ValueError, ["rope_cos_sin(1000000000000", "would need"]),
    "split-heads-2d": (lambda: split_heads(torch.zeros(3, 4), 2), ValueError, ["(B, T, C)", "[3, 4]"]),
    # compress
    "compress-ids-str": (lambda: compress(_MODEL, "abc", 0), TypeError, ["ids", "str"]),
    "compress-ids-float": (lambda: compress(_MODEL, [1.0, 2.0], 0), TypeError, ["token ids", "1.0"]),
    "compress-start-negative": (lambda: compress(_MODEL, [1, 2], -1), ValueError, ["start_token", "-1"]),
    "compress-rows-zero": (lambda: compress(_MODEL, [1, 2], 0, rows=0), ValueError, ["rows", "0"]),
    "compress-ids-out-of-vocab": (lambda: compress(_MODEL, [1, 300], 0), ValueError, ["0..299"]),
    "decompress-str": (lambda: decompress(_MODEL, "abc"), TypeError, ["data", "str"]),
    "decompress-short": (lambda: decompress(_MODEL, b"abc"), ValueError, ["3 bytes", "header"]),
    "decompress-bad-header": (lambda: decompress(_MODEL, struct.pack("<IHH", 5, 1, 999) + b"\0"), ValueError,
                              ["header", "start token 999"]),
    "decompress-zero-rows": (lambda: decompress(_MODEL, struct.pack("<IHH", 5, 0, 1) + b"\0"), ValueError,
                             ["rows 0"]),
    "quantize-nan": (lambda: quantize(np.array([NAN, 0.5])), ValueError, ["probs", "finite"]),
    "quantize-total-str": (lambda: quantize(np.array([0.5, 0.5]), total="big"), TypeError, ["total", "'big'"]),
    # the cached models
    "pretrained-unknown": (lambda: __import__("minillm.zoo").zoo.pretrained("nope"), ValueError, ["'nope'"]),
    "pretrained-name-int": (lambda: __import__("minillm.zoo").zoo.pretrained(3), ValueError, ["3"]),
    "pretrained-progress-str": (lambda: __import__("minillm.zoo").zoo.pretrained(progress="yes"), TypeError,
                                ["progress", "'yes'"]),
    # utils
    "seed-negative": (lambda: seed_everything(-1), ValueError, ["seed", "-1"]),
    "seed-too-big": (lambda: seed_everything(2**70), ValueError, ["seed", str(2**70)]),
    "causal-mask-bad-device": (lambda: causal_mask(3, device="gpu"), ValueError, ["'gpu'", "cpu"]),
    "rope-missing-device": (lambda: rope_cos_sin(4, 8, device="cuda:3"), ValueError, ["'cuda:3'"]),
    "seed-str": (lambda: seed_everything("0"), TypeError, ["seed", "'0'"]),
    "device-int": (lambda: device(3), TypeError, ["device", "3"]),
    "device-unknown": (lambda: device("gpu"), ValueError, ["'gpu'", "cpu"]),
    "device-missing-index": (lambda: device("cuda:9"), ValueError, ["'cuda:9'", "cpu"]),
    "device-meta": (lambda: device("meta"), ValueError, ["'meta'", "not supported"]),
    "output-dir-int": (lambda: check_output_dir(5), TypeError, ["5"]),
}


@pytest.mark.parametrize("case", sorted(API))
def test_api_bad_input_is_refused_and_named(case):
    call, kind, words = API[case]
    with pytest.raises(kind) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{case}: {word!r} not in the message {message!r}"


def test_the_memory_check_lets_meta_models_through():
    """Chapter 3 counts the parameters of big configs on the meta device, which allocates nothing."""
    with torch.device("meta"):
        model = GPT(GPTConfig(vocab_size=HUGE // 1000, n_embd=1024, n_head=8))
    assert model.num_params() > 10**12 // 1000 * 1024


def test_type_errors_are_also_value_errors():
    """Old callers that catch ValueError for a wrong type keep working (InputTypeError is both)."""
    with pytest.raises(ValueError):
        GPTConfig(vocab_size="8")
    assert issubclass(InputTypeError, TypeError) and issubclass(InputTypeError, ValueError)


# -- 2. files: binary, truncated, wrong JSON type, wrong field types, unknown references --------




def _tok_json():
    return _TOK.to_dict()


def _tok_with(fn):
    d = _tok_json()
    fn(d)
    return d


def _saved_model(tmp: Path) -> Path:
    folder = tmp / "model"
    _MODEL.save(folder)
    _TOK.save(folder / "tokenizer.json")
    return folder


def _with_config(tmp: Path, config) -> Path:
    folder = _saved_model(tmp)
    _write(folder / "config.json", config)
    return folder


FILES = {
    # tokenizer.json
    "tokenizer-binary": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", BINARY)), ValueError,
                         ["tokenizer.json", "binary"]),
    "tokenizer-truncated": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json",
                                                               json.dumps(_tok_json())[:500])),
                            ValueError, ["tokenizer.json", "not valid JSON"]),
    "tokenizer-list": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", [1, 2])), ValueError,
                       ["tokenizer.json", "list"]),
    "tokenizer-model-list": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", {"model": [1]})),
                             ValueError, ["tokenizer.json", "'model'", "list"]),
    "tokenizer-vocab-str-id": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", _tok_with(
        lambda d: d["model"]["vocab"].update({"a": "97"})))), ValueError, ["model.vocab['a']", "'97'"]),
    "tokenizer-merges-dict": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", _tok_with(
        lambda d: d["model"].update(merges={"a": "b"})))), ValueError, ["model.merges", "dict"]),
    "tokenizer-merge-three-parts": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", _tok_with(
        lambda d: d["model"]["merges"].insert(0, "a b c")))), ValueError, ["model.merges[0]", "'a b c'"]),
    "tokenizer-merge-unknown-token": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", _tok_with(
        lambda d: d["model"]["merges"].insert(0, ["zzzq", "x"])))), ValueError,
        ["tokenizer.json", "'zzzq'", "not in the vocabulary"]),
    "tokenizer-added-not-list": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", _tok_with(
        lambda d: d.update(added_tokens={"x": 1})))), ValueError, ["added_tokens", "dict"]),
    "tokenizer-added-id-str": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", _tok_with(
        lambda d: d["added_tokens"][0].update(id="7")))), ValueError, ["added_tokens[0]", "'7'"]),
    "tokenizer-huge-id": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", _tok_with(
        lambda d: d["model"]["vocab"].update({"Ġzz": HUGE})))), ValueError,
        ["tokenizer.json", "no token has id", "1000000000000"]),
    "tokenizer-pre-str": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", _tok_with(
        lambda d: d.update(pre_tokenizer="ByteLevel")))), ValueError, ["pre_tokenizer", "'ByteLevel'"]),
    "tokenizer-normalizer-str": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", _tok_with(
        lambda d: d.update(normalizer="NFC")))), ValueError, ["normalizer", "NFC"]),
    "tokenizer-bad-regex": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json", _tok_with(
        lambda d: d["pre_tokenizer"]["pretokenizers"][0].update(pattern={"Regex": "(("})))), ValueError,
        ["tokenizer.json", "regular expression"]),
    "tokenizer-not-bytelevel-char": (lambda t: BPETokenizer.load(_write(t / "tokenizer.json",
                                                                        _tok_with(_rename_token_to_euro))),
                                     ValueError, ["tokenizer.json", "model.vocab", "'€'"]),
    "tokenizer-missing": (lambda t: BPETokenizer.load(t / "nothing.json"), FileNotFoundError, ["nothing.json"]),
    # config.json / model.safetensors
    "config-binary": (lambda t: GPT.load(_with_config(t, BINARY)), ValueError, ["config.json", "not valid JSON"]),
    "config-truncated": (lambda t: GPT.load(_with_config(t, '{"vocab_size": 30')), ValueError,
                         ["config.json", "not valid JSON"]),
    "config-list": (lambda t: GPT.load(_with_config(t, [1, 2])), ValueError, ["config.json", "list"]),
    "config-field-str": (lambda t: GPT.load(_with_config(t, {**TINY, "vocab_size": "300"})), TypeError,
                         ["config.json", "vocab_size", "'300'"]),
    "config-field-nan": (lambda t: GPT.load(_with_config(t, {**TINY, "dropout": NAN})), ValueError,
                         ["config.json", "dropout"]),
    "config-unknown-field": (lambda t: GPT.load(_with_config(t, {**TINY, "layers": 3})), ValueError,
                             ["config.json", "'layers'"]),
    "config-other-shape": (lambda t: GPT.load(_with_config(t, {**TINY, "n_embd": 32})), ValueError,
                           ["model.safetensors", "does not match", "wrong shape"]),
    "weights-garbage": (lambda t: GPT.load(_write(_saved_model(t) / "model.safetensors", BINARY).parent),
                        ValueError, ["model.safetensors", "not a readable safetensors file"]),
    "model-folder-missing": (lambda t: GPT.load(t / "nowhere"), FileNotFoundError, ["nowhere", "config.json"]),
    "model-load-device": (lambda t: GPT.load(_saved_model(t), device="cuda:9"), ValueError, ["'cuda:9'"]),
    "model-save-onto-file": (lambda t: _MODEL.save(_write(t / "afile", "x")), NotADirectoryError,
                             ["afile", "is a file"]),
    "model-save-under-file": (lambda t: _MODEL.save(_write(t / "afile", "x") / "sub"), NotADirectoryError,
                              ["afile", "is a file"]),
    "hf-config-str-field": (lambda t: GPT.from_hf_gpt2(_hf_folder(t, n_embd="16")), TypeError,
                            ["config.json", "n_embd", "'16'"]),
    "hf-weights-missing": (lambda t: GPT.from_hf_gpt2(_write(t / "hf" / "config.json", {}).parent),
                           FileNotFoundError, ["model.safetensors", "safetensors"]),
    "hf-config-list": (lambda t: GPT.from_hf_gpt2(_write(_hf_folder(t) / "config.json", [1]).parent), ValueError,
                       ["config.json", "list"]),
    "model-dir-vocab-mismatch": (lambda t: __import__("minillm.zoo").zoo.load_model_dir(_shrunk_model(t)),
                                 ValueError, ["tokenizer.json", "270 tokens", "vocab_size=40"]),
    # checkpoints
    "checkpoint-garbage": (lambda t: Trainer(tiny_model(), _TOKENS, None, cfg(out_dir=str(
        _write(t / "checkpoint.pt", BINARY).parent)), resume=True, device="cpu"), ValueError,
        ["checkpoint.pt", "not a readable minillm checkpoint"]),
    "checkpoint-foreign": (lambda t: Trainer(tiny_model(), _TOKENS, None, cfg(out_dir=str(
        _torch_save(t / "checkpoint.pt", {"weights": torch.zeros(2)}).parent)), resume=True, device="cpu"),
        ValueError, ["checkpoint.pt", "not a minillm checkpoint", "weights"]),
    "checkpoint-tensor": (lambda t: Trainer(tiny_model(), _TOKENS, None, cfg(out_dir=str(
        _torch_save(t / "checkpoint.pt", torch.zeros(2)).parent)), resume=True, device="cpu"),
        ValueError, ["checkpoint.pt", "not a minillm checkpoint", "Tensor"]),
    "checkpoint-damaged": (lambda t: Trainer(tiny_model(), _TOKENS, None, cfg(out_dir=str(
        _torch_save(t / "checkpoint.pt", {"format": "minillm-checkpoint-1", "step": 3}).parent)),
        resume=True, device="cpu"), ValueError, ["checkpoint.pt", "damaged", "model"]),
    "checkpoint-missing": (lambda t: Trainer(tiny_model(), _TOKENS, None, cfg(out_dir=str(t)), resume=True,
                                             device="cpu"), FileNotFoundError, ["checkpoint.pt"]),
    "resume-other-model-config": (lambda t: _resume_with(t, n_embd=32), ValueError,
                                  ["different configuration", "n_embd: 16 in the checkpoint, 32 now"]),
    "resume-other-recipe": (lambda t: _resume_with(t, lr=0.5), ValueError, ["lr: 0.001 in the checkpoint, 0.5 now"]),
    "out-dir-is-file": (lambda t: Trainer(tiny_model(), _TOKENS, None, cfg(out_dir=str(_write(t / "f", "x"))),
                                          device="cpu"), NotADirectoryError, ["out_dir", "is a file"]),
    # .npy token files
    "npy-garbage": (lambda t: load_tokens(_write(t / "tokens.npy", BINARY)), ValueError,
                    ["tokens.npy", "not a readable .npy"]),
    "npy-truncated": (lambda t: load_tokens(_write(t / "tokens.npy", _npy_bytes(np.arange(1000, dtype=np.uint16))[:200])),
                      ValueError, ["tokens.npy", "not a readable .npy"]),
    "npy-pickled-objects": (lambda t: load_tokens(_np_save(t / "tokens.npy", np.array([{"a": 1}], dtype=object))),
                            ValueError, ["tokens.npy"]),
    "npy-float": (lambda t: load_tokens(_np_save(t / "tokens.npy", np.zeros(10))), ValueError,
                  ["tokens.npy", "float64", "unsigned"]),
    "npy-2d": (lambda t: load_tokens(_np_save(t / "tokens.npy", np.zeros((2, 2), np.uint16))), ValueError,
               ["tokens.npy", "(2, 2)"]),
    "npy-missing": (lambda t: load_tokens(t / "none.npy"), FileNotFoundError, ["none.npy"]),
    "npy-save-under-file": (lambda t: save_tokens(np.arange(3, dtype=np.uint16), _write(t / "f", "x") / "a.npy"),
                            NotADirectoryError, ["is a file"]),
    # bigram files
    "bigram-config-binary": (lambda t: BigramModel.load(_bigram_with(t, BINARY)), ValueError,
                             ["config.json", "not a bigram config"]),
    "bigram-config-vocab-int": (lambda t: BigramModel.load(_bigram_with(t, {"vocab": 5, "smoothing": 1.0})),
                                ValueError, ["config.json", "vocab"]),
    "bigram-config-smoothing-str": (lambda t: BigramModel.load(_bigram_with(t, {"vocab": ["h"], "smoothing": "1"})),
                                    ValueError, ["config.json", "smoothing"]),
    # book.yml
    "book-missing": (lambda t: load_book(t / "book.yml"), FileNotFoundError, ["book.yml"]),
    "book-binary": (lambda t: load_book(_write(t / "book.yml", BINARY)), BookError, ["book.yml", "binary"]),
    "book-list": (lambda t: load_book(_write(t / "book.yml", "- a\n- b\n")), BookError, ["book.yml", "mapping"]),
    "book-bad-yaml": (lambda t: load_book(_write(t / "book.yml", "title: [unclosed\n")), BookError,
                      ["book.yml", "not valid YAML"]),
    "book-title-list": (lambda t: load_book(_write(t / "book.yml", "title: [1, 2]\nchapters: [{}]\n")), BookError,
                        ["title", "[1, 2]"]),
    "book-budget-nan": (lambda t: load_book(_book_with(t, budget_minutes=".nan")), BookError,
                        ["budget_minutes", "nan"]),
    "book-number-list": (lambda t: load_book(_book_with(t, number="[1]")), BookError, ["number", "[1]"]),
    # notebooks
    "notebook-binary": (lambda t: exercise_notebook_text(_write(t / "00-x.ipynb", BINARY)), ExerciseError,
                        ["00-x.ipynb", "binary"]),
    "notebook-truncated": (lambda t: exercise_notebook_text(_write(t / "00-x.ipynb", '{"cells": [')),
                           ExerciseError, ["00-x.ipynb", "not valid notebook JSON"]),
    "notebook-list": (lambda t: exercise_notebook_text(_write(t / "00-x.ipynb", [1])), ExerciseError,
                      ["00-x.ipynb", "list"]),
    "notebook-cells-dict": (lambda t: exercise_notebook_text(_write(t / "00-x.ipynb", {"cells": {}})),
                            ExerciseError, ["00-x.ipynb", "'cells'", "dict"]),
    "notebook-cell-str": (lambda t: exercise_notebook_text(_write(t / "00-x.ipynb", {"cells": ["x = 1"]})),
                          ExerciseError, ["00-x.ipynb", "cell 0", "str"]),
    "notebook-cell-type": (lambda t: exercise_notebook_text(_write(t / "00-x.ipynb", {"cells": [
        {"cell_type": "python", "source": "x"}]})), ExerciseError, ["cell 0", "'python'"]),
    "notebook-source-int": (lambda t: exercise_notebook_text(_write(t / "00-x.ipynb", {"cells": [
        {"cell_type": "code", "source": 5}]})), ExerciseError, ["cell 0", "source", "int"]),
    "notebook-unclosed-region": (lambda t: exercise_notebook_text(_write(t / "00-x.ipynb", {"cells": [
        {"cell_type": "code", "source": "### BEGIN SOLUTION\nx = 1"}]})), ExerciseError,
        ["cell 0", "never closed"]),
    "solutions-missing": (lambda t: generate_all(t / "solutionz", t / "ex"), FileNotFoundError, ["solutionz"]),
    "solutions-empty": (lambda t: generate_all(_mkdir(t / "solutions"), t / "ex"), ValueError,
                        ["solutions", "no .ipynb"]),
    "solutions-is-file": (lambda t: generate_all(_write(t / "solutions", "x"), t / "ex"), FileNotFoundError,
                          ["solutions", "is a file"]),
    "exercises-is-file": (lambda t: generate_all(_solutions(t), _write(t / "ex", "x")), NotADirectoryError,
                          ["exercises folder", "is a file"]),
    "tokenizer-save-under-file": (lambda t: _TOK.save(_write(t / "f", "x") / "tokenizer.json"),
                                  NotADirectoryError, ["tokenizer's folder", "is a file"]),
    "bigram-save-onto-file": (lambda t: _BIGRAM.save(_write(t / "f", "x")), NotADirectoryError,
                              ["bigram model's folder", "is a file"]),
    "device-from-environment": (lambda t: _device_from_env("tpu"), ValueError, ["'tpu'", "MINILLM_DEVICE"]),
    # the cached model folder
    "cache-damaged": (lambda t: _damaged_cache(t), ValueError, ["cached model", "damaged", "Delete the folder"]),
}


def _device_from_env(name: str):
    import os

    os.environ["MINILLM_DEVICE"] = name
    try:
        return device()
    finally:
        del os.environ["MINILLM_DEVICE"]


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _torch_save(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def _npy_bytes(arr) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _np_save(path: Path, arr) -> Path:
    np.save(path, arr, allow_pickle=True)
    return path


def _bigram_with(t: Path, config) -> Path:
    folder = t / "bigram"
    _BIGRAM.save(folder)
    _write(folder / "config.json", config)
    return folder


def _book_with(t: Path, **values) -> Path:
    entry = {"id": "x", "number": "0", "title": "T", "stage": "s", "chapter": "chapters/00-x.ipynb",
             "exercises": "exercises/00-x.ipynb", "solutions": "solutions/00-x.ipynb",
             "modules": "[minillm]", "objectives": "[learn]", "budget_minutes": "5"}
    entry.update(values)
    lines = "\n".join(f"    {k}: {v}" for k, v in entry.items())
    return _write(t / "book.yml", f"title: Course\nchapters:\n  -\n{lines}\n")


def _solutions(t: Path) -> Path:
    folder = t / "solutions"
    _write(folder / "00-x.ipynb", {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                                              "execution_count": None, "source": "x = 1"}],
                                   "metadata": {}, "nbformat": 4, "nbformat_minor": 4})
    return folder


def _shrunk_model(t: Path) -> Path:
    """A model folder whose model has a 40-token vocabulary while its tokenizer has 300."""
    folder = _saved_model(t)
    GPT(GPTConfig(**{**TINY, "vocab_size": 40})).save(folder)
    return folder


def _rename_token_to_euro(d: dict) -> None:
    """Give a merged token a name that is not written in ByteLevel characters."""
    vocab = d["model"]["vocab"]
    name = next(k for k, v in vocab.items() if v == 260)
    vocab["€"] = vocab.pop(name)


def _hf_folder(t: Path, **fields) -> Path:
    folder = t / "hf"
    config = {"model_type": "gpt2", "vocab_size": 50, "n_positions": 8, "n_layer": 1, "n_head": 2,
              "n_embd": 16, **fields}
    _write(folder / "config.json", config)
    _write(folder / "model.safetensors", b"not read: the config fails first")
    return folder


def _resume_with(t: Path, n_embd: int = 16, lr: float = 1e-3):
    model = tiny_model()
    Trainer(model, _TOKENS, None, cfg(steps=1, out_dir=str(t)), device="cpu").fit()
    other = tiny_model(n_embd=n_embd)
    return Trainer(other, _TOKENS, None, cfg(steps=1, out_dir=str(t), lr=lr), resume=True, device="cpu")


def _damaged_cache(t: Path):
    import minillm.zoo as z

    name = "tinyworld"
    folder = t / "pretrained" / f"{name}-v{z.MODELS[name].version}"
    _MODEL.save(folder)
    _TOK.save(folder / "tokenizer.json")
    _write(folder / "config.json", '{"vocab_size": ')
    return z.pretrained(name, progress=False)


@pytest.mark.parametrize("case", sorted(FILES))
def test_bad_files_name_the_file_and_the_field(case, tmp_path, monkeypatch):
    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path))
    call, kind, words = FILES[case]
    with pytest.raises(kind) as info:
        call(tmp_path)
    message = str(info.value)
    for word in words:
        assert word in message, f"{case}: {word!r} not in the message {message!r}"


def test_output_folder_that_cannot_be_written_is_refused_before_training(tmp_path, monkeypatch):
    """We run as root in CI, so a read-only folder is simulated: os.access says no."""
    import os

    real = os.access
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real(p, mode))
    with pytest.raises(PermissionError, match="not writable"):
        Trainer(tiny_model(), _TOKENS, None, cfg(out_dir=str(locked / "run")), device="cpu")


def test_offline_download_says_how_to_get_the_file(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(DownloadError) as info:
        download("https://example.org/x.txt", tmp_path / "x.txt", "0" * 64, progress=False)
    message = str(info.value)
    assert "offline" in message and "by hand" in message and "https://example.org/x.txt" in message
    assert not (tmp_path / "x.txt").exists()


# -- 3. the command line: one line on stderr, exit status 2 ---------------------------------------


def run_cli(argv, capsys) -> tuple[int, str, str]:
    from minillm.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished `minillm pretrain` run (a few steps on a tiny text), made once."""
    import contextlib
    import io

    from minillm.cli import main

    root = tmp_path_factory.mktemp("run")
    text = _write(root / "story.txt", "Once upon a time a cat sat on a mat. The cat was happy. " * 200)
    out = root / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["pretrain", "--out", str(out), "--corpus", str(text), "--preset", "tiny",
                     "--vocab-size", "280", "--steps", "2", "--batch-size", "2", "--quiet",
                     "--checkpoint-every", "1", "--device", "cpu"])
    assert code == 0
    return out


def _run_copy(finished_run: Path, tmp: Path) -> Path:
    out = tmp / "run"
    shutil.copytree(finished_run, out)
    return out


def _edit_run_json(run: Path, fn) -> Path:
    data = json.loads((run / "run.json").read_text())
    fn(data)
    (run / "run.json").write_text(json.dumps(data))
    return run


def _text_file(t: Path, data) -> Path:
    return _write(t / "corpus.txt", data)


P = ["pretrain", "--quiet", "--device", "cpu"]

CLI = {
    # pretrain: flags
    "pretrain-steps-zero": (lambda t, r: [*P, "--out", t / "o", "--steps", "0"], ["--steps", "'0'"]),
    "pretrain-steps-word": (lambda t, r: [*P, "--out", t / "o", "--steps", "many"], ["--steps", "'many'"]),
    "pretrain-lr-nan": (lambda t, r: [*P, "--out", t / "o", "--lr", "nan"], ["--lr", "'nan'"]),
    "pretrain-lr-negative": (lambda t, r: [*P, "--out", t / "o", "--lr", "-1"], ["--lr", "'-1'"]),
    "pretrain-minutes-zero": (lambda t, r: [*P, "--out", t / "o", "--minutes", "0"], ["--minutes", "'0'"]),
    "pretrain-minutes-inf": (lambda t, r: [*P, "--out", t / "o", "--minutes", "inf"], ["--minutes", "'inf'"]),
    "pretrain-batch-float": (lambda t, r: [*P, "--out", t / "o", "--batch-size", "1.5"], ["--batch-size", "'1.5'"]),
    "pretrain-checkpoint-negative": (lambda t, r: [*P, "--out", t / "o", "--checkpoint-every", "-1"],
                                     ["--checkpoint-every", "'-1'"]),
    "pretrain-seed-negative": (lambda t, r: [*P, "--out", t / "o", "--seed", "-3"], ["--seed", "'-3'"]),
    "pretrain-vocab-small": (lambda t, r: [*P, "--out", t / "o", "--vocab-size", "100"], ["--vocab-size 100", "261"]),
    "pretrain-vocab-huge": (lambda t, r: [*P, "--out", t / "o", "--vocab-size", str(HUGE)],
                            ["vocab_size=1000000000000", "would need"]),
    "pretrain-preset-unknown": (lambda t, r: [*P, "--out", t / "o", "--preset", "huge"], ["--preset", "'huge'"]),
    "pretrain-size-unknown": (lambda t, r: [*P, "--out", t / "o", "--size", "huge"], ["--size", "'huge'"]),
    "pretrain-size-not-tinyworld": (lambda t, r: [*P, "--out", t / "o", "--corpus", "pydoc", "--size", "tiny"],
                                    ["--size", "pydoc"]),
    "pretrain-corpus-missing": (lambda t, r: [*P, "--out", t / "o", "--corpus", t / "nope.txt"],
                                ["--corpus", "nope.txt"]),
    "pretrain-corpus-folder": (lambda t, r: [*P, "--out", t / "o", "--corpus", _mkdir(t / "texts")],
                               ["--corpus", "texts", "folder"]),
    "pretrain-corpus-binary": (lambda t, r: [*P, "--out", t / "o", "--corpus", _text_file(t, BINARY)],
                               ["--corpus", "corpus.txt", "not UTF-8"]),
    "pretrain-corpus-empty": (lambda t, r: [*P, "--out", t / "o", "--corpus", _text_file(t, "  \n")],
                              ["--corpus", "corpus.txt", "empty"]),
    "pretrain-corpus-offline": (lambda t, r: [*P, "--out", t / "o", "--corpus", "tinyshakespeare"],
                                ["tinyshakespeare", "needs the network", "by hand", "--corpus PATH"]),
    "pretrain-device-missing": (lambda t, r: ["pretrain", "--out", t / "o", "--device", "cuda:7"],
                                ["'cuda:7'", "cpu"]),
    "pretrain-device-unknown": (lambda t, r: ["pretrain", "--out", t / "o", "--device", "gpu"], ["'gpu'", "cpu"]),
    "pretrain-out-is-file": (lambda t, r: [*P, "--out", _write(t / "taken", "x")], ["--out", "taken", "is a file"]),
    "pretrain-out-under-file": (lambda t, r: [*P, "--out", _write(t / "taken", "x") / "run"],
                                ["--out", "taken", "is a file"]),
    "pretrain-no-out": (lambda t, r: ["pretrain"], ["--out", "required"]),
    "pretrain-unknown-flag": (lambda t, r: [*P, "--out", t / "o", "--epochs", "3"], ["--epochs"]),
    # pretrain: resume
    "resume-no-run": (lambda t, r: [*P, "--out", t / "o", "--resume"], ["run.json", "not found", "--resume"]),
    "resume-and-overwrite": (lambda t, r: [*P, "--out", r, "--resume", "--overwrite"],
                             ["--resume", "--overwrite", "contradict"]),
    "resume-run-json-binary": (lambda t, r: [*P, "--out", _write(r / "run.json", BINARY).parent, "--resume"],
                               ["run.json", "binary"]),
    "resume-run-json-list": (lambda t, r: [*P, "--out", _write(r / "run.json", [1]).parent, "--resume"],
                             ["run.json", "list"]),
    "resume-run-json-truncated": (lambda t, r: [*P, "--out", _write(r / "run.json", '{"corpus": ').parent,
                                                "--resume"], ["run.json", "not valid JSON"]),
    "resume-run-json-no-train": (lambda t, r: [*P, "--out", _edit_run_json(r, lambda d: d.pop("train")),
                                               "--resume"], ["run.json", "'train'", "missing"]),
    "resume-run-json-preset-int": (lambda t, r: [*P, "--out", _edit_run_json(
        r, lambda d: d["model"].update(preset=3)), "--resume"], ["run.json", "model.preset", "3"]),
    "resume-run-json-steps-str": (lambda t, r: [*P, "--out", _edit_run_json(
        r, lambda d: d["train"].update(steps="x")), "--resume"], ["run.json", "steps", "'x'"]),
    "resume-run-json-vocab-str": (lambda t, r: [*P, "--out", _edit_run_json(
        r, lambda d: d.update(vocab_size="280")), "--resume"], ["run.json", "vocab_size", "'280'"]),
    "resume-finished-with-steps": (lambda t, r: [*P, "--out", r, "--resume", "--steps", "10"],
                                   ["complete", "2 of 2 steps", "--steps", "new run"]),
    "resume-with-lr": (lambda t, r: [*P, "--out", r, "--resume", "--lr", "0.1"], ["--lr", "complete"]),
    "resume-checkpoint-deleted": (lambda t, r: [*P, "--out", _unlink(r / "checkpoint.pt"), "--resume"],
                                  ["checkpoint.pt not found", "finished", "model.safetensors"]),
    "resume-foreign-checkpoint": (lambda t, r: [*P, "--out", _torch_save(r / "checkpoint.pt", {"w": torch.ones(1)})
                                                .parent, "--resume"], ["checkpoint.pt", "not a minillm checkpoint"]),
    "restart-finished-run": (lambda t, r: [*P, "--out", r], ["already holds a run", "--resume", "--overwrite"]),
    "restart-finished-run-no-checkpoint": (lambda t, r: [*P, "--out", _unlink(r / "checkpoint.pt"), "--steps", "3"],
                                           ["already holds a run", "model.safetensors"]),
    "restart-only-run-json": (lambda t, r: [*P, "--out", _write(t / "half" / "run.json", "{}").parent],
                              ["already holds a run", "run.json"]),
    # generate
    "generate-missing-folder": (lambda t, r: ["generate", t / "nothing"], ["nothing", "not found"]),
    "generate-temperature-negative": (lambda t, r: ["generate", r, "--temperature", "-1"], ["--temperature", "'-1'"]),
    "generate-temperature-nan": (lambda t, r: ["generate", r, "--temperature", "nan"], ["--temperature", "'nan'"]),
    "generate-top-k-zero": (lambda t, r: ["generate", r, "--top-k", "0"], ["--top-k", "'0'"]),
    "generate-top-k-huge": (lambda t, r: ["generate", r, "--top-k", "100000"], ["top_k=100000", "vocabulary"]),
    "generate-max-new-negative": (lambda t, r: ["generate", r, "--max-new-tokens", "-5"], ["--max-new-tokens"]),
    "generate-samples-zero": (lambda t, r: ["generate", r, "--num-samples", "0"], ["--num-samples", "'0'"]),
    "generate-empty-prompt": (lambda t, r: ["generate", r, "--prompt", ""], ["prompt is empty"]),
    "generate-config-corrupt": (lambda t, r: ["generate", _write(r / "config.json", "{").parent],
                                ["config.json", "not valid JSON"]),
    "generate-tokenizer-binary": (lambda t, r: ["generate", _write(r / "tokenizer.json", BINARY).parent],
                                  ["tokenizer.json", "binary"]),
    "generate-weights-missing": (lambda t, r: ["generate", _unlink(r / "model.safetensors")],
                                 ["model.safetensors", "not found"]),
    # exercises, check-book, readme
    "exercises-solutions-typo": (lambda t, r: ["exercises", "--solutions", t / "solutionz", "--exercises", t / "e"],
                                 ["solutionz", "not found"]),
    "exercises-check-solutions-typo": (lambda t, r: ["exercises", "--check", "--solutions", t / "solutionz"],
                                       ["solutionz", "not found"]),
    "exercises-solutions-empty": (lambda t, r: ["exercises", "--solutions", _mkdir(t / "s"), "--exercises", t / "e"],
                                  ["no .ipynb"]),
    "exercises-solution-corrupt": (lambda t, r: ["exercises", "--solutions", _write(t / "s" / "00-x.ipynb", "{")
                                                 .parent, "--exercises", t / "e"], ["00-x.ipynb", "not valid"]),
    "exercises-target-is-file": (lambda t, r: ["exercises", "--solutions", _solutions(t), "--exercises",
                                               _write(t / "e", "x")], ["exercises folder", "is a file"]),
    "check-book-missing": (lambda t, r: ["check-book", t / "book.yml"], ["book.yml", "not found"]),
    "check-book-binary": (lambda t, r: ["check-book", _write(t / "book.yml", BINARY)], ["book.yml", "binary"]),
    "check-book-list": (lambda t, r: ["check-book", _write(t / "book.yml", "[1, 2]")], ["book.yml", "mapping"]),
    "unknown-command": (lambda t, r: ["train-it"], ["'train-it'"]),
}


def _unlink(path: Path) -> Path:
    path.unlink()
    return path.parent


@pytest.mark.parametrize("case", sorted(CLI))
def test_cli_mistake_is_one_line_and_exit_2(case, tmp_path, capsys, monkeypatch, finished_run):
    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MINILLM_DEBUG", raising=False)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    run = _run_copy(finished_run, tmp_path)
    argv = CLI[case][0](tmp_path, run)
    code, _out, err = run_cli(argv, capsys)
    assert code == 2, f"{case}: exit status {code}, stderr {err!r}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"{case}: expected one line on stderr, got {err!r}"
    assert "Traceback" not in err
    for word in CLI[case][1]:
        assert word in err, f"{case}: {word!r} not in {err!r}"


def test_cli_debug_shows_the_traceback(tmp_path, monkeypatch):
    from minillm.cli import main

    monkeypatch.setenv("MINILLM_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        main(["generate", str(tmp_path / "nothing")])


# -- 4. nothing lost ------------------------------------------------------------------------------


def _hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file's bytes (safetensors' header orders its metadata at random, but we never
    rewrite a file we keep, so bytes are the right test)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_finished_run_survives_every_command_that_could_overwrite_it(finished_run, tmp_path, capsys):
    run = _run_copy(finished_run, tmp_path)
    before = _hashes(run)
    refused = [
        [*P, "--out", run],
        [*P, "--out", run, "--steps", "3"],
        [*P, "--out", run, "--preset", "small"],
        [*P, "--out", run, "--corpus", "pydoc"],
        [*P, "--out", run, "--resume", "--steps", "5"],
        [*P, "--out", run, "--resume", "--minutes", "1"],
        [*P, "--out", run, "--resume", "--batch-size", "8"],
    ]
    for argv in refused:
        code, _, err = run_cli(argv, capsys)
        assert code == 2, (argv, err)
        assert _hashes(run) == before, f"{argv} changed the finished run"
    # resuming a finished run does nothing and writes nothing
    code, out, err = run_cli([*P, "--out", run, "--resume"], capsys)
    assert code == 0, err
    changed = {k for k in before if _hashes(run).get(k) != before[k]}
    assert not changed, f"resuming a finished run rewrote {changed}"
    # a finished run whose checkpoint was deleted to save disk is still refused
    (run / "checkpoint.pt").unlink()
    before = _hashes(run)
    for argv in ([*P, "--out", run], [*P, "--out", run, "--steps", "3"], [*P, "--out", run, "--resume"]):
        code, _, err = run_cli(argv, capsys)
        assert code == 2, (argv, err)
        assert _hashes(run) == before, f"{argv} changed the finished run"


def test_overwrite_replaces_a_run_only_when_asked(finished_run, tmp_path, capsys):
    run = _run_copy(finished_run, tmp_path)
    text = _write(tmp_path / "other.txt", "A dog ran in the park and barked at a bird. " * 200)
    old = _hashes(run)
    code, out, err = run_cli([*P, "--out", run, "--overwrite", "--corpus", text, "--preset", "tiny",
                              "--vocab-size", "270", "--steps", "1", "--batch-size", "2"], capsys)
    assert code == 0, err
    new = _hashes(run)
    assert new["tokenizer.json"] != old["tokenizer.json"] and new["run.json"] != old["run.json"]
    assert json.loads((run / "run.json").read_text())["vocab_size"] == 270


def _learner_edits(path: Path) -> None:
    """What a learner does: fill in an answer, run the cells, save from Jupyter (ids, outputs)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "NotImplementedError" in cell.source:
            cell.source = cell.source.replace('raise NotImplementedError("Exercise 0.1")', "answer = 42  # mine")
            cell.outputs = [nbformat.v4.new_output("stream", text="42\n")]
            cell.execution_count = 1
            break
    else:
        raise AssertionError("no exercise cell found")
    nbformat.write(nb, path)


def _solution_notebook(marker: str, chapter: int = 0) -> dict:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": f"### Exercise {chapter}.1: {marker}"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "assert answer == 42, 'answer should be 42'"},
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}


def test_a_learners_exercises_survive_regeneration(tmp_path, capsys):
    sol, ex = tmp_path / "solutions", tmp_path / "exercises"
    _write(sol / "00-a.ipynb", _solution_notebook("first"))
    _write(sol / "01-b.ipynb", _solution_notebook("first", 1))
    assert run_cli(["exercises", "--solutions", sol, "--exercises", ex], capsys)[0] == 0
    _learner_edits(ex / "00-a.ipynb")
    mine = (ex / "00-a.ipynb").read_bytes()
    # the author changes both solutions: the untouched notebook updates, the learner's is kept
    _write(sol / "00-a.ipynb", _solution_notebook("second"))
    _write(sol / "01-b.ipynb", _solution_notebook("second", 1))
    for argv in (["exercises", "--solutions", sol, "--exercises", ex],
                 ["exercises", "--check", "--solutions", sol, "--exercises", ex]):
        code, out, err = run_cli(argv, capsys)
        assert (ex / "00-a.ipynb").read_bytes() == mine, f"{argv} overwrote the learner's notebook"
    code, out, _ = run_cli(["exercises", "--solutions", sol, "--exercises", ex], capsys)
    assert code == 0 and "skipped" in out and "00-a.ipynb" in out and "--force" in out
    assert "second" in (ex / "01-b.ipynb").read_text(), "the untouched notebook was not updated"
    # --force is the explicit way to take the new version (and lose the edits)
    code, out, _ = run_cli(["exercises", "--force", "--solutions", sol, "--exercises", ex], capsys)
    assert code == 0 and "answer = 42  # mine" not in (ex / "00-a.ipynb").read_text()


def test_running_an_exercise_notebook_is_not_editing_it(tmp_path, capsys):
    """Outputs and cell ids added by Jupyter do not count: only the cells' sources do."""
    import nbformat

    sol, ex = tmp_path / "solutions", tmp_path / "exercises"
    _write(sol / "00-a.ipynb", _solution_notebook("first"))
    generate_all(sol, ex)
    nb = nbformat.read(ex / "00-a.ipynb", as_version=4)
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", text="ok\n")]
    nbformat.write(nb, ex / "00-a.ipynb")
    _write(sol / "00-a.ipynb", _solution_notebook("second"))
    skipped = []
    assert generate_all(sol, ex, skipped=skipped) == [str(ex / "00-a.ipynb")] and not skipped
    assert "second" in (ex / "00-a.ipynb").read_text()


def test_an_unreadable_exercise_notebook_is_never_overwritten(tmp_path):
    sol, ex = tmp_path / "solutions", tmp_path / "exercises"
    _write(sol / "00-a.ipynb", _solution_notebook("first"))
    _write(ex / "00-a.ipynb", BINARY)
    skipped = []
    assert generate_all(sol, ex, skipped=skipped) == []
    assert skipped and "not a readable notebook" in skipped[0][1]
    assert (ex / "00-a.ipynb").read_bytes() == BINARY


def test_interrupted_checkpoint_writes_are_cleaned_up_on_the_next_run(tmp_path):
    leftovers = [_write(tmp_path / f".checkpoint.pt.{k}.tmp", b"x" * 100) for k in ("a1", "b2")]
    keep = _write(tmp_path / "notes.tmp", "mine")
    Trainer(tiny_model(), _TOKENS, None, cfg(out_dir=str(tmp_path)), device="cpu")
    assert not any(p.exists() for p in leftovers)
    assert keep.exists(), "only the trainer's own temporaries go"


def test_interrupted_writes_are_cleaned_up_when_a_run_resumes(finished_run, tmp_path, capsys):
    run = _run_copy(finished_run, tmp_path)
    leftovers = [_write(run / ".checkpoint.pt.x1.tmp", b"x"), _write(run / ".model.safetensors.y2.tmp", b"y")]
    code, _, err = run_cli([*P, "--out", run, "--resume"], capsys)
    assert code == 0, err
    assert not any(p.exists() for p in leftovers)


def test_interrupted_downloads_are_cleaned_up_by_the_next_download(tmp_path, monkeypatch):
    """Only leftovers older than an hour go: a younger one may be another download in progress."""
    import os
    import time

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    old = _write(tmp_path / ".x.txt.abc.tmp", b"x" * 100)
    young = _write(tmp_path / ".x.txt.def.tmp", b"y")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    with pytest.raises(DownloadError):
        download("https://example.org/x.txt", tmp_path / "x.txt", "0" * 64, progress=False)
    assert not old.exists() and young.exists()


def test_resume_ignores_a_model_field_the_checkpoint_predates(tmp_path):
    """A field added to GPTConfig after a checkpoint was written is not a 'different configuration'."""
    Trainer(tiny_model(), _TOKENS, None, cfg(steps=1, out_dir=str(tmp_path)), device="cpu").fit()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    del state["model_config"]["gelu"]
    torch.save(state, tmp_path / "checkpoint.pt")
    trainer = Trainer(tiny_model(), _TOKENS, None, cfg(steps=1, out_dir=str(tmp_path)), resume=True, device="cpu")
    assert trainer.step == 1


def test_cli_readme_outside_the_repository(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["readme"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no book.yml" in err


def test_half_built_cached_models_are_removed_by_the_next_build(tmp_path, monkeypatch):
    import minillm.zoo as z

    def build(entry, folder, base_folder, progress):
        _MODEL.save(folder)
        _TOK.save(folder / "tokenizer.json")

    def crash(entry, folder, base_folder, progress):
        _MODEL.save(folder)  # half written, then killed
        raise KeyboardInterrupt

    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path))
    monkeypatch.setitem(globals(), "_BUILD", build)
    monkeypatch.setitem(globals(), "_CRASH", crash)
    monkeypatch.setitem(z.MODELS, "unit-crash", z.Entry(version=2, build=f"{__name__}:_CRASH"))
    with pytest.raises(KeyboardInterrupt):
        z.pretrained("unit-crash", progress=False)
    parent = tmp_path / "pretrained"
    assert not [p for p in parent.iterdir() if p.is_dir()], "an interrupted build left a folder"
    # a build killed with SIGKILL cannot clean up: its folder stays until the next build
    stale = _mkdir(parent / ".unit-crash-v2.killed")
    _write(stale / ".model.safetensors.abc.tmp", b"x" * 1000)
    monkeypatch.setitem(z.MODELS, "unit-crash", z.Entry(version=2, build=f"{__name__}:_BUILD"))
    model, _ = z.pretrained("unit-crash", progress=False)
    assert not stale.exists()
    assert [p.name for p in parent.iterdir() if p.is_dir()] == ["unit-crash-v2"]


def test_the_count_of_bad_inputs():
    """Issue 17 asks for at least 150 different bad inputs; keep the count honest."""
    assert len(API) + len(FILES) + len(CLI) >= 150


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")
def test_gpu_sizes_and_missing_gpus_are_named():
    with pytest.raises(ValueError, match=r"'cuda:99' does not exist: this machine has 'cpu', 'cuda:0'"):
        device("cuda:99")
    with pytest.raises(ValueError, match=r"would need .* but the GPU \(cuda"):
        Trainer(tiny_model(), _TOKENS, None, cfg(batch_size=10**9), device="cuda")
