"""Limits (issue #20): nonsense argument values refused with exit 2 and one line, sizes bounded, prompts that overrun the planner's
positions refused by question, and configurations that cannot work refused before training."""
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from knowledge_mixer.core import KMInputError, KMNotFound, check_settings

BIN = Path(sys.executable).parent


def run(*args, cwd=None):
    return subprocess.run([str(BIN / args[0]), *map(str, args[1:])], capture_output=True, text=True, cwd=cwd)


def _configs():
    from knowledge_mixer.ask import AskConfig
    from knowledge_mixer.corpus import CorpusConfig
    from knowledge_mixer.data import DatasetConfig
    from knowledge_mixer.eval import EvalConfig
    from knowledge_mixer.graphqa import BenchmarkCommand
    from knowledge_mixer.inject import InjectConfig
    from knowledge_mixer.paths import PathsConfig
    from knowledge_mixer.pipeline import PipelineConfig
    from knowledge_mixer.reason import PredictConfig
    from knowledge_mixer.serve import ServeConfig
    from knowledge_mixer.train import TrainConfig
    from knowledge_mixer.walk import WalkConfig
    return dict(walk=lambda **kw: WalkConfig(graph='k', out='o', **kw), paths=lambda **kw: PathsConfig(questions='q', kb='k', out='o', **kw),
                dataset=lambda **kw: DatasetConfig(action='sft', out='o', **kw), corpus=lambda **kw: CorpusConfig(action='facts', out='o', **kw),
                train=TrainConfig, inject=InjectConfig, pipeline=PipelineConfig, ask=lambda **kw: AskConfig(run='r', **kw),
                predict=lambda **kw: PredictConfig(model='m', kg='k', questions='q', **kw), serve=lambda **kw: ServeConfig(run='r', **kw),
                benchmark=lambda **kw: BenchmarkCommand(action='build', **kw), eval=lambda **kw: EvalConfig(predictions='p', **kw))


# (command, setting, value, what the one line says); each was accepted (or failed later, or raw) before
NONSENSE = [
    ('walk', 'n_walks', 0, '--n_walks must be >= 1, got 0'), ('walk', 'length', 0, '--length must be >= 1, got 0'),
    ('walk', 'seed', -1, '--seed must be >= 0, got -1'), ('walk', 'threads', 5000, '--threads must be in [1, 1024], got 5000'),
    ('paths', 'max_hops', 0, '--max_hops must be in [1, 16], got 0'), ('paths', 'max_paths', 0, '--max_paths must be >= 1, got 0'),
    ('paths', 'threads', 0, '--threads must be in [1, 1024], got 0'),
    ('dataset', 'hops', 0, '--hops must be in [1, 16], got 0'), ('dataset', 'max_triples', 0, '--max_triples must be >= 1, got 0'),
    ('dataset', 'per_type', 0, '--per_type must be >= 1, got 0'), ('dataset', 'threads', 0, '--threads must be in [1, 1024], got 0'),
    ('corpus', 'max_tokens', 0, '--max_tokens must be >= 1, got 0'), ('corpus', 'max_paths', 0, '--max_paths must be >= 1, got 0'),
    ('corpus', 'restart', 1.0, '--restart must be >= 0 and < 1, got 1.0'), ('corpus', 'p', -1.0, '--p must be > 0, got -1.0'),
    ('train', 'lr', -1.0, '--lr must be > 0, got -1.0'), ('train', 'lr', 0.0, '--lr must be > 0, got 0.0'),
    ('train', 'valid_fraction', 1.5, '--valid_fraction must be >= 0 and < 1, got 1.5'),
    ('train', 'lora_dropout', 1.0, '--lora_dropout must be >= 0 and < 1, got 1.0'), ('train', 'max_train', -1, '--max_train must be >= 0, got -1'),
    ('train', 'save_total_limit', 0, '--save_total_limit must be >= 1, got 0'), ('train', 'threads', -2, '--threads must be in [0, 1024], got -2'),
    ('train', 'max_grad_norm', 0.0, '--max_grad_norm must be > 0'), ('train', 'num_processes', 100_000, '--num_processes must be in [1, 1024]'),
    ('inject', 'lr', -1.0, '--lr must be > 0, got -1.0'), ('inject', 'stop_at', 2.0, '--stop_at must be >= 0 and <= 1, got 2.0'),
    ('inject', 'format_share', 1.5, '--format_share must be >= 0 and < 1, got 1.5'), ('inject', 'probe_n', 0, '--probe_n must be >= 1, got 0'),
    ('inject', 'hidden', 0, '--hidden must be >= 1, got 0'), ('inject', 'curve_every', -1, '--curve_every must be >= 0, got -1'),
    ('predict', 'beams', 0, '--beams must be in [1, 256], got 0'), ('predict', 'beams', 100_000, '--beams must be in [1, 256], got 100000'),
    ('predict', 'batch_size', 0, '--batch_size must be >= 1, got 0'), ('predict', 'limit', -1, '--limit must be >= 0, got -1'),
    ('predict', 'max_hops', 0, '--max_hops must be in [1, 16], got 0'), ('predict', 'top_plans', 0, '--top_plans must be >= 1, got 0'),
    ('predict', 'llm_timeout', 0.0, '--llm_timeout must be > 0, got 0.0'), ('predict', 'llm_retries', -1, '--llm_retries must be >= 0'),
    ('pipeline', 'max_test', -1, '--max_test must be >= 0, got -1'), ('pipeline', 'seed', -1, '--seed must be >= 0, got -1'),
    ('pipeline', 'inject_steps', 0, '--inject_steps must be >= 1, got 0'), ('pipeline', 'lr', -1.0, '--lr must be > 0, got -1.0'),
    ('pipeline', 'beams', 100_000, '--beams must be in [1, 256]'), ('pipeline', 'inject_max_eval', -5, '--inject_max_eval must be >= 0'),
    ('ask', 'top', -1, '--top must be >= 0, got -1'), ('ask', 'beams', 0, '--beams must be in [1, 256], got 0'),
    ('ask', 'paths_per_answer', -1, '--paths_per_answer must be >= 0, got -1'),
    ('serve', 'port', 70_000, '--port must be in [0, 65535], got 70000'), ('serve', 'batch', 0, '--batch must be >= 1, got 0'),
    ('serve', 'max_queue', 0, '--max_queue must be >= 1, got 0'), ('benchmark', 'seed', -1, '--seed must be >= 0, got -1'),
    ('dataset', 'hops', 99, '--hops must be in [1, 16], got 99'), ('corpus', 'seed', -1, '--seed must be >= 0, got -1'),
    ('eval', 'topk', -5, '--topk must be >= -1, got -5'), ('serve', 'max_body', 0, '--max_body must be >= 1, got 0'),
]


