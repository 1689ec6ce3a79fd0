"""Chapter 9's exercise checks (minillm.course.checks_evaluation) accept the solutions and reject the
wrong answers a careless or cheating learner would try, each with a message that says what is wrong.
The wrong answers run through the solutions notebook itself (tests/exercise_harness.py)."""

import pytest
from exercise_harness import Wrong, count_wrong, ids, run_right, run_wrong

CH9 = "solutions/09-evaluation.ipynb"
SKIP = ("9.5",)  # the mini-project scores three models; no other exercise needs it

WRONG = [
    # 9.1 the Elo update
    Wrong("9.1", "return r_a + k * outcome, r_b - k * outcome", r"player a|new rating", name="no expected score"),
    Wrong("9.1", """
        e = 1 / (1 + 10 ** ((r_b - r_a) / 400))
        return r_a + k * (outcome - e), r_b""", r"add up", name="only a moves"),
    Wrong("9.1", """
        e = 1 / (1 + 10 ** ((r_a - r_b) / 400))
        return r_a + k * (outcome - e), r_b - k * (outcome - e)""", r"wrong way round", name="ratings swapped"),
    Wrong("9.1", """
        e = 1 / (1 + 10 ** ((r_b - r_a) / 400))
        return r_a + 32 * (outcome - e), r_b - 32 * (outcome - e)""", r"does not change with k", name="k ignored"),
    Wrong("9.1", """
        e = 1 / (1 + math.exp((r_b - r_a) / 400))
        return r_a + k * (outcome - e), r_b - k * (outcome - e)""", r"player a", name="base e, not 10"),
    Wrong("9.1", "return 1000.0, 1000.0", r"add up|player a", name="constant"),
    Wrong("9.1", """
        from minillm.ratings import elo_ratings
        r = elo_ratings([("a", "b", outcome)], k=k, initial=0)
        return r_a + r["a"], r_b + r["b"]""", r"calls minillm.ratings.elo_ratings", name="calls minillm"),
    # 9.2 the Bradley-Terry log-likelihood
    Wrong("9.2", """
        total = 0.0
        for a, b, y in matches:
            d = theta[a] - theta[b]
            total += y * math.log1p(math.exp(-d)) + (1 - y) * math.log1p(math.exp(d))
        return total""", r"never positive", name="the loss, not the log-likelihood"),
    Wrong("9.2", """
        total = 0.0
        for a, b, y in matches:
            d = theta[a] - theta[b]
            total += y * -math.log1p(math.exp(-d)) + (1 - y) * -math.log1p(math.exp(d))
        return total / len(matches)""", r"mean over matches", name="mean"),
    Wrong("9.2", """
        total = 0.0
        for a, b, y in matches:
            if y == 0.5:
                continue
            d = theta[a] - theta[b]
            total += y * -math.log1p(math.exp(-d)) + (1 - y) * -math.log1p(math.exp(d))
        return total""", r"leaves the ties out", name="ties skipped"),
    Wrong("9.2", """
        total = 0.0
        for a, b, y in matches:
            d = theta[b] - theta[a]
            total += y * -math.log1p(math.exp(-d)) + (1 - y) * -math.log1p(math.exp(d))
        return total""", r"wrong way round", name="outcome reversed"),
    Wrong("9.2", "return -1.0", r"Bradley-Terry log-likelihood is off", name="constant"),
    # 9.3 n-gram overlap
    Wrong("9.3", """
        grams = lambda t: {t[i: i + n] for i in range(len(t) - n + 1)}
        mine = grams(item)
        return sum(g in grams(corpus) for g in mine) / len(mine) if mine else 0.0""",
          r"overlap of", name="character n-grams"),
    Wrong("9.3", """
        def grams(text):
            words = text.split()
            return {tuple(words[i: i + n]) for i in range(len(words) - n + 1)}
        mine = grams(item)
        return sum(g in grams(corpus) for g in mine) / len(mine) if mine else 0.0""",
          r"lower-case|overlap of", name="no normalisation"),
    Wrong("9.3", """
        def grams(text):
            words = re.findall(r"[a-z0-9]+", text.lower())
            return [tuple(words[i: i + n]) for i in range(len(words) - n + 1)]
        mine, seen = grams(item), set(grams(corpus))
        return sum(g in seen for g in mine) / len(mine) if mine else 1.0""",
          r"no n-grams|overlap of", name="short item scores 1"),
    Wrong("9.3", """
        def grams(text):
            words = re.findall(r"[a-z0-9]+", text.lower())
            return {tuple(words[i: i + 3]) for i in range(len(words) - 2)}
        mine = grams(item)
        return sum(g in grams(corpus) for g in mine) / len(mine) if mine else 0.0""",
          r"overlap of", name="n ignored"),
    Wrong("9.3", "return float(item in corpus)", r"overlap of", name="whole item only"),
    Wrong("9.3", "return ev.ngram_overlap([item], corpus, n)[0]", r"calls minillm.suite", name="calls minillm"),
    # 9.4 a bootstrap interval
    Wrong("9.4", """
        m = sum(hits) / len(hits)
        return m, m""", r"zero width", name="no resampling"),
    Wrong("9.4", """
        rng = random.Random(seed)
        means = sorted(sum(rng.sample(hits, len(hits))) / len(hits) for _ in range(n_boot))
        return means[0], means[-1]""", r"zero width", name="without replacement"),
    Wrong("9.4", """
        rng = random.Random(seed)
        means = sorted(sum(rng.choices(hits, k=len(hits))) for _ in range(n_boot))
        return means[int(alpha / 2 * n_boot)], means[int((1 - alpha / 2) * n_boot) - 1]""",
          r"outside", name="sum, not mean"),
    Wrong("9.4", """
        rng = random.Random(seed)
        means = sorted(sum(rng.choices(hits, k=len(hits))) / len(hits) for _ in range(n_boot))
        return means[int(0.025 * n_boot)], means[int(0.975 * n_boot) - 1]""",
          r"does not narrow", name="alpha ignored"),
    Wrong("9.4", """
        rng = random.Random()
        means = sorted(sum(rng.choices(hits, k=len(hits))) / len(hits) for _ in range(n_boot))
        return means[int(alpha / 2 * n_boot)], means[int((1 - alpha / 2) * n_boot) - 1]""",
          r"same seed", name="seed ignored"),
    Wrong("9.4", """
        rng = random.Random(seed)
        means = sorted(sum(rng.choices(hits, k=100)) / 100 for _ in range(n_boot))
        return means[int(alpha / 2 * n_boot)], means[int((1 - alpha / 2) * n_boot) - 1]""",
          r"does not shrink", name="fixed sample size"),
    Wrong("9.4", "return 0.2, 0.4", r"wide|does not narrow", name="constant"),
    Wrong("9.4", """
        from minillm.ratings import bootstrap_ci
        return bootstrap_ci([(0, 1, float(h)) for h in hits], lambda v: sum(x for *_, x in v) / len(v),
                            n=n_boot, alpha=alpha, seed=seed)""", r"calls minillm.ratings.bootstrap_ci",
          name="calls minillm"),
]


