"""Training pairs from an index's own objects (domain adaptation without clicks or labels).

Three kinds, each an (anchor, positive) pair trained with in-batch negatives only:
- title: a short title-like field → the other fields (with a leading copy of the title cut from them);
- inverse_cloze: one sentence → the sentences around it, with the sentence cut out (in place for a share
  of pairs, so the model still learns that a passage holding the words is relevant);
- crop: two overlapping word windows of one object, for objects with too few sentences for a cloze (a
  one-line product name, a short description).
Pairs are drawn one per object per round, so a budget spreads over as many objects as it can, and
deduplicated; every draw comes from a generator seeded by the task's seed and the object id.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections.abc import Iterator, Sequence

from functions.config import CorpusPolicy, Sources
from functions.fine_tuning.split import query_draw, query_id
from functions.records import CorpusObject, EvalQuery, Example, ExampleKind

# A sentence ends at . ! or ? followed by white space (a line break ends one too: fields, list items).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n+\s*")
# Field names a title goes by; otherwise the shortest text field, when much shorter than the rest.
TITLE_FIELDS = ("title", "name", "headline", "subject", "question")
# A title is a query-like anchor even when short ("Growing Roses"): it needs two words, not min_words.
TITLE_WORDS = (2, 32)
MIN_CLOZE_SENTENCES = 3  # fewer: the "rest" is one sentence, as close to a crop as to a cloze


def corpus_budget(click_pairs: int, sources: Sources, policy: CorpusPolicy) -> int:
    """Corpus pairs a task trains on: none without corpus weight; the cap when clicks weigh nothing
    (or gave no pair); else corpus/clicks pairs per click pair, up to the cap."""
    if sources.corpus <= 0:
        return 0
    if sources.clicks <= 0 or click_pairs == 0:
        return policy.max_pairs
    return min(policy.max_pairs, round(click_pairs * sources.corpus / sources.clicks))


def sentences(text: str) -> list[str]:
    """The text's sentences (and lines), stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def title_pair(obj: CorpusObject, min_words: int) -> tuple[str, str] | None:
    """(title, the rest) when the content has a title-like field and other text of at least
    `min_words` words."""
    fields = {k: v.strip() for k, v in obj.fields.items() if v and v.strip()}
    if len(fields) < 2:
        return None
    named = [k for k in TITLE_FIELDS if k in fields]
    key = named[0] if named else min(fields, key=lambda k: (len(fields[k].split()), k))
    title = fields[key]
    rest = [v for k, v in fields.items() if k != key]
    words = len(title.split())
    if not TITLE_WORDS[0] <= words <= TITLE_WORDS[1] or words * 2 > sum(len(v.split()) for v in rest):
        return None
    body = "\n".join(_without_prefix(v, title) for v in rest).strip()
    return (title, body) if len(body.split()) >= min_words else None


def _without_prefix(text: str, title: str) -> str:
    """`text` without a leading copy of `title` (many corpora repeat the title as the body's start:
    the pair would then teach string matching)."""
    return text[len(title) :].lstrip(" .:-\n") if text.casefold().startswith(title.casefold()) else text


def cloze_pair(sents: Sequence[str], rng: random.Random, policy: CorpusPolicy) -> tuple[str, str] | None:
    """(a sentence, the sentences around it within context_words), the sentence cut out unless the
    draw keeps it (keep_span_share)."""
    candidates = [i for i, s in enumerate(sents) if len(s.split()) >= policy.min_words]
    if len(sents) < MIN_CLOZE_SENTENCES or not candidates:
        return None
    i = rng.choice(candidates)
    keep = rng.random() < policy.keep_span_share
    budget = policy.context_words - (len(sents[i].split()) if keep else 0)
    before: list[str] = []
    after: list[str] = []
    lo, hi = i - 1, i + 1
    while (lo >= 0 or hi < len(sents)) and budget > 0:
        # Grow both ways in turn, so the span sits inside its context, not at an edge.
        for side in (hi, lo):
            if 0 <= side < len(sents) and budget > 0:
                (after if side == hi else before).append(sents[side])
                budget -= len(sents[side].split())
        lo, hi = lo - 1, hi + 1
    context = [*reversed(before), *([sents[i]] if keep else []), *after]
    return sents[i], " ".join(context)


