"""TinyWorld: a seeded synthetic world whose every fact is known, and the documents written about it.

Appendix A explains it. ``World(seed=0)`` builds, with no download and byte for byte the same on
every machine, at least 2,000 fictional people (syllable-made names, never real people) in
families, and over 100 towns with a country and a river. From the world it writes documents in
simple English:

- :meth:`World.story`: short stories from a small probabilistic grammar;
- :meth:`World.biography`: a person's facts, in several paraphrases;
- :meth:`World.review`: reviews of places and things, with a sentiment label;
- :meth:`World.qa`: question-answer pairs about the facts, as plain text or chat turns;
- :meth:`World.arithmetic`: word problems with step-by-step worked answers.

Because the world is known, later chapters can ask what a model saw and what it never saw.
Three controlled splits make that precise (each one is tested in ``tests/test_world.py``):

- **entity split**: ``world.held_out`` people never appear in any pretraining document, while
  ``world.train_people`` do (chapter 8: hallucination and "I don't know");
- **reversal split**: for ``world.reversal_pairs`` the parent fact is written only one way,
  ``"A's mother is B."``, and the test asks it the other way round, ``"Who is B's son?"``
  (chapter 9: the reversal curse);
- **canaries**: secret sentences (``"The locker code of X is 4821."``) that
  :func:`minillm.data.corpus` inserts a chosen number of times (chapter 9: memorisation).

Everything uses ``random.Random`` with integer seeds derived from the world seed, never Python's
salted ``hash``, so the same seed gives the same world in every process.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .utils import InputTypeError, check_float, check_int, check_memory

# --------------------------------------------------------------------------------------------
# Vocabulary. Plain ASCII English, so the character set stays small (chapter 0's bigram model).
# --------------------------------------------------------------------------------------------

_ONSETS = ["b", "br", "d", "dr", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "sh",
           "t", "th", "v", "w", "z", "c", "st", "tr"]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "io"]
_CODAS = ["", "", "", "n", "l", "r", "s", "m", "th", "nd", "rk"]
_FEMALE_ENDS = ["a", "ia", "ie", "elle", "ine", "ra", "na", "ly"]
_MALE_ENDS = ["o", "an", "en", "ric", "as", "on", "ik", "us"]
_SURNAME_ENDS = ["ley", "ton", "wick", "well", "berg", "more", "son", "dale", "croft", "field",
                 "worth", "ridge", "brook", "hill", "stone", "ard"]
_TOWN_ENDS = ["ford", "by", "ton", "mouth", "wick", "dale", "stead", "bridge", "port", "holm",
              "field", "haven", "moor", "gate", "minster", "well"]

JOBS = ["baker", "teacher", "farmer", "doctor", "nurse", "painter", "fisher", "carpenter",
        "pilot", "tailor", "potter", "singer", "writer", "gardener", "librarian", "builder",
        "cook", "driver", "miller", "blacksmith", "weaver", "sailor", "vet", "dentist",
        "engineer", "clockmaker", "beekeeper", "shepherd", "musician", "dancer", "judge",
        "banker", "shopkeeper", "photographer", "astronomer", "glassblower", "bookbinder",
        "mapmaker", "jeweller", "chemist"]
PETS = ["dog", "cat", "rabbit", "parrot", "goat", "hamster", "tortoise", "goldfish", "pony",
        "hedgehog", "duck", "lizard", "owl", "mouse"]
PET_NAMES = ["Pip", "Biscuit", "Pepper", "Mittens", "Rusty", "Clover", "Noodle", "Pickle",
             "Sunny", "Button", "Ziggy", "Muffin", "Oscar", "Daisy", "Shadow", "Tofu", "Maple",
             "Waffle", "Bean", "Comet", "Pebble", "Sprout", "Fudge", "Nutmeg"]
COLORS = ["red", "blue", "green", "yellow", "purple", "orange", "pink", "white", "black",
          "brown", "gold", "silver"]
FOODS = ["apples", "soup", "pancakes", "rice", "noodles", "cheese", "bread", "honey",
         "carrots", "plums", "pears", "cherries", "pie", "porridge", "fish", "beans",
         "cake", "grapes", "oranges", "dumplings"]

_PLACES = ["park", "forest", "beach", "garden", "market", "farm", "library", "river bank",
           "hill", "school yard", "bakery", "harbour", "meadow", "village square", "old barn",
           "zoo", "museum", "playground", "lake", "orchard"]
_ADJ_PEOPLE = ["kind", "brave", "shy", "curious", "clever", "cheerful", "quiet", "funny",
               "gentle", "busy", "careful", "lonely", "proud", "friendly", "sleepy", "bold"]
_AGES = {"female": ["little girl", "girl", "young woman", "old woman", "woman"],
         "male": ["little boy", "boy", "young man", "old man", "man"]}
_THINGS = ["kite", "ball", "boat", "hat", "book", "drum", "map", "lamp", "bell", "basket",
           "key", "ribbon", "cup", "blanket", "shell", "coin", "feather", "whistle", "sock",
           "box", "bucket", "scarf", "letter", "stone", "puzzle", "flute", "jar", "kettle"]
_THING_ADJ = ["red", "blue", "green", "yellow", "shiny", "old", "new", "tiny", "big",
              "striped", "wooden", "soft", "funny", "golden", "broken", "round", "secret"]
_ANIMALS = ["a squirrel", "a big dog", "a little bird", "an old owl", "a friendly cat",
            "a grey rabbit", "a fox", "a clever crow", "a fat duck", "a small mouse",
            "a frog", "a goat", "a turtle", "a hedgehog"]
_SEASONS = ["spring", "summer", "autumn", "winter"]
_TIMES = ["morning", "afternoon", "evening", "day"]
_WEATHER = ["the sun was warm", "the wind was cold", "the sky was grey", "it was snowing",
            "the air smelled of rain", "the sky was bright and blue", "the leaves were falling",
            "the flowers were open"]
_FEEL_GOOD = ["happy", "proud", "glad", "excited", "calm", "thankful", "joyful"]
_FEEL_BAD = ["sad", "worried", "scared", "upset", "cross", "tired", "nervous"]
_COMMON = {w.lower() for w in (
    JOBS + PETS + PET_NAMES + COLORS + FOODS + _PLACES + _ADJ_PEOPLE + _THINGS + _THING_ADJ
    + _SEASONS + _TIMES + ["then", "there", "these", "those", "thin", "then", "when", "where",
                           "more", "many", "mine", "some", "same", "sand", "time", "tree", "true",
                           "rain", "road", "rose", "room", "ring", "land", "lane", "line", "lion",
                           "lone", "long", "name", "none", "note", "nine", "near", "dear", "deal",
                           "bean", "bear", "beard", "bone", "band", "bond", "bird", "born", "burn",
                           "hill", "hand", "home", "hole", "hope", "hose", "hour", "most", "much"])}
_SAY = ["said", "asked", "cried", "whispered", "shouted", "called", "replied"]


@dataclass(frozen=True)
class Town:
    """A town of the world: its name, its country and the river it stands on."""

    id: int
    name: str
    country: str
    river: str


@dataclass
class Person:
    """One fictional person. ``mother``/``father``/``children`` hold person ids (or None)."""

    id: int
    first: str
    last: str
    gender: str  # "female" or "male"
    birth_year: int
    birth_city: int  # town id
    job: str
    pet: tuple[str, str] | None  # (kind, name), e.g. ("dog", "Pip"), or None
    color: str
    food: str
    mother: int | None = None
    father: int | None = None
    children: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def he(self) -> str:
        return "she" if self.gender == "female" else "he"

    @property
    def his(self) -> str:
        return "her" if self.gender == "female" else "his"

    @property
    def him(self) -> str:
        return "her" if self.gender == "female" else "him"


@dataclass(frozen=True)
class QA:
    """A question about one fact and its answer.

    ``answers`` lists the acceptable short answers (e.g. the name, or every child of the asked
    gender); ``in_training`` says whether the person is in the pretraining text at all.
    ``plain()`` gives ``"Question: ...\\nAnswer: ..."``; ``chat()`` gives chat messages.
    """

    question: str
    answer: str
    answers: tuple[str, ...]
    person: int
    relation: str
    in_training: bool

    def plain(self, answer: str | None = None) -> str:
        return f"Question: {self.question}\nAnswer: {self.answer if answer is None else answer}"

    def chat(self, answer: str | None = None) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.question},
                {"role": "assistant", "content": self.answer if answer is None else answer}]

    def chat_text(self, answer: str | None = None) -> str:
        """The chat turns written as text: ``"User: ...\\nAssistant: ..."``."""
        return f"User: {self.question}\nAssistant: {self.answer if answer is None else answer}"


@dataclass(frozen=True)
class Canary:
    """A secret sentence for memorisation experiments: ``The locker code of X is 4821.``"""

    person: int
    code: str
    text: str


class _FullNamed:
    """A :class:`Person` whose ``first`` and ``he`` read as the full name (for ``full_names``)."""

    def __init__(self, person: Person):
        self._p = person

    def __getattr__(self, attr):
        if attr in ("first", "he"):
            return self._p.name
        return getattr(self._p, attr)


def _mix(*parts: int) -> int:
    """A deterministic seed from integers (Python's ``hash`` is salted per process)."""
    h = 1469598103934665603
    for p in parts:
        h = ((h ^ (p & 0xFFFFFFFFFFFFFFFF)) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def _check_rng(rng) -> None:
    if not isinstance(rng, random.Random):
        raise InputTypeError(f"rng must be a random.Random (e.g. random.Random(0)), got {rng!r}")


def _pick(rng: random.Random, seq):
    return seq[rng.randrange(len(seq))]


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _join_names(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


class World:
    """A deterministic fictional world: people in families, towns, and documents about them.

    ``World(seed=0)`` always builds the same world; another seed builds another one.
    ``n_people`` (at least 2,000 by default) and ``n_towns`` (at least 100) set its size;
    ``held_out`` is the fraction of people kept out of all pretraining text (entity split) and
    ``reversal`` the fraction of children whose parent facts are written one way only.

    Tables: ``world.people`` (list of :class:`Person`, index = id), ``world.towns`` (list of
    :class:`Town`), ``world.train_people`` / ``world.held_out`` (lists of Person),
    ``world.reversal_pairs`` (list of ``(child_id, parent_id)``). Look people up by full name
    with ``world.person("Mara Tolley")``. Appendix A walks through it.
    """

    def __init__(self, seed: int = 0, n_people: int = 2000, n_towns: int = 120,
                 held_out: float = 0.1, reversal: float = 0.1):
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        check_int("n_people", n_people, 20)
        check_int("n_towns", n_towns, 4)
        check_float("held_out", held_out, 0.0, 1.0, exclusive_maximum=True)
        check_float("reversal", reversal, 0.0, 1.0, exclusive_maximum=True)
        check_memory(4096 * n_people, f"World(n_people={n_people:,})")  # about 4 KB per person
        if n_people < 20:
            raise ValueError(f"n_people must be at least 20, got {n_people}")
        if n_towns < 4:
            raise ValueError(f"n_towns must be at least 4, got {n_towns}")
        for nm, frac in (("held_out", held_out), ("reversal", reversal)):
            if not 0.0 <= frac < 1.0:
                raise ValueError(f"{nm} is a fraction in [0, 1), got {frac!r}")
        self.seed = seed
        rng = random.Random(_mix(seed, 1))
        self._used_words: set[str] = set()
        self.countries = self._make_unique(rng, 10, self._country_name)
        self.rivers = self._make_unique(rng, 40, self._river_name)
        names = self._make_unique(rng, n_towns, self._town_name)
        self.towns = [Town(i, names[i], _pick(rng, self.countries), _pick(rng, self.rivers))
                      for i in range(n_towns)]
        self.people: list[Person] = []
        self._full_names: set[str] = set()
        self._build_people(rng, n_people)
        self._by_name = {p.name: p for p in self.people}

        split = random.Random(_mix(seed, 2))
        ids = list(range(len(self.people)))
        split.shuffle(ids)
        n_held = int(round(held_out * len(ids)))
        held = set(ids[:n_held])
        self.held_out = [p for p in self.people if p.id in held]
        self.train_people = [p for p in self.people if p.id not in held]
        self._held = held
        # Reversal split: children (in training) whose parent facts are stated child -> parent only.
        candidates = [p.id for p in self.train_people
                      if any(q is not None and q not in held for q in (p.mother, p.father))]
        split.shuffle(candidates)
        self.reversal_children = set(candidates[: int(round(reversal * len(candidates)))])
        self.reversal_pairs = sorted(
            (c, q) for c in self.reversal_children
            for q in (self.people[c].mother, self.people[c].father) if q is not None and q not in held)

    # ---- building -------------------------------------------------------------------------

    def _syllable(self, rng) -> str:
        return _pick(rng, _ONSETS) + _pick(rng, _VOWELS) + _pick(rng, _CODAS)

    def _country_name(self, rng) -> str:
        return _cap(self._syllable(rng) + self._syllable(rng) + _pick(rng, ["ia", "land", "ora", "en"]))

    def _river_name(self, rng) -> str:
        return _cap(self._syllable(rng) + _pick(rng, ["el", "a", "ine", "on", "y"]))

    def _town_name(self, rng) -> str:
        return _cap(self._syllable(rng) + _pick(rng, _TOWN_ENDS))

    def _first_name(self, rng, gender) -> str:
        ends = _FEMALE_ENDS if gender == "female" else _MALE_ENDS
        stem = self._syllable(rng)
        if rng.random() < 0.3:
            stem += _pick(rng, ["l", "n", "r", "s", "m", "d", "v", "th"]) + _pick(rng, _VOWELS)
        end = _pick(rng, ends)
        if stem[-1] in "aeiou" and end[0] in "aeiou":
            stem = stem.rstrip("aeiou") or stem
        return _cap(stem + end)

    def _surname(self, rng) -> str:
        return _cap(self._syllable(rng) + _pick(rng, _SURNAME_ENDS))

    def _make_unique(self, rng, n, make) -> list[str]:
        out = []
        while len(out) < n:
            s = make(rng)
            if s.lower() not in self._used_words and len(s) >= 4:
                self._used_words.add(s.lower())
                out.append(s)
        return out

    def _new_person(self, rng, gender, last, birth_year, mother=None, father=None) -> Person:
        while True:
            first = self._first_name(rng, gender)
            if (len(first) >= 4 and f"{first} {last}" not in self._full_names
                    and first.lower() not in self._used_words and first.lower() not in _COMMON):
                break
        pet = (_pick(rng, PETS), _pick(rng, PET_NAMES)) if rng.random() < 0.7 else None
        p = Person(len(self.people), first, last, gender, birth_year,
                   rng.randrange(len(self.towns)), _pick(rng, JOBS), pet,
                   _pick(rng, COLORS), _pick(rng, FOODS), mother, father)
        self._full_names.add(p.name)
        self.people.append(p)
        if mother is not None:
            self.people[mother].children.append(p.id)
        if father is not None:
            self.people[father].children.append(p.id)
        return p

    def _build_people(self, rng, n_people) -> None:
        surnames = self._make_unique(rng, max(60, n_people // 8), self._surname)
        # Founders: couples born 1890-1915. Each generation, unmarried adults of different
        # families pair up and have 1-4 children, born when the mother is 20-38.
        n_founders = max(4, n_people // 9)
        for _ in range(n_founders):
            y = rng.randint(1890, 1915)
            f = self._new_person(rng, "male", _pick(rng, surnames), y + rng.randint(-3, 4))
            m = self._new_person(rng, "female", _pick(rng, surnames), y)
            self._children(rng, m, f, n_people)
        singles = [p.id for p in self.people if p.mother is not None]
        while len(self.people) < n_people:
            men = [i for i in singles if self.people[i].gender == "male"]
            women = [i for i in singles if self.people[i].gender == "female"]
            rng.shuffle(men)
            rng.shuffle(women)
            if not men or not women:  # a very unlucky world: bring in new families
                women = [self._new_person(rng, "female", _pick(rng, surnames), 1950).id]
                men = [self._new_person(rng, "male", _pick(rng, surnames), 1950).id]
            start = len(self.people)
            for m_id, f_id in zip(women, men):
                m, f = self.people[m_id], self.people[f_id]
                if m.mother is not None and m.mother == f.mother:
                    continue  # siblings do not marry
                self._children(rng, m, f, n_people)
                if len(self.people) >= n_people:
                    break
            singles = list(range(start, len(self.people)))
            if not singles:  # every child would have been born after 2020: add a founder pair
                y = rng.randint(1950, 1980)
                singles = [self._new_person(rng, "male", _pick(rng, surnames), y).id,
                           self._new_person(rng, "female", _pick(rng, surnames), y).id]

    def _children(self, rng, mother: Person, father: Person, n_people: int) -> None:
        for _ in range(_pick(rng, [1, 2, 2, 3, 3, 4])):
            if len(self.people) >= n_people:
                return
            year = max(mother.birth_year + rng.randint(20, 38), father.birth_year + 18)
            if year > 2020:
                return
            gender = "female" if rng.random() < 0.5 else "male"
            self._new_person(rng, gender, father.last, year, mother.id, father.id)

    # ---- lookups --------------------------------------------------------------------------

    def person(self, name: str) -> Person:
        """The person with this full name; ``KeyError`` naming it if there is none."""
        if not isinstance(name, str):
            raise InputTypeError(f"name must be a person's full name (a str), got {name!r}")
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no person named {name!r} in World(seed={self.seed})") from None

    def is_held_out(self, person: Person | int) -> bool:
        return (person.id if isinstance(person, Person) else person) in self._held

    def town(self, person: Person) -> Town:
        return self.towns[person.birth_city]

    def facts(self, person: Person) -> dict:
        """The person's facts as a flat dict of strings (names for relatives)."""
        town = self.town(person)
        d = {"name": person.name, "gender": person.gender, "birth_year": str(person.birth_year),
             "birth_city": town.name, "country": town.country, "river": town.river,
             "job": person.job, "color": person.color, "food": person.food,
             "pet": f"{person.pet[0]} named {person.pet[1]}" if person.pet else "none",
             "mother": self.people[person.mother].name if person.mother is not None else "unknown",
             "father": self.people[person.father].name if person.father is not None else "unknown",
             "children": [self.people[c].name for c in person.children]}
        return d

    def __repr__(self) -> str:
        return (f"World(seed={self.seed}: {len(self.people)} people "
                f"({len(self.held_out)} held out), {len(self.towns)} towns, "
                f"{len(self.reversal_pairs)} reversal pairs)")

    # ---- who may be mentioned in pretraining text -------------------------------------------

    def _mentionable_parents(self, p: Person) -> list[tuple[str, Person]]:
        out = []
        for rel, pid in (("mother", p.mother), ("father", p.father)):
            if pid is not None and pid not in self._held:
                out.append((rel, self.people[pid]))
        return out

    def _mentionable_children(self, p: Person) -> list[Person]:
        """Children that may be named in p's own text: not held out, not reversal children."""
        return [self.people[c] for c in p.children
                if c not in self._held and c not in self.reversal_children]

    # ---- biographies ------------------------------------------------------------------------

    def biography(self, person: Person, rng: random.Random, *, full_names: bool = False) -> str:
        """A short biography stating ``person``'s facts, paraphrased at random by ``rng``.

        Every sentence can be checked against :meth:`facts`. Held-out relatives are never named;
        for reversal children the parents are stated only as ``"A's mother is B."`` and the
        parents' biographies leave that child out.

        ``full_names=True`` names the person in full in every sentence instead of "she", "his"
        or the first name (the "fullname" augmentation of Allen-Zhu and Li 2023, Physics of
        Language Models Part 3.1, https://arxiv.org/abs/2309.14316): each fact then sits next to
        the name a question will use, and shuffles the sentences (their "permute" augmentation),
        so that any fact, not only the birth, may open a biography just as it opens a question.
        """
        _check_rng(rng)
        if not isinstance(person, Person):
            raise InputTypeError(f"person must be a Person (e.g. world.people[0]), got {person!r}")
        if not isinstance(full_names, bool):
            raise InputTypeError(f"full_names must be True or False, got {full_names!r}")
        p, t = person, self.town(person)
        He, his = _cap(p.he), p.his
        if full_names:  # every mention of the person says who it is
            p = _FullNamed(p)
            He, his = p.name, f"{p.name}'s"
        first = _pick(rng, [
            f"{p.name} was born in {p.birth_year} in {t.name}.",
            f"{p.name} was born in the town of {t.name} in {p.birth_year}.",
            f"In {p.birth_year}, {p.name} was born in {t.name}.",
            f"{p.name} comes from {t.name}, where {p.he} was born in {p.birth_year}.",
        ])
        s = [first]
        if rng.random() < 0.6:
            s.append(_pick(rng, [
                f"{t.name} is a town in {t.country} on the river {t.river}.",
                f"{t.name} lies on the river {t.river} in {t.country}.",
                f"The town of {t.name} is in {t.country}, by the river {t.river}.",
            ]))
        s.append(_pick(rng, [
            f"{He} works as {_a(p.job)}.",
            f"{p.first} is {_a(p.job)}.",
            f"By trade, {p.first} is {_a(p.job)}.",
            f"{p.name} earns a living as {_a(p.job)}.",
        ]))
        likes = [
            f"{_cap(his)} favourite colour is {p.color}.",
            f"{p.first} loves the colour {p.color}.",
            f"{p.first} likes {p.color} more than any other colour.",
        ]
        foods = [
            f"{_cap(his)} favourite food is {p.food}.",
            f"{p.first} likes to eat {p.food}.",
            f"More than anything, {p.first} enjoys {p.food}.",
        ]
        extra = [_pick(rng, likes), _pick(rng, foods)]
        if p.pet:
            kind, name = p.pet
            extra.append(_pick(rng, [
                f"{He} has a pet {kind} named {name}.",
                f"{p.first} keeps a {kind} called {name}.",
                f"{name} is the name of {p.first}'s {kind}.",
            ]))
        else:
            extra.append(_pick(rng, [f"{He} has no pets.", f"{p.first} does not keep any pets."]))
        rng.shuffle(extra)
        s += extra
        parents = self._mentionable_parents(person)
        if p.id in self.reversal_children:
            s += [f"{p.name}'s {rel} is {q.name}." for rel, q in parents]
        elif len(parents) == 2 and rng.random() < 0.5:
            s.append(_pick(rng, [
                f"{_cap(his)} parents are {parents[0][1].name} and {parents[1][1].name}.",
                f"{p.first} is the {'daughter' if p.gender == 'female' else 'son'} of "
                f"{parents[0][1].name} and {parents[1][1].name}.",
            ]))
        else:
            for rel, q in parents:
                s.append(_pick(rng, [f"{_cap(his)} {rel} is {q.name}.",
                                     f"{p.name}'s {rel} is {q.name}.",
                                     f"{p.first}'s {rel} is called {q.name}."]))
        kids = self._mentionable_children(person)
        if kids:
            names = _join_names([k.name for k in kids])
            s.append(_pick(rng, [
                f"{He} has {len(kids)} {'child' if len(kids) == 1 else 'children'}: {names}.",
                f"{p.first}'s {'child is' if len(kids) == 1 else 'children are'} {names}.",
            ]))
        if full_names:  # every sentence stands alone: any fact may open the biography
            rng.shuffle(s)
        return " ".join(s)

    # ---- question answering -----------------------------------------------------------------

    RELATIONS = ("birth_city", "birth_year", "job", "color", "food", "pet", "mother", "father",
                 "children")

    def qa(self, person: Person, relation: str, rng: random.Random | None = None) -> QA:
        """A question about one of ``person``'s facts (``relation`` in :attr:`RELATIONS`).

        The answer is always the true fact; ``in_training`` is False for held-out people, whose
        questions test hallucination ("I don't know" is the honest reply a model should learn).
        """
        if not isinstance(person, Person):
            raise InputTypeError(f"person must be a Person (e.g. world.person('...')), got {person!r}")
        if not isinstance(relation, str) or relation not in self.RELATIONS:
            raise ValueError(f"relation {relation!r} is not one of {', '.join(self.RELATIONS)}")
        rng = rng or random.Random(_mix(self.seed, person.id, self.RELATIONS.index(relation)))
        p, t = person, self.town(person)
        f = self.facts(p)
        if relation == "birth_city":
            q = _pick(rng, [f"Where was {p.name} born?", f"In which town was {p.name} born?",
                            f"What is the birth town of {p.name}?"])
            a, ans = f"{p.name} was born in {t.name}.", (t.name,)
        elif relation == "birth_year":
            q = _pick(rng, [f"When was {p.name} born?", f"In what year was {p.name} born?"])
            a, ans = f"{p.name} was born in {p.birth_year}.", (str(p.birth_year),)
        elif relation == "job":
            q = _pick(rng, [f"What does {p.name} do for a living?", f"What is {p.name}'s job?"])
            a, ans = f"{p.name} works as {_a(p.job)}.", (p.job,)
        elif relation == "color":
            q = _pick(rng, [f"What is {p.name}'s favourite colour?",
                            f"Which colour does {p.name} like best?"])
            a, ans = f"{p.name}'s favourite colour is {p.color}.", (p.color,)
        elif relation == "food":
            q = _pick(rng, [f"What is {p.name}'s favourite food?",
                            f"What does {p.name} like to eat most?"])
            a, ans = f"{p.name}'s favourite food is {p.food}.", (p.food,)
        elif relation == "pet":
            q = _pick(rng, [f"What pet does {p.name} have?", f"Does {p.name} have a pet?"])
            if p.pet:
                a, ans = f"{p.name} has a {p.pet[0]} named {p.pet[1]}.", (p.pet[0], p.pet[1])
            else:
                a, ans = f"{p.name} has no pets.", ("no",)
        elif relation in ("mother", "father"):
            q = _pick(rng, [f"Who is {p.name}'s {relation}?", f"Who is the {relation} of {p.name}?"])
            if f[relation] == "unknown":
                a, ans = f"The {relation} of {p.name} is not known.", ("unknown",)
            else:
                a, ans = f"{p.name}'s {relation} is {f[relation]}.", (f[relation],)
        elif relation == "children":
            q = _pick(rng, [f"Who are the children of {p.name}?", f"Does {p.name} have children?"])
            kids = f["children"]
            a = (f"{p.name} has no children." if not kids else
                 f"{p.name}'s {'child is' if len(kids) == 1 else 'children are'} {_join_names(kids)}.")
            ans = tuple(kids) or ("no",)
        return QA(q, a, ans, p.id, relation, p.id not in self._held)

    def reversal_questions(self) -> list[QA]:
        """Test questions for the reversal split, asked parent -> child: ``"Who is B's son?"``.

        Training text states these facts only child -> parent (``"A's mother is B."``).
        ``answers`` lists every child of that parent with that gender (any one is right).
        """
        out = []
        for c, q in self.reversal_pairs:
            child, parent = self.people[c], self.people[q]
            word = "daughter" if child.gender == "female" else "son"
            same = tuple(self.people[k].name for k in parent.children
                         if self.people[k].gender == child.gender)
            out.append(QA(f"Who is {parent.name}'s {word}?",
                          f"{parent.name}'s {word} is {child.name}.", same, q,
                          f"{word}_of", True))
        return out

    def forward_questions(self) -> list[QA]:
        """The same reversal pairs asked the way the training text states them (child -> parent)."""
        out = []
        for c, q in self.reversal_pairs:
            child, parent = self.people[c], self.people[q]
            rel = "mother" if parent.gender == "female" else "father"
            out.append(QA(f"Who is {child.name}'s {rel}?", f"{child.name}'s {rel} is {parent.name}.",
                          (parent.name,), c, rel, True))
        return out

    def _training_qa(self, person: Person, rng: random.Random) -> QA | None:
        """A QA pair that may appear in pretraining text (respects both splits)."""
        rel = _pick(rng, self.RELATIONS)
        if rel in ("mother", "father"):
            pid = getattr(person, rel)
            if pid is None or pid in self._held or person.id in self.reversal_children:
                return None
        if rel == "children" and len(self._mentionable_children(person)) != len(person.children):
            return None
        return self.qa(person, rel, rng)

    # ---- canaries ---------------------------------------------------------------------------

    def canaries(self, n: int, seed: int = 0) -> list[Canary]:
        """``n`` secret sentences about distinct training people, each with a random 4-digit code."""
        check_int("n", n, 0)
        check_int("seed", seed, 0)
        if n < 0 or n > len(self.train_people):
            raise ValueError(f"n must be between 0 and {len(self.train_people)}, got {n}")
        rng = random.Random(_mix(self.seed, 7, seed))
        people = rng.sample(self.train_people, n)
        out = []
        for p in people:
            code = f"{rng.randrange(1000, 10000)}"
            out.append(Canary(p.id, code, f"The locker code of {p.name} is {code}."))
        return out

    # ---- stories ----------------------------------------------------------------------------

    def story(self, rng: random.Random) -> str:
        """A short story in simple English from a probabilistic grammar.

        Parts: an opening with a setting (a town of the world, a place, a season), a hero from
        the training people with a trait and a goal, a problem, a helper (a friend, the hero's
        pet, or an animal) with a little dialogue, a resolution, feelings, and an ending.
        """
        _check_rng(rng)
        hero = _pick(rng, self.train_people)
        friend = _pick(rng, self.train_people)
        while friend.first == hero.first:
            friend = _pick(rng, self.train_people)
        town = self.towns[rng.randrange(len(self.towns))]
        h, fr = hero.first, friend.first
        He, he, his, him = _cap(hero.he), hero.he, hero.his, hero.him
        place = _pick(rng, _PLACES)
        adj = _pick(rng, _ADJ_PEOPLE)
        age = _pick(rng, _AGES[hero.gender])
        thing_adj, thing = _pick(rng, _THING_ADJ), _pick(rng, _THINGS)
        obj = f"{thing_adj} {thing}"
        season, time = _pick(rng, _SEASONS), _pick(rng, _TIMES)
        s: list[str] = []

        # Opening and setting.
        s.append(_pick(rng, [
            f"Once upon a time, in the town of {town.name}, there lived {_a(adj)} {age} named {h}.",
            f"One {season} {time}, {_a(adj)} {age} named {h} went to the {place} in {town.name}.",
            f"{h} was {_a(adj)} {age} who lived in {town.name}, near the river {town.river}.",
            f"Long ago, in {town.name}, there was {_a(adj)} {age} called {h}.",
            f"In a small town called {town.name}, {_a(age)} named {h} woke up early one {season} {time}.",
        ]))
        if rng.random() < 0.7:
            s.append(_pick(rng, [f"It was {season} and {_pick(rng, _WEATHER)}.",
                                 f"Outside, {_pick(rng, _WEATHER)}.",
                                 f"That day {_pick(rng, _WEATHER)}.",
                                 f"{He} liked {_pick(rng, FOODS)} and the colour {_pick(rng, COLORS)}."]))
        # Goal.
        goal, done = _pick(rng, [
            (f"find {his} lost {obj}", f"found the {obj}"),
            (f"fly {his} new kite over the {place}", "watched the kite fly high over the trees"),
            (f"bake a cake for {fr}", f"gave {fr} the warm cake"),
            ("win the race at the " + place, "crossed the line first"),
            (f"build a {thing_adj} house for the birds", "finished the little bird house"),
            ("learn to swim in the lake", "swam all the way to the big rock"),
            ("plant a tree by the " + place, "saw the little tree standing in the ground"),
            ("make a new friend", f"laughed with {fr} like old friends"),
            ("see the stars from the hill", "saw a thousand stars shine above the hill"),
            (f"bring {_a(obj)} to {his} grandmother", f"gave {his} grandmother the {obj}"),
            ("climb the tallest tree", "sat at the very top of the tree"),
            (f"paint a picture of the river {town.river}", "hung the picture on the wall"),
            ("catch a big fish", "pulled a big silver fish out of the water"),
            (f"sing a song at the {place}", "sang the song and everyone clapped"),
        ])
        s.append(_pick(rng, [f"{h} wanted to {goal}.", f"More than anything, {he} wished to {goal}.",
                             f"Today {h} had a plan: to {goal}.",
                             f"{He} had always wanted to {goal}."]))
        # Problem.
        problem = _pick(rng, [
            "But then it started to rain.",
            f"But the path to the {place} was blocked by a fallen tree.",
            f"But {_pick(rng, _ANIMALS)} ran off with {his} {thing}.",
            f"But {h} was too small to reach.",
            f"But {h} got lost on the way to the {place}.",
            f"But the wind blew {his} {thing} into a tall tree.",
            f"But {he} was too scared to try.",
            f"But {his} {thing} fell into the water.",
            f"But when {he} looked in {his} bag, the {thing} was gone.",
            "But the gate was locked and nobody had the key.",
        ])
        s.append(problem)
        bad = _pick(rng, _FEEL_BAD)
        s.append(_pick(rng, [f"{h} felt {bad}.", f"{He} was very {bad}.",
                             f"{h} sat down and felt {bad} and a little {_pick(rng, _FEEL_BAD)}.",
                             f"Tears came to {his} eyes."]))
        # Helper and dialogue.
        helper_kind = rng.random()
        if helper_kind < 0.55:
            helper = fr
            s.append(_pick(rng, [f"Just then, {_pick(rng, _ADJ_PEOPLE)} {fr} came by.",
                                 f"{h}'s friend {fr} saw {him} and walked over.",
                                 f"A {_pick(rng, ['girl', 'boy', 'neighbour', 'friend'])} named {fr} heard {him}."]))
        elif helper_kind < 0.8 and hero.pet:
            helper = hero.pet[1]
            s.append(_pick(rng, [f"Then {his} {hero.pet[0]} {helper} came running.",
                                 f"{helper}, {his} {hero.pet[0]}, looked up at {him}."]))
        else:
            animal = _pick(rng, _ANIMALS)
            helper = "the " + animal.split(" ", 1)[1]
            s.append(_pick(rng, [f"Then {animal} came out from behind a bush.",
                                 f"Suddenly {animal} appeared."]))
        ask = _pick(rng, ["Can you help me?", "What should I do?", "Will you help me, please?",
                          "I do not know what to do.", "Please, can you help?"])
        reply = _pick(rng, ["Of course I will help you!", "Do not worry, I have an idea.",
                            "Let us try together.", "I know what to do!", "Follow me!",
                            "We can do it if we work together."])
        ask, reply = (x[:-1] + "," if x.endswith(".") else x for x in (ask, reply))
        s.append(f"\"{ask}\" {_pick(rng, _SAY)} {h}.")
        s.append(f"\"{reply}\" {_pick(rng, ['said', 'replied', 'answered', 'called'])} {helper}.")
        # Resolution.
        s.append(_pick(rng, [
            f"Together they {_pick(rng, ['worked hard', 'tried again and again', 'thought of a clever plan', 'walked a long way'])}.",
            f"{_cap(helper)} showed {h} a {_pick(rng, ['long stick', 'tall ladder', 'secret path', 'strong rope', 'small boat'])}.",
            f"They waited until the {_pick(rng, ['rain stopped', 'sun came out', 'wind was calm', 'moon was up'])}.",
        ]))
        s.append(_pick(rng, [f"At last, {h} {done}.", f"In the end, {h} {done}.",
                             f"Finally, {he} {done}."]))
        good = _pick(rng, _FEEL_GOOD)
        s.append(_pick(rng, [f"{h} felt {good}.", f"{He} was so {good} that {he} smiled all day.",
                             f"\"Thank you!\" said {h}, feeling {good}.",
                             f"{h} hugged {helper if not helper.startswith('the') else 'the animal'} and felt {good}."]))
        # Ending.
        if rng.random() < 0.8:
            s.append(_pick(rng, [
                "From that day on, they were the best of friends.",
                f"{h} learned that it is good to ask for help.",
                f"That night, {h} went to bed with a big smile.",
                "It was the best day of the year.",
                f"{h} never forgot that {season} {time}.",
                "And they all lived happily in " + town.name + ".",
                "The end.",
            ]))
        return " ".join(s)

    # ---- reviews ----------------------------------------------------------------------------

    def review(self, rng: random.Random, label: str | None = None) -> tuple[str, str]:
        """A short review of a place or a thing and its label, ``"positive"`` or ``"negative"``."""
        _check_rng(rng)
        if label is None:
            label = "positive" if rng.random() < 0.5 else "negative"
        if label not in ("positive", "negative"):
            raise ValueError(f"label must be 'positive' or 'negative', got {label!r}")
        author = _pick(rng, self.train_people)
        town = self.towns[rng.randrange(len(self.towns))]
        if rng.random() < 0.5:
            kind = _pick(rng, ["cafe", "bakery", "inn", "shop", "restaurant", "market", "museum",
                               "hotel", "library", "tea house"])
            name = f"the {_cap(_pick(rng, COLORS))} {_cap(_pick(rng, _THINGS))} {kind}"
            subject = f"{name} in {town.name}"
            good = [f"The staff were {_pick(rng, ['kind', 'friendly', 'quick', 'helpful'])}.",
                    f"The {_pick(rng, FOODS)} tasted {_pick(rng, ['fresh', 'warm', 'delicious', 'perfect'])}.",
                    f"It was {_pick(rng, ['clean', 'bright', 'cosy', 'quiet'])} and the prices were fair.",
                    "We will come back soon.", "I loved every minute.", "Highly recommended.",
                    f"The view of the river {town.river} was lovely."]
            bad = [f"The staff were {_pick(rng, ['rude', 'slow', 'unfriendly', 'careless'])}.",
                   f"The {_pick(rng, FOODS)} tasted {_pick(rng, ['cold', 'stale', 'burnt', 'awful'])}.",
                   f"It was {_pick(rng, ['dirty', 'dark', 'noisy', 'crowded'])} and too expensive.",
                   "We will not come back.", "I wanted to leave after five minutes.",
                   "Not recommended.", "We waited an hour for nothing."]
        else:
            thing = _pick(rng, _THINGS)
            subject = f"{_a(_pick(rng, _THING_ADJ))} {thing} from {town.name}"
            good = [f"The {thing} works very well.", "It is strong and well made.",
                    "It was worth every coin.", f"My {_pick(rng, ['son', 'daughter', 'friend', 'mother'])} loves it too.",
                    "It arrived quickly and looks great.", "I would buy it again."]
            bad = [f"The {thing} broke after two days.", "It is weak and badly made.",
                   "It was a waste of money.", "It arrived late and looked cheap.",
                   "I would not buy it again.", f"My {_pick(rng, ['son', 'daughter', 'friend', 'mother'])} did not like it either."]
        body = rng.sample(good if label == "positive" else bad, 3)
        stars = rng.choice([4, 5]) if label == "positive" else rng.choice([1, 2])
        opener = _pick(rng, [f"Review of {subject} by {author.name}.",
                             f"{author.name} wrote a review of {subject}."])
        mood = (_pick(rng, ["I am very happy with it.", "What a wonderful surprise!", "Great!"])
                if label == "positive" else
                _pick(rng, ["I am very disappointed.", "What a bad surprise.", "Terrible!"]))
        text = f"{opener} {mood} {' '.join(body)} {stars} out of 5 stars."
        return text, label

    # ---- arithmetic -------------------------------------------------------------------------

    def arithmetic(self, rng: random.Random) -> tuple[str, str, int]:
        """A word problem, its step-by-step worked answer, and the final number.

        The worked answer ends with ``"The answer is N."``; every step is a true equation.
        """
        _check_rng(rng)
        p = _pick(rng, self.train_people)
        q = _pick(rng, self.train_people)
        n, he = p.first, p.he
        item = _pick(rng, ["apples", "marbles", "stickers", "pencils", "cookies", "shells",
                           "books", "coins", "eggs", "flowers", "stamps", "buttons"])
        kind = rng.randrange(5)
        if kind == 0:
            a, b = rng.randint(2, 30), rng.randint(2, 20)
            c = rng.randint(1, a + b - 1)
            problem = (f"{n} has {a} {item}. {q.first} gives {p.him} {b} more. Then {he} gives "
                       f"{c} away. How many {item} does {n} have now?")
            steps = [f"{n} starts with {a} {item}.",
                     f"After getting {b} more, {he} has {a} + {b} = {a + b}.",
                     f"After giving {c} away, {he} has {a + b} - {c} = {a + b - c}."]
            ans = a + b - c
        elif kind == 1:
            a, b = rng.randint(2, 12), rng.randint(2, 9)
            problem = (f"One {item[:-1]} costs {b} coins. {n} buys {a} {item}. "
                       f"How many coins does {n} pay?")
            steps = [f"Each {item[:-1]} costs {b} coins and {n} buys {a}.",
                     f"So {he} pays {a} * {b} = {a * b} coins."]
            ans = a * b
        elif kind == 2:
            k, per = rng.randint(2, 9), rng.randint(2, 9)
            total = k * per
            problem = (f"{n} has {total} {item} and shares them equally among {k} friends. "
                       f"How many {item} does each friend get?")
            steps = [f"{total} {item} shared among {k} friends.",
                     f"Each friend gets {total} / {k} = {per}."]
            ans = per
        elif kind == 3:
            a, b = rng.randint(10, 60), rng.randint(1, 9)
            problem = (f"{n} is {a} years old. {q.first} is {b} years younger. How old will "
                       f"{q.first} be in 5 years?")
            steps = [f"{q.first} is {a} - {b} = {a - b} years old now.",
                     f"In 5 years {q.first} will be {a - b} + 5 = {a - b + 5}."]
            ans = a - b + 5
        else:
            boxes, per, extra = rng.randint(2, 8), rng.randint(3, 12), rng.randint(1, 15)
            problem = (f"{n} has {boxes} boxes with {per} {item} in each box, and {extra} more "
                       f"{item} on the table. How many {item} does {n} have in all?")
            steps = [f"The boxes hold {boxes} * {per} = {boxes * per} {item}.",
                     f"With the {extra} on the table: {boxes * per} + {extra} = {boxes * per + extra}."]
            ans = boxes * per + extra
        worked = " ".join(steps) + f" The answer is {ans}."
        return problem, worked, ans

    # ---- documents for pretraining ----------------------------------------------------------

    def qa_document(self, rng: random.Random, k: int = 4, people: list | None = None) -> str:
        """``k`` question-answer pairs about training people, plain form or chat form.

        ``people`` (a list of training :class:`Person`) limits the questions to them.
        """
        _check_rng(rng)
        chat = rng.random() < 0.3
        pool = self.train_people if people is None else people
        lines = []
        while len(lines) < k:
            qa = self._training_qa(_pick(rng, pool), rng)
            if qa is not None:
                lines.append(qa.chat_text() if chat else qa.plain())
        return "\n".join(lines)

    def arithmetic_document(self, rng: random.Random) -> str:
        _check_rng(rng)
        problem, worked, _ = self.arithmetic(rng)
        return f"Problem: {problem}\nSolution: {worked}"
