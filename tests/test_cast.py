"""corpus("tinyworld", cast=N, qa_cast=M): biographies of a smaller cast, questions about part of it."""

import pytest

from minillm.data import cast_people, corpus

MIX = {"biography": 0.7, "qa": 0.3}


def test_cast_limits_biographies_and_questions():
    c = corpus("tinyworld", size=60_000, seed=0, cast=30, qa_cast=10, mixture=MIX)
    cast = cast_people(0, 30)
    assert cast == cast_people(0)[:30]
    bios = [d for d, k in zip(c.documents, c.kinds) if k == "biography"]
    qas = "\n".join(d for d, k in zip(c.documents, c.kinds) if k == "qa")
    named = {p.name for p in cast}
    assert all(any(n in d.split(".")[0] for n in named) for d in bios)  # about the cast only
    assert len(bios) >= 3 * 30  # each person several times, in different paraphrases
    first = {p.name: [d for d in bios if p.name in d.split(".")[0]] for p in cast[:5]}
    assert all(len(set(v)) >= 2 for v in first.values())
    asked = {p.name for p in c.world.train_people if f"{p.name}?" in qas or f"{p.name}'s" in qas}
    assert asked and asked <= {p.name for p in cast[:10]} | {
        c.world.people[q].name for p in cast[:10] for q in (p.mother, p.father) if q is not None}
    for p in cast[10:]:
        assert f"of {p.name}?" not in qas and f"{p.name} born?" not in qas
    assert corpus("tinyworld", size=20_000, seed=0).text == corpus("tinyworld", size=20_000, seed=0, cast=None).text


def test_bad_cast_arguments():
    with pytest.raises(ValueError, match="cast must be None or an int from 1 to 1800"):
        corpus("tinyworld", size=1000, cast=0)
    with pytest.raises(ValueError, match="cast must be None or an int"):
        corpus("tinyworld", size=1000, cast=5000)
    with pytest.raises(ValueError, match="qa_cast needs cast"):
        corpus("tinyworld", size=1000, qa_cast=3)
    with pytest.raises(ValueError, match="qa_cast must be an int from 1 to cast=5"):
        corpus("tinyworld", size=1000, cast=5, qa_cast=6)
