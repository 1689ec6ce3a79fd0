"""Benchmark: chapter 10's cached distilled student against its teacher, then quantisation (issue 14).

1. Teacher: ``minillm.pretrained("tinyworld")`` (4 layers x 128, rotary positions, 1,055,488
   parameters), which knows its 100-person cast's facts. Student: the cached course model
   ``minillm.pretrained("tinyworld-student")`` (built here if missing; recipe in
   ``minillm.zoo.MODELS["tinyworld-student"]``, builder :func:`minillm.distill.build_student`):
   2 layers x 64 with learned positions, distilled on 1.5 MB of biographies of the cast (the
   teacher's corpus options with a biography-only mixture), 600 AdamW steps of 32 x 64 tokens,
   :func:`minillm.distill.distillation_loss` at ``T = 1``, ``alpha = 0.2``.
2. Equal compute (``--skip compare`` leaves it out): the same student from the same initial
   weights and the same windows, trained on hard labels only (``hard``), and on ``--seq-tokens``
   tokens the teacher wrote (``seq``, :func:`minillm.distill.teacher_text`; ``--skip seq``).
3. Report card: fact completion, exact match of the greedy continuation on all 100 held-in
   people, 4 relations (:func:`minillm.evaluate.fact_completion`), validation loss on held-out
   biographies, parameters, size, tokens per second (greedy, batch 1, KV cache).
4. Quantisation of the teacher (fp32, bf16, int8 per-channel absmax, int4 groups of 32, torch's
   ``quantize_dynamic``) and of the student (fp32, int8, int4): fact accuracy, validation loss,
   bytes of the linear weights, in memory and on disk, tokens per second; the int8 student saved
   and loaded back. 5. GGUF: the student (GPT-2's architecture) written with
   :func:`minillm.quantize.export_gguf` (f32 and f16) and read back with the ``gguf`` package.

Targets (issue 14), each on its own line ending in ``met`` or ``NOT met``: the student has <= 1/4
of the teacher's parameters; it keeps >= 90% of the teacher's fact accuracy; its build takes about
5 minutes at most; it beats the hard-label student at equal compute; int8 loses < 1 point of fact
accuracy at >= 4x smaller (linear) weights.

Run: ``python benchmarks/distill.py`` (``--skip seq`` saves the teacher's sampling time).

The recipe search (2026-11-27, ``/tmp`` script around the same DistillTrainer; a 2-core CPU
shared with other jobs, load 2 to 6, so the times are noisy). Every run: the student above
(2 x 64, learned positions, 239,360 parameters = 0.227 of the teacher's), batch 32 x 64 tokens,
cosine schedule to lr / 10 after 20 warmup steps, weight decay 0.1; fact score on the 100 held-in
people (the teacher scores 1.000), measured every 200 steps:

    loss               lr     steps   @200   @400   @600   @800  @1000  @1200
    hard labels        1e-2   1200   0.360  0.827  0.898  0.970  0.978  0.985
    T=1, alpha=0.5     1e-2   1200   0.045  0.378  0.718  0.915  0.958  0.970
    T=1, alpha=0.5     2e-2   1000   0.048  0.175  0.487  (stopped)
    T=1, alpha=0.2     1e-2   1000   0.405  0.875  0.958  0.990  0.998
    T=2, alpha=0.2     1e-2    600   0.302  0.880  0.970
    T=1, alpha=0.2     1e-2    600   0.390  0.860  0.975                       <- the recipe
    T=1, alpha=0.2, the teacher's own mixture (70% biographies, 20% question pages, 10%
    stories) instead of biographies only, 600 steps: 0.235 at step 200 (stopped; fewer facts
    per token)

Before the search, chapter 10's students (2 x 64 with rotary positions, lr 3e-3, T = 2,
alpha = 0.5, 200 steps) kept 4% of the teacher's facts. What moved it: ten times the tokens and
a higher learning rate (lr 1e-2; 2e-2 was worse), and the weight of the soft term. With half
the loss on soft targets the student first matches the teacher's whole distribution (names,
function words) and learns the facts a few hundred steps later than on hard labels alone; a
fifth (alpha = 0.2) learns them as fast as hard labels and ends as high. T = 2 gave no gain
over T = 1. 600 steps are where the fact score levels off (0.975 against 0.998 at 1000), and
fit the build-time bar. Learned positions cost 8,192 parameters (128 x 64) over rotary ones
and make the student GPT-2 in architecture, so it exports to GGUF. Wider students do not fit
the quarter: the tied embedding table alone is 2048 x width (131,072 at width 64; at width 80
one layer would be left).

The teacher changed on 2026-11-28 ("tinyworld" v3, trained with Muon: issue 16); the student
built on it (same recipe) reports in its recipe.json held-in facts 0.9325 against the teacher's
0.9875 (94.4% kept, target >= 90% met), held-out 0.0625, 0.227 of the teacher's parameters;
chapter 10 measures the same. The runs below are on the v2 teacher and were not repeated.

Measured (2026-11-27 19:32-19:43 UTC, ``python benchmarks/distill.py --skip seq``, the cached
student built at 19:25 by ``minillm.pretrained("tinyworld-student")`` with both cores; a 2-core
CPU shared with other jobs, load average 4 to 7 throughout, so every time and tokens-per-second
figure is noise, several times off between two measurements of the same model; the build took
322 s wall clock but 124 s user + 43 s system CPU time, with the process getting 51% of a core
pair):

    model               params     MB   tok/s  facts val loss  train s
    teacher          1,055,488   4.25      88  1.000    0.516        0
    student            239,360   0.96     154  0.975    0.549      316
    student-hard       239,360   0.96     508  0.932    0.584      502
    target: student has <= 1/4 of the teacher's parameters (0.227): met
    target: the cached student keeps >= 90% of the teacher's fact accuracy (0.975 / 1.000 = 97.5%,
      all 100 people of the cast, 4 relations): met
    target: the student builds in at most 5 minutes on a 2-core laptop (322 s wall clock; load
      average now 4.1): NOT met
    soft-target student's gain over hard labels at equal steps: +0.043 fact accuracy, +0.035 nats
      lower validation loss
    target: soft beats hard at equal compute (0.975 vs 0.932 facts; val loss 0.549 vs 0.584): met

    teacher    bits/w  lin KB  mem KB disk KB   tok/s  facts val loss
    fp32        32.00    3146    4255    4226      86  1.000    0.516
    bf16        16.00    1573    2127    2116      60  0.998    0.516
    int8         8.25     805    1914    1889      33  1.000    0.516
    int4         5.25     516    1625    1602      12  1.000    0.518
    dynamic      8.00     787    1891    1891      66  0.998    0.516
    target: int8 loses < 1 point of fact accuracy (+0.0) at >= 4x smaller linear weights (3.91x;
      4x less the float32 scale of each row): met

    student    bits/w  lin KB  mem KB disk KB   tok/s  facts val loss
    fp32        32.00     393     957     960     274  0.975    0.549
    int8         8.25     103     667     671      36  0.975    0.549
    int4         5.25      65     629     634      33  0.968    0.554
    int8 student saved (0.67 MB against the teacher's 4.23 MB) and loaded back gives identical
      logits: True
    gguf f32: 1.48 MB, 29 tensors read back with the gguf package, largest difference 0.0e+00
    gguf f16: 0.75 MB, 29 tensors read back with the gguf package, largest difference 2.4e-04

(The f32 GGUF holds the tied embedding twice, as ``token_embd`` and ``output``: 1.48 MB for
0.96 MB of weights.) That build took 322 s at load 4.5 to 7 (124 s user + 43 s system CPU for
the whole process), hence the NOT met. The student was then rebuilt with the final builder
(which also records the training's CPU seconds) at 19:48, load average 2.4 to 4.7, to the same
weights bit for bit; ``python benchmarks/distill.py --skip compare,seq,quant,gguf`` at 19:56:

    student            239,360   0.96     345  0.975    0.549      217
    target: the student builds in at most 5 minutes on a 2-core laptop (221 s wall clock, 157 s
      of CPU in training; load average now 2.4): met

The build-time line counts as met when the wall clock is under 300 s, or when the training's CPU
seconds (all threads added up) plus the rest of the build are: a CPU-bound build needs no more
wall time than that on a core to itself, so it bounds the time on an idle laptop. The seq student was
skipped in this run (``--skip seq``): before, the teacher took 1017 s to write 100,000 tokens on
the same busy CPU; at 60 steps chapter 10 measures it behind both others.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from minillm import pretrained, seed_everything, zoo
from minillm.data import corpus, encode
from minillm.distill import teacher_text
from minillm.evaluate import fact_completion
from minillm.generate import generate
from minillm.model import GPT
from minillm.quantize import (
    QuantLinear,
    export_gguf,
    gguf_name,
    load_quantized,
    model_size_bytes,
    quantize_model,
    save_quantized,
)
from minillm.train import Trainer

STUDENT = "tinyworld-student"


def transfer_set(tokenizer, recipe: dict):
    """Train and validation token ids of the student's transfer set (its recipe's "transfer"):
    the teacher's corpus options, ``size`` characters, ``mixture`` overriding the teacher's mix."""
    c = zoo.MODELS["tinyworld"].recipe["corpus"]
    t = recipe["transfer"]
    opts = {**c["options"], **({"mixture": t["mixture"]} if "mixture" in t else {})}
    text = corpus(c["name"], size=t.get("size", c["size"]), seed=c["seed"], **opts)
    return encode(text.train, tokenizer), encode(text.val, tokenizer)


def facts(model, tokenizer, people) -> float:
    return fact_completion(model, tokenizer, people["world"], people["held_in"], choice=False).exact_all


@torch.no_grad()
def val_loss(model, val_ids, block: int = 64, n: int = 64) -> float:
    rng = np.random.default_rng(0)
    starts = rng.integers(0, len(val_ids) - block - 1, size=n)
    chunk = torch.from_numpy(np.stack([val_ids[s: s + block + 1] for s in starts]).astype(np.int64))
    model.eval()
    logits, _ = model(chunk[:, :-1])
    return nn.functional.cross_entropy(logits.float().flatten(0, 1), chunk[:, 1:].flatten()).item()


def tokens_per_second(model, prompt_ids, n: int = 100, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        generate(model, [prompt_ids], max_new_tokens=n, temperature=0)
        best = min(best, time.perf_counter() - t0)
    return n / best


def linear_weight_bytes(model) -> int:
    """Bytes of the weights of the block's linear layers (what quantisation shrinks)."""
    total = 0
    for name, m in model.named_modules():
        if not name.startswith("blocks."):
            continue
        if isinstance(m, QuantLinear):
            total += sum(t.numel() * t.element_size() for t in (m.qweight, m.scale) + ((m.zero,) if m.bits == 4 else ()))
        elif type(m) is nn.Linear:
            total += m.weight.numel() * m.weight.element_size()
        elif type(m).__module__.startswith("torch.ao.nn.quantized.dynamic"):  # torch's int8: 1 byte a weight
            w = m.weight()
            total += w.numel() + 4 * w.q_per_channel_scales().numel() if w.qscheme() in (
                torch.per_channel_affine, torch.per_channel_symmetric) else w.numel() + 8
    return total


