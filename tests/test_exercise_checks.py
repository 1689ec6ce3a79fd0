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

WRONG_CH1 = [
    # 1.1 count_pairs and merge: one cell, two regions
    Wrong("1.1", ["return pair_counts(ids)", None], r"calls minillm\.tokenizer\.pair_counts, the library's own",
          name="the library's pair_counts"),
    Wrong("1.1", [None, "return merge_pair(ids, pair, new_id)"], r"calls minillm\.tokenizer\.merge_pair, the library's own",
          name="the library's merge_pair"),
    Wrong("1.1", ["return {}", None], r"count_pairs\(\[1, 2, 1, 2\]\)", name="empty counts"),
    Wrong("1.1", ["return {p: 1 for p in zip(ids, ids[1:])}", None], r"count_pairs\(\[1, 2, 1, 2\]\)",
          name="each pair counted once"),
    Wrong("1.1", [None, "return list(ids)"], r"merge\(\[5, 5, 5\]", name="merge does nothing"),
    Wrong("1.1", [None, """
        out, i = [], len(ids) - 1
        while i >= 0:
            if i >= 1 and ids[i - 1] == pair[0] and ids[i] == pair[1]:
                out.append(new_id)
                i -= 2
            else:
                out.append(ids[i])
                i -= 1
        return out[::-1]
        """], r"overlaps go left", name="overlaps go right"),
    Wrong("1.1", [None, """
        out, i = [], 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) == pair:
                out.append(new_id)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        return out
        """], r"merge\(\[5, 5, 5\]", name="drops the last id"),
    Wrong("1.1", [None, """
        i = 0
        while i < len(ids) - 1:
            if ids[i] == pair[0] and ids[i + 1] == pair[1]:
                ids[i:i + 2] = [new_id]
            i += 1
        return ids
        """], r"leave its input unchanged", name="merges in place"),
    # 1.2 encode with a merge list
    Wrong("1.2", "return teacher.encode(text)", r"BasicBPE\.encode, the library's own", name="the teacher's encode"),
    Wrong("1.2", """
        ids = list(text.encode("utf-8"))
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: teacher.merges.get(p, float("inf")))
            if pair not in teacher.merges:
                break
            ids = merge(ids, pair, teacher.merges[pair])
        return ids
        """, r"use the merges you are given", name="ignores its merges argument"),
    Wrong("1.2", """
        ids = list(text.encode("utf-8"))
        while len(ids) >= 2:
            counts = count_pairs(ids)
            known = [p for p in counts if p in merges]
            if not known:
                break
            pair = max(known, key=counts.get)
            ids = merge(ids, pair, merges[pair])
        return ids
        """, r"learned earliest", name="most frequent pair first"),
    Wrong("1.2", """
        ids = list(text.encode("utf-8"))
        while len(ids) >= 2:
            pair = max(zip(ids, ids[1:]), key=lambda p: merges.get(p, -1))
            if pair not in merges:
                break
            ids = merge(ids, pair, merges[pair])
        return ids
        """, r"learned earliest", name="latest merge first"),
    Wrong("1.2", 'return list(text.encode("utf-8"))', r"tokens, the merges give", name="bytes only"),
    # 1.3 a split pattern with digits alone
    Wrong("1.3", "DIGIT_PATTERN = GPT4_SPLIT_PATTERN", r"each digit must be alone", name="GPT-4's pattern unchanged"),
    Wrong("1.3", 'DIGIT_PATTERN = r"(?s)."', r"is cut into pieces", name="one character per piece"),
    Wrong("1.3", "DIGIT_PATTERN = r\"\"\"'(?i:[sdmt]|ll|ve|re)| ?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]|\\s+(?!\\S)|\\s+\"\"\"",
          r"punctuation '\.\.\.' .* is cut", name="breaks ... into single characters"),
    Wrong("1.3", r'DIGIT_PATTERN = r"\S+|\s+"', r"each digit must be alone", name="split on spaces"),
    Wrong("1.3", r'DIGIT_PATTERN = r"\p{L}+|\p{N}|[^\s\p{L}\p{N}]+|\s+"', r"' world' should be one piece",
          name="words without their space"),
    Wrong("1.3", "DIGIT_PATTERN = r\"\"\"'(?i:[sdmt]|ll|ve|re)| ?[\\p{L}!.,:]+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+\"\"\"",
          r"mixes letters and punctuation", name="punctuation glued to words"),
    # 1.4 tokens per 1,000 characters and the curve: one cell, two regions
    Wrong("1.4", [None, "curve = [700, 450, 320, 280]"], r"curve\[0\] \(V=300\)", name="a made-up decreasing curve"),
    Wrong("1.4", [None, """
        for V in sizes:
            curve.append(tokens_per_1000(BPETokenizer().train(tw.train, V), tw.train))
        """], r"training text", name="measured on the training text"),
    Wrong("1.4", [None, """
        for V in sizes:
            curve.append(tokens_per_1000(BPETokenizer().train(tw.train, V), py.val))
        """], r"curve\[0\]", name="measured on the other corpus"),
    Wrong("1.4", [None, """
        for V in sizes:
            curve.append(tokens_per_1000(BPETokenizer().train(tw.train[:20_000], V), tw.val))
        """], r"curve\[", name="trained on a slice"),
    Wrong("1.4", [None, """
        for V in reversed(sizes):
            curve.append(tokens_per_1000(BPETokenizer().train(tw.train, V), tw.val))
        """], r"more merges should give fewer tokens", name="sizes in the wrong order"),
    Wrong("1.4", ["return len(tokenizer.encode(text)) / len(text)", None], r"tokens_per_1000 on", name="per character"),
    Wrong("1.4", ['return 1000 * len(tokenizer.encode(text)) / len(text.encode("utf-8"))', None],
          r"tokens_per_1000 on .* expected", name="per byte, not per character"),
    Wrong("1.4", ["return 300.0", None], r"tokens_per_1000 on", name="a constant"),
    # 1.5 predict, then run
    Wrong("1.5", "my_prediction = None", r"write your prediction", name="no prediction"),
    Wrong("1.5", 'my_prediction = "500"', r"write your prediction", name="a string"),
    Wrong("1.5", "my_prediction = 200", r"no more than the", name="fewer tokens than in-domain"),
    # 1.6 chat format
    Wrong("1.6", 'return "<|system|> Be brief.<|end|><|user|> Where was Garia born?<|end|><|assistant|>"',
          r"format_chat\(\[\('user', 'hi'\)\]", name="the expected string, hard-coded"),
    Wrong("1.6", """
        tags = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}
        for role, _ in messages:
            if role not in tags:
                raise ValueError(f"unknown role {role!r}")
        return "".join(f"{tags[r]} {t}{END}" for r, t in messages) + ASSISTANT
        """, r"add_generation_prompt=False", name="ignores add_generation_prompt"),
    Wrong("1.6", """
        tags = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}
        for role, _ in messages:
            if role not in tags:
                raise ValueError(f"unknown role {role!r}")
        out = "".join(f"{tags[r]}{t}{END}" for r, t in messages)
        return out + ASSISTANT if add_generation_prompt else out
        """, r"format_chat gave", name="no space after the role tag"),
    Wrong("1.6", """
        tags = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}
        out = "".join(f"{tags.get(r, '')} {t}{END}" for r, t in messages)
        return out + ASSISTANT if add_generation_prompt else out
        """, r"unknown role", name="unknown roles accepted"),
    Wrong("1.6", """
        tags = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}
        out = "".join(f"{tags[r]} {t}{END}" for r, t in messages)
        return out + ASSISTANT if add_generation_prompt else out
        """, r"should raise ValueError, got KeyError", name="KeyError for an unknown role"),
    Wrong("1.6", """
        tags = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}
        for role, _ in messages:
            if role not in tags:
                raise ValueError(f"unknown role {role!r}")
        out = END.join(f"{tags[r]} {t}" for r, t in messages)
        return out + ASSISTANT if add_generation_prompt else out
        """, r"format_chat gave", name="<|end|> only between messages"),
    # 1.7 one tokenizer for two domains
    Wrong("1.7", "two_domains = BPETokenizer().train(tw.train, 4096)", r"on Python docs your tokenizer needs",
          name="TinyWorld only"),
    Wrong("1.7", "two_domains = BPETokenizer().train([tw.val, py.val], 4096)", r"validation texts but nowhere in the training",
          name="trained on the validation texts"),
    Wrong("1.7", "two_domains = BPETokenizer().train([tw.train, py.train], 8192)", r"the limit is 4,096",
          name="vocabulary too large"),
    Wrong("1.7", "two_domains = ByteTokenizer()", r"should be a BPETokenizer", name="not a BPE tokenizer"),
]

