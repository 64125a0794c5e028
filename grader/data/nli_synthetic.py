"""A seeded premise/hypothesis generator whose labels are right and whose surface says nothing of them.

It is built against the annotation artefacts that let hypothesis-only
baselines solve SNLI/MNLI far above chance (Gururangan et al. 2018 §3:
negation words mark contradictions, generic words entailments, longer
hypotheses neutrals; Poliak et al. 2018; McCoy et al. 2019 on lexical
overlap). Each sentence is a set of *claims*, one per slot (a person's sleep
state, where an event happens, how many apples were bought, ...), and each
claim is the set of worlds it allows. The label is computed from those sets
(entailment: every hypothesis claim follows from the premise; contradiction:
some claim is incompatible; neutral: otherwise), so it is always right; the
surface form (synonyms, negated antonyms, converses, quantifiers, numbers
in words or digits, reordered clauses) is sampled independently of the label.
Premise and hypothesis skeletons are drawn from one distribution, so every
label uses negation, overlap and length in similar proportions.

The sets have MultiNLI's columns and GLUE's label ids (``grader.data.mnli``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

from grader.data.mnli import CONTRADICTION, ENTAILMENT, NEUTRAL, empty_rows, features
from grader.errors import DataError

# --------------------------------------------------------------------------- semantic core


@dataclass(frozen=True)
class Claim:
    """One constraint on one slot: ``allowed`` is the set of slot values it leaves possible."""

    slot: str
    allowed: frozenset
    text: str
    negated: bool = False
    kind: str = ""


def relation(premise: list[Claim], hypothesis: list[Claim], universes: dict[str, frozenset]) -> int:
    """GLUE label of (premise, hypothesis) from their claims, slots being independent.

    contradiction: some shared slot has no value both allow; entailment: every
    hypothesis claim allows every value the premise leaves open (an absent
    premise claim leaves the whole universe open); neutral otherwise.
    """
    given = {c.slot: c.allowed for c in premise}
    if any(c.slot in given and not (given[c.slot] & c.allowed) for c in hypothesis):
        return CONTRADICTION
    if all(given.get(c.slot, universes[c.slot]) <= c.allowed for c in hypothesis):
        return ENTAILMENT
    return NEUTRAL


NEGATION_WORDS = frozenset({"not", "no", "never", "nobody", "none", "nothing", "neither", "nor", "nowhere",
                            "without", "cannot"})
"""Words that mark negation; a token ending in "n't" counts too (Gururangan et al. 2018, Table 4)."""


def words(text: str) -> list[str]:
    """Lower-cased word tokens, contractions kept whole ("isn't")."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def has_negation(text: str) -> bool:
    """Whether ``text`` holds a negation word: the best-known hypothesis-only cue of MNLI."""
    return any(w in NEGATION_WORDS or w.endswith("n't") for w in words(text))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _pick(rng: random.Random, items):
    return items[rng.randrange(len(items))]


def _join(parts: list[str], rng: random.Random) -> str:
    if len(parts) == 1:
        return parts[0]
    return parts[0] + _pick(rng, (" and ", " and ", ", and ", " but ")) + parts[1]


# --------------------------------------------------------------------------- vocabulary

PEOPLE = (
    "Ali", "Sara", "Maryam", "Reza", "Leila", "Hassan", "Omid", "Nasrin", "Kian", "Shirin", "Dariush",
    "Parisa", "Babak", "Mina", "Farhad", "Yasmin", "John", "Emma", "Lucas", "Sofia", "David", "Anna",
    "Peter", "Maria", "Tom", "Julia", "Omar", "Nina", "Yuki", "Kenji", "Carlos", "Elena", "Ahmed",
    "Fatima", "Igor", "Olga", "Liam", "Chloe", "Noah", "Grace", "Mateo", "Lucia", "Arjun", "Priya",
)
ROLES = (
    "the teacher", "the doctor", "my neighbour", "the driver", "the nurse", "the chef", "the pilot",
    "her brother", "his sister", "the manager", "the farmer", "the baker", "our guide", "the student",
    "the painter", "the lawyer", "the waiter", "the mechanic", "my cousin", "the old sailor",
)
ANIMALS = ("the cat", "the dog", "the horse", "the puppy", "the parrot", "the rabbit", "the goat", "the kitten")
THINGS = {
    "door": ("the door", "the window", "the gate", "the shop", "the bakery", "the pharmacy", "the garage door"),
    "device": ("the lamp", "the oven", "the radio", "the heater", "the television", "the computer", "the fan"),
    "container": ("the bottle", "the box", "the jar", "the basket", "the bucket", "the drawer", "the suitcase"),
    "room": ("the kitchen floor", "the bathroom", "the hallway", "the garage", "the balcony", "the classroom"),
    "drink": ("the tea", "the coffee", "the soup", "the water", "the milk", "the bath water"),
    "item": ("the car", "the phone", "the watch", "the bicycle", "the jacket", "the sofa", "the camera", "the laptop"),
}