def disk_bytes(model, kind: str) -> int:
    with tempfile.TemporaryDirectory() as d:
        if kind in ("int8", "int4"):
            save_quantized(model, d)
            return sum(p.stat().st_size for p in Path(d).iterdir())
        if kind == "dynamic":
            buf = io.BytesIO()
            torch.save(model.state_dict(), buf)
            return buf.tell()
        model.save(d)
        return (Path(d) / "model.safetensors").stat().st_size


def quantised(model, kind: str):
    m = copy.deepcopy(model).eval()
    if kind == "bf16":
        return m.to(torch.bfloat16)
    if kind in ("int8", "int4"):
        # the tied output head stays a view of the (float) embedding table: quantise the blocks
        for b in m.blocks:
            quantize_model(b, bits=8 if kind == "int8" else 4, group_size=32)
        return m
    if kind == "dynamic":
        from torch.ao.quantization import quantize_dynamic

        for i, b in enumerate(m.blocks):
            m.blocks[i] = quantize_dynamic(b, {nn.Linear}, dtype=torch.qint8)
        return m
    return m


def quant_table(label, model, tok, people, val_ids, prompt, kinds) -> dict:
    """Print one model's quantised variants; return {kind: (linear bytes, facts, val loss, tok/s)}."""
    bits_of = {"fp32": 32, "bf16": 16, "int8": 8 + 32 / 128, "int4": 4 + 40 / 32, "dynamic": 8}
    print(f"\n{label:10}{'bits/w':>7}{'lin KB':>8}{'mem KB':>8}{'disk KB':>8}{'tok/s':>8}{'facts':>7}{'val loss':>9}")
    res = {}
    for kind in kinds:
        m = quantised(model, kind)
        res[kind] = (linear_weight_bytes(m), facts(m, tok, people), val_loss(m, val_ids), tokens_per_second(m, prompt))
        mem = model_size_bytes(m) if kind != "dynamic" else disk_bytes(m, kind)
        print(f"{kind:10}{bits_of[kind]:>7.2f}{res[kind][0] / 1e3:>8.0f}{mem / 1e3:>8.0f}{disk_bytes(m, kind) / 1e3:>8.0f}"
              f"{res[kind][3]:>8.0f}{res[kind][1]:>7.3f}{res[kind][2]:>9.3f}")
    return res


