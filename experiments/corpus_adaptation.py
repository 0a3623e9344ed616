"""How much does corpus adaptation alone move held-out quality, per corpus policy and training setting?

`python -m experiments.corpus_adaptation [--dataset DIR | --sample] [--seeds 1 2 3] [--preset adapt]
    [--overrides JSON] [--no-titles] [--no-title-pairs] [--views parts whole] [--units objects|chunks]
    [--shares 0.5 1.0]`

No services: the corpus's objects become CorpusObjects as the store reads them (fields of a dict
content, the rendered text), pairs are sampled by functions/fine_tuning/corpus_pairs.py under the preset's
corpus policy, the model trains with jobs/training/trainer.py (the product's datasets and loss), and the
base and the adapted model are scored by exact best-part search over the corpus chunked as the upsert task
chunks it, on the TEST queries' qrels. `--no-titles` drops titles (a plain-text corpus). `--views whole`
also scores each object as one text (cut at the model's window), as a window-sized collection would.
`--units chunks` samples the pairs from the upsert's chunks instead of whole objects (each chunk with its
object's title), so the positives are the texts search embeds. `--no-title-pairs` samples from each
object's text without its title field (cloze and crop pairs only; the scored corpus keeps titles).
`--shares` also scores the tuned weights averaged with the base's (WiSE-FT) at those shares.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from typing import Any

import torch

from functions.config.presets import resolve_preset
from functions.fine_tuning.corpus_pairs import counts, sample_pairs
from functions.records import CorpusObject, TrainingPlan
from functions.upsertion.logic import render
from jobs.bootstrap import load_config
from jobs.training.trainer import StudyCallback, load_model, train, training_datasets
from sim import beir
from sim.corpus import chunks_of, dataset_or_none
from sim.ir_metrics import exact_best_part, mean_ndcg
from sim.sample_catalog import Catalog, generate


class _Quiet:
    def report(self, done: float, total: float, message: str) -> None:
        pass

    def cancelled(self) -> bool:
        return False


def objects_of(items: list[dict[str, Any]], titles: bool) -> list[CorpusObject]:
    out = []
    for item in items:
        content = item["content"]
        if isinstance(content, dict) and not titles:
            content = {k: v for k, v in content.items() if k != "title"}
        fields = {k: str(v) for k, v in content.items()} if isinstance(content, dict) else {}
        out.append(
            CorpusObject(object_id=str(item["object_id"]), fields=fields, text=render(content, None, None))
        )
    return out


View = tuple[list[str], list[str]]
Weights = dict[str, torch.Tensor]


def snapshot(model: Any) -> Weights:
    """A detached copy of the model's weights."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def blend(model: Any, start: Weights, share: float) -> None:
    """Weight-space averaging (WiSE-FT, Wortsman et al., CVPR 2022): move `model`'s weights in place to
    start + share × (tuned − start); 1 keeps the tuned model. Integer buffers are left alone."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.lerp(start[name].to(tensor.dtype), tensor, share))


def chunk_objects(items: list[dict[str, Any]], chunks: list[str], owners: list[str]) -> list[CorpusObject]:
    """Each chunk as an object of its own, with its object's title field beside it as the body."""
    titles = {str(i["object_id"]): i["content"].get("title") for i in items if isinstance(i["content"], dict)}
    out = []
    for k, (chunk, owner) in enumerate(zip(chunks, owners, strict=True)):
        title = titles.get(owner)
        fields = {"title": str(title), "body": chunk} if title else {}
        out.append(CorpusObject(object_id=f"{owner}#{k}", fields=fields, text=chunk))
    return out


def views_of(names: list[str], items: list[dict[str, Any]]) -> dict[str, View]:
    """The texts each view embeds and the object each one belongs to."""
    whole = ([render(i["content"], None, None) for i in items], [str(i["object_id"]) for i in items])
    return {name: chunks_of(items) if name == "parts" else whole for name in names}


