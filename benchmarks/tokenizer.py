"""Benchmark: BPE training and encoding, minillm against HF's Rust `tokenizers` and a naive BPE.

On tinyshakespeare (``../shared/data/tinyshakespeare.txt`` or ``$MINILLM_SHARED_DATA``, or ``--text PATH``; else the
TinyWorld corpus), vocabulary 4,096, GPT-4 split pattern, it measures in one run:

- training: ``minillm.BPETokenizer.train``; HF's ``BpeTrainer`` set up the same way (same
  merges, checked); and a naive textbook BPE written below that recounts every pair of the
  whole text for every merge. The naive one is run for ``--naive-merges`` merges only and
  extrapolated to the full count (said so in the output);
- encoding the whole corpus: minillm (``encode`` on the full text and ``encode_batch`` on its
  lines, each with a cold piece cache) against HF's ``encode`` and ``encode_batch`` (which
  uses all cores), after checking that the ids are identical.

Targets (issue 4): training within 3x of HF's time and at least 50x faster than the naive
BPE; encoding throughput at least 1/3 of HF's best. Times are the best of ``--repeat`` runs.
Run: ``python benchmarks/tokenizer.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import regex
from tokenizers import Regex, decoders, models, pre_tokenizers, trainers
from tokenizers import Tokenizer as HFTokenizer

from minillm.data import shared_data
from minillm.tokenizer import GPT4_SPLIT_PATTERN, HF_BYTE_RANK, SPECIAL_TOKENS, BPETokenizer

SHAKESPEARE = shared_data("tinyshakespeare.txt")


def load_text(path: str | None) -> tuple[str, str]:
    if path:
        return Path(path).read_text(encoding="utf-8"), path
    if SHAKESPEARE.is_file():
        return SHAKESPEARE.read_text(encoding="utf-8"), str(SHAKESPEARE)
    from minillm.data import corpus

    c = corpus("tinyworld", size="small")
    return c.train, "TinyWorld corpus (size='small', train split): tinyshakespeare not found"


def best_of(repeat: int, fn):
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


# --- the textbook baseline: rescan every token for every merge ----------------------------------------


def naive_bpe(text: str, n_merges: int, pattern: str = GPT4_SPLIT_PATTERN) -> list[tuple[tuple[int, int], int]]:
    """Textbook BPE: split with the pattern, then for each merge count every adjacent pair in
    every chunk of the corpus, take the most frequent (HF's tie rule), and rewrite every chunk."""
    chunks = [list(p.encode("utf-8")) for p in regex.findall(pattern, text)]
    rank = list(HF_BYTE_RANK)
    merges = []
    for k in range(n_merges):
        counts: dict[tuple[int, int], int] = {}
        for ids in chunks:
            for pair in zip(ids, ids[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], rank[p[0]], rank[p[1]]))
        new = 256 + k
        rank.append(new)
        merged = []
        for ids in chunks:
            out, i = [], 0
            while i < len(ids):
                if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
                    out.append(new)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            merged.append(out)
        chunks = merged
        merges.append((pair, new))
    return merges


def hf_tokenizer() -> HFTokenizer:
    tok = HFTokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(GPT4_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    return tok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", help="a UTF-8 text file (default: tinyshakespeare, else TinyWorld)")
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--naive-merges", type=int, default=8, help="merges the naive BPE runs before extrapolating")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is kept")
    args = parser.parse_args()

    text, source = load_text(args.text)
    nbytes = len(text.encode("utf-8"))
    print(f"text: {source}, {nbytes / 1e6:.2f} MB; vocab {args.vocab_size}; {os.cpu_count()} CPU cores")

    # -- training --
    t_ours, ours = best_of(args.repeat, lambda: BPETokenizer().train(text, args.vocab_size))

    def train_hf():
        tok = hf_tokenizer()
        trainer = trainers.BpeTrainer(
            vocab_size=args.vocab_size,
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=list(SPECIAL_TOKENS),
        )
        tok.train_from_iterator([text], trainer)
        return tok

    t_hf, hf_trained = best_of(args.repeat, train_hf)

    same = json.loads(hf_trained.to_str())["model"]["merges"] == ours.to_dict()["model"]["merges"]
    n_merges = len(ours.merges)
    t0 = time.perf_counter()
    naive = naive_bpe(text, args.naive_merges)
    t_naive_part = time.perf_counter() - t0
    assert naive == ours.merges[: len(naive)], "the naive BPE disagrees with minillm on the first merges"
    t_naive = t_naive_part / len(naive) * n_merges
    # A naive merge costs time proportional to the current length of the text, which shrinks
    # as merges happen; scaling by the final length gives a floor for the naive time.
    final_len = len(ours.encode(text))
    t_naive_floor = t_naive * final_len / nbytes

    print(f"\ntraining ({n_merges} merges; minillm and HF merges identical: {same})")
    print(f"  HF tokenizers (Rust)   {t_hf:8.2f} s")
    print(f"  minillm                {t_ours:8.2f} s   {t_ours / t_hf:5.2f}x HF's time   (target <= 3x)")
    print(
        f"  naive rescan BPE       {t_naive:8.0f} s   extrapolated linearly from {len(naive)} merges "
        f"that took {t_naive_part:.1f} s"
    )
    print(
        f"                         {t_naive_floor:8.0f} s   floor: same, scaled by the final/initial "
        f"text length ({final_len}/{nbytes} tokens)"
    )
    print(
        f"  minillm speed-up over naive: {t_naive / t_ours:6.0f}x (floor {t_naive_floor / t_ours:.0f}x)  "
        "(target >= 50x)"
    )

    # -- encoding (cold caches: a fresh tokenizer object for every run) --
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"minillm-bench-{os.getpid()}.json"
    ours.save(tmp)
    lines = text.splitlines(keepends=True)
    t_enc, ids = best_of(args.repeat, lambda: BPETokenizer.load(tmp).encode(text))
    t_enc_b, ids_b = best_of(args.repeat, lambda: BPETokenizer.load(tmp).encode_batch(lines))
    t_hf_enc, hf_ids = best_of(args.repeat, lambda: HFTokenizer.from_file(str(tmp)).encode(text).ids)
    t_hf_b, hf_b = best_of(args.repeat, lambda: [e.ids for e in HFTokenizer.from_file(str(tmp)).encode_batch(lines)])
    tmp.unlink()
    assert ids == hf_ids and ids_b == hf_b, "minillm and HF encodings differ"
    hf_best = min(t_hf_enc, t_hf_b)
    ours_best = min(t_enc, t_enc_b)
    print(f"\nencoding the whole text ({len(ids)} tokens; ids identical to HF: True)")
    mb = nbytes / 1e6
    for name, t in [
        ("HF encode (one string)", t_hf_enc),
        ("HF encode_batch (lines, all cores)", t_hf_b),
        ("minillm encode (one string)", t_enc),
        ("minillm encode_batch (lines)", t_enc_b),
    ]:
        print(f"  {name:36s} {t:6.2f} s  {mb / t:6.2f} MB/s")
    print(f"  minillm throughput / HF's best: {hf_best / ours_best:.2f}  (target >= 0.33)")


if __name__ == "__main__":
    main()
