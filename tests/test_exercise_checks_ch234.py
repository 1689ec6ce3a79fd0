"""Wrong answers to the exercises of chapters 2, 3 and 4, each of which its check must reject.

Every entry swaps one exercise's solution region in ``solutions/NN-*.ipynb`` for a wrong answer a
careless or cheating learner might write (the library's own function passed off as the answer, an
ignored argument, a constant, a made-up number, a step left out) and runs the exercise's check
cells through ``tests/exercise_harness.py``: the check must fail with a message that says what is
wrong (``expect`` is searched for in it).
"""

from __future__ import annotations

import pytest
from exercise_harness import Wrong, count_wrong, ids, run_wrong

CH2 = "solutions/02-attention.ipynb"
CH3 = "solutions/03-transformer.ipynb"
CH4 = "solutions/04-pretraining.ipynb"

_CAUSAL_W = """
T, D = q.shape[-2], q.shape[-1]
future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
w = torch.softmax((q @ k.transpose(-2, -1) / math.sqrt(D)).masked_fill(future, float("-inf")), dim=-1)
"""

WRONG_CH2 = [
    Wrong("2.1", _CAUSAL_W + "return F.scaled_dot_product_attention(q, k, v, is_causal=True), w",
          "scaled_dot_product_attention", name="torch's attention passed off as the answer"),
    Wrong("2.1", """
T, D = q.shape[-2], q.shape[-1]
w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D), dim=-1)
return w @ v, w
""", "later key", name="no causal mask"),
    Wrong("2.1", """
T, D = q.shape[-2], q.shape[-1]
future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
w = torch.softmax((q @ k.transpose(-2, -1)).masked_fill(future, float("-inf")), dim=-1)
return w @ v, w
""", r"1/sqrt\(D\)", name="no 1/sqrt(D) scale"),
    Wrong("2.1", """
T, D = q.shape[-2], q.shape[-1]
future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=0)
w = torch.softmax((q @ k.transpose(-2, -1) / math.sqrt(D)).masked_fill(future, float("-inf")), dim=-1)
return w @ v, w
""", "NaN", name="mask hides the diagonal too"),
    Wrong("2.1", """
T, D = q.shape[-2], q.shape[-1]
future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
w = torch.softmax((q @ k.transpose(-2, -1) / math.sqrt(D)).masked_fill(future, float("-inf")), dim=-2)
return w @ v, w
""", "sum to 1", name="softmax over the queries"),
    Wrong("2.1", _CAUSAL_W + "return v, w", "weights @ v", name="weights right, output ignores them"),
    Wrong("2.2", ["return split_heads(x, n_head)", None], "split_heads", name="library split_heads"),
    Wrong("2.2", ["B, T, C = x.shape\nreturn x.view(B, T, n_head, C // n_head).transpose(1, 2).contiguous()", None],
          "copied", name="split copies the data"),
    Wrong("2.2", ["B, T, C = x.shape\nreturn x.view(B, n_head, T, C // n_head)", None], "straight",
          name="reshape straight to (B, H, T, D)"),
    Wrong("2.2", [None, "B, H, T, D = x.shape\nreturn x.reshape(B, T, H * D)"], "merge", name="merge without the transpose"),
    Wrong("2.3", "cos, sin = rope_cos_sin(x.shape[0], x.shape[1], base)\nreturn apply_rope(x, cos, sin)",
          "apply_rope|rope_cos_sin", name="library apply_rope"),
    Wrong("2.3", """
d = x.shape[-1]
theta = base ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
angle = torch.arange(x.shape[0], dtype=torch.float32)[:, None] * theta
x1, x2 = x[:, : d // 2], x[:, d // 2 :]
return torch.cat([x1 * angle.cos() - x2 * angle.sin(), x1 * angle.sin() + x2 * angle.cos()], dim=-1)
""", "positions", name="ignores the positions argument"),
    Wrong("2.3", """
d = x.shape[-1]
theta = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
angle = positions[:, None] * theta
x1, x2 = x[:, : d // 2], x[:, d // 2 :]
return torch.cat([x1 * angle.cos() - x2 * angle.sin(), x1 * angle.sin() + x2 * angle.cos()], dim=-1)
""", "base", name="ignores the base argument"),
    Wrong("2.4", 'prediction_unscaled = "stays"\nprediction_scaled = "stays"', "you predicted the unscaled",
          name="wrong prediction"),
    Wrong("2.4", "prediction_unscaled = ...\nprediction_scaled = ...", "write your prediction", name="no prediction"),
    Wrong("2.4", "return -(weights * torch.log(weights)).sum(dim=-1)", "one-hot", cell=1, name="0 * log 0 gives NaN"),
    Wrong("2.4", "return -(weights * torch.log2(weights.clamp_min(1e-30))).sum(dim=-1)", "uniform rows", cell=1,
          name="entropy in bits, not nats"),
    Wrong("2.5", "Wq = 6.0 * torch.eye(T)\nWk = 6.0 * torch.eye(T)", "gives only", name="a head that looks at itself"),
]