# Location slot: a two-level hierarchy, indoor / outdoor places.
INDOOR = {"kitchen": ("in the kitchen",), "library": ("in the library",), "office": ("in the office", "at the office"),
          "museum": ("in the museum", "inside the museum"), "bedroom": ("in the bedroom",),
          "classroom": ("in the classroom",), "hospital": ("in the hospital", "at the hospital"),
          "station": ("in the station hall",)}
OUTDOOR = {"park": ("in the park",), "beach": ("on the beach", "at the beach"), "garden": ("in the garden",),
           "street": ("on the street", "in the street"), "forest": ("in the forest", "in the woods"),
           "field": ("in a field", "in the field"), "harbour": ("at the harbour", "by the harbour")}
GENERAL_PLACES = {"indoor": ("indoors", "inside a building", "inside"), "outdoor": ("outdoors", "outside", "in the open air")}
PLACES = {**INDOOR, **OUTDOOR}


def _place_claim(rng: random.Random, slot: str = "where", neg_rate: float = 0.15) -> Claim:
    """A location claim: a specific place, a general one (indoors / outdoors), or a negated place."""
    universe = frozenset(PLACES)
    r = rng.random()
    if r < neg_rate:
        place = _pick(rng, sorted(PLACES))
        phrase = _pick(rng, PLACES[place])
        return Claim(slot, universe - {place}, phrase, True, "place-neg")
    if r < neg_rate + 0.3:
        side = _pick(rng, ("indoor", "outdoor"))
        members = frozenset(INDOOR if side == "indoor" else OUTDOOR)
        return Claim(slot, members, _pick(rng, GENERAL_PLACES[side]), False, "place-general")
    place = _pick(rng, sorted(PLACES))
    return Claim(slot, frozenset({place}), _pick(rng, PLACES[place]), False, "place")


NEG_COPULA = ("is not", "isn't", "is not")


class _Family:
    """A domain of claims: its context (who/what), its slots, how to phrase claims and sentences."""

    name = ""
    weight = 1.0

    def context(self, rng: random.Random) -> dict:
        raise NotImplementedError

    def slots(self, ctx: dict) -> list[str]:
        raise NotImplementedError

    def universe(self, ctx: dict, slot: str) -> frozenset:
        raise NotImplementedError

    def claim(self, rng: random.Random, ctx: dict, slot: str) -> Claim:
        raise NotImplementedError

    def render(self, rng: random.Random, ctx: dict, claims: list[Claim]) -> str:
        raise NotImplementedError


# ----------------------------------------------------------------------------- states


@dataclass(frozen=True)
class _Dim:
    classes: dict  # class -> surfaces; a class with no surface is a hidden middle value
    kinds: tuple


# Contraries (hot/cold, rich/poor) carry a hidden middle class, so "not hot"
# does not entail "cold"; complementary pairs (awake/asleep, open/closed) do.
STATE_DIMS = {
    "sleep": _Dim({"asleep": ("asleep", "sleeping", "fast asleep"), "awake": ("awake", "wide awake")},
                  ("person", "animal")),
    "hunger": _Dim({"hungry": ("hungry", "starving"), "full": ("full", "well fed"), "mid": ()}, ("person", "animal")),
    "health": _Dim({"sick": ("sick", "ill", "unwell"), "healthy": ("healthy", "in good health", "well")},
                   ("person", "animal")),
    "mood": _Dim({"happy": ("happy", "cheerful", "glad", "in a good mood"), "sad": ("sad", "unhappy", "gloomy"),
                  "angry": ("angry", "furious", "annoyed"), "mid": ()}, ("person",)),
    "wealth": _Dim({"rich": ("rich", "wealthy", "well off"), "poor": ("poor", "broke", "penniless"), "mid": ()},
                   ("person",)),
    "age": _Dim({"old": ("old", "elderly"), "young": ("young", "youthful"), "mid": ()}, ("person", "animal")),
    "height": _Dim({"tall": ("tall",), "short": ("short",), "mid": ()}, ("person",)),
    "marital": _Dim({"married": ("married",), "single": ("single", "unmarried")}, ("person",)),
    "calm": _Dim({"calm": ("calm", "relaxed"), "nervous": ("nervous", "anxious", "tense"), "mid": ()},
                 ("person", "animal")),
    "open": _Dim({"open": ("open",), "closed": ("closed", "shut")}, ("door",)),
    "power": _Dim({"on": ("on", "switched on", "turned on"), "off": ("off", "switched off", "turned off")},
                  ("device",)),
    "fill": _Dim({"full": ("full", "filled up"), "empty": ("empty",), "mid": ()}, ("container",)),
    "clean": _Dim({"clean": ("clean", "spotless"), "dirty": ("dirty", "filthy"), "mid": ()},
                  ("container", "room", "item", "door")),
    "wet": _Dim({"wet": ("wet", "soaked"), "dry": ("dry",)}, ("room", "animal")),
    "temp": _Dim({"hot": ("hot", "boiling hot", "very hot"), "cold": ("cold", "icy", "freezing cold"), "mid": ()},
                 ("drink",)),
    "sweet": _Dim({"sweet": ("sweet", "sugary"), "bitter": ("bitter",), "mid": ()}, ("drink",)),
    "price": _Dim({"cheap": ("cheap", "inexpensive"), "expensive": ("expensive", "costly", "pricey"), "mid": ()},
                  ("item",)),
    "newness": _Dim({"new": ("new", "brand new"), "old": ("old", "worn out"), "mid": ()}, ("item",)),
    "broken": _Dim({"broken": ("broken", "out of order"), "working": ("working", "in working order")},
                   ("item", "device", "door")),
    "heavy": _Dim({"heavy": ("heavy",), "light": ("lightweight", "light to carry"), "mid": ()},
                  ("container", "item")),
}