WRONG_CHA = [
    # A.1 Zipf's slope
    Wrong("A.1", "return -1.0", r"zipf_text|slope on a text", name="the textbook constant"),
    Wrong("A.1", """
        words = re.findall(r"[A-Za-z]+|\\d+", text)
        counts = np.array(sorted(Counter(words).values(), reverse=True), dtype=float)[:top]
        return float(np.polyfit(np.log(np.arange(1, len(counts) + 1)), np.log(counts), 1)[0])
        """, r"top=\d+\) on a mixed text", name="not lower-cased"),
    Wrong("A.1", """
        words = [w.lower() for w in re.findall(r"[A-Za-z]+|\\d+", text)]
        counts = np.array(sorted(Counter(words).values(), reverse=True), dtype=float)[:1000]
        return float(np.polyfit(np.log(np.arange(1, len(counts) + 1)), np.log(counts), 1)[0])
        """, r"top=5\) on a mixed text", name="ignores top"),
    Wrong("A.1", """
        words = [w.lower() for w in re.findall(r"[A-Za-z]+|\\d+", text)]
        counts = np.array(sorted(Counter(words).values(), reverse=True), dtype=float)[:top]
        return float(np.polyfit(np.log(np.arange(len(counts))+ 1e-9), np.log(counts), 1)[0])
        """, r"slope on a text", name="ranks start at 0"),
    Wrong("A.1", """
        words = [w.lower() for w in re.findall(r"[A-Za-z]+|\\d+", text)]
        counts = np.array(sorted(Counter(words).values(), reverse=True), dtype=float)[:top]
        return float(np.polyfit(np.arange(1, len(counts) + 1), counts, 1)[0])
        """, r"should be negative|slope on a text", name="no logarithms"),
    Wrong("A.1", """
        words = [w.lower() for w in re.findall(r"[A-Za-z]+", text)]
        counts = np.array(sorted(Counter(words).values(), reverse=True), dtype=float)[:top]
        return float(np.polyfit(np.log(np.arange(1, len(counts) + 1)), np.log(counts), 1)[0])
        """, r"mixed text", name="digits not counted"),
    # A.2 siblings
    Wrong("A.2", """
        if person.mother is None:
            return []
        return sorted(world.people[c].name for c in world.people[person.mother].children if c != person.id)
        """, r"half-siblings are not siblings", name="half-siblings through the mother"),
    Wrong("A.2", """
        if person.mother is None:
            return []
        return sorted(world.people[c].name for c in world.people[person.father].children)
        """, r"own sibling", name="includes the person"),
    Wrong("A.2", """
        if person.mother is None:
            return []
        return [world.people[c].name for c in world.people[person.father].children
                if c != person.id and world.people[c].mother == person.mother][::-1]
        """, r"the tables say", name="not sorted"),
    Wrong("A.2", "return []", r"the tables say", name="always empty"),
    Wrong("A.2", """
        if person.mother is None:
            return []
        w = globals()["world"]
        return sorted(w.people[c].name for c in w.people[person.father].children
                      if c != person.id and w.people[c].mother == person.mother)
        """, r"share both parents|World\(seed=1\)", name="the global world"),
    # A.3 leak detector
    Wrong("A.3", "return sorted({p.name for p in people if p.name in text})", r"different word, not a leak",
          name="substring search without word boundaries"),
    Wrong("A.3", "return sorted(p.name for p in people)", r"no held-out names", name="reports everyone"),
    Wrong("A.3", """
        pattern = re.compile(r"\\b(?:" + "|".join(re.escape(p.name) for p in people) + r")\\b")
        return pattern.findall(text)
        """, r"listed once, and the list sorted", name="duplicates, in text order"),
    Wrong("A.3", """
        pattern = re.compile(r"\\b(?:" + "|".join(re.escape(p.first) for p in people) + r")\\b")
        found = set(pattern.findall(text))
        return sorted(p.name for p in people if p.first in found)
        """, r"no held-out names|first name alone", name="first names only"),
    Wrong("A.3", "return []", r"should report exactly that name", name="always empty"),
    # A.4 mixtures and predictions (cell 0: predictions, cell 1: mixtures)
    Wrong("A.4", 'more_distinct_words = "stories"\ncompresses_better = "stories"', r"measurement says biographies",
          name="predicts stories have more words"),
    Wrong("A.4", 'more_distinct_words = "biographies"\ncompresses_better = "biographies"', r"compress better",
          name="predicts biographies compress better"),
    Wrong("A.4", 'more_distinct_words = "yes"\ncompresses_better = "no"', r'write "stories" or "biographies"',
          name="not one of the two answers"),
    Wrong("A.4", 'stories_only = {"biography": 1.0}\nbios_only = {"story": 1.0}', r"stories only", cell=1,
          name="mixtures swapped"),
    Wrong("A.4", 'stories_only = {"story": 0.5, "biography": 0.5}\nbios_only = {"biography": 1.0}', r"stories only",
          cell=1, name="a mixed corpus"),
    # A.5 town guide
    Wrong("A.5", "return town.name", r"in .* on the river", name="only the town's name"),
    Wrong("A.5", """
        other = world.towns[(town.id + 1) % len(world.towns)]
        return f"{town.name} is a town in {other.country} on the river {other.river}."
        """, r"should say that it is in|not its country or river", name="another town's country and river"),
    Wrong("A.5", """
        p = rng.choice(world.train_people)
        return f"{town.name} is a town in {town.country} on the river {town.river}. {p.name} was born here."
        """, r"but was born in", name="names a random person"),
    Wrong("A.5", """
        born = [p for p in world.people if world.towns[p.birth_city].name == town.name]
        names = ", ".join(p.name for p in born)
        return f"{town.name} is a town in {town.country} on the river {town.river}. Born here: {names}."
        """, r"held-out person", name="includes held-out people"),
    Wrong("A.5", """
        return f"{town.name} is a town in {town.country} on the river {town.river}."
        """, r"name at least one", name="names nobody"),
    Wrong("A.5", """
        born = [p for p in world.train_people if p.birth_city == town.id]
        return f"{town.name} is in {town.country} on the river {town.river}.\\n\\n" + ", ".join(p.name for p in born[:2])
        """, r"blank line", name="a blank line inside"),
    Wrong("A.5", """
        w = globals()["world"]
        born = [p for p in w.train_people if p.birth_city == town.id][:2]
        t = w.towns[town.id]
        return f"{t.name} is a town in {t.country} on the river {t.river}. " + ", ".join(p.name for p in born)
        """, r"should name the town|should say", name="the global world"),
]