@pytest.mark.parametrize('cmd,name,value,says', NONSENSE, ids=[f'{c}-{n}={v}' for c, n, v, _ in NONSENSE])
def test_nonsense_values_are_refused_naming_the_flag_and_range(cmd, name, value, says):
    make = _configs()[cmd]
    check_settings(make())  # the defaults pass
    with pytest.raises(KMInputError, match=None) as e: check_settings(make(**{name: value}))
    assert says in str(e.value), str(e.value)


def test_optional_settings_left_unset_pass():
    check_settings(_configs()['ask'](beams=None, max_hops=None))
    check_settings(_configs()['inject'](format_share=None, general_kl=None))


@pytest.fixture(scope='module')
def small_kg(tmp_path_factory):
    from knowledge_mixer.data import movie_world
    p = tmp_path_factory.mktemp('kg') / 'kg.npz'
    movie_world(20, seed=0).save(p)
    return p


@pytest.mark.parametrize('argv,says', [
    (['km_walk', '{kg}', 'o.txt', '--n_walks', '0'], 'km_walk: error: --n_walks must be >= 1, got 0'),  # before: exit 0, an empty walk file
    (['km_walk', '{kg}', 'o.txt', '--seed', '-1'], 'km_walk: error: --seed must be >= 0, got -1'),  # before: exit 0
    (['km_dataset', 'rog', 'o', '--kg', '{kg}', '--hops', '0'], 'km_dataset: error: --hops must be in [1, 16], got 0'),  # before: exit 0, empty subgraphs
    (['km_corpus', 'facts', 'o', '--max_tokens', '0'], 'km_corpus: error: --max_tokens must be >= 1, got 0'),  # before: exit 0, no budget at all
    (['km_inject', '--out', 'o', '--lr', '-1'], 'km_inject: error: --lr must be > 0, got -1.0'),  # before: exit 1, a raw ValueError from torch
    (['km_predict', 'm', '{kg}', 'q.jsonl', '--beams', '100000'], 'km_predict: error: --beams must be in [1, 256], got 100000'),
    (['km_predict', 'm', '{kg}', 'q.jsonl', '--limit', '-1'], 'km_predict: error: --limit must be >= 0, got -1'),
    (['km_serve', 'r', '--port', '70000'], 'km_serve: error: --port must be in [0, 65535], got 70000'),
])
def test_commands_refuse_nonsense_with_exit_2_and_one_line_before_any_work(argv, says, small_kg, tmp_path):
    r = run(*[a.format(kg=small_kg) for a in argv], cwd=tmp_path)
    lines = [ln for ln in r.stderr.splitlines() if 'WARNING' not in ln]
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith(says), r.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