class _States(_Family):
    name = "state"
    weight = 2.0

    def context(self, rng):
        r = rng.random()
        if r < 0.45:
            kind, subject = "person", _pick(rng, PEOPLE) if rng.random() < 0.6 else _pick(rng, ROLES)
        elif r < 0.6:
            kind, subject = "animal", _pick(rng, ANIMALS)
        else:
            kind = _pick(rng, sorted(THINGS))
            subject = _pick(rng, THINGS[kind])
        return {"kind": kind, "subject": subject}

    def slots(self, ctx):
        dims = [d for d, spec in STATE_DIMS.items() if ctx["kind"] in spec.kinds]
        return dims + (["where"] if ctx["kind"] not in ("room", "door") else [])

    def universe(self, ctx, slot):
        return frozenset(PLACES) if slot == "where" else frozenset(STATE_DIMS[slot].classes)

    def claim(self, rng, ctx, slot):
        if slot == "where":
            return _place_claim(rng)
        dim = STATE_DIMS[slot]
        named = sorted(c for c, surfaces in dim.classes.items() if surfaces)
        cls = _pick(rng, named)
        word = _pick(rng, dim.classes[cls])
        if rng.random() < 0.4:
            return Claim(slot, frozenset(dim.classes) - {cls}, f"{_pick(rng, NEG_COPULA)} {word}", True, "state-neg")
        return Claim(slot, frozenset({cls}), f"is {word}", False, "state")

    def render(self, rng, ctx, claims):
        subject = ctx["subject"]
        where = [c for c in claims if c.slot == "where"]
        states = [c.text for c in claims if c.slot != "where"]
        if not where:
            return _cap(f"{subject} {_join(states, rng)}.")
        place = where[0]
        if place.negated:
            loc = f"{_pick(rng, NEG_COPULA)} {place.text}"
            return _cap(f"{subject} {_join(states + [loc], rng) if states else loc}.")
        if not states:
            return _cap(f"{subject} is {place.text}.")
        style = rng.randrange(3)
        if style == 0:
            return _cap(f"{place.text}, {subject} {_join(states, rng)}.")
        if style == 1:
            return _cap(f"{subject} is {place.text} and {_join(states, rng)}.")
        pronoun = "who" if ctx["kind"] == "person" else "which"
        return _cap(f"{subject}, {pronoun} is {place.text}, {_join(states, rng)}.")


# ----------------------------------------------------------------------------- activities

PERSONS = {"man": ("man", "guy"), "woman": ("woman", "lady"), "boy": ("boy", "young boy"), "girl": ("girl", "young girl")}
PERSON_GENERAL = {"person": (frozenset(PERSONS), ("person", "individual")),
                  "adult": (frozenset({"man", "woman"}), ("adult", "grown-up")),
                  "child": (frozenset({"boy", "girl"}), ("child", "kid"))}
MOTIONS = {"running": ("running", "jogging", "sprinting"), "walking": ("walking", "strolling"),
           "sitting": ("sitting", "sitting down", "seated"), "standing": ("standing", "standing up"),
           "dancing": ("dancing",), "lying": ("lying down", "lying flat")}
COLOURS = {"red": ("red", "bright red"), "blue": ("blue", "dark blue"), "green": ("green",), "black": ("black",),
           "white": ("white",), "yellow": ("yellow",)}
GARMENTS = ("shirt", "jacket", "hat", "coat", "scarf", "dress", "sweater")