def score(model: Any, views: dict[str, View], test: Catalog) -> dict[str, float]:
    kw: dict[str, Any] = {"batch_size": 64, "normalize_embeddings": True, "show_progress_bar": False}
    ids = list(test.queries)
    queries = model.encode([test.queries[q] for q in ids], **kw)
    out = {}
    for name, (texts, owners) in views.items():
        ranked = exact_best_part(queries, model.encode(texts, **kw), owners, k=10)
        out[name] = mean_ndcg(dict(zip(ids, ranked, strict=True)), test.qrels)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset")
    parser.add_argument("--sample", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--preset", default="adapt")
    parser.add_argument("--overrides", type=json.loads, default={})
    parser.add_argument("--no-titles", action="store_true")
    parser.add_argument("--threads", type=int, help="torch threads (default: every core)")
    parser.add_argument("--views", nargs="+", choices=["parts", "whole"], default=["parts"])
    parser.add_argument("--units", choices=["objects", "chunks"], default="objects")
    parser.add_argument(
        "--no-title-pairs",
        action="store_true",
        help="pairs from the objects' text alone (cloze and crops; the title stays in what is scored)",
    )
    parser.add_argument(
        "--shares",
        type=float,
        nargs="+",
        default=[1.0],
        help="also score the weights averaged with the base's at these shares of the tuned model",
    )
    args = parser.parse_args()
    config = load_config()
    preset = resolve_preset(config, args.preset, args.overrides)
    if args.sample:
        test = generate(split="test")
    else:
        folder = dataset_or_none(args.dataset)
        if folder is None:
            raise SystemExit("no BEIR folder")
        test = beir.load(folder, "test")
    if args.no_titles:
        for item in test.items:
            if isinstance(item["content"], dict):
                item["content"] = {k: v for k, v in item["content"].items() if k != "title"}
    views = views_of(args.views, test.items)
    # chunks_of's embedder takes the serving processes' one thread; training here has the machine.
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    objects = objects_of(test.items, titles=not args.no_title_pairs)
    if args.units == "chunks":
        objects = chunk_objects(test.items, *chunks_of(test.items))
    serving = config.model.max_seq_length
    base = score(load_model(config.model.path, serving), views, test)
    print(f"base nDCG@10 {base}", flush=True)
    gains: dict[str, list[float]] = {f"{n}@{s:g}": [] for n in views for s in args.shares}
    for seed in args.seeds:
        pairs = sample_pairs(objects, preset.corpus, preset.corpus.max_pairs, seed)
        space = preset.search_space
        params = {
            "learning_rate": space.learning_rate[0],
            "epochs": space.epochs[0],
            "batch_size": space.batch_size[0],
            "warmup_ratio": space.warmup_ratio[0],
            "scale": space.scale[0],
        }
        began = time.monotonic()
        with tempfile.TemporaryDirectory() as out:
            plan = TrainingPlan(
                task_id="x",
                index="x",
                base_model_path=config.model.path,
                base_model_name="x",
                base_version=None,
                registered_model_name="x",
                loss=preset.loss,
                n_trials=1,
                timeout_s=preset.timeout_s,
                search_space=space,
                max_seq_length=preset.max_seq_length,
                seed=seed,
                promotion_margin=0.0,
                promotion_max_p=0.1,
                output_dir=out,
            )
            model = load_model(config.model.path, preset.max_seq_length)
            start = snapshot(model)
            callback = StudyCallback(_Quiet(), lambda s, n: None, lambda e, m: False)
            train(model, training_datasets(pairs, seed), plan, params, callback)
            model.max_seq_length = serving
            tuned_weights = snapshot(model)
            tuned: dict[str, float] = {}
            for share in args.shares:
                model.load_state_dict(tuned_weights)
                blend(model, start, share)
                tuned |= {f"{n}@{share:g}": v for n, v in score(model, views, test).items()}
        for name, value in tuned.items():
            view = name.split("@")[0]
            gains[name].append(100 * (value - base[view]) / base[view])
        shown = ", ".join(f"{n} {v:.4f} ({gains[n][-1]:+.2f}%)" for n, v in tuned.items())
        print(f"seed {seed}: {counts(pairs)} {shown} {(time.monotonic() - began) / 60:.1f} min", flush=True)
    for name, values in gains.items():
        print(f"adapt_ndcg10_gain_pct_{name}: {statistics.mean(values):.2f}")


if __name__ == "__main__":
    main()