# ---------------------------------------------------------------- prompts longer than the planner's positions; sizes

@pytest.fixture(scope='module')
def planner():
    "A 20-film world, two of its questions and an untrained tiny planner (512 positions)."
    import torch
    torch.set_num_threads(1)
    from knowledge_mixer.data import movie_questions, movie_world
    from knowledge_mixer.model import add_path_tokens, build_tokenizer, tiny_model
    from knowledge_mixer.text import planning_prompt
    kg = movie_world(20, seed=0)
    qs = movie_questions(kg, per_type=1, seed=0)[:2]
    tok = build_tokenizer([planning_prompt(q.question) for q in qs] + kg.relation_names, vocab_size=300)
    model = tiny_model(tok, hidden=32, layers=1, heads=2)
    add_path_tokens(model, tok)
    return SimpleNamespace(kg=kg, qs=qs, tok=tok, model=model)


@pytest.mark.parametrize('method', ['exact', 'beam'])
def test_a_question_past_the_planners_positions_is_refused_by_id_before_any_model_work(planner, method):
    from dataclasses import replace

    from knowledge_mixer.reason import plan
    assert planner.model.config.max_position_embeddings == 512
    plan(planner.model, planner.tok, planner.qs, planner.kg, beams=2, method=method)  # the questions as they are: planned
    for words in (2_000, 200_000):  # ~10,000 tokens: ran with only a warning before; ~1 MB: never returned
        long = replace(planner.qs[1], id='q-long', question=planner.qs[1].question + ' blah' * words)
        t = time.perf_counter()
        with pytest.raises(KMInputError, match=r"question 'q-long' is too long: its prompt is [\d,]+ tokens .* past the planner's 512 positions"):
            plan(planner.model, planner.tok, [planner.qs[0], long], planner.kg, beams=2, method=method)
        assert time.perf_counter() - t < 30


def test_beam_search_larger_than_the_vocabulary_or_memory_is_refused(planner):
    from knowledge_mixer.reason import MAX_BEAMS, check_beam_memory, plan
    with pytest.raises(KMInputError, match='beams must be in'):
        plan(planner.model, planner.tok, planner.qs, planner.kg, beams=MAX_BEAMS + 1, method='beam')
    assert check_beam_memory(planner.model, 2, 3, 64) > 0  # a small search fits
    huge = SimpleNamespace(config=SimpleNamespace(num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8, hidden_size=8192,
                                                  vocab_size=150_000))
    with pytest.raises(KMInputError, match=r'beam search over 32 question\(s\) x 256 beams x 4096 tokens needs about [\d,.]+ GiB, but .* lower --beams or --batch_size'):
        check_beam_memory(huge, 32, 256, 4096)


# ---------------------------------------------------------------- late failures: refused before the first expensive stage

def test_pipeline_refuses_a_questions_folder_without_test_and_an_unknown_base_before_any_stage(tmp_path):
    from knowledge_mixer.pipeline import PipelineConfig
    qdir = tmp_path / 'qs'; qdir.mkdir(); (qdir / 'train.jsonl').write_text('{}\n')
    with pytest.raises(KMInputError, match='needs test.jsonl'): PipelineConfig(out=str(tmp_path / 'run'), questions=str(qdir)).check()
    with pytest.raises(KMNotFound, match="model '/no/such/base' is neither a local folder"):
        PipelineConfig(out=str(tmp_path / 'run'), base='/no/such/base').check()
    assert not (tmp_path / 'run').exists()


def test_km_train_refuses_an_unknown_base_before_loading_data(tmp_path):
    r = run('km_train', '--base', tmp_path / 'nope', '--dataset', tmp_path / 'no-data.jsonl', '--out', tmp_path / 'out')
    assert r.returncode == 2 and 'is neither a local folder nor a known name' in r.stderr and 'dataset' not in r.stderr, r.stderr


