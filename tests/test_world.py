"""Tests for minillm.world: the seeded TinyWorld, its documents and its splits (appendix A)."""

from __future__ import annotations

import random
import re

import pytest

from minillm.data import corpus
from minillm.world import COLORS, FOODS, JOBS, PETS, QA, World


@pytest.fixture(scope="module")
def world():
    return World(seed=0)


@pytest.fixture(scope="module")
def big():
    """The default-size corpus: every training person has a biography in its train split."""
    return corpus("tinyworld", size="default", seed=0)


def _names_regex(names):
    return re.compile(r"\b(?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b")


# ---- the world's tables ---------------------------------------------------------------------

def test_sizes_and_unique_names(world):
    assert len(world.people) >= 2000
    assert len(world.towns) >= 100
    assert len({p.name for p in world.people}) == len(world.people), "full names must be unique"
    assert len({t.name for t in world.towns}) == len(world.towns)
    assert all(t.country in world.countries and t.river in world.rivers for t in world.towns)
    # Names are syllable-made and plain ASCII letters.
    assert all(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", p.name) for p in world.people)


def test_families_are_consistent(world):
    n_with_parents = 0
    for p in world.people:
        for rel, pid in (("mother", p.mother), ("father", p.father)):
            if pid is None:
                continue
            parent = world.people[pid]
            assert parent.gender == ("female" if rel == "mother" else "male"), (p.name, rel)
            assert parent.birth_year + 18 <= p.birth_year, f"{parent.name} is too young to be {p.name}'s {rel}"
            assert p.id in parent.children, f"{p.name} is not listed under {rel} {parent.name}"
        if p.mother is not None:
            n_with_parents += 1
            assert p.father is not None and p.last == world.people[p.father].last
        for c in p.children:
            assert p.id in (world.people[c].mother, world.people[c].father)
    assert n_with_parents > len(world.people) // 2
    assert all(0 <= p.birth_city < len(world.towns) for p in world.people)
    assert all(p.job in JOBS and p.color in COLORS and p.food in FOODS for p in world.people)


def test_same_seed_same_world_other_seed_other_world(world):
    again = World(seed=0)
    assert [world.facts(p) for p in world.people] == [again.facts(p) for p in again.people]
    other = World(seed=1)
    assert [p.name for p in other.people] != [p.name for p in world.people]
    assert [t.name for t in other.towns] != [t.name for t in world.towns]


def test_lookup_and_bad_input(world):
    p = world.people[123]
    assert world.person(p.name) is p
    with pytest.raises(KeyError, match="no person named"):
        world.person("Nobody Atall")
    with pytest.raises(ValueError, match="seed"):
        World(seed=-1)
    with pytest.raises(ValueError, match="held_out"):
        World(seed=0, held_out=1.5)
    with pytest.raises(ValueError, match="relation"):
        world.qa(p, "shoe size")


# ---- documents --------------------------------------------------------------------------------

_REGEXES = {}


def _regexes(world):
    if id(world) not in _REGEXES:
        _REGEXES[id(world)] = (_names_regex([q.name for q in world.people]),
                               _names_regex([t.name for t in world.towns]))
    return _REGEXES[id(world)]


def _check_biography(world, p, text):
    """Every sentence states at least one fact, and every fact-like word in it is p's."""
    town = world.town(p)
    names, towns = _regexes(world)
    for sent in re.split(r"(?<=\.) ", text):
        checked = 0
        for year in re.findall(r"\b\d{4}\b", sent):
            assert year == str(p.birth_year), sent
            checked += 1
        for t in towns.findall(sent):
            assert t == town.name, sent
            checked += 1
        if re.search(r"\b(?:country|in|river)\b", sent):
            for c in world.countries:
                if re.search(rf"\b{c}\b", sent):
                    assert c == town.country, sent
            for r in world.rivers:
                if re.search(rf"\briver {r}\b", sent):
                    assert r == town.river, sent
        for word, value in [(w, p.job) for w in JOBS] + [(w, p.color) for w in COLORS] + [(w, p.food) for w in FOODS]:
            if re.search(rf"\b{word}\b", sent) and word not in (p.first.lower(),):
                assert word == value or value.startswith(word) or word in value, (word, value, sent)
                checked += 1
        for kind in PETS:
            if re.search(rf"\b{kind}\b", sent):
                assert p.pet is not None and kind == p.pet[0], sent
                assert p.pet[1] in sent, sent
                checked += 1
        if "no pets" in sent or "any pets" in sent:
            assert p.pet is None, sent
            checked += 1
        mentioned = [m for m in names.findall(sent) if m != p.name]
        for m in mentioned:
            q = world.person(m)
            if "mother" in sent or "father" in sent or "parents" in sent or "son of" in sent or "daughter of" in sent:
                assert q.id in (p.mother, p.father), sent
                if re.search(rf"mother is (called )?{m}", sent):
                    assert q.id == p.mother, sent
                if re.search(rf"father is (called )?{m}", sent):
                    assert q.id == p.father, sent
            else:
                assert "child" in sent and q.id in p.children, sent
            checked += 1
        assert checked, f"this biography sentence states no checkable fact: {sent!r}"


def test_biographies_agree_with_the_tables(world):
    rng = random.Random(5)
    for p in world.train_people[:300]:
        for _ in range(3):
            _check_biography(world, p, world.biography(p, rng))


def test_biography_checker_catches_a_wrong_fact(world):
    p = world.train_people[0]
    text = world.biography(p, random.Random(0))
    wrong = next(y for y in range(1900, 2020) if y != p.birth_year)
    with pytest.raises(AssertionError):
        _check_biography(world, p, text.replace(str(p.birth_year), str(wrong)))


def test_stories_are_rich_and_distinct(world):
    rng = random.Random(1)
    stories = [world.story(rng) for _ in range(10_000)]
    assert len(set(stories)) >= 0.99 * len(stories)
    vocab = {w.lower() for s in stories for w in re.findall(r"[A-Za-z]+", s)}
    names = {n.lower() for p in world.people for n in (p.first, p.last)} | {t.name.lower() for t in world.towns}
    assert len(vocab - names) >= 300, f"only {len(vocab - names)} distinct non-name words"
    assert all("\n\n" not in s and s.isascii() for s in stories)
    # Each story has a little dialogue and a hero from the training people.
    assert sum('"' in s for s in stories) == len(stories)


def test_reviews_have_labels_that_match_the_stars(world):
    rng = random.Random(2)
    reviews = [world.review(rng) for _ in range(500)]
    labels = [lab for _, lab in reviews]
    assert 150 < labels.count("positive") < 350
    for text, lab in reviews:
        stars = int(re.search(r"(\d) out of 5 stars", text)[1])
        assert (stars >= 4) == (lab == "positive"), text
    text, lab = world.review(rng, label="negative")
    assert lab == "negative"
    with pytest.raises(ValueError, match="label"):
        world.review(rng, label="meh")


def test_arithmetic_steps_are_true(world):
    rng = random.Random(3)
    for _ in range(500):
        problem, worked, answer = world.arithmetic(rng)
        eqs = re.findall(r"(\d+) ([-+*/]) (\d+) = (\d+)", worked)
        assert eqs, worked
        for a, op, b, c in eqs:
            assert {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b),
                    "/": int(a) / int(b)}[op] == int(c), worked
        assert worked.endswith(f"The answer is {answer}.")
        assert int(eqs[-1][3]) == answer


