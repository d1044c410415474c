"""The main job is reproducible: the same config, seed and thread count give the same plans, scores and metrics.

Torch can split a large reduction by thread, so another thread count may round differently and training drift apart
(on this small job 1 and 2 threads agree exactly); the documented MetaQA command pins `--threads` for that reason.
"""
import json

import pytest

from knowledge_mixer.pipeline import PipelineConfig, run_pipeline

pytestmark = pytest.mark.slow  # three small training runs


def job(out, seed):
    "Run a small main job; its stage metrics without wall-clock figures, and its predictions file."
    run_pipeline(PipelineConfig(out=str(out), n_movies=60, per_type=2, steps=40, eval_steps=40, batch_size=8, threads=1, seed=seed))
    metrics = json.loads((out / 'metrics.json').read_text())
    timeless = {stage: {k: v for k, v in m['metrics'].items() if k != 'minutes'} for stage, m in metrics.items()}
    return timeless, (out / 'predictions.jsonl').read_text()


def test_same_seed_same_results_another_seed_differs(tmp_path):
    a, b = job(tmp_path / 'a', 0), job(tmp_path / 'b', 0)
    assert a[0] == b[0]
    assert a[1] == b[1]  # every plan, score and answer
    c = job(tmp_path / 'c', 1)
    assert c[1] != a[1]  # the seed reaches training and the split: the test above is not vacuous