def test_pipeline_refuses_to_train_with_an_empty_test_split(tmp_path):
    from knowledge_mixer.pipeline import PipelineConfig, check_trainable
    out = tmp_path / 'run'; (out / 'questions').mkdir(parents=True)
    (out / 'questions' / 'train.jsonl').write_text(json.dumps({'id': 'a', 'question': 'q', 'answer': ['x']}) + '\n')
    (out / 'questions' / 'test.jsonl').write_text('')
    with pytest.raises(KMInputError, match=r'test.jsonl: the test split is empty, so the run would train and evaluate nothing'):
        check_trainable(PipelineConfig(out=str(out)), out)
    (out / 'questions' / 'test.jsonl').write_text(json.dumps({'id': 'b', 'question': 'q', 'answer': ['x']}) + '\n')
    with pytest.raises(KMInputError, match='no planning examples'): check_trainable(PipelineConfig(out=str(out)), out)


def test_served_question_past_the_planners_positions_is_a_400_not_a_hang(planner):
    from fastapi.testclient import TestClient

    from knowledge_mixer.ask import Reasoner
    from knowledge_mixer.serve import make_app
    topic = planner.qs[0].q_entity[0]
    long = f'who directed [{topic}] ' + 'zq ' * 600  # under the server's 2,000 characters, over the planner's 512 positions
    with TestClient(make_app(Reasoner(planner.kg, planner.model, planner.tok))) as c:
        t = time.perf_counter()
        r = c.post('/v1/kgqa', json={'question': long})
        assert r.status_code == 400 and "past the planner's 512 positions" in r.json()['error']['message'], r.text
        assert time.perf_counter() - t < 30
        assert c.post('/v1/kgqa', json={'question': f'who directed [{topic}]'}).status_code == 200


@pytest.mark.parametrize('argv,says', [
    (['km_eval', 'p.jsonl', '--format', 'rog', '--topk', '0'], 'km_eval: error: --topk must be -1 (every prediction) or >= 1, got 0'),
    (['km_eval', 'p.jsonl', '--format', 'rog', '--topk', '-5'], 'km_eval: error: --topk must be >= -1, got -5'),
    (['km_dataset', 'rog', 'o', '--split', '0.8,x,0.1'], "km_dataset: error: --split must be 3 comma-separated fractions (train,validation,test)"),
    (['km_pipeline', '--out', 'o', '--split', '0,0,1'], "km_pipeline: error: --split '0,0,1' leaves the train part(s) empty"),
])
def test_eval_topk_and_splits_refused_with_one_line(argv, says, tmp_path):
    (tmp_path / 'p.jsonl').write_text(json.dumps({'id': 'a', 'prediction': 'x', 'ground_truth': ['x']}) + '\n')
    r = run(*argv, cwd=tmp_path)
    lines = [ln for ln in r.stderr.splitlines() if 'WARNING' not in ln]
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith(says), r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ['p.jsonl']


def test_training_refuses_max_length_past_the_positions_and_reports_cut_rows(planner, tmp_path, capsys):
    from datasets import Dataset

    from knowledge_mixer.train import TrainConfig, check_row_lengths, train_sft
    ds = Dataset.from_dict({'prompt': ['who directed [X]? ' * 40, 'short'], 'completion': [' <PATH> directed_by </PATH>'] * 2})
    with pytest.raises(KMInputError, match=r"--max_length 4096 is more than the base model's 512 positions"):
        train_sft(TrainConfig.tiny(out=str(tmp_path / 'run'), max_length=4096, steps=1), ds, model=planner.model, tokenizer=planner.tok)
    assert not (tmp_path / 'run' / 'model').exists()
    assert check_row_lengths(TrainConfig.tiny(max_length=64), planner.model, planner.tok, ds) == 1  # before: cut without a word
    assert 'note: 1 of 2 training rows are longer than max_length=64 tokens' in capsys.readouterr().out


def test_a_walk_corpus_larger_than_memory_is_refused_before_walking():
    from knowledge_mixer.corpus import walk_corpus
    from knowledge_mixer.data import movie_world
    t = time.perf_counter()
    with pytest.raises(KMInputError, match=r'a corpus of 1,000,000,000 walks of length 1000 needs about [\d,.]+ GiB, but [\d,.]+ GiB is free'):
        walk_corpus(movie_world(20, seed=0), n_walks=10**9, length=1000)
    assert time.perf_counter() - t < 10