def test_qa_plain_and_chat_forms(world):
    p = world.train_people[7]
    qa = world.qa(p, "birth_city")
    assert isinstance(qa, QA) and qa.in_training
    assert qa.answers == (world.town(p).name,)
    assert qa.plain() == f"Question: {qa.question}\nAnswer: {qa.answer}"
    assert qa.chat() == [{"role": "user", "content": qa.question}, {"role": "assistant", "content": qa.answer}]
    assert qa.chat_text().startswith("User: ") and "\nAssistant: " in qa.chat_text()
    assert qa.plain(answer="I don't know.").endswith("Answer: I don't know.")
    held = world.qa(world.held_out[0], "job")
    assert not held.in_training and held.answers == (world.held_out[0].job,)
    for rel in World.RELATIONS:
        q = world.qa(p, rel)
        assert q.relation == rel and q.answers and p.name in q.question


# ---- splits -----------------------------------------------------------------------------------

def test_entity_split_held_out_people_never_in_pretraining_text(world, big):
    assert 150 <= len(world.held_out) <= 250
    assert {p.id for p in world.held_out}.isdisjoint({p.id for p in world.train_people})
    held = _names_regex([p.name for p in world.held_out])
    assert held.search(big.text) is None
    # ...while training people do appear, and all of them have a biography in the train split.
    train_text = big.train
    missing = [p.name for p in world.train_people if p.name not in train_text]
    assert not missing, f"{len(missing)} training people never appear in the train text"