class _Activities(_Family):
    name = "activity"
    weight = 1.3

    def context(self, rng):
        return {"garment": _pick(rng, GARMENTS), "det": _pick(rng, ("a", "the"))}

    def slots(self, ctx):
        return ["motion", "colour", "where"]

    def universe(self, ctx, slot):
        return {"who": frozenset(PERSONS), "motion": frozenset(MOTIONS), "colour": frozenset(COLOURS),
                "where": frozenset(PLACES)}[slot]

    def subject(self, rng, ctx, person: str | None = None) -> Claim:
        """The subject claim: a specific person word, or a general one that covers it."""
        if person is None:
            person = _pick(rng, sorted(PERSONS))
        if rng.random() < 0.35:
            options = [g for g, (members, _) in PERSON_GENERAL.items() if person in members]
            general = _pick(rng, options)
            members, words = PERSON_GENERAL[general]
            return Claim("who", members, _pick(rng, words), False, "who-general")
        return Claim("who", frozenset({person}), _pick(rng, PERSONS[person]), False, "who")

    def claim(self, rng, ctx, slot):
        if slot == "where":
            return _place_claim(rng)
        table = MOTIONS if slot == "motion" else COLOURS
        cls = _pick(rng, sorted(table))
        word = _pick(rng, table[cls])
        neg = rng.random() < 0.35
        allowed = frozenset(table) - {cls} if neg else frozenset({cls})
        return Claim(slot, allowed, word, neg, slot + ("-neg" if neg else ""))

    def render(self, rng, ctx, claims):
        who = next(c for c in claims if c.slot == "who")
        det = ctx["det"]
        if det == "a" and who.text[0] in "aeiou":
            det = "an"
        subject = f"{det} {who.text}"
        garment = ctx["garment"]
        parts = []
        motion = next((c for c in claims if c.slot == "motion"), None)
        colour = next((c for c in claims if c.slot == "colour"), None)
        where = next((c for c in claims if c.slot == "where"), None)
        if colour is not None and not colour.negated and rng.random() < 0.5:
            subject += f" in a {colour.text} {garment}"
            colour = None
        if motion is not None:
            verb = f"{_pick(rng, NEG_COPULA)} {motion.text}" if motion.negated else f"is {motion.text}"
            if where is not None and not where.negated and not motion.negated:
                verb += f" {where.text}"
                where = None
            parts.append(verb)
        if where is not None:
            parts.append(f"{_pick(rng, NEG_COPULA)} {where.text}" if where.negated else f"is {where.text}")
        if colour is not None:
            wear = _pick(rng, ("is wearing", "wears")) if not colour.negated else _pick(rng, ("is not wearing", "isn't wearing"))
            parts.append(f"{wear} a {colour.text} {garment}")
        if not parts:
            parts.append("is here")
        text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return _cap(f"{subject} {text}.")


# ----------------------------------------------------------------------------- numbers

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve")
MAX_COUNT = 14
PURCHASES = {
    ("bought", "buy"): ("apples", "books", "shirts", "tickets", "oranges", "pencils", "plates", "chairs"),
    ("sold", "sell"): ("paintings", "bicycles", "tickets", "cakes", "lamps", "books"),
    ("ate", "eat"): ("cookies", "eggs", "dates", "apples", "sandwiches", "plums"),
    ("wrote", "write"): ("letters", "poems", "emails", "songs", "reports"),
    ("caught", "catch"): ("fish", "crabs", "butterflies"),
    ("visited", "visit"): ("museums", "countries", "cities", "temples"),
    ("planted", "plant"): ("trees", "roses", "tulips"),
}
CONTAINERS = {
    "the basket": ("apples", "eggs", "oranges", "pears"), "the box": ("pencils", "books", "toys", "candles"),
    "the garage": ("cars", "bicycles", "tyres"), "the room": ("chairs", "tables", "windows", "lamps"),
    "the pond": ("ducks", "fish", "frogs"), "the car park": ("cars", "buses", "vans"),
}


def _num(rng: random.Random, n: int) -> str:
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) and rng.random() < 0.6 else str(n)


def _quantity(rng: random.Random) -> tuple[frozenset, str, bool, str]:
    """(allowed counts, phrase with {} for the noun, negated?, kind); counts are 0..MAX_COUNT."""
    universe = range(MAX_COUNT + 1)
    r = rng.random()
    if r < 0.36:
        n = rng.randint(2, 12)
        return frozenset({n}), _pick(rng, ("{n} ", "exactly {n} ", "{n} ")).format(n=_num(rng, n)), False, "exact"
    if r < 0.52:
        n = rng.randint(2, 10)
        return frozenset(i for i in universe if i > n), f"more than {_num(rng, n)} ", False, "more"
    if r < 0.64:
        n = rng.randint(3, 12)
        return frozenset(i for i in universe if i < n), f"fewer than {_num(rng, n)} ", False, "fewer"
    if r < 0.74:
        n = rng.randint(2, 10)
        return frozenset(i for i in universe if i >= n), f"at least {_num(rng, n)} ", False, "atleast"
    if r < 0.86:
        n = rng.randint(2, 10)
        word = _pick(rng, ("at most", "no more than", "not more than"))
        return frozenset(i for i in universe if i <= n), f"{word} {_num(rng, n)} ", word != "at most", "atmost"
    return frozenset({0}), "no ", True, "none"