def main(argv=None) -> int:
    recipe = zoo.MODELS[STUDENT].recipe
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seq-tokens", type=int, default=100_000,
                    help="tokens the teacher writes for the sequence-level student")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: compare, seq, quant, gguf")
    a = ap.parse_args(argv)
    skip = set(a.skip.split(","))
    warnings.filterwarnings("ignore", message="torch.ao.quantization is deprecated")  # for torchao; still works
    warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
    seed_everything(0)
    teacher, tok = pretrained("tinyworld")
    teacher.eval()
    people = zoo.course_people("tinyworld")
    train_ids, val_ids = transfer_set(tok, recipe)
    prompt = tok.encode("\n\n")
    print(f"transfer set: {len(train_ids):,} training tokens, {len(val_ids):,} validation tokens")

    # 1. the cached student against its teacher
    built_now = not zoo.is_built(STUDENT)
    t0 = time.perf_counter()
    student, _ = pretrained(STUDENT)
    load_s = time.perf_counter() - t0
    info = json.loads((zoo.model_dir(STUDENT) / zoo.INFO_FILE).read_text())
    print(f"cached student: {zoo.model_dir(STUDENT).name}, "
          + (f"built now in {load_s:.0f} s" if built_now else f"built earlier in {info['seconds']:.0f} s")
          + f" ({info['train_seconds']:.0f} s of training, {info['steps']} steps); recipe "
          f"{json.dumps({k: recipe[k] for k in ('model', 'train', 'distill')})}")
    t_facts, t_params = facts(teacher, tok, people), teacher.num_params()
    rows = {"teacher": (teacher, 0.0), "student": (student, info["train_seconds"])}

    # 2. the same student trained on hard labels (and on the teacher's text) at equal compute
    cfg = zoo.recipe_config(recipe, progress=False, eval_every=0)
    if "compare" not in skip:
        kinds = ["hard"] + ([] if "seq" in skip else ["seq"])
        for kind in kinds:
            data = train_ids
            if kind == "seq":
                t0 = time.perf_counter()
                data = teacher_text(teacher, a.seq_tokens, prompt, batch_size=64, seed=0)
                print(f"the teacher wrote {a.seq_tokens:,} tokens for the seq student in {time.perf_counter() - t0:.0f} s")
            seed_everything(0)
            s = zoo.recipe_model(recipe, tok.vocab_size)  # the cached student's initial weights
            t0 = time.perf_counter()
            Trainer(s, data, None, cfg, device="cpu").fit()
            rows[f"student-{kind}"] = (s.eval(), time.perf_counter() - t0)

    print(f"\n{'model':16}{'params':>10}{'MB':>7}{'tok/s':>8}{'facts':>7}{'val loss':>9}{'train s':>9}")
    table = {}
    for name, (m, secs) in rows.items():
        table[name] = (m.num_params(), facts(m, tok, people) if m is not teacher else t_facts, val_loss(m, val_ids))
        print(f"{name:16}{table[name][0]:>10,}{model_size_bytes(m) / 1e6:>7.2f}{tokens_per_second(m, prompt):>8.0f}"
              f"{table[name][1]:>7.3f}{table[name][2]:>9.3f}{secs:>9.0f}")
    ratio = student.num_params() / t_params
    print(f"target: student has <= 1/4 of the teacher's parameters ({ratio:.3f}): "
          f"{'met' if ratio <= 0.25 else 'NOT met'}")
    s_facts = table["student"][1]
    kept = s_facts / t_facts
    print(f"target: the cached student keeps >= 90% of the teacher's fact accuracy ({s_facts:.3f} / "
          f"{t_facts:.3f} = {kept:.1%}, all {len(people['held_in'])} people of the cast, 4 relations): "
          f"{'met' if kept >= 0.9 else 'NOT met'}")
    # On a busy machine the wall clock says little; the training's CPU seconds (both threads added up)
    # bound what an idle machine needs: a CPU-bound run takes at most that long on one core to itself.
    cpu = info.get("train_cpu_seconds")
    fits = info["seconds"] <= 300 or (cpu is not None and cpu + info["seconds"] - info["train_seconds"] <= 300)
    print(f"target: the student builds in at most 5 minutes on a 2-core laptop ({info['seconds']:.0f} s wall clock"
          + (f", {cpu:.0f} s of CPU in training" if cpu is not None else "")
          + f"; load average now {os.getloadavg()[0]:.1f}): {'met' if fits else 'NOT met'}")
    if "student-hard" in table:
        hard, soft = table["student-hard"], table["student"]
        print(f"soft-target student's gain over hard labels at equal steps: {soft[1] - hard[1]:+.3f} fact accuracy, "
              f"{hard[2] - soft[2]:+.3f} nats lower validation loss"
              + (f" (seq: {table['student-seq'][1] - hard[1]:+.3f} fact accuracy)" if "student-seq" in table else ""))
        print(f"target: soft beats hard at equal compute ({soft[1]:.3f} vs {hard[1]:.3f} facts; val loss "
              f"{soft[2]:.3f} vs {hard[2]:.3f}): {'met' if soft[1] >= hard[1] and soft[2] < hard[2] else 'NOT met'}")

    # 3. quantisation: the teacher (the int8 bar), then the student that would ship
    if "quant" not in skip:
        res = quant_table("teacher", teacher, tok, people, val_ids, prompt, ("fp32", "bf16", "int8", "int4", "dynamic"))
        shrink = res["fp32"][0] / res["int8"][0]
        loss_pts = 100 * (res["fp32"][1] - res["int8"][1])
        print(f"target: int8 loses < 1 point of fact accuracy ({loss_pts:+.1f}) at >= 4x smaller linear weights "
              f"({shrink:.2f}x; 4x less the float32 scale of each row): "
              f"{'met' if loss_pts < 1 and shrink >= 3.8 else 'NOT met'}")
        print(f"int8 vs torch quantize_dynamic: facts {res['int8'][1]:.3f} vs {res['dynamic'][1]:.3f}, speed "
              f"{res['int8'][3] / res['dynamic'][3]:.2f}x theirs; int8 speed {res['int8'][3] / res['fp32'][3]:.2f}x fp32, "
              f"int4 {res['int4'][3] / res['fp32'][3]:.2f}x")
        sres = quant_table("student", student, tok, people, val_ids, prompt, ("fp32", "int8", "int4"))
        print(f"student int8: facts {sres['int8'][1]:.3f} ({100 * (sres['int8'][1] - sres['fp32'][1]):+.1f} points), "
              f"int4: {sres['int4'][1]:.3f} ({100 * (sres['int4'][1] - sres['fp32'][1]):+.1f} points)")
        s8 = quantised(student, "int8")
        x = torch.randint(0, tok.vocab_size, (2, 32), generator=torch.Generator().manual_seed(0))
        with tempfile.TemporaryDirectory() as d, torch.no_grad():
            save_quantized(s8, d)
            on_disk = sum(p.stat().st_size for p in Path(d).iterdir())
            loaded = load_quantized(GPT(copy.deepcopy(student.config)), d).eval()
            same = torch.equal(s8(x)[0], loaded(x)[0])
        print(f"int8 student saved ({on_disk / 1e6:.2f} MB against the teacher's {disk_bytes(teacher, 'fp32') / 1e6:.2f} MB) "
              f"and loaded back gives identical logits: {same}")

    # 4. GGUF: the student has GPT-2's architecture (learned positions), so llama.cpp's format holds it
    if "gguf" not in skip:
        try:
            import gguf
        except ImportError:
            print("gguf export: skipped (pip install gguf to write and read GGUF files)")
            return 0
        with tempfile.TemporaryDirectory() as d:
            for dtype in ("f32", "f16"):
                path = export_gguf(student, Path(d) / f"student-{dtype}.gguf", dtype=dtype)
                tensors = {t.name: np.asarray(t.data) for t in gguf.GGUFReader(path).tensors}
                err = max(float(np.abs(tensors[gguf_name(n)].reshape(v.shape).astype(np.float32) - v.numpy()).max())
                          for n, v in student.state_dict().items())
                print(f"gguf {dtype}: {path.stat().st_size / 1e6:.2f} MB, {len(tensors)} tensors read back with the "
                      f"gguf package, largest difference from the model's weights {err:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
