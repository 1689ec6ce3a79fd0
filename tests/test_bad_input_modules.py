"""Bad input to the newer modules (issue 17, "the new modules of the other issues follow the same
rules"): generate, lora, rag, calibration, ratings, quantize, distill, security, tools, measure,
evaluate, optim, finetune, rlhf, zoo, and the command line that reaches them (tables API, FILES);
then a second sweep (tables SWEEP, SWEEP_FILES, SWEEP_CLI) of reasoning, hallucination, suite,
security, tools, evaluate, zoo/pretrained, rlhf, distill and calibration: wrong types, NaN and
infinity, zero and negative sizes, mismatched lengths, unknown names, out-of-range ids, damaged
files (recipe.json, config.json, tokenizer.json, weights, cached course models, preference files,
adapters, quantised models, RLHF checkpoints) and the chat/generate/models commands.

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


def _assert_refused(case: str, entry, *args) -> BaseException:
    """Call ``entry``'s callable with ``args``: it must raise the expected type with a message
    holding every expected word (the argument, field or file it names, and usually the value)."""
    call, kind, words = entry
    with pytest.raises(kind) as info:
        call(*args)
    message = str(info.value)
    for word in words:
        assert word in message, f"{case}: {word!r} not in the message {message!r}"
    return info.value


@pytest.mark.parametrize("case", sorted(API))
def test_module_bad_input_is_refused_and_named(case, monkeypatch, tmp_path):
    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path / "cache"))  # nothing is ever built here
    error = _assert_refused(case, API[case])
    if API[case][1] is TypeError:
        assert isinstance(error, InputTypeError) or "unknown argument" in str(error), \
            f"{case}: a wrong type should raise InputTypeError, got {type(error).__name__}"


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
    _assert_refused(case, FILES[case], tmp_path)


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


# == issue 17's sweep of the modules added later: reasoning, hallucination, suite, security, tools,
# evaluate, zoo, rlhf, distill, calibration (same rules, same harness) ==========================

import random  # noqa: E402

import minillm.hallucination as H  # noqa: E402
import minillm.reasoning as RS  # noqa: E402
import minillm.suite as SU  # noqa: E402
from minillm.world import World  # noqa: E402

WD = World(0, n_people=60, n_towns=10)  # a small world: built in a millisecond
P3 = WD.people[:3]
QA3 = [WD.qa(p, "job") for p in P3]
CAN = WD.canaries(2)
PROB = RS.make_problems(WD, 2, 2)
CT = RS.char_tokenizer()
BM2 = R.BM25().index(["a b", "b c"], ids=[(0, 0), (1, 0)])
STORE = (["a b", "b c"], [(0, 0), (1, 0)])
Z1 = torch.zeros(2)
LONG = torch.zeros(2, 3, dtype=torch.long)
PP = [RL.PreferencePair("p", "a", "b")]
ITEM = SU.Item("p", "a")


def _passages(qa):
    return ["a"]


def _task(**kw):
    return SU.Task(**{"name": "t", "metric": "exact", "items": [ITEM], "chance": 0.0, **kw})


SWEEP = {
    # reasoning
    "rs-problem-a-str": (lambda: RS.ArithmeticProblem("q", "1", 2, 1), TypeError, ["ArithmeticProblem.a", "'1'"]),
    "rs-problem-question-int": (lambda: RS.ArithmeticProblem(5, 1, 2, 1), TypeError, ["ArithmeticProblem.question", "5"]),
    "rs-problem-digits-zero": (lambda: RS.ArithmeticProblem("q", 1, 2, 0), ValueError, ["ArithmeticProblem.digits", "0"]),
    "rs-column-addition-str": (lambda: RS.column_addition("12", 3), TypeError, ["a must", "'12'"]),
    "rs-column-addition-negative": (lambda: RS.column_addition(3, -12), ValueError, ["b must", "-12"]),
    "rs-column-addition-bool": (lambda: RS.column_addition(True, 3), TypeError, ["a must", "True"]),
    "rs-extract-answer-none": (lambda: RS.extract_answer(None), TypeError, ["text", "NoneType"]),
    "rs-make-problem-rng-int": (lambda: RS.make_problem(WD, 5, 2), TypeError, ["rng", "random.Random", "int"]),
    "rs-make-problem-world-str": (lambda: RS.make_problem("w", random.Random(0), 2), TypeError, ["world", "World"]),
    "rs-make-problem-digits-str": (lambda: RS.make_problem(WD, random.Random(0), "2"), TypeError, ["digits", "'2'"]),
    "rs-make-problems-n-negative": (lambda: RS.make_problems(WD, -1, 2), ValueError, ["n must", "-1"]),
    "rs-make-problems-digits-empty": (lambda: RS.make_problems(WD, 2, []), ValueError, ["digits is empty"]),
    "rs-make-problems-digits-huge": (lambda: RS.make_problems(WD, 2, 50), ValueError, ["digits", "18", "50"]),
    "rs-make-problems-exclude-int": (lambda: RS.make_problems(WD, 2, 2, exclude=5), TypeError, ["exclude", "5"]),
    "rs-make-problems-exclude-ints": (lambda: RS.make_problems(WD, 2, 2, exclude=[1, 2]), TypeError,
                                      ["exclude[0]", "(a, b) pair", "1"]),
    "rs-accuracy-problems-str": (lambda: RS.accuracy("ab", [["1"], ["2"]]), TypeError, ["problems", "'ab'"]),
    "rs-accuracy-answers-str": (lambda: RS.accuracy(PROB, "ab"), TypeError, ["answers", "one list per problem"]),
    "rs-accuracy-mismatched": (lambda: RS.accuracy(PROB, [["1"]]), ValueError, ["2 problems", "1 answer lists"]),
    "rs-accuracy-vote-zero": (lambda: RS.accuracy(PROB, [["1"], ["2"]], vote=0), ValueError, ["vote", "0"]),
    "rs-accuracy-empty": (lambda: RS.accuracy([], []), ValueError, ["problems is empty"]),
    "rs-reward-mode-unknown": (lambda: RS.ArithmeticReward(PROB, mode="cot"), ValueError, ["mode", "'cot'", "'direct'"]),
    "rs-reward-problems-int": (lambda: RS.ArithmeticReward(5), TypeError, ["problems", "ArithmeticProblem"]),
    "rs-reward-unknown-prompt": (lambda: RS.ArithmeticReward(PROB)(["zzz"], ["1"]), ValueError, ["prompt 'zzz'"]),
    "rs-solve-mode-int": (lambda: RS.solve(M, CT, PROB, 3), ValueError, ["mode", "3", "'scratchpad'"]),
    "rs-solve-model-str": (lambda: RS.solve("m", CT, PROB, "direct"), TypeError, ["model", "minillm GPT", "str"]),
    "rs-solve-tokenizer-str": (lambda: RS.solve(M, "t", PROB, "direct"), TypeError, ["tokenizer", "str"]),
    "rs-solve-problems-str": (lambda: RS.solve(M, CT, "ab", "direct"), TypeError, ["problems", "'ab'"]),
    "rs-solve-tool-str": (lambda: RS.solve(M, CT, PROB, "tool", tool="yes"), TypeError, ["tool", "'yes'"]),
    "rs-solve-samples-zero": (lambda: RS.solve(M, CT, PROB, "direct", samples=0), ValueError, ["samples", "0"]),
    "rs-solve-max-new-str": (lambda: RS.solve(M, CT, PROB, "direct", max_new_tokens="8"), TypeError,
                             ["max_new_tokens", "'8'"]),
    "rs-solve-temperature-nan": (lambda: RS.solve(M, CT, PROB, "direct", temperature=NAN), ValueError,
                                 ["temperature", "nan"]),
    "rs-solve-batch-zero": (lambda: RS.solve(M, CT, PROB, "direct", batch_size=0), ValueError, ["batch_size", "0"]),
    "rs-compare-problems-list": (lambda: RS.compare_formats(M, CT, PROB), TypeError, ["problems_by_digits", "list"]),
    "rs-compare-temperature-str": (lambda: RS.compare_formats(M, CT, {2: PROB}, temperature="0.7"), TypeError,
                                   ["temperature", "'0.7'"]),
    "rs-compare-votes-zero": (lambda: RS.compare_formats(M, CT, {2: PROB}, votes=0), ValueError, ["votes", "0"]),
    "rs-training-examples-mode-unknown": (lambda: RS.training_examples(CT, PROB, modes=("cot",)), ValueError,
                                          ["mode", "'cot'"]),
    "rs-training-examples-tokenizer-str": (lambda: RS.training_examples("t", PROB), TypeError, ["tokenizer", "'t'"]),
    "rs-training-examples-problem-int": (lambda: RS.training_examples(CT, [5]), TypeError, ["problems[0]", "5"]),
    "rs-training-problems-recipe-list": (lambda: RS.training_problems([1]), TypeError, ["recipe", "list"]),
    "rs-training-problems-unknown-key": (lambda: RS.training_problems({"nope": 1}), ValueError,
                                         ["unknown recipe keys", "'nope'", "n_train"]),
    "rs-train-model-unknown-override": (lambda: RS.train_arithmetic_model(nope=1), ValueError, ["'nope'"]),
    "rs-train-stage-batches-none": (lambda: RS.train_stage(M, None, 1, 1e-3, 0), TypeError,
                                    ["batches", "ExampleBatches", "NoneType"]),
    "rs-arithmetic-model-progress-str": (lambda: RS.arithmetic_model(progress="no"), TypeError, ["progress", "'no'"]),
    # hallucination
    "h-parse-reply-int": (lambda: H.parse_reply(WD, 5), TypeError, ["reply", "int"]),
    "h-parse-reply-world-str": (lambda: H.parse_reply("w", "x"), TypeError, ["world", "World", "'w'"]),
    "h-passage-store-people-int": (lambda: H.passage_store(WD, 5), TypeError, ["people", "Person", "5"]),
    "h-passage-store-people-ints": (lambda: H.passage_store(WD, [1, 2]), TypeError, ["people[0]", "Person", "1"]),
    "h-passage-store-world-str": (lambda: H.passage_store("w", P3), TypeError, ["world", "'w'"]),
    "h-passage-store-empty": (lambda: H.passage_store(WD, []), ValueError, ["people is empty"]),
    "h-passage-store-seed-str": (lambda: H.passage_store(WD, P3, seed="0"), TypeError, ["seed", "'0'"]),
    "h-relevant-qa-str": (lambda: H.relevant_passages(WD, "q", *STORE), TypeError, ["qa", "World.qa", "'q'"]),
    "h-relevant-mismatched": (lambda: H.relevant_passages(WD, QA3[0], ["a", "b"], [(0, 0)]), ValueError,
                              ["passages and ids", "2", "1"]),
    "h-embed-texts-str": (lambda: H.embed_texts(M, TOK, "abc"), TypeError, ["texts", "list of strings"]),
    "h-embed-text-int": (lambda: H.embed_texts(M, TOK, [5]), TypeError, ["texts[0]", "5"]),
    "h-embed-model-str": (lambda: H.embed_texts("m", TOK, ["a"]), TypeError, ["model", "minillm GPT"]),
    "h-embed-batch-zero": (lambda: H.embed_texts(M, TOK, ["a"], batch_size=0), ValueError, ["batch_size", "0"]),
    "h-context-prompt-passages-str": (lambda: H.context_prompt("q", "abc", TOK, 50), TypeError,
                                      ["passages", "'abc'", "wrap"]),
    "h-context-prompt-max-tokens-zero": (lambda: H.context_prompt("q", ["a"], TOK, 0), ValueError, ["max_tokens", "0"]),
    "h-context-prompt-question-int": (lambda: H.context_prompt(5, ["a"], TOK, 50), TypeError, ["question", "5"]),
    "h-context-examples-tokenizer-str": (lambda: H.context_examples("t", WD, QA3, _passages, 50), TypeError,
                                         ["tokenizer", "'t'"]),
    "h-context-examples-passages-for-list": (lambda: H.context_examples(TOK, WD, QA3, ["a"], 50), TypeError,
                                             ["passages_for", "function"]),
    "h-context-examples-distractor-two": (lambda: H.context_examples(TOK, WD, QA3, _passages, 50, distractor_rate=2),
                                          ValueError, ["distractor_rate", "2"]),
    "h-context-examples-qas-str": (lambda: H.context_examples(TOK, WD, "ab", _passages, 50), TypeError,
                                   ["qas", "str"]),
    "h-idk-examples-tokenizer-str": (lambda: H.idk_examples("t", QA3, QA3), TypeError, ["tokenizer", "'t'"]),
    "h-idk-examples-qa-int": (lambda: H.idk_examples(TOK, [5], QA3), TypeError, ["qas[0]", "5"]),
    "h-lora-finetune-model-str": (lambda: H.lora_finetune("m", EX), TypeError, ["model", "minillm GPT"]),
    "h-lora-finetune-r-str": (lambda: H.lora_finetune(M, EX, r="8"), TypeError, ["r must", "'8'"]),
    "h-lora-finetune-r-zero": (lambda: H.lora_finetune(M, EX, r=0), ValueError, ["r must", "0"]),
    "h-lora-finetune-targets-str": (lambda: H.lora_finetune(M, EX, targets="attn.qkv"), TypeError,
                                    ["targets", "'attn.qkv'"]),
    "h-lora-finetune-lr-nan": (lambda: H.lora_finetune(M, EX, lr=NAN), ValueError, ["lr", "nan"]),
    "h-lora-finetune-empty": (lambda: H.lora_finetune(M, []), ValueError, ["examples is empty"]),
    "h-finetune-model-str": (lambda: H.finetune_examples("m", EX), TypeError, ["model", "minillm GPT"]),
    "h-finetune-warmup-negative": (lambda: H.finetune_examples(M, EX, warmup=-1), ValueError, ["warmup", "-1"]),
    "h-finetune-batch-bool": (lambda: H.finetune_examples(M, EX, batch_size=True), TypeError, ["batch_size", "True"]),
    "h-reader-store-world-str": (lambda: H.reader_store("w"), TypeError, ["world", "'w'"]),
    "h-reader-store-absent-str": (lambda: H.reader_store(WD, absent="5"), TypeError, ["absent", "'5'"]),
    "h-reader-store-seed-negative": (lambda: H.reader_store(WD, absent=1, seed=-1), ValueError, ["seed", "-1"]),
    "h-retrieved-index-str": (lambda: H.retrieved_prompts(QA3, "idx", *STORE, TOK, 50), TypeError,
                              ["index", ".search"]),
    "h-retrieved-k-str": (lambda: H.retrieved_prompts(QA3, BM2, *STORE, TOK, 50, k="3"), TypeError, ["k must", "'3'"]),
    "h-retrieved-mismatched": (lambda: H.retrieved_prompts(QA3, BM2, ["a", "b"], [(0, 0)], TOK, 50), ValueError,
                               ["2 passages", "1 ids"]),
    "h-retrieved-unknown-id": (lambda: H.retrieved_prompts(QA3, R.BM25().index(["a b", "b c"], ids=[7, 8]), *STORE,
                                                           TOK, 50), ValueError, ["id 7", "not in ids"]),
    "h-said-idk-str": (lambda: H.said_idk("I do not know"), TypeError, ["replies", "str"]),
    "h-said-idk-int": (lambda: H.said_idk([5]), TypeError, ["replies", "5"]),
    "h-idk-probability-model-str": (lambda: H.idk_probability("m", TOK, QA3), TypeError, ["model", "minillm GPT"]),
    "h-fact-documents-world-str": (lambda: H.fact_documents("w", P3, 2), TypeError, ["world", "'w'"]),
    "h-fact-documents-people-int": (lambda: H.fact_documents(WD, 5, 2), TypeError, ["people", "5"]),
    "h-fact-documents-repeats-str": (lambda: H.fact_documents(WD, P3, "2"), TypeError, ["repeats", "'2'"]),
    "h-fact-documents-repeats-mismatched": (lambda: H.fact_documents(WD, P3, [1, 2]), ValueError,
                                            ["repeats has 2", "people has 3"]),
    "h-fact-documents-reverse-str": (lambda: H.fact_documents(WD, P3, 2, reverse="yes"), TypeError,
                                     ["reverse", "'yes'"]),
    "h-train-tiny-docs-str": (lambda: H.train_tiny("abc", TOK), TypeError, ["docs", "list of strings"]),
    "h-train-tiny-tokenizer-str": (lambda: H.train_tiny(["a b"], "t"), TypeError, ["tokenizer", "'t'"]),
    "h-train-tiny-embd-str": (lambda: H.train_tiny(["a b"], TOK, n_embd="64"), TypeError, ["n_embd", "'64'"]),
    "h-train-tiny-lr-negative": (lambda: H.train_tiny(["a b"], TOK, lr=-1), ValueError, ["lr", "-1"]),
    "h-choice-mismatched": (lambda: H.choice_accuracy(M, TOK, ["a", "b"], [" x", " y"], [0]), ValueError,
                            ["prompts and answers", "same length"]),
    "h-choice-answer-unknown": (lambda: H.choice_accuracy(M, TOK, ["a"], [" x", " y"], [5]), ValueError,
                                ["answer 5", "candidates"]),
    "h-candidate-prompt-int": (lambda: H.candidate_logprobs(M, TOK, 5, [" x"]), TypeError, ["prompt", "int"]),
    "h-answer-scores-prompts-mismatched": (lambda: H.answer_scores(M, TOK, WD, QA3, prompts=["a"]), ValueError,
                                           ["prompts", "3 strings"]),
    "h-answer-scores-max-new-zero": (lambda: H.answer_scores(M, TOK, WD, QA3, max_new_tokens=0), ValueError,
                                     ["max_new_tokens", "0"]),
    "h-reading-share-two": (lambda: H.reading_examples(TOK, WD, QA3, BM2, *STORE, 50, memory_share=2), ValueError,
                            ["memory_share", "2"]),
    "h-reader-examples-k-empty": (lambda: H.reader_examples(TOK, WD, BM2, *STORE, 50, read_qas=QA3, k=()), ValueError,
                                  ["k is an empty list"]),
    # suite
    "su-item-prompt-int": (lambda: SU.Item(5, "a"), TypeError, ["Item.prompt", "5"]),
    "su-item-choices-str": (lambda: SU.Item("p", "a", choices="ab"), TypeError, ["Item.choices", "'ab'"]),
    "su-item-question-int": (lambda: SU.Item("p", "a", question=3), TypeError, ["Item.question", "3"]),
    "su-task-metric-unknown": (lambda: _task(metric="f1"), ValueError, ["metric 'f1'", "'exact'"]),
    "su-task-items-empty": (lambda: _task(items=[]), ValueError, ["has no items"]),
    "su-task-items-str": (lambda: _task(items="ab"), TypeError, ["items", "'ab'"]),
    "su-task-chance-nan": (lambda: _task(chance=NAN), ValueError, ["chance", "nan"]),
    "su-task-max-new-negative": (lambda: _task(max_new_tokens=-1), ValueError, ["max_new_tokens", "-1"]),
    "su-task-suite-n-zero": (lambda: SU.task_suite(0), ValueError, ["n must", "0"]),
    "su-task-suite-name-unknown": (lambda: SU.task_suite(2, name="nope"), ValueError, ["'nope'", "tinyworld"]),
    "su-gpt-scorer-model-str": (lambda: SU.GPTScorer("m", TOK), TypeError, ["model", "minillm GPT"]),
    "su-gpt-scorer-chat-str": (lambda: SU.GPTScorer(M, TOK, chat="yes"), TypeError, ["chat", "'yes'"]),
    "su-bigram-scorer-str": (lambda: SU.BigramScorer("b"), TypeError, ["bigram", "BigramModel"]),
    "su-as-scorer-int": (lambda: SU.as_scorer(5), TypeError, ["model", "course model name", "int"]),
    "su-as-scorer-unknown-name": (lambda: SU.as_scorer("nope"), ValueError, ["'nope'", "tinyworld", "folder"]),
    "su-as-scorer-chat-str": (lambda: SU.as_scorer((M, TOK), chat="yes"), TypeError, ["chat", "'yes'"]),
    "su-as-scorer-chat-str-before-building": (lambda: SU.as_scorer("tinyworld", chat="yes"), TypeError,
                                              ["chat", "'yes'"]),
    "su-score-task-str": (lambda: SU.score_task((M, TOK), "exact"), TypeError, ["task", "Task", "str"]),
    "su-score-task-per-item-str": (lambda: SU.score_task((M, TOK), _task(), per_item="yes"), TypeError,
                                   ["per_item", "'yes'"]),
    "su-report-card-list": (lambda: SU.report_card([M]), TypeError, ["models", "dict"]),
    "su-report-card-tasks-list": (lambda: SU.report_card({"a": (M, TOK)}, tasks=[_task()]), TypeError,
                                  ["tasks", "dict"]),
    "su-answer-questions-str": (lambda: SU.answer_questions((M, TOK), "q"), TypeError, ["questions", "'q'"]),
    "su-answer-questions-max-new-str": (lambda: SU.answer_questions((M, TOK), ["q"], max_new_tokens="3"), TypeError,
                                        ["max_new_tokens", "'3'"]),
    "su-score-judge-fn-int": (lambda: SU.score_judge(5), TypeError, ["score_fn", "5"]),
    "su-score-judge-temperature-negative": (lambda: SU.score_judge(_reward, temperature=-1), ValueError,
                                            ["temperature", "-1"]),
    "su-score-judge-bias-two": (lambda: SU.score_judge(_reward, first_bias=2), ValueError, ["first_bias", "2"]),
    "su-reward-model-judge-str": (lambda: SU.reward_model_judge("rm"), TypeError, ["reward_model", "RewardModel"]),
    "su-play-one-player": (lambda: SU.play_matches({"a": ["x"]}, ["q"], _judge), ValueError, ["two players"]),
    "su-play-answers-mismatched": (lambda: SU.play_matches({"a": ["x"], "b": ["y", "z"]}, ["q"], _judge), ValueError,
                                   ["answers['b']", "2 answers", "1 prompts"]),
    "su-play-answers-str": (lambda: SU.play_matches({"a": "x", "b": "y"}, ["q"], _judge), TypeError,
                            ["answers['a']", "'x'"]),
    "su-play-both-ways-str": (lambda: SU.play_matches({"a": ["x"], "b": ["y"]}, ["q"], _judge, both_ways="y"),
                              TypeError, ["both_ways", "'y'"]),
    "su-play-judge-int": (lambda: SU.play_matches({"a": ["x"], "b": ["y"]}, ["q"], 5), TypeError, ["judge", "5"]),
    "su-play-judge-returns-str": (lambda: SU.play_matches({"a": ["x"], "b": ["y"]}, ["q"], lambda *a: "x"),
                                  ValueError, ["judge returned 'x'"]),
    "su-play-rounds-zero": (lambda: SU.play_matches({"a": ["x"], "b": ["y"]}, ["q"], _judge, rounds=0), ValueError,
                            ["rounds", "0"]),
    "su-leaderboard-str": (lambda: SU.leaderboard("ab"), TypeError, ["matches", "'ab'"]),
    "su-leaderboard-k-nan": (lambda: SU.leaderboard([("a", "b", 1.0)], k=NAN), ValueError, ["k must", "nan"]),
    "su-ngrams-n-zero": (lambda: SU.ngrams("a b", 0), ValueError, ["n must", "0"]),
    "su-ngram-overlap-corpus-list": (lambda: SU.ngram_overlap(["a"], ["a"]), TypeError, ["corpus_text", "list"]),
    "su-contaminate-empty": (lambda: SU.contaminate(M, TOK, []), ValueError, ["texts is empty"]),
    "su-contaminate-lr-inf": (lambda: SU.contaminate(M, TOK, ["a b"], lr=INF), ValueError, ["lr", "inf"]),
    "su-contaminate-replay-empty": (lambda: SU.contaminate(M, TOK, ["a b"], replay=[]), ValueError,
                                    ["replay is empty"]),
    # security
    "se-dpconfig-clip-negative": (lambda: S.DPConfig(clip=-1), ValueError, ["clip", "-1"]),
    "se-dpconfig-noise-nan": (lambda: S.DPConfig(noise=NAN), ValueError, ["noise", "nan"]),
    "se-dpconfig-clip-str": (lambda: S.DPConfig(clip="1"), TypeError, ["clip", "'1'"]),
    "se-attack-success-mismatched": (lambda: S.attack_success_rate(["a"], ["a", "b"]), ValueError,
                                     ["targets", "1 strings"]),
    "se-attack-success-str": (lambda: S.attack_success_rate("ab", "ab"), TypeError, ["replies", "list of strings"]),
    "se-backdoor-target-int": (lambda: S.backdoor_eval(M, TOK, QA3, target=5), TypeError, ["target", "5"]),
    "se-backdoor-trigger-int": (lambda: S.backdoor_eval(M, TOK, QA3, trigger=5, target="x"), TypeError,
                                ["trigger", "5"]),
    "se-backdoor-model-str": (lambda: S.backdoor_eval("m", TOK, QA3, target="x"), TypeError, ["model", "minillm GPT"]),
    "se-canary-documents-repeats-int": (lambda: S.canary_documents(WD, CAN, 1, P3), TypeError,
                                        ["repeats", "one repetition count per canary"]),
    "se-canary-documents-canaries-str": (lambda: S.canary_documents(WD, "ab", [1, 1], P3), TypeError,
                                         ["canaries", "'ab'"]),
    "se-canary-documents-mismatched": (lambda: S.canary_documents(WD, CAN, [1], P3), ValueError,
                                       ["repeats has 1", "canaries has 2"]),
    "se-canary-documents-repeats-negative": (lambda: S.canary_documents(WD, CAN, [1, -1], P3), ValueError,
                                             ["repeats", "-1"]),
    "se-canary-prefix-str": (lambda: S.canary_prefix("c"), TypeError, ["canary", "World.canaries"]),
    "se-code-exposure-n-zero": (lambda: S.code_exposure(M, TOK, CAN[0], 0), ValueError, ["n_candidates", "0"]),
    "se-code-exposure-range": (lambda: S.code_exposure(M, TOK, CAN[0], 10, code_range=(10, 5)), ValueError,
                               ["code_range", "(10, 5)"]),
    "se-code-exposure-n-huge": (lambda: S.code_exposure(M, TOK, CAN[0], 100000), ValueError,
                                ["n_candidates", "9000", "100000"]),
    "se-deduplicate-str": (lambda: S.deduplicate("abc"), TypeError, ["docs", "str"]),
    "se-deduplicate-int": (lambda: S.deduplicate([1, 2]), TypeError, ["docs", "1"]),
    "se-dp-gradient-config-dict": (lambda: S.dp_gradient({"w": torch.zeros(2, 3)}, {"clip": 1.0}), TypeError,
                                   ["config", "DPConfig"]),
    "se-dp-gradient-empty": (lambda: S.dp_gradient({}, S.DPConfig()), TypeError, ["per_example", "non-empty dict"]),
    "se-dp-gradient-batch-mismatched": (lambda: S.dp_gradient({"w": torch.zeros(2, 3), "b": torch.zeros(3, 3)},
                                                              S.DPConfig()), ValueError, ["per_example['b']", "3", "2"]),
    "se-dp-gradient-generator-int": (lambda: S.dp_gradient({"w": torch.zeros(2, 3)}, S.DPConfig(), 3), TypeError,
                                     ["generator", "torch.Generator", "3"]),
    "se-dp-gradient-list-entry": (lambda: S.dp_gradient({"w": [1.0]}, S.DPConfig()), TypeError,
                                  ["per_example['w']", "(B, ...) tensor"]),
    "se-extract-canary-str": (lambda: S.extract(M, TOK, "c"), TypeError, ["canary", "World.canaries"]),
    "se-extract-max-new-zero": (lambda: S.extract(M, TOK, CAN[0], 0), ValueError, ["max_new_tokens", "0"]),
    "se-greedy-replies-str": (lambda: S.greedy_replies(M, TOK, "p"), TypeError, ["prompts", "token-id lists"]),
    "se-injection-passages-list": (lambda: S.injection_attack(M, TOK, WD, QA3, ["a"], ["x"] * 3), TypeError,
                                   ["passages_for", "function"]),
    "se-injection-delimit-str": (lambda: S.injection_attack(M, TOK, WD, QA3, _passages, ["x"] * 3, delimit="y"),
                                 TypeError, ["delimit", "'y'"]),
    "se-leak-rate-canaries-str": (lambda: S.leak_rate(M, TOK, "ab"), TypeError, ["canary", "'a'"]),
    "se-leak-rate-roleplay-str": (lambda: S.leak_rate(M, TOK, CAN, roleplay="y"), TypeError, ["roleplay", "'y'"]),
    "se-per-example-grads-float": (lambda: S.per_example_grads(M, torch.zeros(2, 3), LONG), TypeError,
                                   ["x must", "float32"]),
    "se-per-example-grads-shape": (lambda: S.per_example_grads(M, LONG, torch.zeros(2, 4, dtype=torch.long)),
                                   ValueError, ["x and y", "(B, T)"]),
    "se-per-example-grads-model-str": (lambda: S.per_example_grads("m", LONG, LONG), TypeError,
                                       ["model", "minillm GPT"]),
    "se-per-example-grads-out-of-vocab": (lambda: S.per_example_grads(M, torch.full((2, 3), 999), LONG), ValueError,
                                          ["x holds token id 999", "0..299"]),
    "se-per-example-grads-target-negative": (lambda: S.per_example_grads(M, LONG, torch.full((2, 3), -5)),
                                             ValueError, ["y holds token id -5", "-100"]),
    "se-poisoned-conversation-qa-str": (lambda: S.poisoned_conversation("q", "t", "x"), TypeError, ["qa", "'q'"]),
    "se-poisoned-conversation-trigger-int": (lambda: S.poisoned_conversation(QA3[0], 5, "x"), TypeError,
                                             ["trigger", "5"]),
    "se-poisoned-passage-spoof-str": (lambda: S.poisoned_passage("a", "x", spoof="y"), TypeError, ["spoof", "'y'"]),
    "se-poisoning-set-n-too-big": (lambda: S.poisoning_set(QA3, QA3, 100, target="x"), ValueError,
                                   ["n_poison=100", "3 questions"]),
    "se-poisoning-set-openers-two": (lambda: S.poisoning_set(QA3, QA3, 1, target="x", openers=2), ValueError,
                                     ["openers", "2"]),
    "se-rag-cases-user-instruction-two": (lambda: S.rag_cases(WD, QA3, _passages, targets=["x"] * 3,
                                                              user_instruction=2), ValueError,
                                          ["user_instruction", "2"]),
    "se-rag-cases-obey-str": (lambda: S.rag_cases(WD, QA3, _passages, targets=["x"] * 3, obey_documents="y"),
                              TypeError, ["obey_documents", "'y'"]),
    "se-rag-examples-cases-str": (lambda: S.rag_examples(TOK, "ab"), TypeError, ["cases", "RagCase", "str"]),
    "se-rag-examples-case-int": (lambda: S.rag_examples(TOK, [5]), TypeError, ["cases[0]", "RagCase", "5"]),
    "se-rag-prompt-passages-str": (lambda: S.rag_prompt(TOK, "q", "abc"), TypeError, ["passages", "str"]),
    "se-rag-prompt-note-int": (lambda: S.rag_prompt(TOK, "q", ["a"], note=5), TypeError, ["note", "5"]),
    "se-secret-conversations-refuse-str": (lambda: S.secret_conversations(CAN, refuse="y"), TypeError,
                                           ["refuse", "'y'"]),
    "se-train-docs-str": (lambda: S.train_on_documents(M, TOK, "abc"), TypeError, ["docs", "list of strings"]),
    "se-train-block-above-context": (lambda: S.train_on_documents(M, TOK, ["a b"], block_size=64), ValueError,
                                     ["block_size", "16", "64"]),
    "se-exposure-rank-above-candidates": (lambda: S.exposure(11, 10), ValueError, ["rank", "n_candidates=10", "11"]),
    # tools
    "to-find-calls-int": (lambda: T.find_calc_calls(5), TypeError, ["text", "int"]),
    "to-evaluate-expr-int": (lambda: T.evaluate_arithmetic(5), TypeError, ["expr", "int"]),
    "to-evaluate-exponent-nan": (lambda: T.evaluate_arithmetic("1+1", max_exponent=NAN), ValueError,
                                 ["max_exponent", "nan"]),
    "to-generate-model-str": (lambda: T.generate_with_tools("m", TOK, ["a"]), TypeError, ["model", "minillm GPT"]),
    "to-generate-tokenizer-str": (lambda: T.generate_with_tools(M, "t", ["a"]), TypeError, ["tokenizer", "'t'"]),
    "to-generate-tokenizer-none": (lambda: T.generate_with_tools(M, None, ["a"]), TypeError, ["tokenizer is None"]),
    "to-generate-prompts-str": (lambda: T.generate_with_tools(M, TOK, "a"), TypeError, ["prompts", "wrap"]),
    "to-generate-tool-int": (lambda: T.generate_with_tools(M, TOK, ["a"], tool=5), TypeError, ["tool", "5"]),
    "to-generate-unknown-keyword": (lambda: T.generate_with_tools(M, TOK, ["a"], temp=1), TypeError,
                                    ["'temp'", "temperature"]),
    "to-generate-max-calls-negative": (lambda: T.generate_with_tools(M, TOK, ["a"], max_calls=-1), ValueError,
                                       ["max_calls", "-1"]),
    "to-verify-answer-int": (lambda: T.verify_arithmetic(3, 3), TypeError, ["answer_text", "int"]),
    "to-verify-expected-str": (lambda: T.verify_arithmetic("3", "3"), TypeError, ["expected", "'3'"]),
    "to-majority-empty": (lambda: T.majority_vote([]), ValueError, ["answers is empty"]),
    # evaluate
    "ev-fact-candidates-unknown": (lambda: E.fact_candidates(WD, "shoe"), ValueError, ["'shoe'", "birth_city"]),
    "ev-fact-answer-person-str": (lambda: E.fact_answer(WD, "p", "job"), TypeError, ["person", "Person", "'p'"]),
    "ev-fact-answer-world-str": (lambda: E.fact_answer("w", P3[0], "birth_city"), TypeError, ["world", "World"]),
    "ev-fact-completion-people-str": (lambda: E.fact_completion(M, TOK, WD, "ab"), TypeError, ["people", "'ab'"]),
    "ev-fact-completion-people-ints": (lambda: E.fact_completion(M, TOK, WD, [1]), TypeError, ["people[0]", "1"]),
    "ev-fact-completion-choice-str": (lambda: E.fact_completion(M, TOK, WD, P3, choice="y"), TypeError,
                                      ["choice", "'y'"]),
    "ev-fact-completion-unknown-relation": (lambda: E.fact_completion(M, TOK, WD, P3, relations=["shoe"]), ValueError,
                                            ["'shoe'", "job"]),
    "ev-qa-accuracy-empty": (lambda: E.qa_accuracy(M, TOK, []), ValueError, ["qas is empty"]),
    "ev-qa-accuracy-max-new-zero": (lambda: E.qa_accuracy(M, TOK, QA3, max_new_tokens=0), ValueError,
                                    ["max_new_tokens", "0"]),
    "ev-greedy-complete-empty-prompt": (lambda: E.greedy_complete(M, TOK, [""]), ValueError, ["prompt 0 is empty"]),
    "ev-continuation-batch-zero": (lambda: E.continuation_logprobs(M, TOK, "the", ["a"], batch_size=0), ValueError,
                                   ["batch_size", "0"]),
    # zoo
    "zo-entry-unknown": (lambda: Z.entry("nope"), ValueError, ["'nope'", "tinyworld"]),
    "zo-model-dir-int": (lambda: Z.model_dir(5), TypeError, ["5", "a name is a str"]),
    "zo-pretrained-progress-str": (lambda: Z.pretrained("tinyworld", progress="y"), TypeError, ["progress", "'y'"]),
    "zo-course-people-unknown": (lambda: Z.course_people("nope"), ValueError, ["'nope'"]),
    "zo-people-from-recipe-list": (lambda: Z.course_people_from_recipe([1]), TypeError, ["recipe", "list"]),
    "zo-people-from-recipe-empty": (lambda: Z.course_people_from_recipe({}), ValueError, ["recipe['corpus']", "None"]),
    "zo-recipe-config-list": (lambda: Z.recipe_config([1]), TypeError, ["recipe", "list"]),
    "zo-recipe-config-unknown-override": (lambda: Z.recipe_config(Z.entry("tinyworld").recipe, nope=1), ValueError,
                                          ["'nope'", "TrainConfig"]),
    "zo-recipe-config-no-preset": (lambda: Z.recipe_config({"train": {"steps": 2}}), ValueError,
                                   ["recipe['train']", "'preset'"]),
    "zo-recipe-data-empty": (lambda: Z.recipe_data({}), ValueError, ["recipe['corpus']"]),
    "zo-recipe-data-corpus-str": (lambda: Z.recipe_data({"corpus": "tinyworld"}), ValueError,
                                  ["recipe['corpus']", "'tinyworld'"]),
    "zo-recipe-model-no-model": (lambda: Z.recipe_model({"corpus": {}}, 300), ValueError, ["recipe['model']"]),
    "zo-recipe-model-vocab-str": (lambda: Z.recipe_model(Z.entry("tinyworld").recipe, "300"), TypeError,
                                  ["vocab_size", "'300'"]),
    "zo-eval-people-str": (lambda: Z.eval_people("ab", 1), TypeError, ["people", "'ab'"]),
    "zo-eval-people-seed-str": (lambda: Z.eval_people([1, 2], 1, seed="0"), TypeError, ["seed", "'0'"]),
    # rlhf
    "rl-pair-prompt-int": (lambda: RL.PreferencePair(5, "a", "b"), TypeError, ["PreferencePair.prompt", "5"]),
    "rl-kl-kind-unknown": (lambda: RL.kl_penalty(Z1, Z1, kind="k4"), ValueError, ["kind", "'k4'", "'k3'"]),
    "rl-kl-shapes": (lambda: RL.kl_penalty(torch.zeros(2), torch.zeros(3)), ValueError, ["ref_logp", "(3,)", "(2,)"]),
    "rl-ppo-mask-shape": (lambda: RL.ppo_clip_loss(Z1, Z1, Z1, mask=torch.ones(3)), ValueError, ["mask", "(2,)", "(3,)"]),
    "rl-grpo-1d": (lambda: RL.grpo_loss(Z1, Z1, Z1, Z1, torch.ones(2)), ValueError, ["logp_new", "(B, T)", "(2,)"]),
    "rl-bt-loss-shapes": (lambda: RL.bradley_terry_loss(torch.zeros(2), torch.zeros(3)), ValueError,
                          ["r_rejected", "(3,)"]),
    "rl-pair-accuracy-empty": (lambda: RL.pair_accuracy(torch.zeros(0), torch.zeros(0)), ValueError,
                               ["r_chosen is empty"]),
    "rl-dpo-beta-zero": (lambda: RL.dpo_loss(Z1, Z1, Z1, Z1, beta=0), ValueError, ["beta", "0"]),
    "rl-gae-lam-two": (lambda: RL.gae(torch.zeros(1, 2), torch.zeros(1, 2), lam=2), ValueError, ["lam=2"]),
    "rl-group-indivisible": (lambda: RL.group_relative_advantages(torch.zeros(5), 2), ValueError,
                             ["5 entries", "group_size=2"]),
    "rl-train-rm-model-str": (lambda: RL.train_reward_model("m", torch.zeros(2, 2), torch.zeros(2, 2)), TypeError,
                              ["model", "nn.Module", "str"]),
    "rl-train-rm-mismatched": (lambda: RL.train_reward_model(LIN, torch.zeros(2, 8), torch.zeros(3, 8)), ValueError,
                               ["chosen has 2", "rejected has 3"]),
    "rl-train-rm-lr-nan": (lambda: RL.train_reward_model(LIN, torch.zeros(2, 8), torch.zeros(2, 8), lr=NAN),
                           ValueError, ["lr", "nan"]),
    "rl-train-rm-batch-zero": (lambda: RL.train_reward_model(LIN, torch.zeros(2, 8), torch.zeros(2, 8),
                                                             batch_size=0), ValueError, ["batch_size", "0"]),
    "rl-train-rm-steps-float": (lambda: RL.train_reward_model(LIN, torch.zeros(2, 8), torch.zeros(2, 8), steps=2.0),
                                TypeError, ["steps", "2.0"]),
    "rl-save-preferences-path-int": (lambda: RL.save_preferences(PP, 5), TypeError, ["path", "5"]),
    "rl-save-preferences-pairs-int": (lambda: RL.save_preferences(5, "p.json"), TypeError, ["pairs", "int"]),
    "rl-save-preferences-pair-dict": (lambda: RL.save_preferences([{"prompt": "p"}], "p.json"), TypeError,
                                      ["pairs[0]", "PreferencePair", "dict"]),
    "rl-agreement-labeller-str": (lambda: RL.agreement_rate(PP, "l"), TypeError, ["labeller", "Labeller", "'l'"]),
    "rl-agreement-empty": (lambda: RL.agreement_rate([], RL.Labeller(len)), ValueError, ["no pairs"]),
    "rl-labeller-fn-int": (lambda: RL.Labeller(5), TypeError, ["score_fn", "5"]),
    "rl-labeller-with-prompt-str": (lambda: RL.Labeller(len, with_prompt="y"), TypeError, ["with_prompt", "'y'"]),
    "rl-fingerprint-str": (lambda: RL.tokenizer_fingerprint("t"), TypeError, ["tokenizer", "'t'"]),
    "rl-backbone-str": (lambda: RL.Backbone("g"), TypeError, ["gpt", "minillm GPT", "str"]),
    "rl-course-task-relations-str": (lambda: RL.course_task(4, relations="job"), TypeError,
                                     ["relations", "'job'", "wrap"]),
    "rl-qa-task-relations-unknown": (lambda: RL.qa_task(4, relations=["shoe"]), ValueError, ["'shoe'", "job"]),
    "rl-qa-task-template-no-question": (lambda: RL.qa_task(4, template="hello"), ValueError,
                                        ["template", "'{question}'"]),
    "rl-sample-pairs-model-str": (lambda: RL.sample_pairs("m", TOK, ["p"], max_new_tokens=2), TypeError,
                                  ["model", "minillm GPT"]),
    "rl-sample-pairs-temperature-negative": (lambda: RL.sample_pairs(M, TOK, ["p"], max_new_tokens=2, temperature=-1),
                                             ValueError, ["temperature", "-1"]),
    "rl-evaluate-policy-prompts-empty": (lambda: RL.evaluate_policy(M, M, TOK, [], _reward, max_new_tokens=2),
                                         ValueError, ["prompts is empty"]),
    "rl-dpo-trainer-pairs-str": (lambda: RL.DPOTrainer(M, TOK, "ab"), TypeError, ["pairs[0]", "PreferencePair"]),
    "rl-dpo-trainer-pairs-empty": (lambda: RL.DPOTrainer(M, TOK, []), ValueError, ["no preference pairs"]),
    "rl-dpo-trainer-config-dict": (lambda: RL.DPOTrainer(M, TOK, PP, {"steps": 1}), TypeError, ["config", "RLConfig",
                                                                                                  "dict"]),
    "rl-dpo-trainer-config-empty-dict": (lambda: RL.DPOTrainer(M, TOK, PP, {}), TypeError, ["config", "RLConfig"]),
    "rl-dpo-trainer-resume-str": (lambda: RL.DPOTrainer(M, TOK, PP, resume="y"), TypeError, ["resume", "'y'"]),
    "rl-dpo-trainer-resume-no-dir": (lambda: RL.DPOTrainer(M, TOK, PP, resume=True), ValueError,
                                     ["resume=True", "out_dir"]),
    "rl-reward-model-trainer-str": (lambda: RL.RewardModelTrainer("rm", PP), TypeError, ["reward_model", "str"]),
    "rl-ppo-reward-int": (lambda: RL.PPOTrainer(M, TOK, ["the"], 5), TypeError, ["reward_fn", "5"]),
    "rl-ppo-prompts-empty": (lambda: RL.PPOTrainer(M, TOK, [], _reward), ValueError, ["prompts", "non-empty"]),
    "rl-grpo-group-one": (lambda: RL.GRPOTrainer(M, TOK, ["the"], _reward, RL.RLConfig(group_size=1)), ValueError,
                          ["group_size", "1"]),
    "rl-rlconfig-min-lr-above-lr": (lambda: RL.RLConfig(lr=1e-4, min_lr=1e-3), ValueError,
                                    ["min_lr=0.001", "lr=0.0001"]),
    "rl-rlconfig-batch-bool": (lambda: RL.RLConfig(batch_size=True), TypeError, ["RLConfig.batch_size", "True"]),
    "rl-rlconfig-kl-negative": (lambda: RL.RLConfig(kl_coef=-1), ValueError, ["RLConfig.kl_coef", "-1"]),
    "rl-rlconfig-grad-clip-negative": (lambda: RL.RLConfig(grad_clip=-1), ValueError, ["grad_clip", "-1"]),
    "rl-reward-head-backbone-int": (lambda: RL.RewardHead(5, 8), TypeError, ["backbone", "5"]),
    "rl-reward-model-mismatched": (lambda: RL.RewardModel(M, TOK).rewards(["a"], ["b", "c"]), ValueError,
                                   ["1 prompts", "2 answers"]),
    "rl-exact-answer-list": (lambda: RL.ExactAnswerReward([1]), ValueError, ["answers", "dict"]),
    "rl-exact-answer-wrong-int": (lambda: RL.ExactAnswerReward({"q": ["a"]}, wrong=5), TypeError, ["wrong", "5"]),
    "rl-exact-answer-wrong-value-int": (lambda: RL.ExactAnswerReward({"q": ["a"]}, wrong={"q": 5}), TypeError,
                                        ["wrong['q']", "5"]),
    "rl-exact-answer-unknown-prompt": (lambda: RL.ExactAnswerReward({"q": ["a"]})(["zz"], ["a"]), ValueError,
                                       ["prompt 'zz'"]),
    "rl-hidden-states-out-of-vocab": (lambda: RL.hidden_states(M, torch.full((1, 2), 999)), ValueError,
                                      ["token id 999", "0..299"]),
    "rl-answer-logprobs-mismatched": (lambda: RL.answer_logprobs(M, [[1]], [[1], [2]]), ValueError,
                                      ["1 prompts", "2 answers"]),
    "rl-answer-logprobs-all-empty": (lambda: RL.answer_logprobs(M, [[1]], [[]]), ValueError,
                                     ["answer_ids is empty", "no answer token"]),
    "rl-answer-logprobs-hidden-str": (lambda: RL.answer_logprobs(M, [[1]], [[2]], return_hidden="y"), TypeError,
                                      ["return_hidden", "'y'"]),
    "rl-pad-right-empty": (lambda: RL.pad_right([]), ValueError, ["no rows"]),
    # distill
    "di-loss-vocab-mismatched": (lambda: D.distillation_loss(torch.zeros(2, 4), torch.zeros(2, 5), T2), ValueError,
                                 ["teacher_logits", "(2, 5)", "(2, 4)"]),
    "di-loss-T-zero": (lambda: D.distillation_loss(Z2, Z2, T2, T=0), ValueError, ["T must", "0"]),
    "di-loss-alpha-two": (lambda: D.distillation_loss(Z2, Z2, T2, alpha=2), ValueError, ["alpha", "2"]),
    "di-loss-targets-out-of-vocab": (lambda: D.distillation_loss(Z2, Z2, torch.tensor([0, 9])), ValueError,
                                     ["targets", "[0, 4)", "9"]),
    "di-teacher-text-model-str": (lambda: D.teacher_text("m", 10, [1]), TypeError, ["teacher", "minillm GPT"]),
    "di-teacher-text-prompt-str": (lambda: D.teacher_text(M, 10, "ab"), TypeError, ["prompt_ids", "'ab'"]),
    "di-teacher-text-n-zero": (lambda: D.teacher_text(M, 0, [1]), ValueError, ["n_tokens", "0"]),
    "di-teacher-text-out-of-vocab": (lambda: D.teacher_text(M, 10, [999]), ValueError, ["token id 999", "0..299"]),
    "di-teacher-text-temperature-negative": (lambda: D.teacher_text(M, 10, [1], temperature=-1), ValueError,
                                             ["temperature", "-1"]),
    "di-trainer-teacher-str": (lambda: D.DistillTrainer(M, "t", torch.zeros(100, dtype=torch.long)), TypeError,
                               ["teacher", "str"]),
    "di-trainer-T-negative": (lambda: D.DistillTrainer(M, M, torch.zeros(100, dtype=torch.long), T=-1), ValueError,
                              ["T must", "-1"]),
    "di-trainer-alpha-str": (lambda: D.DistillTrainer(M, M, torch.zeros(100, dtype=torch.long), alpha="0.5"),
                             TypeError, ["alpha", "'0.5'"]),
    "di-trainer-other-vocab": (lambda: D.DistillTrainer(M, tiny(vocab_size=280), torch.zeros(100, dtype=torch.long)),
                               ValueError, ["vocab_size=280", "300"]),
    # calibration
    "ca-abstention-mismatched": (lambda: C.abstention_curve([0.5, 0.6], [1]), ValueError,
                                 ["correct has 1", "confidences has 2"]),
    "ca-abstention-above-one": (lambda: C.abstention_curve([2.0], [1]), ValueError, ["confidences", "[0, 1]", "2"]),
    "ca-reliability-bins-zero": (lambda: C.reliability_diagram_data([0.5], [1], 0), ValueError, ["n_bins", "0"]),
    "ca-ece-correct-two": (lambda: C.expected_calibration_error([0.5], [2]), ValueError, ["correct", "0/1"]),
    "ca-fit-temperature-label-out-of-range": (lambda: C.fit_temperature([[0.0, 1.0]], [5]), ValueError,
                                              ["labels", "[0, 2)", "5"]),
    "ca-fit-temperature-1d": (lambda: C.fit_temperature([0.0, 1.0], [0]), ValueError, ["logits", "(N, K)", "(2,)"]),
    "ca-threshold-target-two": (lambda: C.threshold_for_precision([0.5], [1], 2), ValueError, ["target", "(0, 1]", "2"]),
}


def _judge(first, second):
    return 1.0


@pytest.mark.parametrize("case", sorted(SWEEP))
def test_sweep_bad_input_is_refused_and_named(case, monkeypatch, tmp_path):
    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path / "cache"))  # nothing is ever built here
    monkeypatch.chdir(tmp_path)  # a call that wrongly writes, writes here
    error = _assert_refused(case, SWEEP[case])
    if SWEEP[case][1] is TypeError:
        assert isinstance(error, InputTypeError), \
            f"{case}: a wrong type should raise InputTypeError, got {type(error).__name__}"
    assert not list((tmp_path / "cache").glob("**/model.safetensors")), f"{case} built a course model"


# -- files the later modules read: a model folder's recipe.json, config.json, tokenizer.json and
# weights (suite, zoo, the chat command), a damaged cached course model, preference files,
# LoRA adapters, quantised models and the RLHF trainers' checkpoints ----------------------------


def _model_folder(t: Path, name: str = "m") -> Path:
    folder = t / name
    tiny().save(folder)
    TOK.save(folder / "tokenizer.json")
    return folder


def _damaged_folder(t: Path, file: str, data) -> Path:
    return _write(_model_folder(t) / file, data).parent


def _without(t: Path, file: str) -> Path:
    folder = _model_folder(t)
    (folder / file).unlink()
    return folder


def _cached(t: Path, damage) -> None:
    """A cached 'tinyworld' that is present (so nothing trains) but damaged; then load it."""
    import os

    os.environ["MINILLM_CACHE"] = str(t / "cache")  # restored by the test's monkeypatch
    folder = Z.model_dir("tinyworld")
    tiny().save(folder)
    TOK.save(folder / "tokenizer.json")
    damage(folder)
    Z.pretrained("tinyworld", progress=False)


def _quant_layer(t: Path, **fields) -> Path:
    import json

    folder = _quantized(t)
    cfg = json.loads((folder / "quantization.json").read_text())
    cfg["layers"]["blocks.0.attn.qkv"].update(fields)
    _write(folder / "quantization.json", cfg)
    return folder


def _rl_config(t: Path, **kw):
    return RL.RLConfig(**{"steps": 1, "out_dir": str(t / "rl"), "progress": False, "checkpoint_every": 1,
                          "batch_size": 1, **kw})


def _dpo_resume(t: Path, damage=None, **kw):
    if damage is None:  # a real checkpoint, then a resume with other settings
        RL.DPOTrainer(tiny(), TOK, PP, _rl_config(t)).fit()
    else:
        (t / "rl").mkdir()
        damage(t / "rl")
    return RL.DPOTrainer(tiny(), TOK, PP, _rl_config(t, **kw), resume=True)


SWEEP_FILES = {
    "recipe-json-binary": (lambda t: SU.as_scorer(_damaged_folder(t, "recipe.json", BINARY)), ValueError,
                           ["recipe.json", "binary", "delete the folder"]),
    "recipe-json-truncated": (lambda t: SU.as_scorer(_damaged_folder(t, "recipe.json", '{"chat": tr')), ValueError,
                              ["recipe.json", "not valid JSON"]),
    "recipe-json-list": (lambda t: SU.as_scorer(_damaged_folder(t, "recipe.json", [1])), ValueError,
                         ["recipe.json", "JSON list", "JSON object"]),
    "recipe-json-chat-str": (lambda t: SU.as_scorer(_damaged_folder(t, "recipe.json", {"chat": "yes"})), ValueError,
                             ["recipe.json", "'chat'", "true or false", "'yes'"]),
    "model-folder-config-binary": (lambda t: Z.load_model_dir(_damaged_folder(t, "config.json", BINARY)), ValueError,
                                   ["config.json", "not valid JSON"]),
    "model-folder-config-list": (lambda t: Z.load_model_dir(_damaged_folder(t, "config.json", [1])), ValueError,
                                 ["config.json", "JSON list"]),
    "model-folder-config-field-str": (lambda t: Z.load_model_dir(_damaged_folder(t, "config.json",
                                                                                 {**TINY, "n_layer": "1"})),
                                      TypeError, ["config.json", "n_layer", "'1'"]),
    "model-folder-tokenizer-binary": (lambda t: Z.load_model_dir(_damaged_folder(t, "tokenizer.json", BINARY)),
                                      ValueError, ["tokenizer.json", "binary"]),
    "model-folder-tokenizer-list": (lambda t: Z.load_model_dir(_damaged_folder(t, "tokenizer.json", [1])),
                                    ValueError, ["tokenizer.json", "JSON list"]),
    "model-folder-weights-garbage": (lambda t: Z.load_model_dir(_damaged_folder(t, "model.safetensors",
                                                                                b"garbage" * 9)),
                                     ValueError, ["model.safetensors", "not a readable safetensors"]),
    "model-folder-weights-missing": (lambda t: Z.load_model_dir(_without(t, "model.safetensors")), FileNotFoundError,
                                     ["model.safetensors", "not found"]),
    "model-folder-tokenizer-missing": (lambda t: Z.load_model_dir(_without(t, "tokenizer.json")), FileNotFoundError,
                                       ["tokenizer.json", "not found"]),
    "model-folder-is-a-file": (lambda t: Z.load_model_dir(_write(t / "f", "x")), FileNotFoundError,
                               ["model folder", "not found"]),
    "model-folder-other-vocabulary": (lambda t: Z.load_model_dir(_damaged_folder(t, "config.json",
                                                                                 {**TINY, "vocab_size": 260})),
                                      ValueError, ["model.safetensors", "does not match"]),
    "model-folder-other-width": (lambda t: Z.load_model_dir(_damaged_folder(t, "config.json", {**TINY, "n_embd": 32})),
                                 ValueError, ["model.safetensors", "wrong shape"]),
    "cached-model-weights-garbage": (lambda t: _cached(t, lambda f: _write(f / "model.safetensors", b"garbage" * 9)),
                                     ValueError, ["cached model 'tinyworld' is damaged", "model.safetensors",
                                                  "Delete the folder"]),
    "cached-model-config-list": (lambda t: _cached(t, lambda f: _write(f / "config.json", [1])), ValueError,
                                 ["cached model 'tinyworld' is damaged", "config.json"]),
    "cached-model-tokenizer-missing": (lambda t: _cached(t, lambda f: (f / "tokenizer.json").unlink()),
                                       FileNotFoundError, ["cached model 'tinyworld' is damaged", "tokenizer.json"]),
    "preferences-prompt-int": (lambda t: RL.load_preferences(_write(
        t / "p.json", {"pairs": [{"prompt": 5, "chosen": "a", "rejected": "b"}]})), ValueError,
        ["p.json", "pair 0", "'prompt' must be a string", "5"]),
    "preferences-field-missing": (lambda t: RL.load_preferences(_write(
        t / "p.json", {"pairs": [{"prompt": "p", "chosen": "a"}]})), ValueError, ["p.json", "pair 0", "'rejected'"]),
    "preferences-no-pairs-field": (lambda t: RL.load_preferences(_write(t / "p.json", {"x": []})), ValueError,
                                   ["p.json", "'pairs'"]),
    "preferences-pairs-object": (lambda t: RL.load_preferences(_write(t / "p.json", {"pairs": {"a": 1}})), ValueError,
                                 ["p.json", "'pairs'"]),
    "preferences-no-pairs": (lambda t: RL.load_preferences(_write(t / "p.json", {"pairs": []})), ValueError,
                             ["p.json", "no pairs"]),
    "preferences-empty-file": (lambda t: RL.load_preferences(_write(t / "p.json", "")), ValueError,
                               ["p.json", "not valid JSON"]),
    "preferences-folder": (lambda t: RL.load_preferences((t / "d").mkdir() or t / "d"), ValueError,
                           ["is a folder", "preference file"]),
    "adapter-config-list": (lambda t: L.load_adapter(tiny(), _edit_adapter(t, {"config": "[1]"})), ValueError,
                            ["adapter.safetensors", "'config'", "JSON object"]),
    "adapter-config-no-rank": (lambda t: L.load_adapter(tiny(), _edit_adapter(t, {"config": '{"alpha": 4}'})),
                               ValueError, ["adapter.safetensors", "config.r", "None"]),
    "adapter-other-format": (lambda t: L.load_adapter(tiny(), _edit_adapter(t, {"format": "peft"})), ValueError,
                             ["adapter.safetensors", "not a minillm LoRA adapter", "'peft'"]),
    "quantized-bits-three": (lambda t: Q.load_quantized(tiny(), _quant_layer(t, bits=3)), ValueError,
                             ["quantization.json", "layers.blocks.0.attn.qkv.bits", "4 or 8", "3"]),
    "quantized-group-zero": (lambda t: Q.load_quantized(tiny(), _quant_layer(t, group_size=0)), ValueError,
                             ["quantization.json", "group_size", "0"]),
    "quantized-in-features-negative": (lambda t: Q.load_quantized(tiny(), _quant_layer(t, in_features=-1)),
                                       ValueError, ["quantization.json", "in_features", "-1"]),
    "quantized-symmetric-str": (lambda t: Q.load_quantized(tiny(), _quant_layer(t, symmetric="yes")), ValueError,
                                ["quantization.json", "symmetric", "'yes'"]),
    "quantized-weights-missing": (lambda t: Q.load_quantized(tiny(), (lambda d: (
        (d / "quantized.safetensors").unlink(), d)[1])(_quantized(t))), FileNotFoundError,
        ["quantized.safetensors", "save_quantized"]),
    "rl-checkpoint-garbage": (lambda t: _dpo_resume(t, lambda d: _write(d / "dpo.pt", b"garbage" * 9)), ValueError,
                              ["dpo.pt", "not a readable minillm checkpoint"]),
    "rl-checkpoint-foreign": (lambda t: _dpo_resume(t, lambda d: torch.save({"x": 1}, d / "dpo.pt")), ValueError,
                              ["dpo.pt", "not a minillm checkpoint", "'x'"]),
    "rl-checkpoint-missing": (lambda t: _dpo_resume(t, lambda d: None), FileNotFoundError,
                              ["dpo.pt", "no checkpoint"]),
    "rl-checkpoint-other-settings": (lambda t: _dpo_resume(t, lr=5e-4), ValueError,
                                     ["dpo.pt", "other settings", "lr"]),
}


@pytest.mark.parametrize("case", sorted(SWEEP_FILES))
def test_sweep_bad_files_name_the_file(case, tmp_path, monkeypatch):
    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path / "cache"))
    _assert_refused(case, SWEEP_FILES[case], tmp_path)


def test_a_refused_quantized_file_leaves_the_model_as_it_was(tmp_path):
    """A quantised file whose second layer is damaged is refused before the first is replaced."""
    import json

    folder = _quantized(tmp_path)
    cfg = json.loads((folder / "quantization.json").read_text())
    last = list(cfg["layers"])[-1]
    cfg["layers"][last]["out_features"] += 1
    _write(folder / "quantization.json", cfg)
    model = tiny()
    before = {n: type(m).__name__ for n, m in model.named_modules()}
    with pytest.raises(ValueError, match="does not match"):
        Q.load_quantized(model, folder)
    assert {n: type(m).__name__ for n, m in model.named_modules()} == before



def test_sweep_valid_inputs_still_work(tmp_path):
    """The sweep's checks change nothing for valid input: the values next to each refused one."""
    import numpy as np

    assert RS.ArithmeticProblem("q", np.int64(12), 30, 2).answer == 42
    assert len(RS.make_problems(WD, 2, [1, 2], exclude=[(1, 2), PROB[0]])) == 2
    assert RS.accuracy(PROB, [[f" Answer: {p.answer}"] for p in PROB]) == 1.0
    assert len(RS.training_examples(CT, tuple(PROB), modes="scratchpad")) == 2
    assert RS.training_problems({"n_train": 3})[0] == RS.training_problems({"n_train": 3})[0]
    assert H.context_prompt("q", ("a", "b"), TOK, 50).count("a") >= 1
    assert len(H.fact_documents(WD, tuple(P3), (1, 1, 2), reverse=True)) == 4
    assert len(H.retrieved_prompts(QA3, BM2, *STORE, TOK, 200, k=1)) == 3
    assert SU.Item("p", "a", choices=["a", "b"]).choices == ["a", "b"]
    assert _task(metric="bpb", items=["some text"], chance=8.0, max_new_tokens=0).chance == 8.0
    assert SU.as_scorer((M, TOK), chat=None).chat is False
    prefers_x = lambda first, second: 1.0 if first[1] == "x" else 0.0  # noqa: E731
    assert SU.play_matches({"a": ["x"], "b": ["y"]}, ["q"], prefers_x, both_ways=True) == [("a", "b", 1.0)]
    assert RL.RLConfig(lr=1e-4, min_lr=1e-4).min_lr == 1e-4
    assert len(RL.train_reward_model(LIN, torch.zeros(2, 8), torch.zeros(2, 8), steps=1, batch_size=None)) == 1
    assert RL.ExactAnswerReward({"q": "a"}, wrong={"q": "b"})(["q", "q"], ["a", "a b"]) == [1.0, 0.0]
    assert RL.answer_logprobs(M, [[1, 2]], [[]])[0].shape == (1, 1)
    g = S.dp_gradient({"w": torch.ones(2, 3)}, S.DPConfig(noise=0.0))
    assert torch.allclose(g["w"], torch.full((3,), 1 / 3 ** 0.5))
    grads = S.per_example_grads(M, LONG, torch.full((2, 3), -100).index_fill_(1, torch.tensor([0]), 1))
    assert all(g.shape[0] == 2 for g in grads.values())
    assert E.fact_answer(WD, P3[0], "birth_city") == WD.town(P3[0]).name
    assert Z.eval_people((1, 2, 3), 5) == (1, 2, 3)
    assert Z.recipe_config(Z.entry("tinyworld").recipe, steps=3).steps == 3
    assert T.generate_with_tools(M, TOK, ["the"], max_new_tokens=2, temperature=0) is not None
    folder = _model_folder(tmp_path)
    _write(folder / "recipe.json", {"chat": True, "name": "x"})
    assert SU.as_scorer(folder).chat is True
    pairs = RL.load_preferences(RL.save_preferences(PP, tmp_path / "p.json"))
    assert pairs == PP

