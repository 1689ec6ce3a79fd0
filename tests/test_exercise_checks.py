"""Every exercise check of chapters 0, 1 and appendix A rejects the wrong answers a learner would try.

Each wrong answer replaces the solution region of one exercise (see ``tests/exercise_harness.py``);
the exercise's check cell must fail with a message that says what is wrong. The wrong answers are
the ones a careless or cheating learner would write: constants, ignored arguments, the library's
own function passed off as the answer, training data where validation is asked, a number in range
but wrong, and the classic slips of each exercise. Chapters 2-4 have their own file
(``tests/test_exercise_checks_ch234.py``).
"""

from __future__ import annotations

import pytest
from exercise_harness import Wrong, count_wrong, ids, run_right, run_wrong

CH0 = "solutions/00-what-is-an-llm.ipynb"
CH1 = "solutions/01-tokenization.ipynb"
CHA = "solutions/A1-tinyworld.ipynb"

WRONG_CH0 = [
    # 0.1 count_pairs
    Wrong("0.1", "return {}", r"count_pairs\('aaa'\) should be"),
    Wrong("0.1", "return dict(Counter(zip(text[1:], text)))", r"count_pairs\('abab'\)", name="pairs the wrong way round"),
    Wrong("0.1", "return dict(Counter(zip(text, text[2:])))", r"count_pairs\('aaa'\)", name="pairs two apart"),
    Wrong("0.1", "return {p: 1 for p in zip(text, text[1:])}", r"count_pairs\('aaa'\)", name="each pair counted once"),
    Wrong("0.1", "sample = data.train[:50_000]\nreturn dict(Counter(zip(sample, sample[1:])))", r"count_pairs\(''\)",
          name="ignores its argument"),
    Wrong("0.1", "return dict(Counter(zip(text[:2000], text[1:2000])))", r"your counts add up to", name="first 2000 only"),
    Wrong("0.1", """
        m = BigramModel.fit(text, smoothing=0)
        return {(a, b): int(m.counts[m.stoi[a], m.stoi[b]]) for a in m.vocab for b in m.vocab
                if m.counts[m.stoi[a], m.stoi[b]] > 0}
        """, r"calls minillm\.bigram\.BigramModel\.fit, the library's own", name="the library's BigramModel.fit"),
    # 0.2 next_char_probs
    Wrong("0.2", """
        row = [counts.get((a, b), 0) + 1.0 for b in vocab]
        return [x / sum(row) for x in row]
        """, r"smoothing=0\.5", name="ignores smoothing"),
    Wrong("0.2", "return model.probs[model.stoi[a]].tolist()", r"vocabulary of 3 characters", name="the global model's row"),
    Wrong("0.2", "return [1 / len(vocab)] * len(vocab)", r"smoothing=1\.0\).*is off", name="uniform"),
    Wrong("0.2", "return [counts.get((a, b), 0) + smoothing for b in vocab]", r"is off", name="not normalised"),
    Wrong("0.2", """
        total = sum(counts.get((a, b), 0) for b in vocab) + smoothing * len(vocab)
        return [counts.get((a, b), 0) / total for b in vocab]
        """, r"is off", name="smoothing only in the total"),
    Wrong("0.2", """
        row = [counts.get((a, b), 0) + smoothing for b in vocab]
        return [x / (sum(counts.values()) + smoothing * len(vocab)) for x in row]
        """, r"is off", name="divides by all counts"),
    # 0.3 bits_per_char
    Wrong("0.3", """
        return sum(-math.log(float(model.probs[model.stoi[a], model.stoi[b]])) for a, b in zip(text, text[1:])) / (len(text) - 1)
        """, r"expected", name="natural log"),
    Wrong("0.3", """
        return sum(-math.log2(float(model.probs[model.stoi[a], model.stoi[b]])) for a, b in zip(text, text[1:]))
        """, r"expected", name="sum, not mean"),
    Wrong("0.3", """
        return sum(-math.log2(float(model.probs[model.stoi[a], model.stoi[b]])) for a, b in zip(text, text[1:])) / len(text)
        """, r"expected", name="divides by len(text)"),
    Wrong("0.3", """
        return sum(-math.log2(float(model.probs[model.stoi[b], model.stoi[a]])) for a, b in zip(text, text[1:])) / (len(text) - 1)
        """, r"expected", name="table read the wrong way"),
    Wrong("0.3", """
        s = data.val[:5000]
        return sum(-math.log2(float(model.probs[model.stoi[a], model.stoi[b]])) for a, b in zip(s, s[1:])) / (len(s) - 1)
        """, r"expected", name="ignores its text"),
    Wrong("0.3", "return model.bits_per_char(text)", r"BigramModel\.bits_per_char, the library's own",
          name="the library's bits_per_char"),
    Wrong("0.3", "return 3.58", r"expected", name="the constant from the chapter"),
    Wrong("0.3", """
        return torch.tensor([-math.log2(float(model.probs[model.stoi[a], model.stoi[b]])) for a, b in zip(text, text[1:])]).mean()
        """, r"return a float", name="a tensor, not a float"),
    # 0.4 temperature: the prediction cell (cell 0) and the function (cell 1)
    Wrong("0.4", "my_prediction = None", r"write your prediction", name="no prediction"),
    Wrong("0.4", "my_prediction = 0.05", r"lower than", name="predicts the wrong direction"),
    Wrong("0.4", "my_prediction = 1.5", r"between 0 and 1", name="not a probability"),
    Wrong("0.4", "return probs", r"apply_temperature\(p, 0\.1\)", cell=1, name="ignores T"),
    Wrong("0.4", "return torch.softmax(probs.log() * T, dim=-1)", r"apply_temperature\(p, 0\.1\) is off", cell=1,
          name="multiplies by T"),
    Wrong("0.4", "return torch.softmax(probs / T, dim=-1)", r"is off", cell=1, name="softmax of probabilities"),
    Wrong("0.4", "return probs ** (1 / T)", r"do not sum to 1", cell=1, name="not renormalised"),
    # 0.5 one gradient step
    Wrong("0.5", """
        grad = (C.sum(dim=1, keepdim=True) * torch.softmax(W, dim=1) - C) / C.sum()
        return W + lr * grad
        """, r"W after one step", name="steps uphill"),
    Wrong("0.5", "return W - lr * (C.sum(dim=1, keepdim=True) * torch.softmax(W, dim=1) - C)", r"W after one step",
          name="forgets to divide by N"),
    Wrong("0.5", "return W - lr * (torch.softmax(W, dim=1) - C) / C.sum()", r"W after one step", name="forgets n_a"),
    Wrong("0.5", "return W - lr * (C.sum(dim=0, keepdim=True) * torch.softmax(W, dim=0) - C) / C.sum()",
          r"W after one step", name="softmax over the wrong axis"),
    Wrong("0.5", "return W", r"W after one step", name="no step"),
    Wrong("0.5", """
        W = W.detach().clone().requires_grad_(True)
        loss = -(C * F.log_softmax(W, dim=1)).sum() / C.sum()
        loss.backward()
        return (W - lr * W.grad).detach()
        """, r"calls torch\..*backward", name="autograd instead of the formula"),
    # 0.6 trigram mini project
    Wrong("0.6", """
        def trigram_bits(train, text, k=0.1):
            return BigramModel.fit(train).bits_per_char(text)
        """, r"trigram_bits", name="the bigram score"),
    Wrong("0.6", """
        def trigram_bits(train, text, k=0.1):
            vocab = set(train)
            ctx = Counter(train[i - 2:i] for i in range(2, len(train)))
            tri = Counter(train[i - 2:i + 1] for i in range(2, len(train)))
            return sum(-math.log2((tri[text[i - 2:i + 1]] + k) / (ctx[text[i - 2:i]] + k * len(vocab)))
                       for i in range(2, len(text))) / (len(text) - 2)
        """, r"trigram_bits", name="vocabulary of train only"),
    Wrong("0.6", """
        def trigram_bits(train, text, k=0.1):
            vocab = set(train) | set(text)
            ctx = Counter(train[i - 2:i] for i in range(2, len(train)))
            tri = Counter(train[i - 2:i + 1] for i in range(2, len(train)))
            return sum(-math.log2((tri[text[i - 2:i + 1]] + 0.1) / (ctx[text[i - 2:i]] + 0.1 * len(vocab)))
                       for i in range(2, len(text))) / (len(text) - 2)
        """, r"k=1\.0", name="ignores k"),
    Wrong("0.6", """
        def trigram_bits(train, text, k=0.1):
            return 2.5
        """, r"trigram_bits", name="a constant in range"),
]

WRONG = WRONG_CH0


@pytest.mark.parametrize("wrong", WRONG_CH0, ids=ids(WRONG_CH0))
def test_chapter0_checks_reject_wrong_answers(wrong):
    run_wrong(CH0, wrong)


@pytest.mark.parametrize("exercise", ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6"])
def test_chapter0_solutions_pass_their_checks(exercise):
    run_right(CH0, exercise)


def test_enough_wrong_answers():
    counts = count_wrong(WRONG)
    assert sum(counts.values()) >= 30, counts