def crop_pair(words: Sequence[str], rng: random.Random, policy: CorpusPolicy) -> tuple[str, str] | None:
    """Two windows of about half the words (at least min_words, at most context_words), at random
    starts: the same object seen twice."""
    n = len(words)
    size = min(max(policy.min_words, (n + 1) // 2), policy.context_words)
    if n <= policy.min_words:
        return None
    first, second = rng.randrange(n - size + 1), rng.randrange(n - size + 1)
    if first == second:
        second = (first + 1) % (n - size + 1)
    return " ".join(words[first : first + size]), " ".join(words[second : second + size])


def object_rng(seed: int, object_id: str) -> random.Random:
    """The generator of one object's draws: fixed by the seed and the id, whatever else is sampled."""
    return random.Random(hashlib.sha256(f"{seed}\x00{object_id}".encode()).digest())


def pairs_of(obj: CorpusObject, policy: CorpusPolicy, seed: int) -> Iterator[tuple[ExampleKind, str, str]]:
    """An object's pairs in the order they are taken: its title pair first, then cloze pairs (or
    crops, for an object of too few sentences); endless for text long enough to draw from."""
    rng = object_rng(seed, obj.object_id)
    titled = title_pair(obj, policy.min_words)
    if titled is not None:
        yield ("title", *titled)
    text = titled[1] if titled is not None else obj.text
    sents = sentences(text)
    words = text.split()
    if len(sents) >= MIN_CLOZE_SENTENCES:
        while (pair := cloze_pair(sents, rng, policy)) is not None:
            yield ("inverse_cloze", *pair)
    while (crop := crop_pair(words, rng, policy)) is not None:
        yield ("crop", *crop)


def sample_pairs(
    objects: Sequence[CorpusObject], policy: CorpusPolicy, budget: int, seed: int
) -> list[Example]:
    """Up to `budget` distinct pairs, one per object per round (at most per_object from one object),
    in object order; each a corpus Example without negatives."""
    streams = [pairs_of(obj, policy, seed) for obj in objects]
    seen: set[tuple[str, str]] = set()
    out: list[Example] = []
    for _ in range(policy.per_object):
        for stream in streams:
            if len(out) >= budget:
                return out
            # A few draws per turn: a short object may repeat a pair already taken.
            for kind, anchor, positive in itertools.islice(stream, 4):
                key = (anchor.casefold(), positive.casefold())
                if key not in seen and anchor.casefold() != positive.casefold():
                    seen.add(key)
                    out.append(
                        Example(
                            query=anchor,
                            positives=[positive],
                            positive_weights=[1.0],
                            negatives=[],
                            kind=kind,
                        )
                    )
                    break
    return out


def held_out(
    objects: Sequence[CorpusObject], policy: CorpusPolicy, seed: int
) -> tuple[list[CorpusObject], list[CorpusObject]]:
    """(train, evaluation) objects: the eval_queries objects of lowest draw (at most a fifth of them)
    judge the model, and no training pair comes from them. Both keep the input order."""
    n = min(policy.eval_queries, len(objects) // 5)
    ranked = sorted(objects, key=lambda o: (query_draw(seed, o.object_id), o.object_id))
    held = {o.object_id for o in ranked[:n]}
    return [o for o in objects if o.object_id not in held], [o for o in objects if o.object_id in held]


def eval_queries(objects: Sequence[CorpusObject], policy: CorpusPolicy, seed: int) -> list[EvalQuery]:
    """One query per object: its first span (a sentence, or a crop), relevant to that object alone.
    A proxy for users' queries: it says whether the model still finds a passage's own object."""
    out = []
    for obj in objects:
        span = next(
            (a for kind, a, _ in itertools.islice(pairs_of(obj, policy, seed), 3) if kind != "title"), None
        )
        if span is not None:
            out.append(
                EvalQuery(
                    query_id=query_id(obj.object_id, prefix="c_"), query=span, relevant={obj.object_id: 1.0}
                )
            )
    return sorted(out, key=lambda q: q.query_id)


def counts(examples: Sequence[Example]) -> dict[str, int]:
    """Pairs per kind (clicks: one per positive, as they train), every kind named."""
    out = {"clicks": 0, "title": 0, "inverse_cloze": 0, "crop": 0}
    for e in examples:
        out[e.kind] += len(e.positives)
    return out