WRONG_CH3 = [
    Wrong("3.1", "return F.layer_norm(x, (x.shape[-1],), gain, bias, eps)", "layer_norm", name="torch's layer_norm"),
    Wrong("3.1", """
mean = x.mean(dim=-1, keepdim=True)
return (x - mean) / torch.sqrt(x.var(dim=-1, keepdim=True) + eps) * gain + bias
""", "unbiased", name="unbiased variance"),
    Wrong("3.1", """
mean = x.mean(dim=-1, keepdim=True)
var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
return (x - mean) / torch.sqrt(var + 1e-5) * gain + bias
""", "eps", name="ignores eps"),
    Wrong("3.2", "return block(x)", "Block.forward", name="the block itself"),
    Wrong("3.2", """
x = block.norm1(x + block.attn(x))
return block.norm2(x + block.mlp(x))
""", "post-norm", name="post-norm order"),
    Wrong("3.2", "return block.mlp(block.norm2(block.attn(block.norm1(x))))", "added to the stream", name="no residual"),
]

_BLOCK = """
def norm(h, name):
    mean = h.mean(-1, keepdim=True)
    var = ((h - mean) ** 2).mean(-1, keepdim=True)
    return (h - mean) / torch.sqrt(var + 1e-5) * w[f"{name}.weight"] + w[f"{name}.bias"]

B, T, C = x.shape
H = N_HEAD
D = C // H
qkv = norm(x, "norm1") @ w["attn.qkv.weight"].T + w["attn.qkv.bias"]
q, k, v = (z.view(B, T, H, D).transpose(1, 2) for z in qkv.split(C, dim=-1))
scores = q @ k.transpose(-2, -1) * SCALE
scores = MASK
att = torch.softmax(scores, dim=-1) @ v
att = att.transpose(1, 2).reshape(B, T, C) @ w["attn.proj.weight"].T + w["attn.proj.bias"]
x = x + att
h = F.gelu(norm(x, "norm2") @ w["mlp.fc.weight"].T + w["mlp.fc.bias"], approximate=GELU)
return x + h @ w["mlp.proj.weight"].T + w["mlp.proj.bias"]
"""


def _block(n_head="n_head", scale="1 / math.sqrt(D)", mask="masked", gelu='"tanh"'):
    masked = 'scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))'
    return (_BLOCK.replace("N_HEAD", n_head).replace("SCALE", scale)
            .replace("MASK", masked if mask == "masked" else "scores").replace("GELU", gelu))