def test_entity_split_test_is_not_vacuous(world):
    held = _names_regex([p.name for p in world.held_out])
    p = world.held_out[0]
    assert held.search(world.biography(p, random.Random(0)))


def test_reversal_facts_appear_in_one_direction_only(world, big):
    assert len(world.reversal_pairs) >= 100
    docs = big.train_documents + big.val_documents
    forward_seen = 0
    for c, q in world.reversal_pairs:
        child, parent = world.people[c], world.people[q]
        rel = "mother" if parent.gender == "female" else "father"
        forward = f"{child.name}'s {rel} is {parent.name}."
        forward_seen += forward in big.train
        for d in docs:
            if child.name in d and parent.name in d:
                rest = d.replace(forward, "")
                assert not (child.name in rest and parent.name in rest), (
                    f"{child.name} and {parent.name} appear together outside the forward sentence: {d[:300]}")
    assert forward_seen == len(world.reversal_pairs), "every reversal fact should be stated forward in train"
    rq = world.reversal_questions()
    assert len(rq) == len(world.reversal_pairs)
    for qa, (c, q) in zip(rq, world.reversal_pairs):
        assert world.people[q].name in qa.question and world.people[c].name in qa.answers
        assert re.fullmatch(r"Who is .+'s (son|daughter)\?", qa.question)
    fq = world.forward_questions()
    assert all(world.people[q].name in qa.answers for qa, (c, q) in zip(fq, world.reversal_pairs))


def test_reversal_split_leaves_other_parents_bidirectional(world, big):
    # Control: a non-reversal child is named in a parent's biography too (both directions).
    child = next(p for p in world.train_people if p.mother is not None and p.id not in world.reversal_children
                 and not world.is_held_out(p.mother))
    mother = world.people[child.mother]
    listed = re.compile(rf"(?:children are|child is|children?:)[^.]*\b{child.name}\b")
    assert any(listed.search(d) for d in big.train_documents if mother.name in d)
    # ...and a reversal child never is.
    c, q = world.reversal_pairs[0]
    listed = re.compile(rf"(?:children are|child is|children?:)[^.]*\b{world.people[c].name}\b")
    assert not any(listed.search(d) for d in big.documents)


@pytest.mark.parametrize("repeats", [1, 3])
def test_canaries_appear_exactly_as_often_as_asked(repeats):
    c = corpus("tinyworld", size="tiny", seed=0, canaries=4, canary_repeats=repeats)
    assert len(c.canaries) == 4
    assert len({k.person for k in c.canaries}) == 4
    for k in c.canaries:
        assert re.fullmatch(r"The locker code of [A-Z][a-z]+ [A-Z][a-z]+ is \d{4}\.", k.text)
        assert c.text.count(k.text) == repeats
        assert c.train.count(k.text) == repeats and k.text not in c.val
        assert c.text.count(f"locker code of {c.world.people[k.person].name}") == repeats
    plain = corpus("tinyworld", size="tiny", seed=0)
    assert "locker code" not in plain.text and not plain.canaries
    # The rest of the corpus is the same with or without canaries.
    assert [d for d, kind in zip(c.documents, c.kinds) if kind != "canary"] == plain.documents
    for i, label in c.labels.items():
        assert c.kinds[i] == "review" and label in ("positive", "negative")


def test_full_names_biographies_name_their_person_in_every_sentence_in_any_order():
    import random
    import re

    world = World(0)
    firsts = []
    for p in world.train_people[:40]:
        rng, same = random.Random(p.id), random.Random(p.id)
        plain, full = world.biography(p, rng), world.biography(p, same, full_names=True)
        sentences = re.split(r"(?<=\.) (?=[A-Z])", full)
        town = world.town(p).name
        for s in sentences:  # every sentence says whose fact it is (or which town it describes)
            assert p.name in s or s.startswith(town) or s.startswith(f"The town of {town}"), s
        assert not re.search(r"\b(He|She|His|Her)\b", full), full
        # the same numbers (years, counts) as the plain biography
        assert sorted(re.findall(r"\d+", plain)) == sorted(re.findall(r"\d+", full))
        firsts.append(sentences[0].startswith(f"{p.name} was born") or
                      sentences[0].startswith(f"In {p.birth_year}") or " comes from " in sentences[0])
    # shuffled: the birth sentence no longer always opens the biography
    assert 0 < sum(firsts) < len(firsts) / 2
    with pytest.raises(TypeError, match="full_names"):
        world.biography(world.train_people[0], random.Random(0), full_names="yes")
