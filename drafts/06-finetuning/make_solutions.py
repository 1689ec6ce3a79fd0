import nbformat as nbf

cells = []
md = lambda s: cells.append(nbf.v4.new_markdown_cell(s.strip("\n")))
code = lambda s: cells.append(nbf.v4.new_code_cell(s.strip("\n")))

md('''
# Chapter 6 exercises: Fine-tuning

Write the code between the markers, then run the check cell below it: it compares your result
with `minillm` and says in words what is wrong. Apart from the cached course models (built once),
the notebook runs in about a minute on a laptop CPU.
''')
code('''
import torch
from torch import nn

import minillm
from minillm import seed_everything
from minillm.course.checks_finetuning import (check_last_token_features, check_lora_count,
                                              check_lora_forward, check_loss_mask, check_merge,
                                              check_project)
from minillm.evaluate import qa_accuracy
from minillm.finetune import IGNORE
from minillm.tokenizer import ASSISTANT, END, SYSTEM, USER
from minillm.train import TrainConfig, Trainer
from minillm.zoo import course_people, eval_people

seed_everything(0)
base, tok = minillm.pretrained("tinyworld")
people = course_people("tinyworld")
world = people["world"]
''')
md('''
### Exercise 6.1: The loss mask

Write `my_encode_chat(tokenizer, messages)` returning `(ids, targets)`: `ids` are the tokens of
the whole conversation without its last token, and `targets[t]` is token `t + 1` when that
token belongs to an assistant turn (its content or its closing `<|end|>`), else `-100`. Each turn
is the role token (`USER`, `ASSISTANT`, `SYSTEM` from `minillm.tokenizer`), encoded on its own,
then `" " + content + "<|end|>"` encoded (the space after the role token, section 6.4). Write it
yourself: the check fails if you call `minillm.finetune.encode_chat`.
''')
code('''
ROLE = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}


def my_encode_chat(tokenizer, messages):
    ### BEGIN SOLUTION
    ids, learn = [], []
    for m in messages:
        head = tokenizer.encode(ROLE[m["role"]])
        body = tokenizer.encode(" " + m["content"] + END)
        ids += head + body
        learn += [False] * len(head) + [m["role"] == "assistant"] * len(body)
    targets = [t if ok else IGNORE for t, ok in zip(ids[1:], learn[1:])]
    return ids[:-1], targets
    ### END SOLUTION
''')
code('''
check_loss_mask(my_encode_chat, tok)
print("correct")
''')
md('''
### Exercise 6.2: A LoRA linear layer

Write `MyLoRA(base, r, alpha)`: it freezes `base` (an `nn.Linear`), holds `self.lora_A` of shape
`(r, in)` initialised at random (e.g. `nn.init.kaiming_uniform_(A, a=5 ** 0.5)`) and `self.lora_B`
of shape `(out, r)` at zero, and returns `base(x) + (alpha / r) * x @ A.T @ B.T`. Write it from
`nn.Module`, not from `minillm.lora.LoRALinear`.
''')
code('''
class MyLoRA(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        ### BEGIN SOLUTION
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.scaling = alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        nn.init.kaiming_uniform_(self.lora_A, a=5 ** 0.5)
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.base(x) + self.scaling * (x @ self.lora_A.T) @ self.lora_B.T
        ### END SOLUTION
''')
code('''
check_lora_forward(MyLoRA)
print("correct")
''')
md('''
### Exercise 6.3: Merge and unmerge

Write `merge(W, A, B, alpha)` returning the merged weight `W + (alpha / r) B A` (`r` is the
number of rows of `A`), and `unmerge(W, A, B, alpha)` returning the weight before merging.
''')
code('''
def merge(W, A, B, alpha):
    ### BEGIN SOLUTION
    return W + (alpha / A.shape[0]) * B @ A
    ### END SOLUTION


def unmerge(W, A, B, alpha):
    ### BEGIN SOLUTION
    return W - (alpha / A.shape[0]) * B @ A
    ### END SOLUTION
''')
code('''
check_merge(merge, unmerge)
print("correct")
''')
md('''
### Exercise 6.4: The classification head's input

Write `last_token_features(hidden, padding_mask)`: `hidden` is `(B, T, C)`, `padding_mask` is
`(B, T)` bool, True on real tokens, right-padded. Return the hidden state of each row's last real
token, `(B, C)`.
''')
code('''
def last_token_features(hidden, padding_mask):
    ### BEGIN SOLUTION
    last = padding_mask.long().sum(1) - 1
    return hidden[torch.arange(hidden.size(0)), last]
    ### END SOLUTION
''')
code('''
check_last_token_features(last_token_features)
print("correct")
''')
md('''
### Exercise 6.5: Predict, then count

LoRA with rank 8 on the `attn.qkv` and `attn.proj` layers of every block of the base model: how
many parameters train? Work it out from `base.config` (`n_layer`, `n_embd`; `qkv` maps `n_embd`
to `3 * n_embd`, `proj` maps `n_embd` to `n_embd`) and write the number.
''')
code('''
print(base.config.n_layer, base.config.n_embd)
### BEGIN SOLUTION
prediction = base.config.n_layer * 8 * ((base.config.n_embd + 3 * base.config.n_embd)
                                         + (base.config.n_embd + base.config.n_embd))
### END SOLUTION
''')
code('''
check_lora_count(prediction, base, 8, ["attn.qkv", "attn.proj"])
print("correct:", prediction)
''')
md('''
### Exercise 6.6 (mini-project): "I don't know"

The assistant answers questions about people it never read about with invented facts. Make an
SFT set where questions about some held-out people get the answer "I do not know." (and
questions about cast people keep their true answers), fine-tune the base model briefly, and
measure, on *other* held-out people, how often it now says "I do not know." Report it as a dict
`{"what", "before", "after", "n_examples"}` (before: the same measure on the base model after
plain SFT, or on the cached assistant). Then check that it still answers the cast's questions.
''')
code('''
### BEGIN SOLUTION
from minillm.evaluate import chat_prompt, greedy_complete
from minillm.finetune import ExampleBatches, encode_chat

seed_everything(0)
rels = ["birth_city", "job", "color", "food"]
convs = [world.qa(p, r).chat() for p in people["qa"] for r in rels]  # the cast: true answers
dont = [[{"role": "user", "content": world.qa(p, r).question},
         {"role": "assistant", "content": "I do not know."}]
        for p in people["held_out"][:50] for r in rels]  # never written about: "I do not know."
data = ExampleBatches([encode_chat(tok, m) for m in convs + dont], 32, seed=0)
model = minillm.pretrained("tinyworld").model
Trainer(model, data, None, TrainConfig(steps=120, batch_size=32, lr=5e-4, min_lr=5e-5, warmup_steps=12,
                                       eval_every=0, progress=False, weight_decay=0.0),
        device="cpu").fit()
test = [world.qa(p, r) for p in people["held_out"][100:130] for r in rels]  # other held-out people
chat = minillm.pretrained("tinyworld-chat").model


def idk(m):
    out = greedy_complete(m, tok, [chat_prompt(q.question) for q in test], 12, stop=END)
    return sum("not know" in o for o in out) / len(out)


report = {"what": "share of 'I do not know' on 30 unseen held-out people x 4 relations",
          "before": idk(chat), "after": idk(model), "n_examples": len(test)}
cast_qs = [world.qa(p, r) for p in eval_people(people["no_qa"], 20) for r in rels]
print(report)
print("the cast's no_qa half still answered (exact):", qa_accuracy(model, tok, cast_qs).exact,
      "| the cached assistant:", qa_accuracy(chat, tok, cast_qs).exact)
### END SOLUTION
''')
code('''
check_project(report)
print("report accepted:", report)
''')

nb = nbf.v4.new_notebook(cells=cells)
nb.metadata = {"kernelspec": {"display_name": "Python 3 (minillm)", "language": "python", "name": "python3"},
               "language_info": {"name": "python"}}
nbf.write(nb, "solutions/06-finetuning.ipynb")
print("written", len(cells))
