"""Benchmark: the course's models, "tinyworld" (the base) and "tinyworld-chat" (SFT), against issue 11's bars.

Issue 11's targets, each printed on its own line ending in ``met`` or ``NOT met``:

- the base builds in at most 8 minutes on this 2-core machine;
- its greedy completion of fact prompts (``"X was born in the town of"``, ``"X works as"``,
  ``"X loves the colour"``, ``"X likes to eat"``, :mod:`minillm.evaluate`) is right at least 80%
  of the time on held-in people, and near chance on held-out people (at most chance + 10
  points by multiple-choice log-probability, and at most 10% exact);
- "tinyworld-chat" builds on the base in at most 4 minutes;
- it answers questions in the chat template with at least 80% exact match (the whole answer
  sentence) on held-in people whose questions were never in SFT nor in pretraining.

It builds both models into a fresh cache folder (``--cache``, default a temporary folder; the
times include corpus, tokenizer, training and the builder's own evaluation), then scores them
on 100 people of each split. The machine is shared, so a build's wall time is inflated by the
other processes: the script also measures, in the same run, one training step of the base
recipe with one thread and the load average, so the time on an idle machine can be estimated
(``steps * seconds per step``). Run: ``python benchmarks/course_models.py`` (about 10 minutes
on an idle 2-core machine; ``--threads`` sets torch's threads, default 2).

Latest run (``python benchmarks/course_models.py --cache CACHE --people 50`` on the models a fresh
CI-style clone had just built with ``make models``): tinyworld built in 546 s at load average 5-6 (two
notebooks executing beside it; 477 s at load 4-5 and 354 s for the same size at load 1-4 earlier), and
the baseline step says 5.3 min of training on one idle core: met; held-in fact completion 1.000 (all
four relations, multiple choice 1.000): met; held-out exact 0.045, multiple choice 0.045 vs chance
0.042: met; tinyworld-chat built in 12.8 s, exact 0.937 on 50 never-asked people x 6 relations: met;
held-out people 0.000 (it invents: chapter 8).

"tinyworld" v3 (issue 16, 2026-11-28): the same recipe with the blocks' matrices trained by Muon
(``optimizer="muon"``, ``muon_lr`` 0.06, AdamW at 3e-3 for embeddings, norms and biases) for 450
steps instead of 700. Trials (``/tmp`` builds through ``zoo.build_pretraining``, 2 threads; the
chat model built on each with the "tinyworld-chat" recipe; exact match on 40 never-asked people x 6
relations; wall times at load average 0-1.5 unless marked):

    optimizer, steps, muon_lr   build s   val loss   held-in facts   chat on it
    AdamW 700 (v2)                 189      0.565        1.000          0.958
    AdamW 450                      127      0.610        0.985          0.829
    Muon 300, 0.02                 103      0.640        0.920            -
    Muon 400, 0.02                 130      0.569        0.965          0.725
    Muon 400, 0.04                 133      0.565        0.985          0.808
    Muon 500, 0.02                 161      0.538        0.985          0.800
    Muon 500, 0.04                 166      0.534        0.995          0.946
    Muon 450, 0.04                 244*     0.548        0.970          0.958
    Muon 450, 0.06 (v3)            257*     0.540        0.985          0.988
    (* load average about 2: a helper's training shared the cores; about 150 s idle, by the
    400-step rows)

Held-in fact completion saturates early and says little; the chat model, which has to reach the
facts through questions about people SFT never asked about, separates the recipes: it needs a
well-trained base (AdamW 450 steps: 0.83), and Muon at 0.06 gives it one in about 0.7 of AdamW's
time (one Muon optimizer step costs 23 ms against AdamW's 6 ms, on a 260 ms forward and backward).
v3 as built by ``make models`` (recipe.json): 231 s at load average 2-3, held-in facts 0.985
(birth town 1.00, job 0.98, colour 0.98, food 0.98), held-out 0.035; "tinyworld-chat" on it
0.9875 exact (was 0.937 on v2), held-out people 0.000. Downstream: "tinyworld-aligned" needed
fewer DPO steps (v2 of that entry, below); the student keeps 94% of the teacher's facts
(benchmarks/distill.py), the reader 0.925 held-out with BM25 (recipe.json).

tinyworld-aligned v2 on the v3 chat model (2026-11-28): the chat model already scores 3.6-3.7 of
4, and the v1 recipe's 60 DPO steps over-fitted the 266 pairs (gain +0.03 in the build's own
figures, below zero at 120 steps or lr 6e-5). Gains in true reward over the chat model, 12
samples x 32 held-out questions x 3 sampling seeds (7, 8, 9), DPO steps: 10 -> +0.053, 20 ->
+0.093, 30 (12 rounds, 552 pairs) -> +0.092, 60 (12 rounds) -> +0.052; 20 adopted (KL 0.04-0.13).
One seed's 384 answers are too few to see a gain this size (-0.002 / +0.154 / +0.126 by seed),
so this script's aligned line (and tests/test_course_models.py) now averages 3 seeds x 12 samples
and asks for +0.04, about 1.6 standard errors above zero; it asked +0.10 of one seed's 8 samples
when the v1 model on the v2 base gained +0.29 to +0.32.

tinyworld-aligned v1 (2026-11-27, ``--cache ~/.cache/minillm --people 40``, load average 4-8 from other
work): built in 32 s (60 DPO steps on 252 labelled pairs); true reward on 32 held-out questions, 8
samples each, chat 3.366 -> aligned 3.686 of 4 at KL 0.41 nats per answer: met. (The build's own
figures in its recipe.json: 3.49 -> 3.78 at KL 0.23, 4 samples.)

The recipe search that led to the base (the entry was called "tinyworld-knowledge" then; the
machine was shared throughout, load averages given). Fact-completion exact match, greedy:

- cast 400 (QA pages about the first 200), 2 MB with 55% biographies (8.2 biographies per
  person, each a different paraphrase), 15% QA, 20% stories, 10% reviews; BPE 2,048 (3.93
  characters per token, 458k training tokens); 4 layers x 128, RoPE; 700 steps of 32 x 128
  tokens (2.9M tokens, 6.3 epochs), lr 3e-3 -> 3e-4. Train loss 0.675, val loss 0.825.
  Held-in exact 0.12 (birth town 0.18, job 0.13, colour 0.08, food 0.10); QA half 0.18,
  no-QA half 0.11; held-out 0.04. Bar (0.80) NOT met.
- the same with cast 200 (QA pages about 100), 6 MB with 70% biographies, 20% QA, 10% stories
  (63 biographies per person; 4.27 characters per token, 1.26M training tokens, 2.3 epochs),
  same model and steps (the "tinyworld-knowledge" v2 recipe): 697 s of training at 4,112
  tokens/s (2 threads, load average 2-5), train loss 0.467, val 0.533. Held-in exact 0.54
  (birth town 1.00, job 0.47, colour 0.38, food 0.32); QA half 0.59, no-QA half 0.51;
  held-out 0.05 (chance 0.04). Bar NOT met, but many more exposures per person clearly help:
  the birth town, stated with the full name in every biography's first sentence, is always
  right; the facts stated later with a first name or a pronoun lag.

- the same with cast 100 (QA pages about 50): 128 biographies per person (1.22M training
  tokens, 2.3 epochs; the "tinyworld-knowledge" v3 recipe): 1,021 s of training at 2,809
  tokens/s (2 threads, load average 3-4), train loss 0.422, val 0.492. Held-in exact 0.71
  (birth town 0.98, job 0.75, colour 0.50, food 0.62); QA half 0.74, no-QA half 0.66;
  held-out 0.03. Bar NOT met, closer. On an idle machine at about 10,000 tokens/s on one core
  (measured earlier, under a load of 1.5) these 2.9M tokens take about 5 minutes.

SFT ("tinyworld-chat" v2 on the cast-200 base, questions on 6 relations about the 100 QA people,
600 conversations, batch 32, lr 1e-3, assistant-only loss), scored on 40 no-QA people x 6
relations (exact = the whole answer sentence; contains = the fact appears in the reply):

- 200 steps (about 10 epochs), 90 s to build with 1 thread (load average 3-4) incl. its
  evaluation: SFT train loss 0.0014, val loss 1.64; no-QA exact 0.00, contains 0.25; held-out
  exact 0.00. On the trained people it answers 8/8 exactly; on the others it writes a *trained
  person's* name ("Where was Peandelle Hailridge born?" -> "Stundmealy Fiorworth was born in
  Vaistead."): the SFT set was memorised, not learned as a format.
- 40 steps (2 epochs): train loss 0.32, val 1.02; no-QA exact 0.00, contains 0.40.
  Bar (0.80 exact) NOT met. Next: a base that knows its facts first (above); mix pretraining
  text into SFT; SFT on more people; answers that do not repeat the name.

- v4, the cast-100 recipe with ``full_names=True`` (every sentence of a biography names its
  person in full: "Valen Drumberg likes to eat oranges", not "Valen likes..." or "He..."; the
  "fullname" augmentation of Allen-Zhu and Li 2023), sentence order as before (the birth
  sentence first, the rest shuffled): 354 s to build (2 threads, load average 1-4), held-in
  0.69 (birth town 1.00, job 0.50, colour 0.66, food 0.60), held-out 0.02. No better.
- v5 = "tinyworld" v2, the same with ALL sentences shuffled (their "permute" augmentation), so
  any fact may open a biography just as it opens a fact prompt: 477 s to build (2 threads,
  load average 4-5 from three other jobs), train loss 0.38, val 0.43. Held-in exact **1.00**
  on all four relations (50 people), multiple-choice 1.00; held-out 0.045. Bar met. The
  birth town had been the only fact that opened every biography, and the only one always
  known: a fact is retrievable from a name alone when the training text states it right after
  the name with nothing before it, as the prompt does.
- the same with 450 steps instead of 700: 361 s (load average 4), held-in 0.985, held-out 0.04.
- Muon for the base (issue 16; 2026-11-27, ``/tmp`` builds through ``zoo.build_knowledge`` with
  the v2 recipe and only the steps and optimizer changed, 1 thread, load average 3-6 from helpers):
  350 steps AdamW: held-in 0.90 (birth town 1.00, job 0.90, colour 0.78, food 0.92), held-out
  0.055, val loss 0.668, 352 s; 350 steps with Muon (lr 0.02 for the blocks' matrices, AdamW for
  the rest): held-in 0.97 (1.00 / 0.98 / 0.96 / 0.94), held-out 0.035, val loss 0.614, 440 s (the
  load differed; Muon's step costs more). Both meet the 0.80 bar at half the recipe's steps, and
  Muon gains 7 points at equal steps. Not adopted yet: a new base rebuilds every course model on
  top of it (chat, aligned, student, reader) and changes chapters 6-12.

SFT on the v5 base. The chat template used to glue the message to its role token
("<|assistant|>Vuly Jubrook..."); our BPE, like GPT-2's, folds the space before a word into the
word's token, so a glued name was spelled in pieces ("V", "u", "ly") the base had rarely seen at
a word's start. With it, SFT of 30-200 steps reached no-QA exact 0.00-0.05: the model wrote
trained people's names. The base itself answered "Question: ...\nAnswer:" prompts about the
no-QA people at 0.99 (it had QA pages about the other half), so the knowledge was there. With a
space after each role token (``minillm.finetune.CHAT_SPACE``), on 40 no-QA people x 6 relations:
30 steps lr 5e-4: 0.90 (on 10 people x 2); 60 steps: 0.94; 120 steps: 0.96 (the recipe: 27 s to
build incl. evaluation, load average 4); held-out people 0.00 exact (it invents an answer).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

BARS = {"base_minutes": 8.0, "chat_minutes": 4.0, "held_in": 0.80, "chat_exact": 0.80,
        "held_out_margin": 0.10}


def line(name: str, value: str, ok: bool) -> None:
    print(f"{name}: {value} -> {'met' if ok else 'NOT met'}")


def step_seconds(recipe: dict, threads: int) -> float:
    """Seconds per training step of ``recipe``'s model with ``threads`` torch threads."""
    from minillm.zoo import recipe_config, recipe_model

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = recipe_model(recipe, recipe["tokenizer"]["vocab_size"])
        cfg = recipe_config(recipe)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
        x = torch.randint(0, recipe["tokenizer"]["vocab_size"], (cfg.batch_size, model.config.block_size))
        times = []
        for i in range(8):
            t = time.perf_counter()
            _, loss = model(x, x)
            loss.backward()
            opt.step()
            opt.zero_grad()
            if i >= 2:
                times.append(time.perf_counter() - t)
        return min(times)
    finally:
        torch.set_num_threads(old)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", help="cache folder to build into (default: a new temporary one)")
    ap.add_argument("--people", type=int, default=100, help="people per split to score")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cache = args.cache or tempfile.mkdtemp(prefix="minillm-bench-")
    os.environ["MINILLM_CACHE"] = cache
    import minillm.zoo as zoo
    from minillm.evaluate import fact_completion, qa_accuracy

    print(f"cache {cache}; torch threads {args.threads}; load average {os.getloadavg()[0]:.1f}")
    base_recipe = zoo.MODELS["tinyworld"].recipe
    s1 = step_seconds(base_recipe, 1)
    steps = zoo.recipe_config(base_recipe).steps
    tokens = steps * zoo.recipe_config(base_recipe).batch_size * base_recipe["model"]["block_size"]
    print(f"baseline: one base training step, 1 thread: {s1:.3f} s "
          f"({tokens / steps / s1:,.0f} tokens/s); {steps} steps -> about {steps * s1 / 60:.1f} min "
          "of training on one idle core")

    times = {}
    for name in ("tinyworld", "tinyworld-chat", "tinyworld-aligned"):
        t = time.perf_counter()
        built = zoo.is_built(name)
        zoo.pretrained(name, progress=False)
        times[name] = None if built else time.perf_counter() - t
        print(f"{name}: {'already built' if built else f'built in {times[name] / 60:.2f} min'}"
              f" (load average now {os.getloadavg()[0]:.1f})")

    people = zoo.course_people("tinyworld")
    world = people["world"]
    model, tok = zoo.pretrained("tinyworld", progress=False)
    inn = fact_completion(model, tok, world, zoo.eval_people(people["held_in"], args.people))
    out = fact_completion(model, tok, world, zoo.eval_people(people["held_out"], args.people))
    for label, s in (("held-in", inn), ("held-out", out)):
        per = ", ".join(f"{k} {v:.2f}" for k, v in s.exact.items())
        print(f"tinyworld {label}: exact {s.exact_all:.3f} ({per}); multiple choice "
              f"{s.choice_all:.3f} (chance {s.chance_all:.3f})")
    chat, ctok = zoo.pretrained("tinyworld-chat", progress=False)
    rels = zoo.MODELS["tinyworld-chat"].recipe["eval"]["relations"]
    q_in = qa_accuracy(chat, ctok, [world.qa(p, r) for p in zoo.eval_people(people["no_qa"], args.people)
                                    for r in rels])
    q_out = qa_accuracy(chat, ctok, [world.qa(p, r) for p in zoo.eval_people(people["held_out"], args.people)
                                     for r in rels])
    print(f"tinyworld-chat, held-in people, questions never trained on: exact {q_in.exact:.3f}, "
          f"contains the fact {q_in.contains:.3f}; by relation "
          + ", ".join(f"{k} {v:.2f}" for k, v in q_in.by_relation.items()))
    print(f"tinyworld-chat, held-out people: exact {q_out.exact:.3f} (it invents: chapter 8)")
    for q, r, a in q_in.examples[:3]:
        print(f"  Q: {q}\n  A: {r}\n  true: {a}")

    if times["tinyworld"] is not None:
        line("tinyworld build <= 8 min (wall, shared machine)", f"{times['tinyworld'] / 60:.2f} min",
             times["tinyworld"] <= BARS["base_minutes"] * 60)
    line("tinyworld training on one idle core <= 8 min (estimate from the baseline step)",
         f"{steps * s1 / 60:.2f} min", steps * s1 <= BARS["base_minutes"] * 60)
    line("tinyworld held-in fact completion >= 0.80", f"{inn.exact_all:.3f}",
         inn.exact_all >= BARS["held_in"])
    near = out.choice_all <= out.chance_all + BARS["held_out_margin"] and out.exact_all <= 0.10
    line("tinyworld held-out near chance (choice <= chance + 0.10, exact <= 0.10)",
         f"choice {out.choice_all:.3f} vs chance {out.chance_all:.3f}, exact {out.exact_all:.3f}", near)
    if times["tinyworld-chat"] is not None:
        line("tinyworld-chat build <= 4 min (wall, shared machine)",
             f"{times['tinyworld-chat'] / 60:.2f} min", times["tinyworld-chat"] <= BARS["chat_minutes"] * 60)
    line("tinyworld-chat exact match on held-in people, questions held out from SFT >= 0.80",
         f"{q_in.exact:.3f}", q_in.exact >= BARS["chat_exact"])


    # the aligned model (chapters 7 and 9): DPO must raise the labeller's true reward on held-out
    # questions over the chat model's, at a small KL: 12 sampled answers per question and 3
    # sampling seeds (1,152 answers a model), since on the v3 base the gain is about 0.09 of 4
    from minillm import rlhf

    aligned, atok = zoo.pretrained("tinyworld-aligned", progress=False)
    t = zoo.MODELS["tinyworld-aligned"].recipe["task"]
    runs = [rlhf.held_out_comparison({"chat": chat, "aligned": aligned}, chat, atok, t, samples=12, seed=s)
            for s in (7, 8, 9)]
    c_r = sum(r["chat"]["reward"] for r in runs) / 3
    a_r = sum(r["aligned"]["reward"] for r in runs) / 3
    kl = max(r["aligned"]["kl"] for r in runs)
    print(f"true reward on {t['n_held']} held-out questions (max 4), 3 seeds x 12 samples: chat {c_r:.3f}, "
          f"aligned {a_r:.3f} (gains by seed {[round(r['aligned']['reward'] - r['chat']['reward'], 3) for r in runs]}; "
          f"KL at most {kl:.2f} nats per answer)")
    if times["tinyworld-aligned"] is not None:
        line("tinyworld-aligned build <= 2 min (wall, shared machine)",
             f"{times['tinyworld-aligned'] / 60:.2f} min", times["tinyworld-aligned"] <= 120)
    line("tinyworld-aligned true reward >= chat's + 0.04 (clear of sampling noise) at KL <= 2 nats",
         f"{a_r - c_r:+.3f}, KL {kl:.2f}", a_r >= c_r + 0.04 and kl <= 2.0)

if __name__ == "__main__":
    main()
