"""Fine-tuning (minillm.finetune): chat template and loss mask, padded batches through the
Trainer, the classifier on the last real token, freezing, class weights, bad inputs."""

import pytest
import torch

from minillm.finetune import (
    IGNORE,
    Classifier,
    ExampleBatches,
    class_weights,
    confusion_matrix,
    encode_chat,
    format_chat,
    freeze,
    qa_conversations,
    review_dataset,
    text_examples,
)
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import ASSISTANT, END, USER, BPETokenizer
from minillm.train import TrainConfig, Trainer
from minillm.world import World


@pytest.fixture(scope="module")
def world():
    return World(0)


@pytest.fixture(scope="module")
def tok(world):
    text = " ".join(world.biography(p, __import__("random").Random(p.id)) for p in world.people[:200])
    return BPETokenizer().train(text, 300)


def tiny_gpt(vocab, seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig.preset("tiny", vocab_size=vocab, block_size=128, n_layer=2, n_head=2,
                                n_embd=32, pos="rope"))


def test_chat_template_and_loss_mask(tok):
    msgs = [{"role": "user", "content": "Who?"}, {"role": "assistant", "content": "Me."}]
    assert format_chat(msgs) == f"{USER} Who?{END}{ASSISTANT} Me.{END}"
    assert format_chat(msgs[:1], add_generation_prompt=True) == f"{USER} Who?{END}{ASSISTANT}"
    ids, targets = encode_chat(tok, msgs)
    full = tok.encode(format_chat(msgs))
    assert ids == full[:-1] and len(targets) == len(ids)
    learned = [t for t in targets if t != IGNORE]
    # exactly the assistant's reply and its closing <|end|> are learned
    assert learned == tok.encode(" Me." + END)
    assert targets[: len(tok.encode(f"{USER} Who?{END}{ASSISTANT}")) - 1] == [IGNORE] * (
        len(tok.encode(f"{USER} Who?{END}{ASSISTANT}")) - 1)
    _, all_targets = encode_chat(tok, msgs, mask_prompt=False)
    assert all_targets == full[1:]
    with pytest.raises(ValueError, match=r"messages\[0\] must be a dict with role"):
        format_chat([{"role": "robot", "content": "x"}])
    with pytest.raises(ValueError, match="non-empty list"):
        encode_chat(tok, [])


def test_masked_loss_equals_loss_on_assistant_tokens_only(tok, world):
    """The loss with the mask is the mean -log p over the assistant's tokens only."""
    model = tiny_gpt(tok.vocab_size).eval()
    msgs, _ = qa_conversations(world, world.train_people[:1], ["job"])[0]
    ids, targets = encode_chat(tok, msgs)
    x, y = torch.tensor([ids]), torch.tensor([targets])
    _, loss = model(x, y)
    logits, _ = model(x)
    logp = torch.log_softmax(logits[0], -1)
    keep = y[0] != IGNORE
    by_hand = -logp[keep].gather(1, y[0][keep][:, None]).mean()
    torch.testing.assert_close(loss, by_hand)
    _, unmasked = model(x, torch.tensor([encode_chat(tok, msgs, mask_prompt=False)[1]]))
    assert not torch.isclose(loss, unmasked)


def test_example_batches_pad_and_are_deterministic():
    ex = [([1, 2, 3], [2, 3, IGNORE]), ([4, 5], [5, IGNORE]), ([6], [IGNORE])]
    b = ExampleBatches(ex, batch_size=2, pad_id=0, seed=3)
    x, y, m = b.batch(0)
    assert x.shape == y.shape == m.shape and x.shape[0] == 2
    assert (y[~m] == IGNORE).all() and (x[~m] == 0).all()
    assert all(torch.equal(a, c) for a, c in zip(b.batch(5), b.batch(5)))
    seen = sorted(i for s in range(3) for i in b.indices(s)[:2].tolist()[:0]) or None
    assert seen is None
    epoch = sorted(b.indices(0).tolist() + b.indices(1).tolist()[:1])  # first 3 = one epoch
    assert epoch == [0, 1, 2]
    two_ranks = [b.batch(2, rank=r, world=2)[0] for r in range(2)]
    one = ExampleBatches(ex, batch_size=4, seed=3).batch(2)[0]
    assert sorted(map(tuple, (two_ranks[0][:, :1].tolist() + two_ranks[1][:, :1].tolist()))) == \
        sorted(map(tuple, one[:, :1].tolist()))
    with pytest.raises(ValueError, match="examples is empty"):
        ExampleBatches([], 2)
    with pytest.raises(ValueError, match="2 ids but 1 targets"):
        ExampleBatches([([1, 2], [3])], 2)
    with pytest.raises(ValueError, match="more than max_len=2"):
        ExampleBatches([([1, 2, 3], [1, 2, 3])], 2, max_len=2)