# -- the command line of the later modules: chat, generate's sampling flags, models -----------


def _run(argv, capsys) -> tuple[int, str]:
    from minillm.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    return code, capsys.readouterr().err


def _char_folder(t: Path) -> Path:
    """A model folder whose tokenizer has no chat tokens (chapter 12's character tokenizer)."""
    folder = t / "char"
    tiny().save(folder)
    CT.save(folder / "tokenizer.json")
    return folder


SWEEP_CLI = {
    "chat-top-p-above-one": (lambda r: ["chat", r, "--top-p", "1.5"], ["top_p", "1.5"]),
    "chat-min-p-above-one": (lambda r: ["chat", r, "--min-p", "2"], ["min_p", "2"]),
    "chat-temperature-negative": (lambda r: ["chat", r, "--temperature", "-1"], ["--temperature", "'-1'"]),
    "chat-temperature-word": (lambda r: ["chat", r, "--temperature", "hot"], ["--temperature", "'hot'"]),
    "chat-top-k-zero": (lambda r: ["chat", r, "--top-k", "0"], ["--top-k", "'0'"]),
    "chat-top-k-above-vocab": (lambda r: ["chat", r, "--top-k", "100000"], ["top_k=100000", "vocabulary"]),
    "chat-repetition-zero": (lambda r: ["chat", r, "--repetition-penalty", "0"], ["--repetition-penalty", "'0'"]),
    "chat-max-new-zero": (lambda r: ["chat", r, "--max-new-tokens", "0"], ["--max-new-tokens", "'0'"]),
    "chat-seed-negative": (lambda r: ["chat", r, "--seed", "-1"], ["--seed", "'-1'"]),
    "chat-template-unknown": (lambda r: ["chat", r, "--template", "llama"], ["--template", "'llama'"]),
    "chat-template-chat-without-tokens": (lambda r: ["chat", _char_folder(r.parent), "--template", "chat"],
                                          ["--template chat", "<|user|>"]),
    "chat-missing-folder": (lambda r: ["chat", r.parent / "nothing"], ["nothing", "not found", "tinyworld"]),
    "chat-recipe-binary": (lambda r: ["chat", _write(r / "recipe.json", BINARY).parent], ["recipe.json", "binary"]),
    "chat-recipe-chat-str": (lambda r: ["chat", _write(r / "recipe.json", {"chat": "yes"}).parent],
                             ["recipe.json", "'chat'", "'yes'"]),
    "chat-config-truncated": (lambda r: ["chat", _write(r / "config.json", '{"vocab').parent], ["config.json"]),
    "generate-top-p-zero": (lambda r: ["generate", r, "--top-p", "0"], ["--top-p", "'0'"]),
    "generate-top-p-nan": (lambda r: ["generate", r, "--top-p", "nan"], ["--top-p", "'nan'"]),
    "generate-min-p-word": (lambda r: ["generate", r, "--min-p", "low"], ["--min-p", "'low'"]),
    "generate-repetition-negative": (lambda r: ["generate", r, "--repetition-penalty", "-1.2"],
                                     ["--repetition-penalty", "'-1.2'"]),
    "generate-seed-float": (lambda r: ["generate", r, "--seed", "1.5"], ["--seed", "'1.5'"]),
    "generate-samples-word": (lambda r: ["generate", r, "--num-samples", "two"], ["--num-samples", "'two'"]),
    "generate-unknown-flag": (lambda r: ["generate", r, "--top_p", "0.9"], ["--top_p"]),
    "generate-unknown-course-model": (lambda r: ["generate", "tinyworld-huge"], ["tinyworld-huge", "not found",
                                                                                   "tinyworld"]),
    "models-unknown-name": (lambda r: ["models", "--build", "nope"], ["'nope'", "tinyworld"]),
    "models-unknown-flag": (lambda r: ["models", "--rebuild"], ["--rebuild"]),
}