class _Counts(_Family):
    name = "count"
    weight = 0.8

    def context(self, rng):
        if rng.random() < 0.6:
            verbs = rng.sample(sorted(PURCHASES), 2)
            slots = []
            for verb in verbs:
                for noun in rng.sample(PURCHASES[verb], 2):
                    slots.append(f"{verb[0]}|{verb[1]}|{noun}")
            return {"style": "person", "name": _pick(rng, PEOPLE), "slots": slots}
        place = _pick(rng, sorted(CONTAINERS))
        nouns = rng.sample(CONTAINERS[place], 3)
        return {"style": "there", "place": place, "slots": [f"there|{noun}" for noun in nouns]}

    def slots(self, ctx):
        return list(ctx["slots"])

    def universe(self, ctx, slot):
        return frozenset(range(MAX_COUNT + 1))

    def claim(self, rng, ctx, slot):
        allowed, phrase, negated, kind = _quantity(rng)
        return Claim(slot, allowed, phrase, negated, kind)

    def render(self, rng, ctx, claims):
        if ctx["style"] == "there":
            parts = []
            for c in claims:
                noun = c.slot.split("|")[1]
                parts.append(f"{c.text}{noun}")
            body = parts[0] if len(parts) == 1 else f"{parts[0]} and {parts[1]}"
            if rng.random() < 0.5:
                return _cap(f"there are {body} in {ctx['place']}.")
            return _cap(f"{ctx['place']} holds {body}.")
        parts = []
        last_verb = None
        for c in claims:
            past, base, noun = c.slot.split("|")
            if c.kind == "none" and rng.random() < 0.5:
                parts.append(f"did not {base} any {noun}")
            elif past == last_verb:
                parts.append(f"{c.text}{noun}")
            else:
                parts.append(f"{past} {c.text}{noun}")
            last_verb = past
        return _cap(f"{ctx['name']} {' and '.join(parts)}.")


# ----------------------------------------------------------------------------- comparisons

COMPARISONS = {
    # dim: (A > B phrases, A < B phrases, A = B phrases); a phrase reads "A <phrase> B"
    "age": (("is older than", "was born before"), ("is younger than", "was born after"), ("is as old as",)),
    "height": (("is taller than",), ("is shorter than",), ("is as tall as", "is exactly as tall as")),
    "speed": (("runs faster than", "is a faster runner than"), ("runs more slowly than", "is a slower runner than"),
              ("runs as fast as",)),
    "wealth": (("is richer than", "has more money than"), ("is poorer than", "has less money than"),
               ("has as much money as",)),
    "weight": (("is heavier than", "weighs more than"), ("is lighter than", "weighs less than"),
               ("weighs as much as", "weighs the same as")),
    "arrival": (("arrived later than", "arrived after"), ("arrived earlier than", "arrived before"),
                ("arrived at the same time as",)),
}
_NEG = {"is ": "is not ", "was ": "was not ", "has ": "does not have ", "runs ": "does not run ",
        "weighs ": "does not weigh ", "arrived ": "did not arrive "}
_BASE = {"runs": "run", "weighs": "weigh", "arrived": "arrive", "has": "have"}


def _negate_phrase(phrase: str) -> str:
    for head, neg in _NEG.items():
        if phrase.startswith(head):
            rest = phrase[len(head):]
            return neg + rest
    raise AssertionError(phrase)


class _Comparisons(_Family):
    name = "compare"
    weight = 0.9

    def context(self, rng):
        a, b = rng.sample(PEOPLE, 2)
        return {"a": a, "b": b, "dims": rng.sample(sorted(COMPARISONS), 3)}

    def slots(self, ctx):
        return list(ctx["dims"])

    def universe(self, ctx, slot):
        return frozenset(">=<")

    def claim(self, rng, ctx, slot):
        more, less, same = COMPARISONS[slot]
        rel = _pick(rng, (">", "<", ">", "<", "="))
        swap = rng.random() < 0.5  # say it from B's side: A > B is B < A
        said = {">": "<", "<": ">", "=": "="}[rel] if swap else rel
        phrase = _pick(rng, {">": more, "<": less, "=": same}[said])
        first, second = (ctx["b"], ctx["a"]) if swap else (ctx["a"], ctx["b"])
        if rng.random() < 0.3 and rel != "=":
            # "A is not older than B" allows A < B and A = B.
            allowed = frozenset(">=<") - {rel}
            return Claim(slot, allowed, f"{first} {_negate_phrase(phrase)} {second}", True, "compare-neg")
        return Claim(slot, frozenset({rel}), f"{first} {phrase} {second}", False, "compare")

    def render(self, rng, ctx, claims):
        texts = [c.text for c in claims]
        return _cap(_join(texts, rng) + ".")


# ----------------------------------------------------------------------------- habits

