"""The libtorch path on a GPU: export MiniLM with the product's exporter, run model.pt with torch.jit on
cuda (what Triton's libtorch backend runs), and compare with sentence-transformers on the same GPU and
the same texts. For a lent GPU machine with no services (run as a script:
`python3 bench/_libtorch_gpu.py --model DIR --dataset DIR`); `bench/inference.py --device cuda` does
the same beside a Triton server.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from jobs.triton.export import MODEL_FILE, export_model
from jobs.triton.tokenizer import TOKENIZER_DIR, BatchTokenizer


def texts_of(dataset: Path, n: int) -> list[str]:
    """The first `n` corpus texts ("title. text")."""
    out = []
    with (dataset / "corpus.jsonl").open() as f:
        for line in f:
            doc = json.loads(line)
            out.append(f"{doc.get('title', '')}. {doc['text']}".strip(". "))
            if len(out) == n:
                break
    return out


def timed(fn: object, repeats: int = 3) -> float:
    """Best of `repeats` wall times of fn() (after one warm-up), GPU work included."""
    assert callable(fn)
    fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--docs", type=int, default=1400)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    model = SentenceTransformer(args.model, device="cpu").float()  # fp16 copies travel; fp32 exports
    model.save(str(work / "model"))
    out = work / "export"
    out.mkdir()
    result = export_model(str(work / "model"), str(out))
    print(f"export parity (cpu): {result.export_parity:.7f} in {result.seconds:.1f} s")
    texts = texts_of(Path(args.dataset), args.docs)
    tokenizer = BatchTokenizer(out / TOKENIZER_DIR, result.tokenizer)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    batches = [
        tokenizer.encode([texts[i] for i in order[s : s + args.batch]])
        for s in range(0, len(texts), args.batch)
    ]
    jit = torch.jit.load(str(out / MODEL_FILE), map_location="cuda")  # type: ignore[no-untyped-call]
    st = SentenceTransformer(str(work / "model"), device="cuda")
    st.max_seq_length = result.tokenizer.max_seq_length

    def run_jit() -> np.ndarray:
        with torch.inference_mode():
            return np.concatenate(
                [
                    jit(torch.from_numpy(i).cuda(), torch.from_numpy(m).cuda()).cpu().numpy()
                    for i, m in batches
                ]
            )

    def run_st() -> np.ndarray:
        return np.asarray(st.encode(texts, batch_size=args.batch, normalize_embeddings=True))

    jit_s, st_s = timed(run_jit), timed(run_st)
    got = run_jit()
    want = run_st()[order]
    parity = float(np.min(np.sum(got * want, axis=1)))
    n = len(texts)
    print(f"device: {torch.cuda.get_device_name()}  texts: {n}  batch: {args.batch}")
    print(
        f"torch.jit model.pt on cuda (pre-tokenised): {n / jit_s:,.0f} texts/s; "
        f"sentence-transformers on cuda (tokenising): {n / st_s:,.0f}"
    )
    print(f"libtorch_gpu_parity: {parity:.6f}")
    print(f"libtorch_gpu_texts_per_s: {n / jit_s:.0f}")
    print(f"libtorch_vs_st_gpu: {st_s / jit_s:.3f}")


if __name__ == "__main__":
    main()
