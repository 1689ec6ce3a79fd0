import nbformat as nbf

cells = []
md = lambda s: cells.append(nbf.v4.new_markdown_cell(s.strip("\n")))
code = lambda s: cells.append(nbf.v4.new_code_cell(s.strip("\n")))

md('''
# Chapter 6: Fine-tuning

A pretrained model continues documents. Asked a question, it "dreams" the rest of a page. This
chapter trains it a little more, on the data we actually want it for, three ways: into a
**classifier** (the sentiment of TinyWorld reviews), into an **assistant** that answers questions
in a chat template (supervised fine-tuning, SFT), and with **LoRA**, which trains a few thousand
numbers instead of the whole model. Every run reuses `minillm.train.Trainer`.

The course's models: `minillm.pretrained("tinyworld")` is the *base* model, a 1M-parameter GPT
that read about the 100 people of TinyWorld's cast, each in about a hundred differently worded
biographies; `minillm.pretrained("tinyworld-chat")` is that model after this chapter's SFT recipe,
the *assistant*. Both are built once (about 8 minutes and 30 seconds on a laptop CPU) and cached;
the rest of the chapter runs in about 3 minutes on one core.
''')
code('''
import pathlib
import random
import tempfile
import time

import matplotlib.pyplot as plt
import torch

import minillm
import minillm.finetune as ft
from minillm import seed_everything
from minillm.data import corpus, encode
from minillm.evaluate import chat_prompt, fact_completion, greedy_complete, qa_accuracy
from minillm.finetune import (IGNORE, Classifier, ExampleBatches, class_weights, confusion_matrix,
                              encode_chat, format_chat, freeze, review_dataset, sft_dataset,
                              text_examples)
from minillm.lora import (LoRALinear, apply_lora, load_adapter, merge_lora, save_adapter,
                          trainable_parameters, unmerge_lora)
from minillm.tokenizer import ASSISTANT, END, USER
from minillm.train import Trainer
from minillm.viz import figure
from minillm.zoo import MODELS, course_people, eval_people, load_model_dir, model_dir, recipe_config

seed_everything(0)
base, tok = minillm.pretrained("tinyworld")
chat, _ = minillm.pretrained("tinyworld-chat")
t_chapter = time.perf_counter()  # the chapter's own run time, cached models aside
cpu_chapter = time.process_time()
people = course_people("tinyworld")
world = people["world"]
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; base model "
      f"{base.num_params():,} parameters, vocabulary {tok.vocab_size}")
print({k: len(v) for k, v in people.items() if k != "world"})
''')
md('''
`held_in` are the people the pretraining text wrote about (the *cast*); `held_out` were never
written about. The question-answer pages of the pretraining text, and this chapter's SFT data,
ask only about the `qa` half of the cast; the `no_qa` half is never seen in question form
anywhere, so questions about them test whether a model can *use* what it read.

## 6.1 The base model: what it knows, and how it came to know it

Before fine-tuning anything, measure what the base model knows. Give it the start of a biography
sentence, `"Hurkmus Cinbrook was born in the town of"`, and check its greedy continuation against
the true fact (`minillm.evaluate.fact_completion`), for 25 people of each group:
''')
code('''
facts = {g: fact_completion(base, tok, world, eval_people(people[g], 25, seed=1), choice=False)
         for g in ("qa", "no_qa", "held_out")}
for g, s in facts.items():
    print(f"{g:9} exact {s.exact_all:.2f}  " + ", ".join(f"{r} {v:.2f}" for r, v in s.exact.items())
          + f"   (chance {s.chance_all:.3f})")
for prompt, out, truth in facts["no_qa"].examples[:2] + facts["held_out"].examples[:2]:
    print(f"{prompt!r} -> {out!r} (truth: {truth})")
assert min(facts["qa"].exact_all, facts["no_qa"].exact_all) >= 0.9
assert facts["held_out"].exact_all <= 0.15
''')
md('''
It completes the facts of its cast without a miss, and for people it never read about it can
only guess (near chance: one town in 120, one job in 40). That was not the case for the first
versions of this model. Two changes to the *text*, not to the model, made the difference, and
both come from Allen-Zhu and Li's controlled experiments on synthetic biographies ("Physics of
Language Models: Part 3.1, Knowledge Storage and Extraction", 2023,
https://arxiv.org/abs/2309.14316):

- **full names**: every sentence names its person in full ("Rithric Vethridge likes to eat
  honey"), instead of "he" or the first name, so every fact sits right next to the name a
  question will use;
- **permuted sentences**: the sentences of each biography come in a random order, so any fact,
  not only the birth, may follow the name with nothing in between, as it does in a prompt.

Here is what the two options do to the text (the same person, the same random seed):
''')
code('''
person = people["qa"][0]
print("default:   ", world.biography(person, random.Random(0)))
print("full_names:", world.biography(person, random.Random(0), full_names=True))


def text_stats(full_names, n=5):
    """Share of biographies that open with the birth sentence, and of sentences naming the person in full."""
    rng, opens, named, sentences = random.Random(0), 0, 0, 0
    for p in people["held_in"]:
        for _ in range(n):
            s = world.biography(p, rng, full_names=full_names).split(". ")
            opens += "born" in s[0]
            named += sum(p.name in x for x in s)
            sentences += len(s)
    return opens / (n * len(people["held_in"])), named / sentences


stats = {f: text_stats(f) for f in (False, True)}
for f, (opens, named) in stats.items():
    print(f"full_names={f!s:5}: biographies opening with the birth {opens:.2f}, "
          f"sentences naming the person in full {named:.2f}")
assert stats[False][0] == 1.0 and stats[True][0] < 0.35 and stats[True][1] > stats[False][1] + 0.3
''')
md('''
Retraining the base takes 6 to 8 minutes, too long for this chapter, so here are the figures
recorded when the recipe was built (`benchmarks/course_models.py` keeps them;
`python benchmarks/course_models.py` rebuilds the final recipe and measures it, about
10 minutes). Same model (4 layers of 128), same cast of 100, same number of steps; fact
completion on 50 or 60 held-in people, next to this notebook's measurement of the cached model:
''')
code('''
rels = ["birth_city", "job", "color", "food"]
recorded = {  # benchmarks/course_models.py: held-in fact completion, greedy exact match
    "first names and pronouns,\\nbirth sentence first": [0.98, 0.75, 0.50, 0.62],
    "full names,\\nbirth sentence first": [1.00, 0.50, 0.66, 0.60],
}
held_in = [(facts["qa"].exact[r] + facts["no_qa"].exact[r]) / 2 for r in rels]
rows = {**recorded, "full names, shuffled\\n(the cached 'tinyworld', measured)": held_in}
fig, ax = figure("What the base model knows, by how its text was written", "fact",
                 "held-in fact completion")
width = 0.8 / len(rows)
for i, (label, v) in enumerate(rows.items()):
    ax.bar([j + (i - 1) * width for j in range(len(rels))], v, width, label=label.replace("\\n", " "))
ax.set_xticks(range(len(rels)), ["birth town", "job", "colour", "food"])
ax.set_ylim(0, 1.45)
ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
ax.legend(fontsize=7, loc="upper left")
fig.tight_layout()
plt.show()
for label, v in rows.items():
    print(f"{label.replace(chr(10), ' '):62} mean {sum(v) / len(v):.2f}")
assert min(held_in) >= 0.9
''')
md('''
With the birth sentence always first, the birth town was the one fact the model always knew
(0.98-1.00): it is the only fact that *always* follows the name directly, exactly as in the
prompt `"X was born in the town of"`. Full names alone did not help (0.71 -> 0.69): the other facts
still sat after other sentences. Shuffling the sentences made every fact follow the name in some
biographies, and all four reached 1.00. Allen-Zhu and Li report the same: knowledge stored with
enough variety of wording and order ("permute", "fullname") becomes *extractable*; stored in one
fixed form it is memorised but cannot be retrieved from a different cue.

## 6.2 Base model and assistant, side by side

Ask the base model a question as plain text, and it continues the page. In the `Question: ...
Answer:` format of the QA pages it read during pretraining, it answers. In the chat template
(`<|user|> question<|end|><|assistant|>`), which it has never seen, it continues a biography.
''')
code('''
q = world.qa(people["no_qa"][0], "job")
print("plain text:       ", repr(greedy_complete(base, tok, [q.question], 30)[0]))
print("Question/Answer:  ", repr(greedy_complete(base, tok, [f"Question: {q.question}\\nAnswer:"], 12)[0]))
print("chat template:    ", repr(greedy_complete(base, tok, [chat_prompt(q.question)], 30)[0]))
print("assistant (chat): ", repr(greedy_complete(chat, tok, [chat_prompt(q.question)], 30, stop=END)[0]))
print("truth:            ", q.answer)
''')
md('''
Now the same comparison on more questions: 20 people of the `no_qa` half (never asked about,
in pretraining or in SFT), six relations each, greedy, in the chat template.
''')
code('''
sft_rels = MODELS["tinyworld-chat"].recipe["sft"]["relations"]
test_qs = [world.qa(p, r) for p in eval_people(people["no_qa"], 20, seed=3) for r in sft_rels]
base_qa, chat_qa = qa_accuracy(base, tok, test_qs), qa_accuracy(chat, tok, test_qs)
print(f"{len(test_qs)} questions, relations {sft_rels}")
print(f"base model, chat template:  exact {base_qa.exact:.2f}, contains the fact {base_qa.contains:.2f}")
print(f"assistant:                  exact {chat_qa.exact:.2f}, contains the fact {chat_qa.contains:.2f}")
for question, reply, truth in base_qa.examples[:2]:
    print(f"base on {question!r}: {reply!r}")
assert chat_qa.exact >= 0.85 and base_qa.exact <= 0.1
''')
md('''
The knowledge was already in the base model (section 6.1: it completes biography sentences about
these very people). What SFT added is the *format*: read a question in the template, answer in
one sentence, stop with `<|end|>`. SFT did not teach these facts, since none of these questions
were in its data; it taught the model to reach what pretraining stored.

## 6.3 Classification: a head on the last token

To classify a text, run the backbone and put a linear layer on one hidden state. Which one? Under
the causal mask, token `t` has attended only to tokens `0..t`. The **last** real token is the only
position that has seen the whole text; the first has seen only itself. With right padding, the last
real token of row `b` is at `padding_mask[b].sum() - 1`. A check of the claim: two reviews that
start the same way have identical hidden states up to where they differ, whatever follows.
''')
code('''
texts, labels = review_dataset(world, 700, seed=0)
print(texts[0], "->", labels[0])
print(texts[1], "->", labels[1])
a, b = tok.encode("Review of a red kite. Great!"), tok.encode("Review of a red kite. Terrible!")
ha, _ = base(torch.tensor([a]), return_hidden=True)
hb, _ = base(torch.tensor([b]), return_hidden=True)
print("first token equal:", torch.allclose(ha[0, 0], hb[0, 0]),
      "| last token equal:", torch.allclose(ha[0, -1], hb[0, -1]))
assert torch.allclose(ha[0, 0], hb[0, 0]) and not torch.allclose(ha[0, -1], hb[0, -1])
''')
md('''
`minillm.finetune.Classifier` is that head; `freeze` chooses what trains. Three ways to
fine-tune on 64 labelled reviews, scored on 200 test reviews: the head alone on a frozen
backbone ("linear probing"), the head and the last block, everything.
''')
code('''
examples = text_examples(tok, texts, labels, max_len=96)
test_set = ExampleBatches(examples[500:], batch_size=50)


def fresh_base():
    """A new copy of the base model from the cache (each run fine-tunes its own)."""
    return load_model_dir(model_dir("tinyworld")).model


def scratch():
    """The same architecture with random weights."""
    seed_everything(0)
    return minillm.GPT(minillm.GPTConfig.from_dict(base.config.to_dict()))


def train_classifier(backbone, n, train="all", steps=40, weights=True, lr=1e-3, data=None):
    """Fine-tune a classifier on the first n labelled reviews; return it and its test accuracy."""
    seed_everything(0)
    data = data or examples[:n]
    w = class_weights([y for _, y in data], 2) if weights else None
    clf = Classifier(backbone, 2, class_weights=w)
    n_train = freeze(clf, train)
    cfg = recipe_config(MODELS["tinyworld-chat"].recipe, steps=steps, batch_size=16, lr=lr,
                        min_lr=lr / 10, warmup_steps=5, eval_every=0, progress=False)
    Trainer(clf, ExampleBatches(data, 16, seed=0), None, cfg, device="cpu").fit()
    pred, true = clf.predict(test_set)
    return clf, (pred == true).float().mean().item(), n_train


t0 = time.perf_counter()
modes = {}
for mode in ("head", "last1", "all"):
    _, acc, n_train = train_classifier(fresh_base(), 64, mode, lr=3e-2 if mode == "head" else 1e-3)
    modes[mode] = acc
    print(f"train {mode:5}: {n_train:9,} trainable parameters, test accuracy {acc:.3f}")
print(f"({time.perf_counter() - t0:.0f} s)")
assert min(modes.values()) > 0.8
''')
md('''
Linear probing (258 trainable numbers: a 128 x 2 weight and 2 biases) is already far above
chance: the last token's hidden state, learned only to predict the next token, carries the
review's mood. Training the last block, or everything, adapts the features too and does better.

Now transfer learning, measured: the same classifier from the pretrained backbone and from a
randomly initialised one (full fine-tuning), as the number of labelled examples grows.
''')
code('''
sizes = [8, 32, 128]
curve = {"pretrained": [], "from scratch": []}
for n in sizes:
    curve["pretrained"].append(train_classifier(fresh_base(), n)[1])
    curve["from scratch"].append(train_classifier(scratch(), n)[1])
fig, ax = figure("Sentiment accuracy vs labelled examples", "labelled reviews", "test accuracy")
for k, v in curve.items():
    ax.plot(sizes, v, "o-", label=k)
ax.set_xscale("log")
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.axhline(0.5, color="gray", ls=":", label="chance")
ax.legend()
plt.show()
print({k: [round(x, 2) for x in v] for k, v in curve.items()})
assert min(curve["pretrained"][-1], curve["from scratch"][-1]) >= 0.95
assert abs(curve["pretrained"][0] - curve["from scratch"][0]) < 0.2
''')
md('''
A surprise, and an honest one: here pretraining does *not* help. The randomly initialised
network does as well, in this run even a little better with 8 and 32 labels (each point is a
single run on one sample of reviews, so small differences mean little), and both are perfect
with 128. TinyWorld's reviews carry their label in a handful of fixed
phrases ("Great!", "I am very disappointed", "2 out of 5 stars") that even random features tell
apart, and a few labelled examples teach. The classic result, pretrained features winning by far
when labels are few (Howard and Ruder, "Universal Language Model Fine-tuning for Text
Classification", 2018, https://arxiv.org/abs/1801.06146: with 100 labelled examples, as good as
training from scratch on 100 times more), needs a task whose cues a small labelled set cannot
teach: the wording of real reviews varies far more than TinyWorld's. Transfer is something to
measure on *your* task, not to assume.

**Class imbalance.** With 90% positive reviews, a classifier can reach 90% accuracy by always
saying "positive". Weighting the loss by inverse class frequency (`class_weights`: each class
weighs `n / (K * count)`) makes both classes count the same. The confusion matrix shows where the
errors go (test set balanced):
''')
code('''
pos = [e for e in examples[:500] if e[1] == 1][:90]
neg = [e for e in examples[:500] if e[1] == 0][:10]
skewed = pos + neg
recalls = {}
for weights in (False, True):
    clf, acc, _ = train_classifier(fresh_base(), 0, "head", steps=30, weights=weights, lr=3e-2, data=skewed)
    pred, true = clf.predict(test_set)
    m = confusion_matrix(pred, true, 2)
    recalls[weights] = (m.diag() / m.sum(1)).tolist()
    print(f"class weights {weights!s:5}: accuracy {acc:.2f}, recall negative {recalls[weights][0]:.2f}, "
          f"positive {recalls[weights][1]:.2f}; confusion {m.tolist()} (rows: true negative, positive)")
print("weights:", class_weights([y for _, y in skewed], 2).tolist())
assert recalls[True][0] > recalls[False][0] + 0.1
''')
md('''
Without weights, the probe trained on 90 positive and 10 negative reviews calls most negative
test reviews positive (a negative recall well under one half). With weights (5.0 for a negative
example, 0.56 for a positive one) it finds most of them, at some cost on the positive class:
the weights move the decision boundary, they do not add information. More negative examples
would.
''')
md('''
## 6.4 Supervised fine-tuning: the template and the loss mask

A conversation is written with the tokenizer's special tokens, one turn after another:
`<|user|> question<|end|><|assistant|> answer<|end|>`. The model should learn to write the
assistant's turn, not the user's question: the targets of every other token are set to `-100`,
which the loss ignores.
''')
code('''
msgs = world.qa(people["qa"][0], "job").chat()
print(format_chat(msgs))
ids, targets = encode_chat(tok, msgs)
print("".join(f"[{tok.decode([t])}]" if t != IGNORE else "_" for t in targets))
print(f"{sum(t != IGNORE for t in targets)} of {len(targets)} targets are learned")
assert tok.decode([t for t in targets if t != IGNORE]) == " " + msgs[1]["content"] + END
''')
md('''
**One space matters.** Note the space after each role token. Our BPE, like GPT-2's, folds the
space before a word into the word's token, and in the pretraining text nearly every name follows
a space. Glued to the role token, the same name is spelled in pieces the base model has rarely
seen at the start of a word:
''')
code('''
name = people["no_qa"][0].name
for text in (ASSISTANT + name, ASSISTANT + " " + name):
    print(f"{text!r:45} -> {[tok.decode([t]) for t in tok.encode(text)]}")
''')
md('''
That looks harmless; it is not. Below, the cached assistant's recipe (120 steps, lr 5e-4, the
same 300 conversations about the `qa` half) is run twice from the base: with the template as it
is, and with the space removed (`minillm.finetune.CHAT_SPACE = ""`), each evaluated in its own
template on the 120 `no_qa` questions of section 6.2.
''')
code('''
sft_recipe = MODELS["tinyworld-chat"].recipe


def sft_run(model, mask_prompt=True, steps=None, lr=None):
    """The cached assistant's SFT recipe on `model` (optionally changed).

    Returns the loss history, the seconds the run took, and the bytes of AdamW's state (its two
    moments per trainable parameter), measured on the optimizer after the run."""
    seed_everything(0)
    data = sft_dataset(tok, world, people["qa"], sft_rels, mask_prompt=mask_prompt, batch_size=32,
                       max_len=model.config.block_size)
    over = {k: v for k, v in (("steps", steps), ("lr", lr)) if v is not None}
    if lr is not None:
        over["min_lr"] = lr / 10
    cfg = recipe_config(sft_recipe, eval_every=0, progress=False, **over)
    t = time.perf_counter()
    trainer = Trainer(model, data, None, cfg, device="cpu")
    trainer.fit()
    secs = time.perf_counter() - t
    state = [v for st in trainer.optimizer.state.values() for v in st.values()
             if torch.is_tensor(v) and v.dim() > 0]
    return trainer.history, secs, sum(v.numel() * v.element_size() for v in state)


def exact_match(model, qs, space=" "):
    """Exact match of greedy replies in the chat template, with or without the space."""
    replies = greedy_complete(model, tok, [f"{USER}{space}{q.question}{END}{ASSISTANT}" for q in qs],
                              24, stop=END)
    return sum(r.strip() == q.answer for r, q in zip(replies, qs)) / len(qs), replies


glued = fresh_base()
ft.CHAT_SPACE = ""  # the template without the space, for this one run
try:
    sft_run(glued)
finally:
    ft.CHAT_SPACE = " "
glued_exact, glued_replies = exact_match(glued, test_qs, space="")
spaced = fresh_base()
hist_spaced, secs_spaced, mem_spaced = sft_run(spaced)
spaced_exact, _ = exact_match(spaced, test_qs)
print(f"no space: exact {glued_exact:.2f}   with the space: exact {spaced_exact:.2f} ({secs_spaced:.0f} s per run)")
for q, r in list(zip(test_qs, glued_replies))[:3]:
    print(f"  no space, {q.question!r} -> {r.strip()!r} (truth: {q.answer})")
print("trained on:", ", ".join(p.name for p in people["qa"][:5]), "...")
assert glued_exact < 0.2 and spaced_exact >= 0.85
''')
md('''
Without the space the fine-tuned model answers almost none of these questions; and look at its
replies: it writes *other people's* names, the people of its SFT data. It learned to recite the
training answers, because the question's name, spelled in unfamiliar pieces, did not connect to
anything it knew. With the space the same 120 steps give an assistant that answers people it was
never asked about. Nothing in the loss curve warns of it: both runs fit their SFT data. Only an
evaluation on held-out questions shows it.

**Does the loss mask matter?** Two runs from the base, identical except for the mask, on the
same questions:
''')
code('''
unmasked = fresh_base()
hist_unmasked, secs_unmasked, _ = sft_run(unmasked, mask_prompt=False)
runs = {True: (spaced, hist_spaced, secs_spaced, qa_accuracy(spaced, tok, test_qs)),
        False: (unmasked, hist_unmasked, secs_unmasked, qa_accuracy(unmasked, tok, test_qs))}
for mask, (_, hist, secs, acc) in runs.items():
    print(f"loss on {'assistant tokens only' if mask else 'every token':22}: exact {acc.exact:.2f}, "
          f"contains {acc.contains:.2f}, final training loss {hist.loss[-1]:.3f}")
for question, reply, truth in runs[False][3].examples[:2]:
    print(f"  every token, {question!r} -> {reply.strip()!r} (truth: {truth})")
assert runs[True][3].exact > runs[False][3].exact + 0.3
fig, ax = figure("SFT loss", "step", "training loss (on the learned tokens)")
for mask, (_, hist, _, _) in runs.items():
    ax.plot(hist.step, hist.loss, label="assistant tokens only" if mask else "every token")
ax.set_yscale("log")
ax.legend()
plt.show()
''')
md('''
The mask matters here, a lot: trained on every token, the same 120 steps reach about a third
of the masked run's exact match, and its replies start with the wrong name. The two loss curves are not the same quantity: without the mask
the loss also averages over the user's question and the template, which hold names the model
cannot predict, so it stays high. With the mask all of the gradient goes to what we want the
model to do, the reply; without it, much of it goes into learning to write questions about the
50 people of the SFT set.

Now what the cached assistant knows, by who it was asked about during SFT and whether it ever
read about them:
''')
code('''
by_group = {}
for group in ("qa", "no_qa", "held_out"):
    qs_g = [world.qa(p, r) for p in eval_people(people[group], 20, seed=5) for r in sft_rels]
    by_group[group] = qa_accuracy(chat, tok, qs_g)
    print(f"{group:9}: exact {by_group[group].exact:.2f}, contains the fact {by_group[group].contains:.2f}")
for question, reply, truth in by_group["held_out"].examples[:3]:
    print(f"held out: {question!r} -> {reply.strip()!r} (truth: {truth})")
assert by_group["qa"].exact >= 0.9 and by_group["no_qa"].exact >= 0.85 and by_group["held_out"].exact < 0.1
''')
md('''
Asked about people it was trained on (`qa`) and people it only read about (`no_qa`), it answers
about equally well. Asked about someone it never read about (`held_out`), it still answers, in
the same confident sentence, about *someone else*: it writes the name of a person it knows and
that person's facts. It learned the format "answer in one sentence", not "say when you do not
know": that is chapter 8's subject (and this chapter's mini-project).

## 6.5 LoRA: train a low-rank update, not the model

LoRA (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", 2021,
https://arxiv.org/abs/2106.09685) freezes each weight `W` and learns `W + (alpha / r) B A`, with
`A` of shape `(r, in)` random and `B` of shape `(out, r)` zero, so training starts from the base
model exactly. Here is the layer in a few lines, checked against `minillm.lora.LoRALinear`:
''')
code('''
class TinyLoRA(torch.nn.Module):
    def __init__(self, base_layer, r, alpha):
        super().__init__()
        self.base, self.scale = base_layer, alpha / r
        self.A = torch.nn.Parameter(torch.randn(r, base_layer.in_features) * 0.01)
        self.B = torch.nn.Parameter(torch.zeros(base_layer.out_features, r))

    def forward(self, x):
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T


layer = torch.nn.Linear(128, 384)
mine, ref = TinyLoRA(layer, 4, 8), LoRALinear(layer, 4, 8)
x = torch.randn(2, 5, 128)
torch.testing.assert_close(mine(x), layer(x))  # B = 0: the adapted layer starts as the base layer
with torch.no_grad():
    mine.B.normal_()
    ref.lora_A.copy_(mine.A)
    ref.lora_B.copy_(mine.B)
x = torch.randn(2, 5, 128)
torch.testing.assert_close(mine(x), ref(x))
print("from scratch == minillm.lora.LoRALinear; trainable:", 4 * (128 + 384), "of", 128 * 384 + 384)
''')
md('''
A rank sweep: the same SFT with LoRA on the attention and MLP layers of every block, ranks 1 to
16, the same data and steps as the full fine-tuning above, with a higher learning rate (LoRA's
updates start from zero and are scaled by `alpha / r`; a higher rate than full fine-tuning is
usual):
''')
code('''
targets = ["attn.qkv", "attn.proj", "mlp.fc", "mlp.proj"]
sweep = {}
for r in (1, 4, 16):
    m = apply_lora(fresh_base(), r=r, alpha=2 * r, target_modules=targets)
    hist, secs, mem = sft_run(m, lr=3e-3)
    n_train, n_total = trainable_parameters(m)
    sweep[r] = (m, n_train, secs, qa_accuracy(m, tok, test_qs).exact, mem)
    print(f"r={r:2}: {n_train:7,} trainable ({n_train / n_total:.1%}), exact {sweep[r][3]:.2f}, {secs:.0f} s")
full_params = sum(p.numel() for p in spaced.parameters())
fig, ax = figure("LoRA rank sweep (SFT, same steps)", "trainable parameters", "exact match, unseen questions")
ax.plot([v[1] for v in sweep.values()], [v[3] for v in sweep.values()], "o-", label="LoRA r = 1, 4, 16")
ax.plot([full_params], [runs[True][3].exact], "s", label="full fine-tuning")
ax.set_xscale("log")
ax.set_ylim(0, 1.05)
ax.legend()
plt.show()
assert min(v[3] for v in sweep.values()) >= 0.85
''')
md('''
Every rank, even 1, answers as well as full fine-tuning; here even a little better (it is not
quite a fair race: LoRA ran at a learning rate of 3e-3, full fine-tuning at the cached recipe's
5e-4). Rank 1 trains 8,192 numbers, under 1% of the model. What SFT changes here, answering in
the template instead of continuing a page, is a small change, and a low-rank update can make
it; Hu et al. report the same of GPT-3, where ranks 1 to 8 did about as well as 64 on their
tasks.

Time and memory: a LoRA step still runs the whole forward and backward pass through the frozen
model (the gradient must flow back to every adapter), so on a CPU it is not much faster per
step. The memory saving is in what training keeps per trainable parameter: a gradient and two
AdamW moments, 12 bytes in float32. The moments, measured on the optimizer after each run
(the gradients, 4 bytes more, live only during a step):
''')
code('''
for name, n, secs, mem in ([("full", full_params, secs_spaced, mem_spaced)]
                           + [(f"LoRA r={r}", v[1], v[2], v[4]) for r, v in sweep.items()]):
    print(f"{name:10} {n:9,} trainable; AdamW moments {mem / 1e6:5.2f} MB (8 bytes each), "
          f"+ gradients during a step {4 * n / 1e6:5.2f} MB; {secs:5.1f} s for the run")
    assert mem == 8 * n
assert all(v[4] < mem_spaced / 5 for v in sweep.values())
''')
md('''
Merging folds `(alpha / r) B A` into `W`: the merged model is an ordinary GPT, with no extra cost
at inference. Unmerging subtracts it again (exactly up to float rounding). And only the adapter
needs saving: a small file with a fingerprint of the base it belongs to, which `load_adapter`
checks (save before merging: after a merge and an unmerge the base weights differ in their last
bits, and the fingerprint with them).
''')
code('''
m16 = sweep[16][0]
path = save_adapter(m16, pathlib.Path(tempfile.mkdtemp()) / "adapter.safetensors")
x = torch.tensor([tok.encode(chat_prompt(test_qs[0].question))])
before = m16(x)[0]
merge_lora(m16)
torch.testing.assert_close(m16(x)[0], before, atol=1e-4, rtol=1e-4)
merged_reply = greedy_complete(m16, tok, [chat_prompt(test_qs[0].question)], 24, stop=END)[0]
unmerge_lora(m16)
again = load_adapter(fresh_base(), path)  # the base from the cache plus the adapter file
torch.testing.assert_close(again(x)[0], before, atol=1e-5, rtol=1e-5)
print(f"merged model == adapted model; reply {merged_reply.strip()!r}")
print(f"adapter file {path.stat().st_size / 1e3:.0f} kB; the whole model "
      f"{(model_dir('tinyworld') / 'model.safetensors').stat().st_size / 1e6:.1f} MB")
''')
md('''
## 6.6 Catastrophic forgetting

Fine-tuning on questions moves the model away from its pretraining text. Measured on the
validation text of the pretraining corpus and on its stories alone, before and after full SFT
and LoRA SFT:
''')
code('''
c = MODELS["tinyworld"].recipe["corpus"]
docs = corpus("tinyworld", size=c["size"], seed=c["seed"], **c["options"])
stories = [docs.documents[i] for i in docs.val_ids if docs.kinds[i] == "story"][:40]
val_ids = torch.tensor(encode(docs.val, tok)[:129 * 40].astype("int64")).view(40, 129)
story_ids = [torch.tensor([tok.encode(s)[:129]]) for s in stories]


@torch.no_grad()
def lm_losses(model):
    model.eval()
    v = model(val_ids[:, :-1], val_ids[:, 1:])[1].item()
    s = sum(model(t[:, :-1], t[:, 1:])[1].item() for t in story_ids) / len(story_ids)
    return v, s


forget = {"base": lm_losses(base), "full SFT": lm_losses(spaced), "LoRA r=16 SFT": lm_losses(m16),
          "LoRA r=1 SFT": lm_losses(sweep[1][0])}
for k, (v, s) in forget.items():
    print(f"{k:14} validation loss {v:.3f}, story loss {s:.3f}")
g = torch.Generator().manual_seed(0)
start = torch.tensor([tok.encode("Once upon a time")])
for k, m in (("base", base), ("full SFT", spaced), ("LoRA r=16 SFT", m16)):
    g.manual_seed(0)
    print(f"{k}: {tok.decode(m.generate(start, 30, temperature=0.8, generator=g)[0].tolist())!r}")
assert all(v[0] > forget["base"][0] + 0.2 for k, v in forget.items() if k != "base")
assert forget["LoRA r=1 SFT"][0] < forget["full SFT"][0]
''')
md('''
Every fine-tune costs some of what pretraining taught. Full SFT more than doubles the loss on
the pretraining corpus's validation text (in nats per token) and nearly doubles it on its
stories, and its story drifts into biography sentences and `<|end|>` tokens: 120 steps of
questions pulled the whole model towards one kind of text. LoRA at rank 1 forgets much less,
as Biderman et al. found at scale ("LoRA Learns Less and Forgets Less", 2024,
https://arxiv.org/abs/2405.09673). But LoRA is no guarantee: at rank 16 and our higher learning
rate it forgets *more* than full fine-tuning. How far the weights move decides, and the rank
and the learning rate both set that. The remedies used in practice: fewer steps, a lower rate,
or mixing some pretraining text into the fine-tuning data.
''')
code('''
import os

print(f"chapter run time, cached models aside: {time.perf_counter() - t_chapter:.0f} s wall, "
      f"{time.process_time() - cpu_chapter:.0f} s of CPU in this process; load average now "
      f"{os.getloadavg()[0]:.1f} (other processes slow a shared machine down)")
''')
md('''
## Summary

- The base model `"tinyworld"` completes the facts of its 100-person cast without a miss and
  only guesses for people it never read about; it learned them because its biographies name
  each person in full and shuffle their sentences (held-in fact completion 0.71 and 0.69 without
  the shuffle, 1.00 with it).
- A base model continues documents; 120 steps of SFT on 300 questions about half the cast turn
  it into an assistant that answers questions about the *other* half (exact match about 0.9),
  because the facts were already stored, in retrievable form, during pretraining. It still
  answers for people it never read about, with someone else's facts.
- A classifier reads the hidden state of the last real token, the only one that has seen the
  whole text under the causal mask. On TinyWorld's reviews pretrained features did not beat
  random ones: transfer is measured, not assumed. Class weights make a minority class count.
- The chat template marks turns with special tokens; the loss is kept on the assistant's tokens
  only (`-100` elsewhere): without the mask exact match fell from about 0.9 to 0.3, and without
  the space after the role token, to 0.
- LoRA trains `r (in + out)` numbers per layer (8,192 in all at rank 1), matches full
  fine-tuning here, merges into `W` exactly and saves alone (kilobytes).
- Fine-tuning costs some of what pretraining taught (the loss on the pretraining text rises);
  how much depends on how far the weights move.

## Exercises

Open `exercises/06-finetuning.ipynb`: the loss mask, a LoRA layer, merge and unmerge, the
classification head's features, a prediction of LoRA's parameter count, and a mini-project
(teach the assistant to say "I do not know").
''')

nb = nbf.v4.new_notebook(cells=cells)
nb.metadata = {"kernelspec": {"display_name": "Python 3 (minillm)", "language": "python", "name": "python3"},
               "language_info": {"name": "python"}}
nbf.write(nb, "chapters/06-finetuning.ipynb")
print("written", len(cells))