HABITS = (("drinks", "drink", "coffee"), ("drinks", "drink", "tea"), ("eats", "eat", "meat"), ("eats", "eat", "fish"),
          ("plays", "play", "chess"), ("plays", "play", "tennis"), ("reads", "read", "the newspaper"),
          ("watches", "watch", "television"), ("takes", "take", "the bus"), ("walks", "walk", "to work"),
          ("goes", "go", "swimming"), ("cooks", "cook", "dinner"), ("rides", "ride", "a bicycle"),
          ("listens", "listen", "to the radio"))
FREQ = frozenset({"never", "sometimes", "daily"})


class _Habits(_Family):
    name = "habit"
    weight = 0.9

    def context(self, rng):
        return {"name": _pick(rng, PEOPLE), "habits": rng.sample(range(len(HABITS)), 3)}

    def slots(self, ctx):
        return [f"habit{i}" for i in ctx["habits"]]

    def universe(self, ctx, slot):
        return FREQ

    def claim(self, rng, ctx, slot):
        third, base, obj = HABITS[int(slot[5:])]
        r = rng.random()
        if r < 0.22:
            text = _pick(rng, (f"never {third} {obj}", f"does not {base} {obj}", f"doesn't {base} {obj}"))
            return Claim(slot, frozenset({"never"}), text, True, "never")
        if r < 0.44:
            text = _pick(rng, (f"{third} {obj} every day", f"{third} {obj} daily"))
            return Claim(slot, frozenset({"daily"}), text, False, "daily")
        if r < 0.64:
            text = _pick(rng, (f"sometimes {third} {obj}", f"{third} {obj} now and then", f"occasionally {third} {obj}"))
            return Claim(slot, frozenset({"sometimes"}), text, False, "sometimes")
        if r < 0.82:
            return Claim(slot, frozenset({"sometimes", "daily"}), f"{third} {obj}", False, "habit")
        text = _pick(rng, (f"does not {base} {obj} every day", f"doesn't {base} {obj} every day"))
        return Claim(slot, frozenset({"never", "sometimes"}), text, True, "not-daily")

    def render(self, rng, ctx, claims):
        return _cap(f"{ctx['name']} {_join([c.text for c in claims], rng)}.")


# ----------------------------------------------------------------------------- quantifiers

GROUPS = {
    # group: (plural, singular, "nobody" phrase, [(positive, complement), ...]); both are past-tense VPs
    "students": ("the students", "student", "nobody in the class", [("passed the exam", "failed the exam"),
                 ("attended the lecture", "missed the lecture"), ("handed in the homework", "forgot the homework")]),
    "guests": ("the guests", "guest", "nobody at the party", [("stayed until midnight", "left before midnight"),
               ("brought a gift", "came without a gift"), ("liked the food", "disliked the food")]),
    "runners": ("the runners", "runner", "nobody", [("finished the race", "dropped out of the race"),
                ("wore a number", "ran without a number")]),
    "workers": ("the workers", "worker", "nobody at the factory", [("arrived on time", "arrived late"),
                ("wore a helmet", "worked without a helmet"), ("voted for the strike", "voted against the strike")]),
    "children": ("the children", "child", "nobody in the family", [("ate their vegetables", "left their vegetables"),
                 ("went to bed early", "stayed up late")]),
}
QUANT = frozenset({"all", "some", "none"})  # all / some but not all / none satisfy the positive VP


class _Quantifiers(_Family):
    name = "quantifier"
    weight = 0.5

    def context(self, rng):
        group = _pick(rng, sorted(GROUPS))
        return {"group": group}

    def slots(self, ctx):
        return [f"q{i}" for i in range(len(GROUPS[ctx["group"]][3]))]

    def universe(self, ctx, slot):
        return QUANT

    def claim(self, rng, ctx, slot):
        plural, singular, nobody, pairs = GROUPS[ctx["group"]]
        pos, comp = pairs[int(slot[1:])]
        # Each entry: (allowed, text); "comp" VPs describe the complement set.
        options = [
            ({"all"}, f"all of {plural} {pos}", False), ({"all"}, f"every {singular} {pos}", False),
            ({"all"}, f"none of {plural} {comp}", True), ({"all"}, f"no {singular} {comp}", True),
            ({"none"}, f"none of {plural} {pos}", True), ({"none"}, f"no {singular} {pos}", True),
            ({"none"}, f"{nobody} {pos}", True), ({"none"}, f"all of {plural} {comp}", False),
            ({"none"}, f"every {singular} {comp}", False),
            ({"all", "some"}, f"some of {plural} {pos}", False), ({"all", "some"}, f"at least one {singular} {pos}", False),
            ({"all", "some"}, f"not all of {plural} {comp}", True),
            ({"some", "none"}, f"some of {plural} {comp}", False), ({"some", "none"}, f"not all of {plural} {pos}", True),
            ({"some", "none"}, f"not every {singular} {pos}", True),
            ({"some"}, f"some but not all of {plural} {pos}", True), ({"some"}, f"only some of {plural} {pos}", False),
        ]
        allowed, text, negated = _pick(rng, options)
        return Claim(slot, frozenset(allowed), text, negated, "quant")

    def render(self, rng, ctx, claims):
        return _cap(_join([c.text for c in claims], rng) + ".")


