import nbformat as nbf

cells = []
md = lambda s: cells.append(nbf.v4.new_markdown_cell(s.strip("\n")))
code = lambda s: cells.append(nbf.v4.new_code_cell(s.strip("\n")))

md('''
# Chapter 6: Fine-tuning

A pretrained model continues documents. Asked a question, it "dreams" the rest of a page. This
chapter trains it a little more, on the data we actually want it for, three ways: into a
**classifier** (sentiment of TinyWorld reviews), into an **assistant** that answers questions in a
chat template (supervised fine-tuning, SFT), and with **LoRA**, which trains a few thousand
numbers instead of the whole model. Everything reuses `minillm.train.Trainer`.

The models: `minillm.pretrained("tinyworld-knowledge")` is a base model that read about 400 people of
TinyWorld, each in about twenty differently worded biographies; `minillm.pretrained("tinyworld-chat")`
is that model after this chapter's SFT recipe. Both are built once (about 6 and 3 minutes on a
laptop CPU) and cached; the rest of the chapter runs in about 4 minutes.
''')
code('''
import time

import matplotlib.pyplot as plt
import torch

import minillm
from minillm import seed_everything
from minillm.data import corpus, encode
from minillm.evaluate import chat_prompt, fact_completion, greedy_complete, qa_accuracy
from minillm.finetune import (IGNORE, Classifier, ExampleBatches, class_weights, confusion_matrix,
                              encode_chat, format_chat, freeze, review_dataset, sft_dataset,
                              text_examples)
from minillm.lora import (LoRALinear, apply_lora, load_adapter, lora_layers, merge_lora,
                          save_adapter, trainable_parameters, unmerge_lora)
from minillm.train import TrainConfig, Trainer
from minillm.viz import figure
from minillm.zoo import MODELS, course_people, eval_people, load_model_dir, model_dir

seed_everything(0)
base, tok = minillm.pretrained("tinyworld-knowledge")
chat, _ = minillm.pretrained("tinyworld-chat")
people = course_people("tinyworld-knowledge")
world = people["world"]
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; base model "
      f"{base.num_params():,} parameters, vocabulary {tok.vocab_size}")
print({k: len(v) for k, v in people.items() if k != "world"})
''')
md('''
`held_in` are the people the pretraining text wrote about (the *cast*); `held_out` were never
written about. The question-answer pages of the pretraining text, and this chapter's SFT data,
ask only about the `qa` half of the cast; questions about the `no_qa` half are never seen in
question form anywhere, so they test whether a model can *use* what it read.

## 6.1 Base model and assistant, side by side

Same questions, same greedy decoding, in the chat template (`<|user|>question<|end|><|assistant|>`):
''')
code('''
qs = [world.qa(p, r) for p in eval_people(people["no_qa"], 3, seed=2) for r in ("birth_city", "job")]
prompts = [chat_prompt(q.question) for q in qs]
base_replies = greedy_complete(base, tok, prompts, 24)
chat_replies = greedy_complete(chat, tok, prompts, 24, stop="<|end|>")
for q, b, c in zip(qs, base_replies, chat_replies):
    print(f"Q: {q.question}\\n  base:      {b!r}\\n  assistant: {c!r}\\n  truth:     {q.answer}")
''')
md('''
The base model does not answer: it has seen a few chat turns in its pretraining text, so it may
write something answer-like, but mostly it continues a page. The assistant answers in one
sentence and stops with `<|end|>`. Measured on 120 questions about people whose questions it was
never trained on:
''')
code('''
test_qs = [world.qa(p, r) for p in eval_people(people["no_qa"], 20, seed=3)
           for r in MODELS["tinyworld-chat"].recipe["eval"]["relations"]]
base_qa, chat_qa = qa_accuracy(base, tok, test_qs), qa_accuracy(chat, tok, test_qs)
facts = fact_completion(base, tok, world, eval_people(people["no_qa"], 20, seed=3), choice=False)
print(f"base model, chat template:  exact {base_qa.exact:.2f}, contains the fact {base_qa.contains:.2f}")
print(f"assistant:                  exact {chat_qa.exact:.2f}, contains the fact {chat_qa.contains:.2f}")
print(f"base model, fact completion ('X was born in the town of ...'): {facts.exact_all:.2f}")
assert chat_qa.exact > base_qa.exact + 0.5 and facts.exact_all > 0.7
''')
md('''
The knowledge was already in the base model: it completes biography sentences about these
people. What SFT added is the *format*: read a question, answer in one sentence, stop. SFT did
not teach these facts (these questions were never in its data); it taught the model to reach
what pretraining stored. This is the finding of Allen-Zhu and Li ("Physics of Language Models:
Part 3.1, Knowledge Storage and Extraction", 2023, https://arxiv.org/abs/2309.14316): facts
written in several paraphrases become extractable by fine-tuning on questions about *other*
people; written once, they would be memorised but not extractable.

## 6.2 Classification: a head on the last token

To classify a text, run the backbone and put a linear layer on one hidden state. Which one? Under
the causal mask, token `t` has attended only to tokens `0..t`. The **last** real token is the only
position that has seen the whole text; the first has seen only itself. With right padding, the last
real token of row `b` is at `padding_mask[b].sum() - 1`. A check of the claim: two reviews that
start with the same token have identical first hidden states, whatever follows.
''')
code('''
texts, labels = review_dataset(world, 700, seed=0)
a, b = tok.encode("Review of a red kite. Great!"), tok.encode("Review of a red kite. Terrible!")
ha, _ = base(torch.tensor([a]), return_hidden=True)
hb, _ = base(torch.tensor([b]), return_hidden=True)
print("first token equal:", torch.allclose(ha[0, 0], hb[0, 0]),
      "| last token equal:", torch.allclose(ha[0, -1], hb[0, -1]))
assert torch.allclose(ha[0, 0], hb[0, 0]) and not torch.allclose(ha[0, -1], hb[0, -1])
print(texts[0], "->", labels[0])
''')
code('''
examples = text_examples(tok, texts, labels, max_len=96)
test_set = ExampleBatches(examples[500:], batch_size=50)


def train_classifier(backbone, n, train="all", steps=40, weights=True, positive_share=None,
                     lr=1e-3, data=None):
    """Fine-tune a classifier on the first n labelled reviews; return it and its test accuracy."""
    seed_everything(0)
    data = data or examples[:n]
    w = class_weights([y for _, y in data], 2) if weights else None
    clf = Classifier(backbone, 2, class_weights=w)
    freeze(clf, train)
    cfg = TrainConfig(steps=steps, batch_size=16, lr=lr, warmup_steps=5, eval_every=0,
                      progress=False, weight_decay=0.0)
    Trainer(clf, ExampleBatches(data, 16, seed=0), None, cfg, device="cpu").fit()
    pred, true = clf.predict(test_set)
    return clf, (pred == true).float().mean().item()


def fresh_base():
    return load_model_dir(model_dir("tinyworld-knowledge")).model


def scratch():
    seed_everything(0)
    return minillm.GPT(minillm.GPTConfig.from_dict(base.config.to_dict()))


t0 = time.perf_counter()
modes = {}
for mode in ("head", "last1", "all"):
    _, modes[mode] = train_classifier(fresh_base(), 64, mode, lr=3e-3 if mode == "head" else 1e-3)
print({k: round(v, 3) for k, v in modes.items()}, f"({time.perf_counter() - t0:.0f} s)")
''')
md('''
Linear probing (`head`: the backbone frozen, 258 trainable numbers) is already far above chance:
the pretrained hidden state of the last token carries the review's mood. Letting the last block
or the whole model train adapts the features too. Now transfer learning, measured: the same
classifier from the pretrained backbone and from a randomly initialised one, as the number of
labelled examples grows.
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
ax.axhline(0.5, color="gray", ls=":", label="chance")
ax.legend()
plt.show()
print({k: [round(x, 2) for x in v] for k, v in curve.items()})
assert curve["pretrained"][0] > curve["from scratch"][0]
''')
md('''
With few labels, the pretrained backbone wins clearly: the features it learned predicting the
next token already separate "Great!" from "Terrible!". With more labels the model trained from
scratch catches up on a task this easy.

**Class imbalance.** With 90% positive reviews, a classifier can reach 90% accuracy by always
saying "positive". Weighting the loss by inverse class frequency (`class_weights`) makes both
classes count the same. The confusion matrix shows where errors go:
''')
code('''
pos = [e for e in examples[:500] if e[1] == 1][:90]
neg = [e for e in examples[:500] if e[1] == 0][:10]
skewed = pos + neg
for weights in (False, True):
    clf, acc = train_classifier(fresh_base(), 0, "head", steps=30, weights=weights, lr=3e-3, data=skewed)
    pred, true = clf.predict(test_set)
    m = confusion_matrix(pred, true, 2)
    recall = (m.diag() / m.sum(1)).tolist()
    print(f"class weights {weights!s:5}: accuracy {acc:.2f}, recall negative {recall[0]:.2f}, "
          f"positive {recall[1]:.2f}\\n{m.tolist()}  (rows: true negative, positive)")
''')
md('''
## 6.3 Supervised fine-tuning: the template and the loss mask

A conversation is written with the tokenizer's special tokens. The model should learn to write the
assistant's turn, not the user's question: the targets of every other token are set to `-100`,
which the loss ignores.
''')
code('''
msgs = world.qa(people["qa"][0], "job").chat()
print(format_chat(msgs))
ids, targets = encode_chat(tok, msgs)
shown = "".join(f"[{tok.decode([t])}]" if t != IGNORE else "_" for t in targets)
print(shown)
print(f"{sum(t != IGNORE for t in targets)} of {len(targets)} targets are learned")
assert tok.decode([t for t in targets if t != IGNORE]) == msgs[1]["content"] + "<|end|>"
''')
md('''
Does the mask matter? Two short SFT runs from the base model, identical except for the mask,
scored on questions about the `no_qa` people (never in SFT):
''')
code('''
sft_recipe = MODELS["tinyworld-chat"].recipe
rels = sft_recipe["sft"]["relations"]
eval_qs = [world.qa(p, r) for p in eval_people(people["no_qa"], 20, seed=4) for r in rels]


def sft_run(model, mask_prompt=True, steps=120, lr=1e-3):
    seed_everything(0)
    data = sft_dataset(tok, world, people["qa"], rels, mask_prompt=mask_prompt, batch_size=32,
                       max_len=model.config.block_size)
    cfg = TrainConfig(steps=steps, batch_size=32, lr=lr, min_lr=lr / 10, warmup_steps=10,
                      eval_every=0, progress=False, weight_decay=0.0)
    t = time.perf_counter()
    trainer = Trainer(model, data, None, cfg, device="cpu")
    trainer.fit()
    return trainer.history, time.perf_counter() - t


runs = {}
for mask in (True, False):
    m = fresh_base()
    hist, secs = sft_run(m, mask)
    runs[mask] = (m, hist, secs, qa_accuracy(m, tok, eval_qs))
    print(f"mask={mask!s:5}: exact {runs[mask][3].exact:.2f}, contains {runs[mask][3].contains:.2f} "
          f"({secs:.0f} s)")
fig, ax = figure("SFT loss", "step", "training loss (on the learned tokens)")
for mask, (_, hist, _, _) in runs.items():
    ax.plot(hist.step, hist.loss, label="assistant tokens only" if mask else "every token")
ax.legend()
plt.show()
''')
md('''
The two curves are not the same quantity: without the mask the loss also averages over the
user's question, the template and the names, which are partly unpredictable, so it stays higher.
The comparison that matters is the answers'. Now what the cached assistant knows, by who it
was asked about during SFT and whether it ever read about them:
''')
code('''
by_group = {}
for group in ("qa", "no_qa", "held_out"):
    qs_g = [world.qa(p, r) for p in eval_people(people[group], 20, seed=5) for r in rels]
    by_group[group] = qa_accuracy(chat, tok, qs_g)
    print(f"{group:9}: exact {by_group[group].exact:.2f}")
print("held-out example:", by_group["held_out"].examples[0])
assert by_group["no_qa"].exact >= 0.7 and by_group["held_out"].exact < 0.2
''')
md('''
Asked about people it was trained on (`qa`) and people it only read about (`no_qa`), it answers
about equally well. Asked about someone it never read about (`held_out`), it still answers, in
the same confident sentence, with an invented fact. It learned the format "answer in one
sentence", not "say when you do not know": that is chapter 8's subject.

## 6.4 LoRA: train a low-rank update, not the model

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
with torch.no_grad():
    mine.B.normal_()
    ref.lora_A.copy_(mine.A)
    ref.lora_B.copy_(mine.B)
x = torch.randn(2, 5, 128)
torch.testing.assert_close(mine(x), ref(x))
print("from scratch == minillm.lora.LoRALinear; trainable:", 4 * (128 + 384), "of", 128 * 384 + 384)
''')
md('''
A rank sweep: SFT with LoRA on the attention and MLP layers of every block, ranks 1 to 16, the
same data and steps as the full fine-tuning above (a higher learning rate, as is usual for LoRA):
''')
code('''
targets = ["attn.qkv", "attn.proj", "mlp.fc", "mlp.proj"]
sweep = {}
for r in (1, 4, 16):
    m = apply_lora(fresh_base(), r=r, alpha=2 * r, target_modules=targets)
    hist, secs = sft_run(m, True, lr=3e-3)
    n_train, n_total = trainable_parameters(m)
    sweep[r] = (m, n_train, secs, qa_accuracy(m, tok, eval_qs).exact)
    print(f"r={r:2}: {n_train:7,} trainable ({n_train / n_total:.1%}), exact {sweep[r][3]:.2f}, {secs:.0f} s")
full = runs[True]
full_params = sum(p.numel() for p in full[0].parameters())
fig, ax = figure("LoRA rank sweep (SFT, same steps)", "trainable parameters", "exact match, unseen questions")
ax.plot([v[1] for v in sweep.values()], [v[3] for v in sweep.values()], "o-", label="LoRA r = 1, 4, 16")
ax.plot([full_params], [full[3].exact], "s", label="full fine-tuning")
ax.set_xscale("log")
ax.legend()
plt.show()
''')
md('''
Time and memory: a LoRA step still runs the whole forward and backward pass through the frozen
model (the gradient must flow back to every adapter), so it is not much faster per step on a
CPU. The memory saving is in what training keeps per trainable parameter: a gradient and two
AdamW moments, three extra floats each.
''')
code('''
for name, n, secs in [("full", full_params, full[2])] + [(f"LoRA r={r}", v[1], v[2]) for r, v in sweep.items()]:
    print(f"{name:10} {n:9,} trainable, optimizer state + gradients {3 * 4 * n / 1e6:6.2f} MB, "
          f"{secs:5.1f} s for the run")
''')
md('''
Merging folds `(alpha / r) B A` into `W`: the merged model is an ordinary GPT, with no extra cost
at inference. Unmerging subtracts it again. And only the adapter needs saving: a few kilobytes
with a fingerprint of the base it belongs to.
''')
code('''
m16 = sweep[16][0]
x = torch.tensor([tok.encode(chat_prompt(eval_qs[0].question))])
before = m16(x)[0]
merge_lora(m16)
torch.testing.assert_close(m16(x)[0], before, atol=1e-4, rtol=1e-4)
unmerge_lora(m16)
import tempfile, pathlib
path = save_adapter(m16, pathlib.Path(tempfile.mkdtemp()) / "adapter.safetensors")
again = load_adapter(fresh_base(), path)
torch.testing.assert_close(again(x)[0], before, atol=1e-5, rtol=1e-5)
print(f"adapter file {path.stat().st_size / 1e3:.0f} kB; the model {(model_dir('tinyworld') / 'model.safetensors').stat().st_size / 1e6:.1f} MB")
''')
md('''
**Catastrophic forgetting.** Fine-tuning on questions moves the model away from its pretraining
text. Measured on the validation text of the pretraining corpus and on its stories alone, before
and after full SFT and LoRA SFT:
''')
code('''
c = MODELS["tinyworld-knowledge"].recipe["corpus"]
val_docs = corpus("tinyworld", size=c["size"], seed=c["seed"], **c["options"])
stories = [val_docs.documents[i] for i in val_docs.val_ids if val_docs.kinds[i] == "story"][:40]
val_ids = torch.tensor(encode(val_docs.val, tok)[:128 * 40].astype("int64")).view(40, 128)
story_ids = [torch.tensor([tok.encode(s)[:128]]) for s in stories]


@torch.no_grad()
def lm_losses(model):
    model.eval()
    v = model(val_ids[:, :-1], val_ids[:, 1:])[1].item()
    s = sum(model(t[:, :-1], t[:, 1:])[1].item() for t in story_ids) / len(story_ids)
    return round(v, 3), round(s, 3)


forget = {"base": lm_losses(fresh_base()), "full SFT": lm_losses(full[0]),
          "LoRA r=16 SFT": lm_losses(sweep[16][0])}
for k, (v, s) in forget.items():
    print(f"{k:14} validation loss {v:.3f}, story loss {s:.3f}")
g = torch.Generator().manual_seed(0)
start = torch.tensor([tok.encode("Once upon a time")])
for k, m in (("base", fresh_base()), ("full SFT", full[0]), ("LoRA SFT", sweep[16][0])):
    g.manual_seed(0)
    print(f"{k}: {tok.decode(m.generate(start, 30, temperature=0.8, generator=g)[0].tolist())!r}")
''')
md('''
## Summary

- A base model continues documents; SFT on a few thousand question-answer turns turns it into an
  assistant that answers, and it answers questions it was never trained on because the facts
  were stored, in extractable form, during pretraining.
- A classifier reads the hidden state of the last real token, the only one that has seen the
  whole text under the causal mask. Pretrained features beat random ones when labels are few.
  Class weights make a minority class count.
- The chat template marks turns with special tokens; the loss is kept on the assistant's tokens
  only (`-100` elsewhere).
- LoRA trains `r (in + out)` numbers per layer, can be merged into `W` exactly and saved alone.
- Fine-tuning costs some of what pretraining taught (higher loss on the pretraining text).

## Exercises

Open `exercises/06-finetuning.ipynb`: the loss mask, a LoRA layer, merge and unmerge, the
classification head's features, a prediction of LoRA's parameter count, and a mini-project
(teach the assistant to say "I don't know").
''')

nb = nbf.v4.new_notebook(cells=cells)
nb.metadata = {"kernelspec": {"display_name": "Python 3 (minillm)", "language": "python", "name": "python3"},
               "language_info": {"name": "python"}}
nbf.write(nb, "drafts/06-finetuning/chapter.ipynb")
print("written", len(cells))