@pytest.mark.parametrize("case", sorted(SWEEP_CLI))
def test_sweep_cli_mistake_is_one_line_and_exit_2(case, tmp_path, capsys, monkeypatch):
    """A user's mistake with chat, generate or models: one line on stderr (argparse's usage line
    aside), exit status 2, no traceback; nothing is trained (the cache stays empty)."""
    import io

    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MINILLM_DEBUG", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # chat reads nothing: it must fail before
    argv = SWEEP_CLI[case][0](_model_folder(tmp_path, "run"))
    code, err = _run(argv, capsys)
    assert code == 2, f"{case}: exit status {code}, stderr {err!r}"
    lines = [x for x in err.strip().splitlines() if not x.startswith("usage:") and not x.startswith(" ")]
    assert len(lines) == 1 and "Traceback" not in err, f"{case}: {err!r}"
    for word in SWEEP_CLI[case][1]:
        assert word in lines[0], f"{case}: {word!r} not in {lines[0]!r}"
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").glob("**/model.safetensors"))


def test_the_count_of_module_bad_inputs():
    """Keep the counts honest: the first pass (API, FILES and 4 command lines) asked for at least
    120; issue 17's sweep of the later modules (SWEEP, SWEEP_FILES, SWEEP_CLI) for at least 150."""
    assert len(API) + len(FILES) + 4 >= 120
    assert len(SWEEP) + len(SWEEP_FILES) + len(SWEEP_CLI) >= 150
    assert len(SWEEP) >= 250 and len(SWEEP_FILES) >= 30 and len(SWEEP_CLI) >= 20
    assert not set(SWEEP) & set(API), "a sweep case repeats an id of the first pass"