# ----------------------------------------------------------------------------- schedules

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS, WEEKEND = frozenset(DAYS[:5]), frozenset(DAYS[5:])
TIMES = {"morning": ("in the morning", "before noon"), "afternoon": ("in the afternoon",),
         "evening": ("in the evening",)}
EVENTS = ("the meeting", "the concert", "the exam", "the party", "the lecture", "the football match", "the wedding",
          "the interview", "the trip", "the dentist appointment", "the book club", "the workshop")
VENUES = {"hall": ("in the main hall",), "library": ("in the library",), "gym": ("in the gym",),
          "cafe": ("in the cafe", "at the cafe"), "roof": ("on the roof terrace",)}


class _Schedules(_Family):
    name = "schedule"
    weight = 1.0

    def context(self, rng):
        return {"event": _pick(rng, EVENTS), "verb": _pick(rng, ("is", "takes place", "will be held", "will happen"))}

    def slots(self, ctx):
        return ["day", "time", "venue"]

    def universe(self, ctx, slot):
        return {"day": frozenset(DAYS), "time": frozenset(TIMES), "venue": frozenset(VENUES)}[slot]

    def claim(self, rng, ctx, slot):
        r = rng.random()
        if slot == "day":
            if r < 0.2:
                day = _pick(rng, DAYS)
                return Claim(slot, frozenset(DAYS) - {day}, f"on {day}", True, "day-neg")
            if r < 0.45:
                if rng.random() < 0.6:
                    return Claim(slot, WEEKDAYS, _pick(rng, ("on a weekday", "during the week")), False, "weekday")
                return Claim(slot, WEEKEND, _pick(rng, ("at the weekend", "on the weekend")), False, "weekend")
            day = _pick(rng, DAYS)
            return Claim(slot, frozenset({day}), f"on {day}", False, "day")
        table = TIMES if slot == "time" else VENUES
        cls = _pick(rng, sorted(table))
        word = _pick(rng, table[cls])
        if r < 0.25:
            return Claim(slot, frozenset(table) - {cls}, word, True, slot + "-neg")
        return Claim(slot, frozenset({cls}), word, False, slot)

    def render(self, rng, ctx, claims):
        pos = [c.text for c in claims if not c.negated]
        neg = [c.text for c in claims if c.negated]
        verb = ctx["verb"]
        neg_verb = {"is": "is not", "takes place": "does not take place", "will be held": "will not be held",
                    "will happen": "will not happen"}[verb]
        if pos and neg:
            return _cap(f"{ctx['event']} {verb} {' '.join(pos)}, but not {' '.join(neg)}.")
        if pos:
            return _cap(f"{ctx['event']} {verb} {' '.join(pos)}.")
        return _cap(f"{ctx['event']} {neg_verb} {' and not '.join(neg)}.")


# ----------------------------------------------------------------------------- residence

COUNTRIES = {
    "France": ("Paris", "Lyon", "Marseille"), "Italy": ("Rome", "Milan", "Naples"),
    "Spain": ("Madrid", "Barcelona", "Seville"), "Japan": ("Tokyo", "Osaka", "Kyoto"),
    "Iran": ("Tehran", "Shiraz", "Isfahan"), "Germany": ("Berlin", "Munich", "Hamburg"),
    "Egypt": ("Cairo", "Alexandria", "Luxor"), "Brazil": ("Rio", "Recife", "Salvador"),
}
CITIES = frozenset(c for cities in COUNTRIES.values() for c in cities)
RESIDENCE = {
    # slot: (positive verbs, negative verbs)
    "live": (("lives in", "resides in", "is living in"), ("does not live in", "doesn't live in")),
    "work": (("works in", "has a job in"), ("does not work in", "doesn't work in")),
    "born": (("was born in",), ("was not born in", "wasn't born in")),
    "study": (("studied in", "went to university in"), ("did not study in", "never studied in")),
}


class _Residence(_Family):
    name = "residence"
    weight = 1.2

    def context(self, rng):
        return {"name": _pick(rng, PEOPLE), "countries": rng.sample(sorted(COUNTRIES), 2)}

    def slots(self, ctx):
        return list(RESIDENCE)

    def universe(self, ctx, slot):
        return CITIES

    def claim(self, rng, ctx, slot):
        country = _pick(rng, ctx["countries"])  # two countries per pair keep E/C/N all reachable
        city = _pick(rng, COUNTRIES[country])
        pos, neg = RESIDENCE[slot]
        if rng.random() < 0.35:
            place, allowed = country, frozenset(COUNTRIES[country])
        else:
            place, allowed = city, frozenset({city})
        if rng.random() < 0.3:
            return Claim(slot, CITIES - allowed, f"{_pick(rng, neg)} {place}", True, "residence-neg")
        return Claim(slot, allowed, f"{_pick(rng, pos)} {place}", False, "residence")

    def render(self, rng, ctx, claims):
        return _cap(f"{ctx['name']} {_join([c.text for c in claims], rng)}.")