WRONG_CH3 += [
    Wrong("3.3", _block(mask="none"), "later", name="block without the causal mask"),
    Wrong("3.3", _block(scale="1.0"), "against minillm's Block", name="block without the scale"),
    Wrong("3.3", _block(n_head="1"), "same output with 1 head", name="ignores n_head"),
    Wrong("3.3", _block(gelu='"none"'), "against minillm's Block", name="exact GELU instead of tanh"),
    Wrong("3.3", _block().replace(
        "att = torch.softmax(scores, dim=-1) @ v", "att = F.scaled_dot_product_attention(q, k, v, is_causal=True)"),
        "scaled_dot_product_attention", name="torch's attention inside"),
    Wrong("3.4", "return GPT(c).num_params()", "GPT", name="counts with the model itself"),
    Wrong("3.4", """
C = c.n_embd
n = c.vocab_size * C + c.n_layer * (12 * C * C + 13 * C) + 2 * C
if c.pos == "learned":
    n += c.block_size * C
return n
""", "off by", name="forgets the untied head"),
    Wrong("3.5", "return 12 * cfg.n_embd**2 * cfg.n_layer, 72 * cfg.n_embd**2 * cfg.n_layer", "not the model's",
          cell=1, name="made-up numbers with the right ratios"),
    Wrong("3.5", 'predict_params = "deeper"\npredict_flops = "wider"', "you predicted", name="wrong prediction"),
    Wrong("3.5", 'predict_params = "bigger"\npredict_flops = "wider"', "should be", name="not a prediction"),
    Wrong("3.6", "return {k: v.numpy() for k, v in load_file(path).items()}", "load_file", name="safetensors' load_file"),
    Wrong("3.6", """
raw = Path(path).read_bytes()
n = int.from_bytes(raw[:8], "little")
header = json.loads(raw[8 : 8 + n])
header.pop("__metadata__", None)
dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}
out = {}
for name, info in header.items():
    start, end = info["data_offsets"]
    out[name] = np.frombuffer(raw[start:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
return out
""", "offsets", name="offsets counted from the file start"),
]

_LOOP = """
batches = RandomWindows(tokens, model.config.block_size, batch_size, seed=seed)
decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "emb" not in n]
other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "emb" not in n)]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": DECAY}, {"params": other, "weight_decay": 0.0}],
                        betas=(0.9, 0.95))
losses = []
for step in range(steps):
    for group in opt.param_groups:
        group["lr"] = LR
    x, y = batches.batch(step)
    _, loss = model(x, y)
    ZERO
    loss.backward()
    CLIP
    opt.step()
    losses.append(loss.item())
return losses
"""


def _loop(decay="0.1", lr="lr_schedule(step, lr, lr / 10, warmup, steps)", zero="opt.zero_grad(set_to_none=True)",
          clip="torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)", all_decay=False):
    code = _LOOP.replace("DECAY", decay).replace("LR", lr).replace("ZERO", zero).replace("CLIP", clip)
    if all_decay:
        code = code.replace('[{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}]',
                            '[{"params": decay + other, "weight_decay": 0.1}]')
    return code