@pytest.mark.parametrize("wrong", WRONG, ids=ids(WRONG))
def test_chapter9_checks_reject_wrong_answers(wrong):
    run_wrong(CH9, wrong, skip=SKIP)


@pytest.mark.parametrize("exercise", ["9.1", "9.2", "9.3", "9.4"])
def test_chapter9_solutions_pass_their_checks(exercise):
    run_right(CH9, exercise, skip=SKIP)


def test_mini_project_check_rejects_a_thin_task():
    from minillm import suite as ev
    from minillm.course.checks_evaluation import check_own_task

    items = [ev.Item(f"p{i}", "a", ("a", "b")) for i in range(12)]
    check_own_task(ev.Task("t", "choice", items, 0.5), {"x": 0.5, "y": 1.0})
    with pytest.raises(AssertionError, match="at least 10"):
        check_own_task(ev.Task("t", "choice", items[:3], 0.5), {"x": 0.5, "y": 1.0})
    with pytest.raises(AssertionError, match="at least two models"):
        check_own_task(ev.Task("t", "choice", items, 0.5), {"x": 0.5})
    with pytest.raises(AssertionError, match="should be a minillm.suite.Task"):
        check_own_task("my task", {"x": 0.5, "y": 1.0})
    with pytest.raises(AssertionError, match="should be a number"):
        check_own_task(ev.Task("t", "choice", items, 0.5), {"x": "good", "y": 1.0})


def test_enough_wrong_answers():
    counts = count_wrong(WRONG)
    assert counts["9"] >= 20, counts