def test_sft_through_the_trainer_learns_and_resumes(tok, world, tmp_path):
    convs = qa_conversations(world, world.train_people[:8], ["job", "color"])
    ex = [encode_chat(tok, m) for m, _ in convs]
    data = ExampleBatches(ex, batch_size=4, pad_id=0, seed=0)
    model = tiny_gpt(tok.vocab_size)
    cfg = TrainConfig(steps=30, lr=3e-3, warmup_steps=2, eval_every=0, progress=False,
                      out_dir=str(tmp_path / "run"), checkpoint_every=10)
    trainer = Trainer(model, data, data, cfg, device="cpu")
    start = trainer.evaluate()["train"]
    trainer.fit()
    assert trainer.evaluate()["train"] < start - 1.0
    # resume from step 30 to 40 equals one run of 40 steps
    a = tiny_gpt(tok.vocab_size)
    Trainer(a, data, None, TrainConfig(steps=40, lr=3e-3, warmup_steps=2, eval_every=0,
                                       progress=False), device="cpu").fit()
    b = tiny_gpt(tok.vocab_size)
    cfg2 = TrainConfig(steps=40, lr=3e-3, warmup_steps=2, eval_every=0, progress=False,
                       out_dir=str(tmp_path / "r2"), checkpoint_every=20)
    t = Trainer(b, data, None, TrainConfig(**{**cfg2.to_dict(), "steps": 40}), device="cpu")
    t.total_steps = 40
    for _ in range(20):
        t.train_step()
    t.save_checkpoint()
    c = tiny_gpt(tok.vocab_size, seed=9)
    Trainer(c, data, None, cfg2, device="cpu", resume=True).fit()
    for p, q in zip(a.parameters(), c.parameters()):
        torch.testing.assert_close(p, q)


def test_classifier_reads_the_last_real_token(tok):
    backbone = tiny_gpt(tok.vocab_size).eval()
    clf = Classifier(backbone, 2).eval()
    a = torch.tensor([tok.encode("Great! I loved it.")])
    padded = torch.cat([a, torch.zeros(1, 5, dtype=torch.long)], 1)
    mask = torch.zeros_like(padded, dtype=torch.bool)
    mask[:, : a.size(1)] = True
    torch.testing.assert_close(clf(padded, padding_mask=mask)[0], clf(a)[0], atol=1e-5, rtol=1e-5)
    hidden, _ = backbone(a, return_hidden=True)
    torch.testing.assert_close(clf.features(a), hidden[:, -1])
    with pytest.raises(ValueError, match="n_classes must be an int >= 2"):
        Classifier(backbone, 1)
    with pytest.raises(ValueError, match="class_weights must have 2 entries"):
        Classifier(backbone, 2, class_weights=[1.0, 2.0, 3.0])


def test_freeze_modes(tok):
    clf = Classifier(tiny_gpt(tok.vocab_size), 2)
    head = sum(p.numel() for p in clf.head.parameters())
    assert freeze(clf, "head") == head
    last = sum(p.numel() for p in clf.backbone.blocks[-1].parameters()) + sum(
        p.numel() for p in clf.backbone.norm_f.parameters())
    assert freeze(clf, "last1") == head + last
    assert freeze(clf, "all") == sum(p.numel() for p in clf.parameters())
    with pytest.raises(ValueError, match="train must be 'head'"):
        freeze(clf, "some")
    with pytest.raises(ValueError, match="has 2 blocks"):
        freeze(clf, "last5")


def test_class_weights_and_confusion_matrix():
    w = class_weights([1, 1, 1, 0], 2)
    torch.testing.assert_close(w, torch.tensor([2.0, 2 / 3]))
    assert (w * torch.tensor([1.0, 3.0])).allclose(torch.tensor([2.0, 2.0]))  # equal total weight
    m = confusion_matrix([1, 0, 1, 1], [1, 0, 0, 1], 2)
    assert m.tolist() == [[1, 1], [0, 2]]
    with pytest.raises(ValueError, match=r"classes \[0\] have no example"):
        class_weights([1, 1], 2)


def test_sentiment_classifier_learns(tok, world):
    texts, labels = review_dataset(world, 96, seed=0, positive=0.75)
    assert 0.6 < sum(labels) / len(labels) < 0.9
    ex = text_examples(tok, texts, labels, 128)
    data = ExampleBatches(ex[:64], batch_size=16, seed=0)
    test = ExampleBatches(ex[64:], batch_size=16, seed=0)
    clf = Classifier(tiny_gpt(tok.vocab_size), 2, class_weights=class_weights(labels[:64], 2))
    freeze(clf, "all")
    Trainer(clf, data, None, TrainConfig(steps=40, lr=3e-3, warmup_steps=2, eval_every=0,
                                         progress=False), device="cpu").fit()
    pred, true = clf.predict(test)
    assert (pred == true).float().mean() > 0.8
    with pytest.raises(ValueError, match="positive is a share"):
        review_dataset(world, 4, positive=1.0)