WRONG_CH4 = [
    Wrong("4.1", "return F.cross_entropy(logits.flatten(0, 1), targets.flatten())", "cross_entropy",
          name="torch's cross_entropy"),
    Wrong("4.1", "return -torch.log(torch.softmax(logits, -1).gather(-1, targets[..., None])).mean()", "overflows",
          name="log of softmax underflows"),
    Wrong("4.1", "log_probs = logits - logits.logsumexp(dim=-1, keepdim=True)\n"
                 "return -log_probs.gather(-1, targets[..., None]).sum()", "your cross-entropy", name="sum, not mean"),
    Wrong("4.1", "return torch.tensor(math.log(logits.shape[-1]))", "your cross-entropy", name="the constant log V"),
    Wrong("4.2", "cfg = TrainConfig(steps=total, lr=max_lr, min_lr=min_lr, warmup_steps=warmup)\nreturn lr_at(step, cfg)",
          "lr_at", name="minillm's lr_at"),
    Wrong("4.2", """
if step < warmup:
    return max_lr * step / warmup
progress = min(1.0, (step - warmup) / max(1, total - warmup))
return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (max_lr - min_lr)
""", "learning rate at step", name="warmup starts at 0"),
    Wrong("4.2", "return max_lr", "learning rate at step", name="constant"),
    Wrong("4.3", "_, loss = model(torch.cat(xs), torch.cat(ys))\nloss.backward()", "concatenate",
          name="concatenates the micro-batches"),
    Wrong("4.3", "for x, y in zip(xs, ys):\n    _, loss = model(x, y)\n    loss.backward()", "divide",
          name="forgets to divide by the number of micro-batches"),
    Wrong("4.3", "for x, y in zip(xs, ys):\n    _, loss = model(x, y)\n    (loss / 3).backward()", "divide|concatenate",
          name="divides by a hard-coded 3"),
    Wrong("4.4", "predicted_50 = 1 / 50\npredicted_5000 = 1 / 5000", "predicted", name="a probability, not a loss"),
    Wrong("4.4", "predicted_50 = math.log2(50)\npredicted_5000 = math.log2(5000)", "predicted", name="bits, not nats"),
    Wrong("4.5", "return loss * n_tokens / n_bytes", "1 bit per token", name="nats, not bits"),
    Wrong("4.5", "return loss / math.log(2)", "1 nat per token", name="per token, not per byte"),
    Wrong("4.6", "too_high = 1e-6", r"\*above\* 3e-3", name="a learning rate that is too LOW"),
    Wrong("4.6", "too_high = 4e-3", "still ends", name="not high enough"),
    Wrong("4.7", """
cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, warmup_steps=warmup, seed=seed, eval_every=0, progress=False)
return Trainer(model, tokens, None, cfg, device="cpu").fit().loss
""", "Trainer", name="minillm's Trainer"),
    Wrong("4.7", _loop(clip="pass"), "leave minillm.train's|trained weight", name="no clipping"),
    Wrong("4.7", _loop(zero="pass"), "leave minillm.train's|trained weight", name="never zeroes the gradients"),
    Wrong("4.7", _loop(all_decay=True), "leave minillm.train's|trained weight", name="decays every parameter"),
    Wrong("4.7", _loop(lr="lr"), "leave minillm.train's|trained weight", name="no schedule"),
    Wrong("4.8", """
def val_bits_per_byte(tok, steps=60):
    train, val = encode(data.train, tok), encode(data.val, tok)
    config = GPTConfig(**{**small.to_dict(), "vocab_size": tok.vocab_size})
    _, m = short_run(config, train, val, lr=1e-2, steps=steps, warmup=8)
    return 1.0, m

char_tok = CharTokenizer().train(data.train)
char_bpb, char_model = val_bits_per_byte(char_tok)
bpe_bpb, bpe_model = val_bits_per_byte(tokenizer)
""", "reaches", name="two numbers in range, not measured"),
]


@pytest.mark.parametrize("wrong", WRONG_CH2, ids=ids(WRONG_CH2))
def test_chapter_2_checks_reject(wrong):
    run_wrong(CH2, wrong)


@pytest.mark.parametrize("wrong", WRONG_CH3, ids=ids(WRONG_CH3))
def test_chapter_3_checks_reject(wrong):
    run_wrong(CH3, wrong)


@pytest.mark.parametrize("wrong", WRONG_CH4, ids=ids(WRONG_CH4))
def test_chapter_4_checks_reject(wrong):
    # the setup skips the slow mini project (4.8) for the exercises before it
    run_wrong(CH4, wrong, skip=("4.8",) if wrong.exercise != "4.8" else ())


def test_enough_wrong_answers():
    counts = count_wrong(WRONG_CH2 + WRONG_CH3 + WRONG_CH4)
    assert sum(counts.values()) >= 30 and all(counts[ch] >= 10 for ch in "234"), counts
