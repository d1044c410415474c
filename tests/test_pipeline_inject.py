"""The main job's inject stage (`km_pipeline --inject`): it runs only when asked, joins a finished run folder, resumes, reports
closed-book answers with their curve, and refuses a bad corpus kind by name (fast: a 20-film world, a model of ~50k parameters)."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge_mixer.core import KMInputError
from knowledge_mixer.data import load_dataset_dir
from knowledge_mixer.pipeline import PipelineConfig, run_pipeline

BIN = Path(sys.executable).parent
TINY = dict(n_movies=20, per_type=2, threads=1)
TINY_INJECT = dict(inject_steps=4, inject_hidden=32, inject_layers=1, inject_vocab_size=400, inject_batch_size=8, inject_max_eval=8,
                   inject_curve_every=2, inject_probe_n=4, inject_max_new_tokens=8)


def _run(out, stages, capsys, **kw):
    "Run the stages into `out`; (report text, the stages that ran rather than being skipped)."
    report = run_pipeline(PipelineConfig(out=str(out), **TINY, **kw), stages)
    log = capsys.readouterr().out
    return report.read_text(), [s for s in stages if f'[{s}] running' in log]


def test_inject_stage_joins_a_run_resumes_and_reports(tmp_path, capsys):
    out = tmp_path / 'run'
    text, ran = _run(out, ['graph', 'questions'], capsys)  # a run without the inject stage
    assert ran == ['graph', 'questions'] and '## Closed book' not in text and not (out / 'inject').exists()
    text, ran = _run(out, ['graph', 'questions', 'inject'], capsys, inject='qa', **TINY_INJECT)  # the finished run gains the stage
    assert ran == ['inject']
    assert '## Closed book' in text and '### The test questions' in text and '(inject/closed_book_curve.png)' in text
    assert (out / 'inject' / 'closed_book_curve.png').stat().st_size > 0
    cb = json.loads((out / 'inject' / 'closed_book.json').read_text())
    test = [json.loads(line) for line in (out / 'questions' / 'test.jsonl').read_text().splitlines()]
    assert cb['test']['overall']['n'] == len(test) and 0 < cb['one_hop']['overall']['n'] <= 8 and cb['training']['steps'] == 4
    def key(q): return re.sub(r'[^a-z0-9]', '', q.lower())
    trained = {key(t.split('\n')[0][3:]) for t in load_dataset_dir(out / 'inject' / 'corpus')['text'] if t.startswith('Q: ')}
    assert not {key(r['question']) for r in cb['one_hop']['rows']} & trained  # held out: never asked in training, in any case
    curve = json.loads((out / 'inject' / 'train' / 'closed_book_curve.json').read_text())
    assert [p['step'] for p in curve] == [0, 2, 4] and curve[-1]['tokens'] > 0
    metrics = json.loads((out / 'metrics.json').read_text())['inject']['metrics']
    assert metrics['closed_book_hits@1'] == round(cb['one_hop']['overall']['hits@1'], 4) and 'test_closed_book_hits@1_1hop' in metrics
    first = (out / 'stages' / 'inject.done.json').read_text()
    text2, ran = _run(out, ['graph', 'questions', 'inject'], capsys, inject='qa', **TINY_INJECT)  # finished: skipped
    assert ran == [] and (out / 'stages' / 'inject.done.json').read_text() == first and '## Closed book' in text2
    with pytest.raises(KMInputError, match=r"other settings \(inject_steps: 4 -> 5\)"):
        _run(out, ['inject'], capsys, inject='qa', **{**TINY_INJECT, 'inject_steps': 5})
    with pytest.raises(KMInputError, match=r"other settings \(inject: 'qa' -> None\);"):  # dropping the stage is a change too
        _run(out, ['graph'], capsys)



def test_interrupted_inject_stage_resumes_from_its_checkpoint(tmp_path, capsys):
    "A stage stopped after the checkpoint at step 2 (no step-4 checkpoint, no done marker) trains on from step 2, its curve kept."
    import shutil
    out, cfg = tmp_path / 'run', dict(inject='qa', **{**TINY_INJECT, 'inject_save_steps': 2})
    _run(out, ['graph', 'questions', 'inject'], capsys, **cfg)
    first = json.loads((out / 'inject' / 'train' / 'closed_book_curve.json').read_text())
    shutil.rmtree(out / 'inject' / 'train' / 'checkpoint-4'); (out / 'stages' / 'inject.done.json').unlink()
    report = run_pipeline(PipelineConfig(out=str(out), **TINY, **cfg), ['graph', 'questions', 'inject'])
    log = capsys.readouterr().out
    assert '[inject] running' in log and f"resuming from {out / 'inject' / 'train' / 'checkpoint-2'}" in log, log[-2000:]
    assert json.loads((out / 'inject' / 'closed_book.json').read_text())['training']['steps'] == 4 and '## Closed book' in report.read_text()
    again = json.loads((out / 'inject' / 'train' / 'closed_book_curve.json').read_text())
    assert [p['step'] for p in again] == [0, 2, 4] and again[:2] == first[:2]  # the points before the checkpoint were kept


def test_mixed_stage_plans_and_answers_hybrid(tmp_path, capsys):
    "The mixed corpus takes the sft_data stage's planning examples; the mixed model answers retrieval / closed-book / hybrid."
    out = tmp_path / 'run'
    with pytest.raises(KMInputError, match='run it before inject'):
        _run(out, ['graph', 'questions', 'inject'], capsys, inject='mixed', **TINY_INJECT)
    capsys.readouterr()
    text, ran = _run(out, ['graph', 'questions', 'sft_data', 'inject'], capsys, inject='mixed', **TINY_INJECT)
    assert ran == ['sft_data', 'inject'] and '### Hybrid answering' in text  # graph and questions were done
    hybrid = json.loads((out / 'inject' / 'closed_book.json').read_text())['hybrid']
    assert list(hybrid) == ['retrieval', 'closed_book', 'hybrid'] and {'removed', 'overall'} <= set(hybrid['hybrid'])
    assert {'fact', 'walk', 'qa', 'plan'} <= set(load_dataset_dir(out / 'inject' / 'corpus')['kind'])


def test_bad_inject_value_is_one_line_listing_the_choices(tmp_path):
    r = subprocess.run([str(BIN / 'km_pipeline'), '--out', str(tmp_path / 'run'), '--inject', 'poems'], capture_output=True, text=True)
    assert r.returncode == 2 and 'Traceback' not in r.stderr and r.stderr.strip().count('\n') == 0, r.stderr
    assert "inject='poems' is not a corpus kind: use one of facts, plain, walks, paths, qa, mixed" in r.stderr
    assert not (tmp_path / 'run').exists()  # refused before anything was written
    with pytest.raises(KMInputError, match='--inject_steps must be >= 1'):
        run_pipeline(PipelineConfig(out=str(tmp_path / 'run'), inject='qa', inject_steps=0))
    with pytest.raises(KMInputError, match='the inject stage needs inject='):
        run_pipeline(PipelineConfig(out=str(tmp_path / 'run')), ['inject'])
    assert not (tmp_path / 'run').exists()


def test_facts_stage_teaches_the_format_on_other_entities(tmp_path, capsys):
    "A corpus without questions gets QA about a share of the entities (the answer format), never about a test topic, which is asked."
    out = tmp_path / 'run'
    _run(out, ['graph', 'questions', 'inject'], capsys, inject='facts', **TINY_INJECT)
    corpus = load_dataset_dir(out / 'inject' / 'corpus')
    asked_in_training = [t.split('\n')[0] for t, k in zip(corpus['text'], corpus['kind']) if k == 'qa']
    test = [json.loads(line) for line in (out / 'questions' / 'test.jsonl').read_text().splitlines()]
    topics = {e for q in test for e in q['q_entity']}
    assert 'fact' in corpus['kind'] and asked_in_training and not [q for q in asked_in_training if any(t in q for t in topics)]
    cb = json.loads((out / 'inject' / 'closed_book.json').read_text())
    assert cb['one_hop']['overall']['n'] > 0 and all(any(t in r['question'] for t in topics) for r in cb['one_hop']['rows'])
