"""Bad input to the newer modules (issue 17, "the new modules of the other issues follow the same
rules"): generate, lora, rag, calibration, ratings, quantize, distill, security, tools, measure,
evaluate, optim, finetune, rlhf, zoo, and the command line that reaches them.

Each case checks the exception type and that the message names the bad input (the argument,
field or file, and usually the value). Wrong types are :class:`minillm.utils.InputTypeError`
(a ``TypeError`` that is also a ``ValueError``). Tiny models built from ``GPTConfig`` only; no
cached course model is built. Run them with::

    python -m pytest tests/test_bad_input_modules.py -q -p no:cacheprovider
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from bad_input_files import BINARY
from bad_input_files import write as _write

import minillm.calibration as C
import minillm.distill as D
import minillm.evaluate as E
import minillm.finetune as F
import minillm.generate as G
import minillm.lora as L
import minillm.optim as O
import minillm.quantize as Q
import minillm.rag as R
import minillm.ratings as RT
import minillm.rlhf as RL
import minillm.security as S
import minillm.tools as T
import minillm.zoo as Z
from minillm.measure import PeakMemory
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import BPETokenizer
from minillm.utils import InputTypeError

NAN, INF = float("nan"), float("inf")
HUGE = 10**12
TINY = dict(vocab_size=300, block_size=16, n_layer=1, n_head=2, n_embd=16)


def tiny(**overrides) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**TINY, **overrides}))


M = tiny()
TOK = BPETokenizer().train("the cat sat on the mat, the dog sat on the log. " * 20, 270)
LIN = torch.nn.Linear(8, 4)
Z2 = torch.zeros(2, 4)
T2 = torch.zeros(2, dtype=torch.long)
BM = R.BM25().index(["the cat", "a dog"])
W = torch.nn.Parameter(torch.ones(2, 2))
EX = [([1, 2], [2, 3])]


def _gen(**kw):
    return G.generate(M, [1, 2], max_new_tokens=2, **kw)


def _reward(prompts, answers):
    return [0.0] * len(answers)



def _nested_peak_memory():
    """Enter the same PeakMemory twice; the outer block is left properly (its dispatch mode must
    not leak into the tests that run after this one in the same process)."""
    mem = PeakMemory()
    with mem, mem:
        pass


# (call, exception type, words the message must hold)
API = {
    # generate: the engine
    "gen-model-str": (lambda: G.generate("gpt", [1, 2]), TypeError, ["model", "minillm GPT", "'gpt'"]),
    "gen-tokenizer-str": (lambda: G.generate(M, "hi", "gpt2"), TypeError, ["tokenizer", "'gpt2'"]),
    "gen-seed-str": (lambda: _gen(seed="0"), TypeError, ["seed", "'0'"]),
    "gen-seed-negative": (lambda: _gen(seed=-1), ValueError, ["seed", "-1"]),
    "gen-seed-float": (lambda: _gen(seed=1.5), TypeError, ["seed", "1.5"]),
    "gen-generator-int": (lambda: _gen(generator=3), TypeError, ["generator", "torch.Generator", "3"]),
    "gen-stop-int": (lambda: G.generate(M, "the", TOK, max_new_tokens=2, stop=5), TypeError, ["stop", "5", "stop_ids"]),
    "gen-stop-list-int": (lambda: G.generate(M, "the", TOK, max_new_tokens=2, stop=["a", 5]), TypeError,
                          ["stop", "5", "int"]),
    "gen-stop-empty": (lambda: G.generate(M, "the", TOK, max_new_tokens=2, stop=[""]), ValueError, ["stop", "''"]),
    "gen-stop-ids-str": (lambda: _gen(stop_ids="x"), TypeError, ["stop_ids", "'x'", "stop="]),
    "gen-stop-ids-float": (lambda: _gen(stop_ids=[1.0]), TypeError, ["stop id 1.0"]),
    "gen-stop-ids-out-of-vocab": (lambda: _gen(stop_ids=[300]), ValueError, ["stop id 300", "0..299"]),
    "gen-prompt-float-tensor": (lambda: G.generate(M, torch.ones(1, 3), max_new_tokens=2), TypeError,
                                ["prompt tensor", "float32"]),
    "gen-prompt-3d-tensor": (lambda: G.generate(M, torch.ones(1, 1, 3, dtype=torch.long)), ValueError,
                             ["prompt tensor", "(1, 1, 3)"]),
    "gen-prompt-bool-ids": (lambda: G.generate(M, [[True, False]], max_new_tokens=2), TypeError,
                            ["prompt 0", "True", "bool"]),
    "gen-prompts-empty": (lambda: G.generate(M, [], max_new_tokens=2), ValueError, ["prompts is empty"]),
    "gen-prompts-dict": (lambda: G.generate(M, {"a": 1}), TypeError, ["prompts", "dict"]),
    "gen-prompts-none": (lambda: G.generate(M, None), TypeError, ["prompts", "None"]),
    "gen-prompt-out-of-vocab": (lambda: G.generate(M, [[1, 999]], max_new_tokens=2), ValueError,
                                ["prompt 0", "token id 999", "0..299"]),
    "gen-prompt-longer-than-context": (lambda: G.generate(M, [1] * 17, max_new_tokens=1), ValueError,
                                       ["17 tokens", "block_size=16", "truncate_prompt=True"]),
    "gen-max-new-overflows-context": (lambda: G.generate(M, [1, 2], max_new_tokens=20), ValueError,
                                      ["max_new_tokens=20", "block_size=16", "overflow='slide'"]),
    "gen-max-new-float": (lambda: G.generate(M, [1, 2], max_new_tokens=2.0), TypeError, ["max_new_tokens", "2.0"]),
    "gen-max-new-huge": (lambda: G.generate(M, [1, 2], max_new_tokens=HUGE, overflow="slide"), ValueError,
                         ["max_new_tokens=1000000000000", "would need"]),
    "gen-use-cache-str": (lambda: _gen(use_cache="no"), TypeError, ["use_cache", "'no'"]),
    "gen-truncate-str": (lambda: _gen(truncate_prompt="yes"), TypeError, ["truncate_prompt", "'yes'"]),
    "gen-overflow-int": (lambda: _gen(overflow=1), ValueError, ["overflow", "'slide'", "1"]),
    "gen-temperature-inf": (lambda: _gen(temperature=INF), ValueError, ["temperature", "inf"]),
    "gen-temperature-str": (lambda: _gen(temperature="1"), TypeError, ["temperature", "'1'"]),
    "gen-temperature-negative": (lambda: _gen(temperature=-0.5), ValueError, ["temperature", "-0.5"]),
    "gen-top-p-zero": (lambda: _gen(top_p=0), ValueError, ["top_p", "(0, 1]", "0"]),
    "gen-top-p-above-one": (lambda: _gen(top_p=1.5), ValueError, ["top_p", "1.5"]),
    "gen-top-p-nan": (lambda: _gen(top_p=NAN), ValueError, ["top_p", "nan"]),
    "gen-top-p-str": (lambda: _gen(top_p="0.9"), TypeError, ["top_p", "'0.9'"]),
    "gen-min-p-negative": (lambda: _gen(min_p=-0.1), ValueError, ["min_p", "-0.1"]),
    "gen-repetition-zero": (lambda: _gen(repetition_penalty=0), ValueError, ["repetition_penalty", "0"]),
    "gen-repetition-str": (lambda: _gen(repetition_penalty="1.2"), TypeError, ["repetition_penalty", "'1.2'"]),
    "gen-top-k-float": (lambda: _gen(top_k=2.0), TypeError, ["top_k", "2.0"]),
    "gen-top-k-above-vocab": (lambda: _gen(top_k=301), ValueError, ["top_k=301", "vocabulary", "None"]),
    "gen-start-id-str": (lambda: G.generate(M, [[]], max_new_tokens=2, start_id="0"), TypeError, ["start_id", "'0'"]),
    "gen-start-id-bool": (lambda: G.generate(M, [[]], max_new_tokens=2, start_id=True), TypeError,
                          ["start_id", "True"]),
    "gen-start-id-out-of-vocab": (lambda: G.generate(M, [[]], max_new_tokens=2, start_id=300), ValueError,
                                  ["start_id 300"]),
    "gen-empty-prompt-no-start": (lambda: G.generate(M, [[]], max_new_tokens=2), ValueError,
                                  ["prompt 0 is empty", "start_id"]),
    "gen-text-without-tokenizer": (lambda: G.generate(M, "hello"), ValueError, ["tokenizer"]),
    # generate: the sampling functions
    "temperature-logits-list": (lambda: G.apply_temperature([1.0, 2.0], 1.0), TypeError, ["logits", "list"]),
    "temperature-zero": (lambda: G.apply_temperature(Z2, 0), ValueError, ["temperature 0", "greedy"]),
    "top-k-logits-list": (lambda: G.top_k_filter([1.0], 1), TypeError, ["logits", "torch.Tensor"]),
    "top-p-logits-int": (lambda: G.top_p_filter(torch.zeros(2, 3, dtype=torch.long), 0.5), TypeError,
                         ["logits", "int64"]),
    "min-p-logits-empty": (lambda: G.min_p_filter(torch.zeros(2, 0), 0.5), ValueError, ["logits", "(2, 0)"]),
    "repetition-ids-out-of-vocab": (lambda: G.repetition_penalty(torch.zeros(1, 5), torch.tensor([[7]]), 1.2),
                                    ValueError, ["ids", "token id 7", "0..4"]),
    "repetition-ids-float": (lambda: G.repetition_penalty(torch.zeros(1, 5), torch.tensor([[1.0]]), 1.2),
                             TypeError, ["ids", "float32"]),
    "repetition-ids-shape": (lambda: G.repetition_penalty(torch.zeros(1, 5), torch.tensor([[1], [2]]), 1.2),
                             ValueError, ["ids", "(2, 1)"]),
    "sample-all-filtered": (lambda: G.sample(torch.full((1, 5), -INF)), ValueError, ["row 0", "-inf"]),
    "sample-generator-int": (lambda: G.sample(torch.zeros(1, 5), generator=3), TypeError, ["generator"]),
    "greedy-list": (lambda: G.greedy([1, 2]), TypeError, ["logits", "list"]),
    "process-logits-dict": (lambda: G.process_logits(torch.zeros(1, 5), {"temperature": 1}), TypeError,
                            ["cfg", "SamplingConfig", "dict"]),
    "sampling-config-top-p": (lambda: G.SamplingConfig(top_p=2), ValueError, ["top_p", "2"]),
    # generate: beams, speculation, scoring, streaming
    "beam-num-zero": (lambda: G.beam_search(M, [1, 2], num_beams=0, max_new_tokens=2), ValueError, ["num_beams", "0"]),
    "beam-length-penalty-nan": (lambda: G.beam_search(M, [1, 2], num_beams=2, max_new_tokens=2, length_penalty=NAN),
                                ValueError, ["length_penalty", "nan"]),
    "beam-length-penalty-str": (lambda: G.beam_search(M, [1, 2], length_penalty="1"), TypeError,
                                ["length_penalty", "'1'"]),
    "beam-num-huge": (lambda: G.beam_search(M, [1, 2], num_beams=10**9, max_new_tokens=2), ValueError,
                      ["num_beams=1000000000", "would need"]),
    "beam-two-prompts": (lambda: G.beam_search(M, [[1, 2], [3]], num_beams=2, max_new_tokens=2), ValueError,
                         ["one prompt", "2"]),
    "beam-model-str": (lambda: G.beam_search("m", [1, 2]), TypeError, ["model", "minillm GPT"]),
    "speculative-k-zero": (lambda: G.speculative_generate(M, M, [1, 2], k=0), ValueError, ["k (draft", "0"]),
    "speculative-draft-str": (lambda: G.speculative_generate(M, "d", [1, 2], max_new_tokens=2), TypeError,
                              ["draft", "minillm GPT"]),
    "speculative-seed-str": (lambda: G.speculative_generate(M, M, [1, 2], max_new_tokens=2, seed="1"), TypeError,
                             ["seed", "'1'"]),
    "speculative-other-vocab": (lambda: G.speculative_generate(M, tiny(vocab_size=280), [1, 2], max_new_tokens=2),
                                ValueError, ["vocabulary", "280", "300"]),
    "score-mismatched": (lambda: G.score(M, [[1]], [[2], [3]]), ValueError, ["1 prompts", "2 completions"]),
    "score-out-of-vocab": (lambda: G.score(M, [[1]], [[999]]), ValueError, ["completions[0]", "token id 999"]),
    "score-float-id": (lambda: G.score(M, [[1]], [[1.5]]), TypeError, ["completions[0]", "1.5"]),
    "score-str": (lambda: G.score(M, "abc", "def"), TypeError, ["prompts", "'abc'"]),
    "score-empty": (lambda: G.score(M, [], []), ValueError, ["prompts is empty"]),
    "score-flat-list": (lambda: G.score(M, [1], [2]), TypeError, ["prompts", "lists of token ids"]),
    "score-empty-prompt": (lambda: G.score(M, [[]], [[1]]), ValueError, ["prompt 0 is empty"]),
    "stream-unknown-keyword": (lambda: G.stream(M, TOK, "the", max_tokens=2), TypeError, ["'max_tokens'", "generate()"]),
    "stream-two-prompts": (lambda: G.stream(M, TOK, ["a", "b"]), ValueError, ["one prompt", "2"]),
    "stream-no-tokenizer": (lambda: G.stream(M, None, "hi"), ValueError, ["tokenizer"]),
    # lora
    "lora-rank-zero": (lambda: L.LoRALinear(LIN, 0), ValueError, ["rank r", "4", "got 0"]),
    "lora-rank-above-layer": (lambda: L.LoRALinear(LIN, 5), ValueError, ["rank r", "8->4", "got 5"]),
    "lora-rank-float": (lambda: L.LoRALinear(LIN, 2.0), TypeError, ["rank r", "2.0"]),
    "lora-rank-str": (lambda: L.LoRALinear(LIN, "2"), TypeError, ["rank r", "'2'"]),
    "lora-alpha-str": (lambda: L.LoRALinear(LIN, 2, alpha="1"), TypeError, ["alpha", "'1'"]),
    "lora-alpha-nan": (lambda: L.LoRALinear(LIN, 2, alpha=NAN), ValueError, ["alpha", "nan"]),
    "lora-alpha-inf": (lambda: L.LoRALinear(LIN, 2, alpha=INF), ValueError, ["alpha", "inf"]),
    "lora-dropout-above-one": (lambda: L.LoRALinear(LIN, 2, dropout=1.5), ValueError, ["dropout", "1.5"]),
    "lora-dropout-negative": (lambda: L.LoRALinear(LIN, 2, dropout=-0.1), ValueError, ["dropout", "-0.1"]),
    "lora-base-conv": (lambda: L.LoRALinear(torch.nn.Conv1d(2, 2, 1), 1), TypeError, ["nn.Linear", "Conv1d"]),
    "apply-lora-model-str": (lambda: L.apply_lora("gpt"), TypeError, ["model", "'gpt'"]),
    "apply-lora-targets-int": (lambda: L.apply_lora(tiny(), target_modules=5), TypeError, ["target_modules", "5"]),
    "apply-lora-target-int-in-list": (lambda: L.apply_lora(tiny(), target_modules=["attn.qkv", 3]), TypeError,
                                      ["target_modules", "3"]),
    "apply-lora-unknown-target": (lambda: L.apply_lora(tiny(), target_modules=["attn.q"]), ValueError,
                                  ["'attn.q'", "matches no nn.Linear", "blocks.0.attn.qkv"]),
    "apply-lora-embedding-target": (lambda: L.apply_lora(tiny(), target_modules=["tok_emb"]), ValueError,
                                    ["'tok_emb'", "nn.Linear"]),
    "apply-lora-rank-above-layer": (lambda: L.apply_lora(tiny(), r=100), ValueError,
                                    ["rank r", "blocks.0.attn.qkv", "got 100"]),
    "apply-lora-empty-targets": (lambda: L.apply_lora(tiny(), target_modules=[]), ValueError, ["target_modules is empty"]),
    "save-adapter-path-int": (lambda: L.save_adapter(L.apply_lora(tiny(), r=2), 5), TypeError, ["path", "5"]),
    "save-adapter-no-lora": (lambda: L.save_adapter(tiny(), "/tmp/x.safetensors"), ValueError, ["no LoRA layers"]),
    "load-adapter-check-base-str": (lambda: L.load_adapter(tiny(), "/tmp/none.safetensors", check_base="no"),
                                    TypeError, ["check_base", "'no'"]),
    "load-adapter-model-str": (lambda: L.load_adapter("m", "/tmp/none.safetensors"), TypeError, ["model", "'m'"]),
    "load-adapter-path-int": (lambda: L.load_adapter(tiny(), 5), TypeError, ["path", "5"]),
    "trainable-parameters-str": (lambda: L.trainable_parameters("m"), TypeError, ["model", "str"]),
    # distill
    "distill-logits-list": (lambda: D.distillation_loss([1.0], [1.0], [0]), TypeError, ["student_logits", "list"]),
    "distill-logits-int": (lambda: D.distillation_loss(Z2.long(), Z2.long(), T2), TypeError,
                           ["student_logits", "int64"]),
    "distill-targets-float": (lambda: D.distillation_loss(Z2, Z2, torch.zeros(2)), TypeError, ["targets", "float32"]),
    "distill-T-str": (lambda: D.distillation_loss(Z2, Z2, T2, T="2"), TypeError, ["T", "'2'"]),
    "distill-T-inf": (lambda: D.distillation_loss(Z2, Z2, T2, T=INF), ValueError, ["T", "inf"]),
    "distill-alpha-str": (lambda: D.distillation_loss(Z2, Z2, T2, alpha="0.5"), TypeError, ["alpha", "'0.5'"]),
    "distill-ignore-index-str": (lambda: D.distillation_loss(Z2, Z2, T2, ignore_index="x"), TypeError,
                                 ["ignore_index", "'x'"]),
    # security
    "exposure-rank-bool": (lambda: S.exposure(True, 10), TypeError, ["rank", "True"]),
    "exposure-rank-float": (lambda: S.exposure(1.0, 10), TypeError, ["rank", "1.0"]),
    "exposure-candidates-str": (lambda: S.exposure(1, "10"), TypeError, ["n_candidates", "'10'"]),
    "canary-secret-int": (lambda: S.canary_rank(len, 5, ["a", "b"]), TypeError, ["secret", "5"]),
    "canary-candidates-str": (lambda: S.canary_rank(len, "ab", "abc"), TypeError, ["candidates", "'abc'"]),
    "canary-candidate-int": (lambda: S.canary_rank(len, "ab", ["cd", 5]), TypeError, ["candidates", "5"]),
    "canary-score-str": (lambda: S.canary_rank(lambda s: "x", "ab", ["cd"]), TypeError, ["score_fn", "'x'"]),
    "extraction-generate-str": (lambda: S.extraction_success("gen", "p", "s"), TypeError, ["generate", "'gen'"]),
    "extraction-prefix-int": (lambda: S.extraction_success(lambda p: p, 5, "s"), TypeError, ["prefix", "5"]),
    "extraction-attempts-bool": (lambda: S.extraction_success(lambda p: p, "p", "s", True), TypeError,
                                 ["attempts", "True"]),
    # tools
    "calc-max-length-str": (lambda: T.evaluate_arithmetic("1+1", max_length="5"), TypeError, ["max_length", "'5'"]),
    "calc-max-bits-zero": (lambda: T.evaluate_arithmetic("1+1", max_bits=0), ValueError, ["max_bits", "0"]),
    "apply-calculator-max-calls-negative": (lambda: T.apply_calculator("<calc>1</calc>", max_calls=-1), ValueError,
                                            ["max_calls", "-1"]),
    "apply-calculator-max-calls-str": (lambda: T.apply_calculator("x", max_calls="3"), TypeError, ["max_calls", "'3'"]),
    "majority-vote-str": (lambda: T.majority_vote("abc"), TypeError, ["answers", "'abc'", "list"]),
    "majority-vote-key-int": (lambda: T.majority_vote(["a"], key=5), TypeError, ["key", "5"]),
    "majority-vote-unhashable": (lambda: T.majority_vote([[1], [2]]), TypeError, ["answers[0]", "[1]", "hashable"]),
    "verify-expected-nan": (lambda: T.verify_arithmetic("3", NAN), ValueError, ["expected", "nan"]),
    "verify-rel-tol-negative": (lambda: T.verify_arithmetic("3", 3, rel_tol=-1), ValueError, ["rel_tol", "-1"]),
    "format-number-str": (lambda: T.format_number("3"), TypeError, ["value", "'3'"]),
    # measure
    "peak-memory-nested": (lambda: _nested_peak_memory(), RuntimeError,
                           ["already measuring", "second PeakMemory"]),
    # optim
    "newton-schulz-list": (lambda: O.newton_schulz([[1.0]]), TypeError, ["g", "list"]),
    "newton-schulz-int": (lambda: O.newton_schulz(torch.ones(2, 2, dtype=torch.long)), TypeError, ["g", "int64"]),
    "newton-schulz-steps-negative": (lambda: O.newton_schulz(torch.ones(2, 2), steps=-1), ValueError, ["steps", "-1"]),
    "muon-lr-str": (lambda: O.Muon([W], lr="0.02"), TypeError, ["Muon", "lr", "'0.02'"]),
    "muon-lr-inf": (lambda: O.Muon([W], lr=INF), ValueError, ["Muon", "lr", "inf"]),
    "muon-momentum-str": (lambda: O.Muon([W], momentum="0.9"), TypeError, ["momentum", "'0.9'"]),
    "muon-ns-steps-zero": (lambda: O.Muon([W], ns_steps=0), ValueError, ["ns_steps", "0"]),
    "muon-betas-one": (lambda: O.Muon([W], betas=(0.9,)), TypeError, ["betas", "(0.9,)"]),
    "muon-betas-above-one": (lambda: O.Muon([W], betas=(0.9, 1.5)), ValueError, ["betas[1]", "1.5"]),
    "muon-eps-negative": (lambda: O.Muon([W], eps=-1), ValueError, ["eps", "-1"]),
    "muon-weight-decay-negative": (lambda: O.Muon([W], weight_decay=-1), ValueError, ["weight_decay", "-1"]),
    "muon-nesterov-str": (lambda: O.Muon([W], nesterov="no"), TypeError, ["nesterov", "'no'"]),
    "muon-group-lr-negative": (lambda: O.Muon([{"params": [W], "lr": -1.0}]), ValueError,
                               ["param_groups[0]", "lr", "-1"]),
    "muon-groups-model-str": (lambda: O.muon_param_groups("m", lr=1e-3, muon_lr=0.02, weight_decay=0.1), TypeError,
                              ["model", "str"]),
    "muon-groups-lr-negative": (lambda: O.muon_param_groups(tiny(), lr=-1, muon_lr=0.02, weight_decay=0.1),
                                ValueError, ["lr", "-1"]),
    # evaluate
    "greedy-complete-model-str": (lambda: E.greedy_complete("m", TOK, ["a"]), TypeError, ["model", "str"]),
    "greedy-complete-max-new-str": (lambda: E.greedy_complete(M, TOK, ["a"], max_new_tokens="3"), TypeError,
                                    ["max_new_tokens", "'3'"]),
    "greedy-complete-batch-zero": (lambda: E.greedy_complete(M, TOK, ["the"], batch_size=0), ValueError,
                                   ["batch_size", "0"]),
    "greedy-complete-prompt-int": (lambda: E.greedy_complete(M, TOK, [5]), TypeError, ["prompts[0]", "5"]),
    "greedy-complete-prompts-none": (lambda: E.greedy_complete(M, TOK, None), TypeError, ["prompts", "None"]),
    "greedy-complete-prompt-too-long": (lambda: E.greedy_complete(M, TOK, ["the cat sat on the mat " * 5]),
                                        ValueError, ["prompt 0", "block_size=16"]),
    "greedy-complete-stop-int": (lambda: E.greedy_complete(M, TOK, ["the"], stop=5), TypeError, ["stop", "5"]),
    "continuation-prompt-int": (lambda: E.continuation_logprobs(M, TOK, 5, ["a"]), TypeError, ["prompt", "5"]),
    "continuation-continuations-str": (lambda: E.continuation_logprobs(M, TOK, "the", "abc"), TypeError,
                                       ["continuations", "'abc'"]),
    "continuation-empty": (lambda: E.continuation_logprobs(M, TOK, "the", []), ValueError, ["continuations is empty"]),
    "continuation-empty-prompt": (lambda: E.continuation_logprobs(M, TOK, "", ["the"]), ValueError,
                                  ["prompt is empty"]),
    "continuation-too-long": (lambda: E.continuation_logprobs(M, TOK, "the", ["the cat sat on the mat " * 5]),
                              ValueError, ["continuations[0]", "block_size=16"]),
    "fact-answer-unknown-relation": (lambda: E.fact_answer(None, None, "shoe"), ValueError, ["'shoe'", "job"]),
    "fact-completion-relations-str": (lambda: E.fact_completion(M, TOK, None, [1], relations="job"), TypeError,
                                      ["relations", "'job'", "['job']"]),
    "chat-prompt-int": (lambda: E.chat_prompt(5), TypeError, ["question", "5"]),
    "qa-accuracy-strings": (lambda: E.qa_accuracy(M, TOK, ["what?"]), TypeError, ["qas[0]", "'what?'"]),
    # finetune
    "format-chat-str": (lambda: F.format_chat("hello"), ValueError, ["messages", "non-empty list"]),
    "format-chat-generation-prompt-str": (lambda: F.format_chat([{"role": "user", "content": "x"}],
                                                                add_generation_prompt="yes"),
                                          TypeError, ["add_generation_prompt", "'yes'"]),
    "encode-chat-tokenizer-str": (lambda: F.encode_chat("gpt2", [{"role": "user", "content": "x"}]), TypeError,
                                  ["tokenizer", "'gpt2'"]),
    "encode-chat-mask-str": (lambda: F.encode_chat(TOK, [{"role": "user", "content": "x"}], mask_prompt="no"),
                             TypeError, ["mask_prompt", "'no'"]),
    "encode-chat-unknown-role": (lambda: F.encode_chat(TOK, [{"role": "bot", "content": "x"}]), ValueError,
                                 ["messages[0]", "'bot'"]),
    "example-batches-batch-float": (lambda: F.ExampleBatches(EX, 2.0), TypeError, ["batch_size", "2.0"]),
    "example-batches-batch-bool": (lambda: F.ExampleBatches(EX, True), TypeError, ["batch_size", "True"]),
    "example-batches-example-int": (lambda: F.ExampleBatches([5], 2), TypeError, ["example 0", "5"]),
    "example-batches-example-triple": (lambda: F.ExampleBatches([([1], [2], 3)], 2), TypeError, ["example 0", "pair"]),
    "example-batches-float-id": (lambda: F.ExampleBatches([([1.5, 2], [2, 3])], 2), TypeError,
                                 ["example 0", "1.5"]),
    "example-batches-negative-id": (lambda: F.ExampleBatches([([-1, 2], [2, 3])], 2), ValueError,
                                    ["example 0", "-1"]),
    "example-batches-ids-str": (lambda: F.ExampleBatches([("ab", [2, 3])], 2), TypeError, ["example 0", "'ab'"]),
    "example-batches-pad-negative": (lambda: F.ExampleBatches(EX, 2, pad_id=-1), ValueError, ["pad_id", "-1"]),
    "example-batches-accum-zero": (lambda: F.ExampleBatches(EX, 2, grad_accum=0), ValueError, ["grad_accum", "0"]),
    "example-batches-seed-str": (lambda: F.ExampleBatches(EX, 2, seed="0"), TypeError, ["seed", "'0'"]),
    "example-batches-mixed": (lambda: F.ExampleBatches([([1, 2], 1), ([1, 2], [2, 3])], 2), ValueError,
                              ["example 1", "example 0", "one kind"]),
    "example-batches-label-bool": (lambda: F.ExampleBatches([([1, 2], True)], 2), TypeError, ["example 0", "True"]),
    "example-batches-label-float": (lambda: F.ExampleBatches([([1, 2], 1.0)], 2), TypeError, ["example 0", "1.0"]),
    "example-batches-mismatched-targets": (lambda: F.ExampleBatches([([1, 2], [2])], 2), ValueError,
                                           ["2 ids but 1 targets"]),
    "classifier-backbone-str": (lambda: F.Classifier("gpt", 2), TypeError, ["backbone", "str"]),
    "classifier-classes-bool": (lambda: F.Classifier(M, True), TypeError, ["n_classes", "True"]),
    "classifier-weights-nan": (lambda: F.Classifier(M, 2, class_weights=[NAN, 1.0]), ValueError,
                               ["class_weights", "nan"]),
    "classifier-weights-negative": (lambda: F.Classifier(M, 2, class_weights=[-1.0, 1.0]), ValueError,
                                    ["class_weights", "-1.0"]),
    "classifier-weights-str": (lambda: F.Classifier(M, 2, class_weights="ab"), TypeError, ["class_weights", "'ab'"]),
    "classifier-label-out-of-range": (lambda: F.Classifier(M, 2)(torch.zeros(2, 3, dtype=torch.long),
                                                                 torch.tensor([0, 5])),
                                      ValueError, ["labels", "class 5", "n_classes=2"]),
    "classifier-labels-shape": (lambda: F.Classifier(M, 2)(torch.zeros(2, 3, dtype=torch.long),
                                                           torch.tensor([0, 1, 1])),
                                ValueError, ["labels", "(2,)", "(3,)"]),
    "freeze-int": (lambda: F.freeze(M, 3), TypeError, ["train", "3"]),
    "freeze-model-str": (lambda: F.freeze("m", "all"), TypeError, ["model", "str"]),
    "freeze-too-many-blocks": (lambda: F.freeze(tiny(), "last5"), ValueError, ["'last5'", "1 blocks"]),
    "class-weights-zero-classes": (lambda: F.class_weights([0, 1], 0), ValueError, ["n_classes", "0"]),
    "class-weights-label-out-of-range": (lambda: F.class_weights([0, 3], 2), ValueError, ["labels", "class 3"]),
    "class-weights-negative-label": (lambda: F.class_weights([0, -1], 2), ValueError, ["labels", "class -1"]),
    "class-weights-float-labels": (lambda: F.class_weights([0.5, 1], 2), TypeError, ["labels", "float"]),
    "class-weights-empty": (lambda: F.class_weights([], 2), ValueError, ["labels is empty"]),
    "confusion-mismatched": (lambda: F.confusion_matrix([0, 1], [0], 2), ValueError, ["pred has 2", "true has 1"]),
    "confusion-out-of-range": (lambda: F.confusion_matrix([0, 5], [0, 1], 2), ValueError, ["pred", "class 5"]),
    "confusion-negative": (lambda: F.confusion_matrix([0, 1], [0, -1], 2), ValueError, ["true", "class -1"]),
    "review-dataset-n-negative": (lambda: F.review_dataset(None, -1), ValueError, ["n", "-1"]),
    "review-dataset-positive-str": (lambda: F.review_dataset(None, 5, positive="0.5"), TypeError,
                                    ["positive", "'0.5'"]),
    "text-examples-mismatched": (lambda: F.text_examples(TOK, ["a", "b"], [1], 4), ValueError,
                                 ["texts has 2", "labels has 1"]),
    "text-examples-max-len-zero": (lambda: F.text_examples(TOK, ["a"], [1], 0), ValueError, ["max_len", "0"]),
    "text-examples-str": (lambda: F.text_examples(TOK, "ab", [1, 0], 4), TypeError, ["texts", "str"]),
    # rag
    "bm25-k1-str": (lambda: R.BM25(k1="1.5"), TypeError, ["k1", "'1.5'"]),
    "bm25-k1-inf": (lambda: R.BM25(k1=INF), ValueError, ["k1", "inf"]),
    "bm25-epsilon-negative": (lambda: R.BM25(epsilon=-1), ValueError, ["epsilon", "-1"]),
    "bm25-epsilon-str": (lambda: R.BM25(epsilon="x"), TypeError, ["epsilon", "'x'"]),
    "bm25-tokenizer-str": (lambda: R.BM25(tokenizer="words"), TypeError, ["tokenizer", "'words'"]),
    "bm25-docs-int": (lambda: R.BM25().index(5), TypeError, ["docs", "int"]),
    "bm25-docs-ints": (lambda: R.BM25().index([1, 2]), TypeError, ["docs", "1"]),
    "bm25-ids-duplicate": (lambda: R.BM25().index(["a", "b"], ids=[1, 1]), ValueError, ["ids", "1 twice"]),
    "bm25-k-float": (lambda: BM.search("cat", 2.0), TypeError, ["k", "2.0"]),
    "bm25-k-bool": (lambda: BM.search("cat", True), TypeError, ["k", "True"]),
    "bm25-query-int": (lambda: BM.search(5), TypeError, ["text", "int"]),
    "dense-strings": (lambda: R.DenseIndex([["a"]]), TypeError, ["embeddings", "list"]),
    "dense-nan": (lambda: R.DenseIndex(torch.tensor([[NAN, 1.0]])), ValueError, ["embeddings", "NaN"]),
    "dense-query-str": (lambda: R.DenseIndex(torch.ones(2, 2)).search("cat"), TypeError, ["query", "'cat'"]),
    "dense-query-nan": (lambda: R.DenseIndex(torch.ones(2, 2)).search(torch.tensor([NAN, 1.0])), ValueError,
                        ["query", "NaN"]),
    "dense-query-zero": (lambda: R.DenseIndex(torch.ones(2, 2)).search(torch.zeros(2)), ValueError,
                         ["query", "all-zero"]),
    "dense-query-list-shape": (lambda: R.DenseIndex(torch.ones(2, 2)).search([1.0, 2.0, 3.0]), ValueError,
                               ["query", "D=2", "(3,)"]),
    "recall-retrieved-int": (lambda: R.recall_at_k(5, [1], 1), TypeError, ["retrieved_ids", "int"]),
    "recall-relevant-str": (lambda: R.recall_at_k([1], "ab", 1), TypeError, ["relevant_ids", "'ab'"]),
    "assemble-question-int": (lambda: R.assemble_prompt(5, ["a"], TOK, 50), TypeError, ["question", "5"]),
    "assemble-passages-str": (lambda: R.assemble_prompt("q", "abc", TOK, 50), TypeError, ["passages", "'abc'"]),
    "assemble-passage-int": (lambda: R.assemble_prompt("q", [5], TOK, 50), TypeError, ["passages", "5"]),
    "assemble-max-tokens-bool": (lambda: R.assemble_prompt("q", ["a"], TOK, True), TypeError, ["max_tokens", "True"]),
    "assemble-template-int": (lambda: R.assemble_prompt("q", ["a"], TOK, 50, template=5), TypeError, ["template", "5"]),
    "assemble-separator-int": (lambda: R.assemble_prompt("q", ["a"], TOK, 50, separator=5), TypeError,
                               ["separator", "5"]),
    "assemble-tokenizer-str": (lambda: R.assemble_prompt("q", ["a"], "gpt2", 50), TypeError, ["tokenizer", "gpt2"]),
    # calibration
    "ece-confidences-str": (lambda: C.expected_calibration_error("abc", [1]), TypeError, ["confidences", "'abc'"]),
    "ece-none": (lambda: C.expected_calibration_error(None, None), TypeError, ["confidences", "None"]),
    "ece-bins-bool": (lambda: C.expected_calibration_error([0.5], [1], n_bins=True), TypeError, ["n_bins", "True"]),
    "ece-correct-str": (lambda: C.expected_calibration_error([0.5], ["yes"]), TypeError, ["correct", "'yes'"]),
    "ece-confidence-inf": (lambda: C.expected_calibration_error([INF], [1]), ValueError, ["confidences", "inf"]),
    "fit-temperature-nan": (lambda: C.fit_temperature([[NAN, 1.0]], [0]), ValueError, ["logits", "NaN"]),
    "fit-temperature-max-iter-zero": (lambda: C.fit_temperature([[0.0, 1.0]], [0], max_iter=0), ValueError,
                                      ["max_iter", "0"]),
    "fit-temperature-max-iter-str": (lambda: C.fit_temperature([[0.0, 1.0]], [0], max_iter="5"), TypeError,
                                     ["max_iter", "'5'"]),
    "threshold-target-str": (lambda: C.threshold_for_precision([0.5], [1], "0.9"), TypeError, ["target", "'0.9'"]),
    # ratings
    "elo-matches-str": (lambda: RT.elo_ratings("abc"), TypeError, ["matches", "'abc'"]),
    "elo-matches-int": (lambda: RT.elo_ratings(5), TypeError, ["matches", "int"]),
    "elo-outcome-bool": (lambda: RT.elo_ratings([("a", "b", True)]), ValueError, ["matches[0]", "True"]),
    "elo-k-str": (lambda: RT.elo_ratings([("a", "b", 1)], k="32"), TypeError, ["k", "'32'"]),
    "elo-k-inf": (lambda: RT.elo_ratings([("a", "b", 1)], k=INF), ValueError, ["k", "inf"]),
    "elo-scale-zero": (lambda: RT.elo_ratings([("a", "b", 1)], scale=0), ValueError, ["scale", "0"]),
    "elo-initial-nan": (lambda: RT.elo_ratings([("a", "b", 1)], initial=NAN), ValueError, ["initial", "nan"]),
    "elo-unhashable-player": (lambda: RT.elo_ratings([(["a"], "b", 1)]), TypeError, ["matches[0]", "['a']"]),
    "bt-prior-str": (lambda: RT.bradley_terry_fit([("a", "b", 1)], prior="0.1"), TypeError, ["prior", "'0.1'"]),
    "bt-prior-inf": (lambda: RT.bradley_terry_fit([("a", "b", 1)], prior=INF), ValueError, ["prior", "inf"]),
    "bt-max-iter-zero": (lambda: RT.bradley_terry_fit([("a", "b", 1)], max_iter=0), ValueError, ["max_iter", "0"]),
    "bt-tol-negative": (lambda: RT.bradley_terry_fit([("a", "b", 1)], tol=-1), ValueError, ["tol", "-1"]),
    "bt-players-str": (lambda: RT.bradley_terry_fit([("a", "b", 1)], players="ab"), TypeError, ["players", "'ab'"]),
    "bt-players-duplicate": (lambda: RT.bradley_terry_fit([("a", "b", 1)], players=["a", "b", "a"]), ValueError,
                             ["players", "twice"]),
    "bootstrap-fn-int": (lambda: RT.bootstrap_ci([("a", "b", 1)], 5), TypeError, ["fn", "5"]),
    "bootstrap-n-bool": (lambda: RT.bootstrap_ci([("a", "b", 1)], RT.elo_ratings, n=True), TypeError, ["n", "True"]),
    "bootstrap-seed-str": (lambda: RT.bootstrap_ci([("a", "b", 1)], RT.elo_ratings, seed="0"), TypeError,
                           ["seed", "'0'"]),
    "bootstrap-alpha-str": (lambda: RT.bootstrap_ci([("a", "b", 1)], RT.elo_ratings, alpha="0.05"), TypeError,
                            ["alpha", "'0.05'"]),
    "bootstrap-fn-returns-str": (lambda: RT.bootstrap_ci([("a", "b", 1)], lambda m: "x"), TypeError, ["fn", "'x'"]),
    "position-bias-judge-int": (lambda: RT.position_bias(5, [("a", "b")]), TypeError, ["judge", "5"]),
    "position-bias-single": (lambda: RT.position_bias(lambda a, b: 1, [("a",)]), ValueError, ["pairs[0]", "('a',)"]),
    "position-bias-str": (lambda: RT.position_bias(lambda a, b: 1, "ab"), TypeError, ["pairs", "'ab'"]),
    "judge-both-ways-int": (lambda: RT.judge_both_ways(5, "a", "b"), TypeError, ["judge", "5"]),
    # quantize
    "int4-group-str": (lambda: Q.quantize_int4(torch.ones(2, 4), group_size="2"), ValueError, ["group_size", "'2'"]),
    "int4-symmetric-str": (lambda: Q.quantize_int4(torch.ones(2, 4), 2, symmetric="no"), TypeError,
                           ["symmetric", "'no'"]),
    "dequantize-int8-scale-shape": (lambda: Q.dequantize_int8(torch.zeros(2, 3, dtype=torch.int8), torch.ones(3)),
                                    ValueError, ["scale", "(2,)", "(3,)"]),
    "dequantize-int8-float-q": (lambda: Q.dequantize_int8(torch.zeros(2, 3), torch.ones(2)), TypeError,
                                ["q", "int8", "float32"]),
    "dequantize-int4-scale-shape": (lambda: Q.dequantize_int4(torch.zeros(2, 2, dtype=torch.uint8), torch.ones(2, 3),
                                                              torch.ones(2, 3)),
                                    ValueError, ["scale", "(2, 3)", "dividing 4"]),
    "pack-int4-list": (lambda: Q.pack_int4([1, 2]), TypeError, ["codes", "list"]),
    "pack-int4-fractional": (lambda: Q.pack_int4(torch.tensor([1.5, 2.0])), ValueError, ["codes", "whole numbers"]),
    "unpack-int4-int8": (lambda: Q.unpack_int4(torch.tensor([-1], dtype=torch.int8)), TypeError,
                         ["packed", "uint8", "int8"]),
    "quant-linear-in-zero": (lambda: Q.QuantLinear(0, 4), ValueError, ["in_features", "0"]),
    "quant-linear-group-zero": (lambda: Q.QuantLinear(4, 4, bits=4, group_size=0), ValueError, ["group_size", "0"]),
    "quant-linear-bits-str": (lambda: Q.QuantLinear(4, 4, bits="8"), ValueError, ["bits", "'8'"]),
    "quantize-model-str": (lambda: Q.quantize_model("m"), TypeError, ["model", "str"]),
    "quantize-model-group-zero": (lambda: Q.quantize_model(tiny(), 4, group_size=0), ValueError, ["group_size", "0"]),
    "quantize-model-group-str": (lambda: Q.quantize_model(tiny(), 4, group_size="64"), TypeError,
                                 ["group_size", "'64'"]),
    "quantize-model-skip-str": (lambda: Q.quantize_model(tiny(), 4, group_size=32, skip_indivisible="yes"),
                                TypeError, ["skip_indivisible", "'yes'"]),
    "quantize-model-no-linear": (lambda: Q.quantize_model(torch.nn.Sequential(torch.nn.ReLU()), 8), ValueError,
                                 ["no nn.Linear"]),
    "model-size-str": (lambda: Q.model_size_bytes("m"), TypeError, ["model", "str"]),
    "save-quantized-dir-int": (lambda: Q.save_quantized(Q.quantize_model(tiny(), 8), 5), TypeError,
                               ["directory", "5"]),
    "load-quantized-dir-int": (lambda: Q.load_quantized(tiny(), 5), TypeError, ["directory", "5"]),
    "gguf-name-int": (lambda: Q.gguf_name(5), TypeError, ["name", "5"]),
    # rlhf
    "labeller-temperature-str": (lambda: RL.Labeller(len, temperature="1"), TypeError, ["temperature", "'1'"]),
    "labeller-temperature-inf": (lambda: RL.Labeller(len, temperature=INF), ValueError, ["temperature", "inf"]),
    "load-preferences-path-int": (lambda: RL.load_preferences(5), TypeError, ["path", "5"]),
    "gae-gamma-str": (lambda: RL.gae(torch.zeros(1, 2), torch.zeros(1, 2), gamma="1"), TypeError, ["gamma", "'1'"]),
    "ppo-clip-str": (lambda: RL.ppo_clip_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), clip_eps="0.2"),
                     TypeError, ["clip_eps", "'0.2'"]),
    "dpo-beta-inf": (lambda: RL.dpo_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), torch.zeros(2), beta=INF),
                     ValueError, ["beta", "inf"]),
    "group-advantages-group-str": (lambda: RL.group_relative_advantages(torch.zeros(4), "2"), TypeError,
                                   ["group_size", "'2'"]),
    "group-advantages-eps-negative": (lambda: RL.group_relative_advantages(torch.zeros(4), 2, eps=-1), ValueError,
                                      ["eps", "-1"]),
    "reward-head-hidden-bool": (lambda: RL.RewardHead(lambda x: x, True), ValueError, ["hidden_size", "True"]),
    "pad-right-pad-str": (lambda: RL.pad_right([[1]], pad_id="0"), TypeError, ["pad_id", "'0'"]),
    "pad-right-str": (lambda: RL.pad_right("abc"), TypeError, ["rows", "'abc'"]),
    "pad-right-float": (lambda: RL.pad_right([[1.5]]), TypeError, ["rows[0]", "1.5"]),
    "answer-logprobs-float": (lambda: RL.answer_logprobs(M, [[1]], [[1.5]]), TypeError, ["answer_ids[0]", "1.5"]),
    "answer-logprobs-str": (lambda: RL.answer_logprobs(M, "a", "b"), TypeError, ["prompt_ids", "'a'"]),
    "answer-logprobs-out-of-vocab": (lambda: RL.answer_logprobs(M, [[1]], [[999]]), ValueError, ["token id 999"]),
    "hidden-states-str": (lambda: RL.hidden_states("m", torch.zeros(1, 2, dtype=torch.long)), TypeError,
                          ["model", "minillm GPT"]),
    "rlconfig-lr-str": (lambda: RL.RLConfig(lr="1e-4"), TypeError, ["RLConfig.lr", "'1e-4'"]),
    "rlconfig-lr-inf": (lambda: RL.RLConfig(lr=INF), ValueError, ["RLConfig.lr", "inf"]),
    "rlconfig-steps-float": (lambda: RL.RLConfig(steps=2.0), TypeError, ["RLConfig.steps", "2.0"]),
    "rlconfig-clip-two": (lambda: RL.RLConfig(clip_eps=2), ValueError, ["RLConfig.clip_eps", "2"]),
    "rlconfig-seed-negative": (lambda: RL.RLConfig(seed=-1), ValueError, ["RLConfig.seed", "-1"]),
    "rlconfig-out-dir-int": (lambda: RL.RLConfig(out_dir=5), TypeError, ["RLConfig.out_dir", "5"]),
    "rlconfig-temperature-negative": (lambda: RL.RLConfig(temperature=-1), ValueError, ["RLConfig.temperature", "-1"]),
    "rlconfig-progress-str": (lambda: RL.RLConfig(progress="yes"), TypeError, ["RLConfig.progress", "'yes'"]),
    "reward-model-gpt-str": (lambda: RL.RewardModel("m", TOK), TypeError, ["gpt", "minillm GPT"]),
    "reward-model-tokenizer-str": (lambda: RL.RewardModel(M, "gpt2"), TypeError, ["tokenizer", "'gpt2'"]),
    "reward-model-end-int": (lambda: RL.RewardModel(M, TOK, end=5), TypeError, ["end", "5"]),
    "reward-model-prompts-str": (lambda: RL.RewardModel(M, TOK).rewards("a", "b"), TypeError, ["prompts", "'a'"]),
    "exact-answer-value-int": (lambda: RL.ExactAnswerReward({"q": 5}), TypeError, ["answers['q']", "5"]),
    "qa-task-seed-str": (lambda: RL.qa_task(4, seed="0"), TypeError, ["seed", "'0'"]),
    "qa-task-template-int": (lambda: RL.qa_task(4, template=5), TypeError, ["template", "5"]),
    "policy-format-chat-str": (lambda: RL.policy_format(TOK, "yes"), TypeError, ["chat", "'yes'"]),
    "ppo-tokenizer-str": (lambda: RL.PPOTrainer(M, "gpt2", ["the"], _reward), TypeError, ["tokenizer", "'gpt2'"]),
    "grpo-prompts-str": (lambda: RL.GRPOTrainer(M, TOK, "the", _reward), TypeError, ["prompts", "'the'"]),
    # zoo
    "zoo-entry-int": (lambda: Z.entry(5), TypeError, ["5", "tinyworld"]),
    "zoo-pretrained-device-unknown": (lambda: Z.pretrained("tinyworld", device="gpu"), ValueError, ["'gpu'", "cpu"]),
    "zoo-load-model-dir-int": (lambda: Z.load_model_dir(5), TypeError, ["folder", "5"]),
    "zoo-eval-people-n-str": (lambda: Z.eval_people([1, 2], "5"), TypeError, ["n", "'5'"]),
    "zoo-eval-people-n-negative": (lambda: Z.eval_people([1, 2], -1), ValueError, ["n", "-1"]),
}


@pytest.mark.parametrize("case", sorted(API))
def test_module_bad_input_is_refused_and_named(case, monkeypatch, tmp_path):
    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path / "cache"))  # nothing is ever built here
    call, kind, words = API[case]
    with pytest.raises(kind) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{case}: {word!r} not in the message {message!r}"
    if kind is TypeError:
        assert isinstance(info.value, InputTypeError) or "unknown argument" in message, \
            f"{case}: a wrong type should raise InputTypeError, got {type(info.value).__name__}"


# -- files: adapters and quantised models that are damaged or made for another model -----------




def _adapter(t: Path, **cfg) -> Path:
    return L.save_adapter(L.apply_lora(tiny(**cfg), r=2), t / "adapter.safetensors")


def _edit_adapter(t: Path, meta: dict | None = None, drop: str | None = None) -> Path:
    from safetensors.torch import load_file, save_file

    path = _adapter(t)
    tensors = load_file(str(path))
    if drop:
        tensors = {k: v for k, v in tensors.items() if not k.endswith(drop)}
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        old = f.metadata()
    save_file(tensors, str(path), metadata={**old, **(meta or {})})
    return path


def _quantized(t: Path, **cfg) -> Path:
    return Q.save_quantized(Q.quantize_model(tiny(**cfg), 8), t / "q")


def _quant_config(t: Path, cfg) -> Path:
    folder = _quantized(t)
    _write(folder / "quantization.json", cfg)
    return folder


GOOD_LAYER = {"in_features": 16, "out_features": 48, "bias": True, "bits": 8, "group_size": 64, "symmetric": True}

FILES = {
    "adapter-binary": (lambda t: L.load_adapter(tiny(), _write(t / "a.safetensors", BINARY)), ValueError,
                       ["a.safetensors", "not a readable"]),
    "adapter-empty-file": (lambda t: L.load_adapter(tiny(), _write(t / "a.safetensors", b"")), ValueError,
                           ["a.safetensors", "not a readable"]),
    "adapter-missing": (lambda t: L.load_adapter(tiny(), t / "none.safetensors"), FileNotFoundError,
                        ["none.safetensors", "not found"]),
    "adapter-is-model-weights": (lambda t: L.load_adapter(tiny(), (tiny().save(t / "m"), t / "m" / "model.safetensors")[1]),
                                 ValueError, ["model.safetensors", "not a minillm LoRA adapter"]),
    "adapter-other-base": (lambda t: L.load_adapter(tiny(bias=False), _adapter(t)), ValueError,
                           ["another base model", "check_base=False"]),
    "adapter-other-architecture": (lambda t: L.load_adapter(tiny(), _adapter(t, n_embd=32), check_base=False),
                                   ValueError, ["adapter tensors", "(2, 32)", "another architecture"]),
    "adapter-config-not-json": (lambda t: L.load_adapter(tiny(), _edit_adapter(t, {"config": "{"})), ValueError,
                                ["adapter.safetensors", "'config'", "not valid JSON"]),
    "adapter-config-rank-str": (lambda t: L.load_adapter(tiny(), _edit_adapter(t, {"config": '{"r": "2", "alpha": 16}'})),
                                ValueError, ["adapter.safetensors", "config.r", "'2'"]),
    "adapter-config-alpha-negative": (lambda t: L.load_adapter(tiny(), _edit_adapter(
        t, {"config": '{"r": 2, "alpha": -1}'})), ValueError, ["config.alpha", "-1"]),
    "adapter-half-pair": (lambda t: L.load_adapter(tiny(), _edit_adapter(t, drop="attn.qkv.lora_B"), check_base=False),
                          ValueError, ["lora_A", "lora_B pair"]),
    "save-adapter-wrong-suffix": (lambda t: L.save_adapter(L.apply_lora(tiny(), r=2), t / "x.pt"), ValueError,
                                  ["x.pt", ".safetensors"]),
    "quantized-config-binary": (lambda t: Q.load_quantized(tiny(), _quant_config(t, BINARY)), ValueError,
                                ["quantization.json", "binary"]),
    "quantized-config-list": (lambda t: Q.load_quantized(tiny(), _quant_config(t, [1])), ValueError,
                              ["quantization.json", "list"]),
    "quantized-config-truncated": (lambda t: Q.load_quantized(tiny(), _quant_config(t, '{"format": ')), ValueError,
                                   ["quantization.json", "not valid JSON"]),
    "quantized-config-no-layers": (lambda t: Q.load_quantized(tiny(), _quant_config(t, {"format": "minillm-quantized"})),
                                   ValueError, ["quantization.json", "'layers'"]),
    "quantized-config-layers-list": (lambda t: Q.load_quantized(tiny(), _quant_config(
        t, {"format": "minillm-quantized", "layers": [1]})), ValueError, ["quantization.json", "'layers'"]),
    "quantized-config-field-missing": (lambda t: Q.load_quantized(tiny(), _quant_config(
        t, {"format": "minillm-quantized", "layers": {"blocks.0.attn.qkv": {"bits": 8}}})), ValueError,
        ["quantization.json", "layers.blocks.0.attn.qkv.in_features"]),
    "quantized-config-bits-str": (lambda t: Q.load_quantized(tiny(), _quant_config(
        t, {"format": "minillm-quantized", "layers": {"blocks.0.attn.qkv": {**GOOD_LAYER, "bits": "8"}}})),
        ValueError, ["quantization.json", "bits", "'8'"]),
    "quantized-config-other-format": (lambda t: Q.load_quantized(tiny(), _quant_config(t, {"format": "gguf"})),
                                      ValueError, ["quantization.json", "not a minillm quantisation config"]),
    "quantized-weights-damaged": (lambda t: Q.load_quantized(tiny(), (lambda d: _write(
        d / "quantized.safetensors", b"garbage" * 10).parent)(_quantized(t))), ValueError,
        ["quantized.safetensors", "not a readable"]),
    "quantized-other-architecture": (lambda t: Q.load_quantized(tiny(n_embd=32), _quantized(t)), ValueError,
                                     ["blocks.0.attn.qkv", "does not match"]),
    "quantized-other-vocabulary": (lambda t: Q.load_quantized(tiny(vocab_size=310), _quantized(t)), ValueError,
                                   ["'head'", "does not match"]),
    "quantized-missing": (lambda t: Q.load_quantized(tiny(), t / "nothing"), FileNotFoundError,
                          ["quantization.json", "save_quantized"]),
    "save-quantized-into-file": (lambda t: Q.save_quantized(Q.quantize_model(tiny(), 8), _write(t / "taken", "x")),
                                 NotADirectoryError, ["taken", "is a file"]),
    "preferences-binary": (lambda t: RL.load_preferences(_write(t / "p.json", BINARY)), ValueError,
                           ["p.json", "binary"]),
    "preferences-truncated": (lambda t: RL.load_preferences(_write(t / "p.json", '{"pairs": [')), ValueError,
                              ["p.json", "not valid JSON"]),
    "preferences-list": (lambda t: RL.load_preferences(_write(t / "p.json", [1])), ValueError, ["p.json", "list"]),
    "preferences-unknown-field": (lambda t: RL.load_preferences(_write(
        t / "p.json", {"pairs": [{"prompt": "p", "chosen": "a", "rejected": "b", "x": 1}]})), ValueError,
        ["p.json", "pair 0", "'x'"]),
    "preferences-pair-int": (lambda t: RL.load_preferences(_write(t / "p.json", {"pairs": [5]})), ValueError,
                             ["p.json", "pair 0"]),
}


@pytest.mark.parametrize("case", sorted(FILES))
def test_module_bad_files_name_the_file(case, tmp_path):
    call, kind, words = FILES[case]
    with pytest.raises(kind) as info:
        call(tmp_path)
    message = str(info.value)
    for word in words:
        assert word in message, f"{case}: {word!r} not in the message {message!r}"


def test_a_refused_lora_leaves_the_model_as_it_was(tmp_path):
    """A rank too large for a layer, or an adapter of another architecture, is refused before
    anything is frozen or wrapped: the model still trains and has no LoRA layer."""
    model = tiny()
    with pytest.raises(ValueError, match="rank r"):
        L.apply_lora(model, r=100)
    assert not L.lora_layers(model) and all(p.requires_grad for p in model.parameters())
    other = L.save_adapter(L.apply_lora(tiny(n_embd=32), r=2), tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="another architecture"):
        L.load_adapter(model, other, check_base=False)
    assert not L.lora_layers(model) and all(p.requires_grad for p in model.parameters())


def test_valid_inputs_still_work():
    """The checks change nothing for valid input: numpy ids, a tuple of stop ids, a float
    tensor of whole codes, bools that are bools."""
    g = G.generate(M, [np.int64(1), np.int64(2)], max_new_tokens=2, temperature=0, stop_ids=(5, 6))
    assert len(g.ids[0]) <= 2 and g.prompt_ids == [[1, 2]]
    same = G.generate(M, torch.tensor([[1, 2]]), max_new_tokens=2, temperature=0, stop_ids=(5, 6))
    assert same.ids == g.ids
    assert torch.equal(Q.unpack_int4(Q.pack_int4(torch.tensor([[3.0, 15.0]]))), torch.tensor([[3, 15]], dtype=torch.uint8))
    assert RT.elo_ratings([("a", "b", 1), ("b", "a", 0.5)])["a"] > 1000
    assert F.class_weights([0, 1, 1], 2).tolist() == pytest.approx([1.5, 0.75])
    assert T.majority_vote(["a", "b", "a"]) == "a"


def test_cli_sampling_mistakes_are_one_line(tmp_path, capsys, monkeypatch):
    """The command line reaches generate's checks: a top-p above 1 or an unknown course model is
    one line on stderr and exit status 2 (checked before the model is loaded or built)."""
    from minillm.cli import main

    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MINILLM_DEBUG", raising=False)
    folder = tmp_path / "run"
    tiny().save(folder)
    TOK.save(folder / "tokenizer.json")
    cases = [
        (["generate", str(folder), "--top-p", "1.5"], ["top_p", "1.5"]),
        (["generate", str(folder), "--min-p", "2"], ["min_p", "2"]),
        (["generate", str(folder), "--stop", ""], ["stop", "''"]),
        (["models", "nope"], ["'nope'", "tinyworld"]),
    ]
    for argv, words in cases:
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        for word in words:
            assert word in err, (argv, word, err)


def test_the_count_of_module_bad_inputs():
    """The brief asks for at least 120 new bad inputs; keep the count honest."""
    assert len(API) + len(FILES) + 4 >= 120