FAMILIES: tuple[_Family, ...] = (_States(), _Activities(), _Counts(), _Comparisons(), _Habits(), _Quantifiers(),
                                 _Schedules(), _Residence())


# --------------------------------------------------------------------------- pair sampling


def _skeleton(rng: random.Random, slots: list[str]) -> tuple[list[str], list[str]]:
    """Which slots premise and hypothesis talk about, drawn the same way for both sides.

    Either both mention the same slots, or one side has one slot more; which
    side is a coin flip, so neither entailment (dropping) nor neutral (adding)
    makes one side systematically longer.
    """
    k = 1 if len(slots) < 2 or rng.random() < 0.7 else 2
    shared = rng.sample(slots, k)
    r = rng.random()
    rest = [s for s in slots if s not in shared]
    if r < 0.55 or not rest:
        return shared, list(shared)
    if r < 0.7 and k == 2:
        return shared, [shared[rng.randrange(2)]]
    if r < 0.85 and k == 2:
        return [shared[rng.randrange(2)]], shared
    extra = _pick(rng, rest)
    if rng.random() < 0.5:
        return shared, [*shared[: k - 1], extra]
    return [*shared[: k - 1], extra], shared


def _sample_pair(rng: random.Random, label: int, negation: tuple[bool, bool]) -> tuple[str, str, str]:
    """One pair with the given label and the given (premise, hypothesis) negation pattern.

    The pattern is drawn independently of the label by the caller, so the
    presence of "not", "no", "never", ... on either side says nothing about
    the label (Gururangan et al. 2018 §3 found it the strongest MNLI cue).
    """
    weights = [f.weight for f in FAMILIES]
    for _ in range(400):
        family = rng.choices(FAMILIES, weights)[0]
        ctx = family.context(rng)
        p_slots, h_slots = _skeleton(rng, family.slots(ctx))
        universes = {s: family.universe(ctx, s) for s in set(p_slots) | set(h_slots)}
        for _ in range(25):
            p_claims = [family.claim(rng, ctx, s) for s in p_slots]
            h_claims = [family.claim(rng, ctx, s) for s in h_slots]
            if isinstance(family, _Activities):
                person = _pick(rng, sorted(PERSONS))
                p_who, h_who = family.subject(rng, ctx, person), family.subject(rng, ctx, person)
                universes["who"] = family.universe(ctx, "who")
                p_claims, h_claims = [p_who, *p_claims], [h_who, *h_claims]
            if relation(p_claims, h_claims, universes) != label:
                continue
            if rng.random() < 0.5:
                p_claims = p_claims[:1] + p_claims[1:][::-1] if isinstance(family, _Activities) else p_claims[::-1]
            premise, hypothesis = family.render(rng, ctx, p_claims), family.render(rng, ctx, h_claims)
            if premise != hypothesis and (has_negation(premise), has_negation(hypothesis)) == negation:
                return premise, hypothesis, family.name
    raise AssertionError(f"could not sample a pair with label {label}")  # pragma: no cover


NEGATION_RATE = 0.25
"""Share of premises, and independently of hypotheses, that hold a negation word, for every label."""


def _balanced_labels(n: int, rng: random.Random) -> list[int]:
    labels = [i % 3 for i in range(n)]
    rng.shuffle(labels)
    return labels


def generate_nli(n: int, seed: int = 0, *, exclude: Iterable[tuple[str, str]] = ()) -> "datasets.Dataset":  # noqa: F821
    """``n`` seeded premise/hypothesis pairs with balanced GLUE labels (each label n/3 rounded).

    ``exclude`` lists (premise, hypothesis) pairs that must not occur, so an
    evaluation set can be made disjoint from a training set.
    """
    import datasets

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DataError(f"generate_nli needs a positive integer n (number of pairs), got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise DataError(f"generate_nli needs an integer seed, got {seed!r}")
    rng = random.Random(f"mizan-nli-{seed}")
    seen = set(exclude)
    rows = empty_rows()
    for label in _balanced_labels(n, rng):
        for _ in range(50):
            negation = (rng.random() < NEGATION_RATE, rng.random() < NEGATION_RATE)
            premise, hypothesis, _family = _sample_pair(rng, label, negation)
            if (premise, hypothesis) not in seen:
                break
        else:  # pragma: no cover - the space holds millions of pairs
            raise DataError(f"generate_nli could not find {n} distinct pairs; ask for fewer")
        seen.add((premise, hypothesis))
        rows["premise"].append(premise)
        rows["hypothesis"].append(hypothesis)
        rows["label"].append(label)
    return datasets.Dataset.from_dict(rows, features=features())