WRONG = WRONG_CH0 + WRONG_CH1 + WRONG_CHA


@pytest.mark.parametrize("wrong", WRONG_CH0, ids=ids(WRONG_CH0))
def test_chapter0_checks_reject_wrong_answers(wrong):
    run_wrong(CH0, wrong)


@pytest.mark.parametrize("exercise", ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6"])
def test_chapter0_solutions_pass_their_checks(exercise):
    run_right(CH0, exercise)


@pytest.mark.parametrize("wrong", WRONG_CH1, ids=ids(WRONG_CH1))
def test_chapter1_checks_reject_wrong_answers(wrong):
    run_wrong(CH1, wrong)


@pytest.mark.parametrize("exercise", ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7"])
def test_chapter1_solutions_pass_their_checks(exercise):
    run_right(CH1, exercise)


@pytest.mark.parametrize("wrong", WRONG_CHA, ids=ids(WRONG_CHA))
def test_appendix_a_checks_reject_wrong_answers(wrong):
    run_wrong(CHA, wrong)


@pytest.mark.parametrize("exercise", ["A.1", "A.2", "A.3", "A.4", "A.5"])
def test_appendix_a_solutions_pass_their_checks(exercise):
    run_right(CHA, exercise)


def test_enough_wrong_answers():
    counts = count_wrong(WRONG)
    assert sum(counts.values()) >= 30, counts
    assert all(counts[ch] >= 10 for ch in ("0", "1", "A")), counts
