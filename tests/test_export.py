"""ONNX export of a run's planner and the onnxruntime planner: same plans and scores as torch, the HF call and cache
semantics, int8, the export folder (manifest, atomic write, damage caught) and every bad input's error.

One run folder per session, as km_pipeline leaves it for asking (config.json, kg.npz, questions, train/model): a
60-film world and an untrained tiny Llama wrapped in a LoRA adapter with random (non-zero) LoRA weights and fully saved
embeddings and head, as `TrainConfig.tiny()` trains it — so the export really merges something. It is exported once
(float32, into RUN/onnx) and once as int8.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge_mixer.core import KMInputError, KMNotFound

BIN = Path(sys.executable).parent
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'OMP_NUM_THREADS': '1', 'KM_PROGRESS': '0'}


@pytest.fixture(scope='session')
def run(tmp_path_factory):
    import contextlib, io
    import torch
    torch.set_num_threads(1)
    from peft import get_peft_model
    from knowledge_mixer.data import load_jsonl
    from knowledge_mixer.model import add_path_tokens, build_tokenizer, load_base_model, lora_config, tiny_model
    from knowledge_mixer.pipeline import PipelineConfig, run_pipeline
    from knowledge_mixer.text import planning_prompt, relation_path_to_text
    out = tmp_path_factory.mktemp('export') / 'run'
    with contextlib.redirect_stdout(io.StringIO()):
        run_pipeline(PipelineConfig(out=str(out), n_movies=60, per_type=2, beams=3, threads=1), ['graph', 'questions'])
    recs = load_jsonl(out / 'questions' / 'train.jsonl')
    tok = build_tokenizer([planning_prompt(r.question) + relation_path_to_text(r.relation_path) for r in recs], vocab_size=300)
    base = tiny_model(tok, hidden=32, layers=2, heads=2)
    add_path_tokens(base, tok)
    base.save_pretrained(out / 'base_tiny'); tok.save_pretrained(out / 'base_tiny')
    base, tok = load_base_model(str(out / 'base_tiny'))  # as training loads it: the adapter records where its base is
    cfg = lora_config('all-linear', r=4, alpha=8, dropout=0.0, modules_to_save=['embed_tokens', 'lm_head'])
    cfg.init_lora_weights = False  # random A and B: the merge changes the weights
    pm = get_peft_model(base, cfg)
    pm.save_pretrained(out / 'train' / 'model'); tok.save_pretrained(out / 'train' / 'model')
    return out


@pytest.fixture(scope='session')
def exported(run):
    from knowledge_mixer.export import export_onnx
    return export_onnx(run)


@pytest.fixture(scope='session')
def exported8(run, tmp_path_factory):
    from knowledge_mixer.export import export_onnx
    return export_onnx(run / 'train' / 'model', tmp_path_factory.mktemp('int8') / 'onnx', quantize='int8')  # a planner folder, with --onnx


@pytest.fixture(scope='session')
def planners(run, exported):
    from knowledge_mixer.reason import load_planner
    return load_planner(run / 'train' / 'model'), load_planner(exported, runtime='onnx')


@pytest.fixture(scope='session')
def questions(run):
    from knowledge_mixer.data import load_jsonl
    from knowledge_mixer.graph import KnowledgeGraph
    qs = load_jsonl(run / 'questions' / 'train.jsonl')
    return KnowledgeGraph.load(run / 'kg.npz'), qs[:12]


def test_plans_and_scores_equal_torch(planners, questions):
    from knowledge_mixer.reason import plan
    (tm, ttok), (om, otok) = planners
    kg, qs = questions
    for method in ('exact', 'beam'):  # the exact planner's 2D-mask search on onnxruntime, and beam search
        a = plan(tm, ttok, qs, kg, beams=3, batch_size=5, method=method)  # batches of unequal prompt lengths: left padding
        b = plan(om, otok, qs, kg, beams=3, batch_size=5, method=method)
        assert [[p.path for p in x] for x in a] == [[p.path for p in x] for x in b]
        assert max(abs(p.score - q.score) for x, y in zip(a, b) for p, q in zip(x, y)) < 1e-4
        assert [[p.valid for p in x] for x in a] == [[p.valid for p in x] for x in b]
    assert type(om).__name__ == 'OnnxCausalLM' and type(tm).__name__ == 'LlamaForCausalLM'  # load_planner merges the LoRA


def test_the_lora_was_merged(run, planners):
    "Control for the parity tests: the adapter changes the model's numbers, so agreeing with it means the merge happened."
    import torch
    from knowledge_mixer.model import load_base_model
    base, tok = load_base_model(str(run / 'base_tiny'))
    ids = tok(['who directed [The Lost River]'], return_tensors='pt')['input_ids']
    with torch.no_grad(): lb, lo = base(input_ids=ids).logits, planners[1][0](input_ids=ids).logits
    assert (lb - lo).abs().max() > 0.1


def _step(model, ids, mask, cache=None):
    import torch
    pos = (mask.cumsum(-1) - 1).clamp(min=0)[:, -ids.shape[1]:]
    with torch.no_grad(): return model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True)


def test_the_causal_lm_call_and_cache_operations(planners):
    "The HF call with a cache, continued after the cache ops a planner uses (select and repeat rows, reorder): as torch."
    import torch
    (tm, ttok), (om, _) = planners
    ttok.padding_side = 'left'
    enc = ttok(['who directed [The Lost River]', 'what genre is the film written by [Ana Varga] in'], return_tensors='pt', padding=True)
    ids, mask = enc['input_ids'], enc['attention_mask']
    a, b = _step(tm, ids, mask), _step(om, ids, mask)
    keep = mask.bool()
    assert (a.logits - b.logits).abs()[keep].max() < 1e-4
    assert type(b.past_key_values).__name__ == 'DynamicCache' and b.past_key_values.get_seq_length() == ids.shape[1]
    for c in (a.past_key_values, b.past_key_values):  # rows 1, 0, 1 (a beam reorder / candidate expansion)
        c.batch_select_indices(torch.tensor([1, 0, 1]))
    rows = torch.tensor([1, 0, 1])
    nxt = torch.tensor([[5], [6], [7]]); mask2 = torch.cat([mask[rows], torch.ones(3, 1, dtype=torch.long)], 1)
    a2, b2 = _step(tm, nxt, mask2, a.past_key_values), _step(om, nxt, mask2, b.past_key_values)
    assert (a2.logits - b2.logits).abs().max() < 1e-4
    for c in (a2.past_key_values, b2.past_key_values): c.batch_repeat_interleave(2)
    nxt3 = torch.arange(8, 14)[:, None]; mask3 = torch.cat([mask2.repeat_interleave(2, 0), torch.ones(6, 1, dtype=torch.long)], 1)
    a3, b3 = _step(tm, nxt3, mask3, a2.past_key_values), _step(om, nxt3, mask3, b2.past_key_values)
    assert (a3.logits - b3.logits).abs().max() < 1e-4
    assert b3.past_key_values.get_seq_length() == ids.shape[1] + 2
    # no mask and no positions: positions follow the cache, as in the torch model
    c1, d1 = (m(input_ids=ids[1:], use_cache=True) for m in (tm, om))
    assert (c1.logits - d1.logits).abs().max() < 1e-4
    assert om(input_ids=ids, logits_to_keep=1).logits.shape[1] == 1


def test_manifest_and_files(run, exported):
    from knowledge_mixer.export import MANIFEST, check_export
    m = json.loads((exported / MANIFEST).read_text())
    assert exported == run / 'onnx'
    assert m['format_version'] == 1 and m['quantized'] is None and m['opset'] == 18
    assert m['source_run'] == str(run.resolve()) and m['planner'] == str((run / 'train' / 'model').resolve())
    assert m['base'].endswith('base_tiny') and m['architecture'] == 'LlamaForCausalLM'
    assert {'model.onnx', 'config.json', 'tokenizer.json', 'generation_config.json'} <= set(m['files'])
    assert m['max_logprob_diff'] < 1e-4 and m['versions']['onnxruntime']
    assert check_export(exported, hashes=True) == m
    assert not [p for p in exported.parent.iterdir() if p.name.startswith('.onnx')]  # no temp folder left
    assert not (exported / '.merged').exists()


def test_int8(exported, exported8, questions):
    from knowledge_mixer.export import MANIFEST, load_onnx_planner
    from knowledge_mixer.reason import plan
    m8, m = (json.loads((e / MANIFEST).read_text()) for e in (exported8, exported))
    assert m8['quantized'] == 'int8' and m8['files']['model.onnx']['bytes'] < m['files']['model.onnx']['bytes']
    assert m8['source_run'] is None and m8['planner'] == m['planner']
    assert 0 < m8['max_logprob_diff'] < 1.0  # quantisation moved the numbers, a little
    om8, tok = load_onnx_planner(exported8)
    kg, qs = questions
    ps = plan(om8, tok, qs[:4], kg, beams=2)
    from knowledge_mixer.paths import relation_paths_from
    assert all(len(x) == 2 for x in ps)
    assert all(p.path in relation_paths_from(kg, q.q_entity, max_hops=3).paths for q, x in zip(qs, ps) for p in x)  # KG-constrained


def test_dynamic_int8_and_bad_quantize(run, exported, tmp_path):
    import numpy as np
    from knowledge_mixer.export import export_onnx, onnx_session, quantize_onnx
    q = quantize_onnx(exported / 'model.onnx', tmp_path / 'dyn.onnx', 'int8-dynamic')
    s = onnx_session(q, threads=1)
    assert {n.op_type for n in __import__('onnx').load(str(q)).graph.node} >= {'MatMulInteger', 'DynamicQuantizeLinear'}
    feed = {i.name: (np.ones((1, 3), np.int64) if i.name != 'position_ids' else np.arange(3)[None]) for i in s.get_inputs()[:3]}
    feed.update({i.name: np.zeros((1, 2, 0, 16), np.float32) for i in s.get_inputs()[3:]})
    assert s.run(None, feed)[0].shape[:2] == (1, 3)
    with pytest.raises(KMInputError, match="quantize must be one of 'int8', 'int8-dynamic'"): quantize_onnx('a', 'b', 'int4')
    with pytest.raises(KMInputError, match="quantize must be one of"): export_onnx(run, tmp_path / 'x', quantize='fp16')
    assert not (tmp_path / 'x').exists()


def test_reasoner_and_runtime_setting(run, exported):
    from knowledge_mixer.ask import Reasoner
    rt, ro = Reasoner.from_run(run), Reasoner.from_run(run, runtime='onnx')
    assert type(ro.model).__name__ == 'OnnxCausalLM' and ro.settings.runtime == 'onnx' and rt.settings.runtime == 'torch'
    q = ['name the director of [The Lost River]', 'what are the genres of the films directed by [The Lost River]']
    assert [a.answers for a in ro.ask_many(q)] == [a.answers for a in rt.ask_many(q)]
    with pytest.raises(KMInputError, match="runtime must be one of 'torch', 'onnx', got 'tensorrt'"): Reasoner.from_run(run, runtime='tensorrt')


def test_bad_sources(run, tmp_path):
    from knowledge_mixer.export import export_onnx, planner_folder
    with pytest.raises(KMNotFound, match='no such folder'): export_onnx(tmp_path / 'nothing')
    half = tmp_path / 'half'; half.mkdir()
    shutil.copy(run / 'config.json', half); shutil.copy(run / 'kg.npz', half)
    with pytest.raises(KMNotFound, match='a run folder without a trained planner .* training has not finished'): export_onnx(half)
    (tmp_path / 'notes').mkdir(); (tmp_path / 'notes' / 'a.txt').write_text('x')
    with pytest.raises(KMInputError, match='neither a run folder nor a planner folder'): export_onnx(tmp_path / 'notes')
    with pytest.raises(KMInputError, match='not a folder'): planner_folder(run / 'kg.npz')
    with pytest.raises(KMInputError, match='is a planner folder, not a run: say where the export goes'): export_onnx(run / 'train' / 'model')


def test_never_replaces_a_folder_that_is_not_an_export(run, exported, tmp_path):
    from knowledge_mixer.export import export_onnx
    with pytest.raises(KMInputError, match='was not made by km_export'): export_onnx(run, run / 'questions')
    assert (run / 'questions' / 'test.jsonl').exists()
    with pytest.raises(KMInputError, match='an ONNX export already'): export_onnx(exported, tmp_path / 'again')


def test_a_failed_export_keeps_the_previous_one(run, exported, tmp_path, monkeypatch):
    "A fault mid-export (after the graph is written) leaves the previous export whole and no temp folder behind."
    from knowledge_mixer import export
    out = shutil.copytree(exported, tmp_path / 'onnx')
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    def broken(*a, **k): raise RuntimeError('disk full')
    monkeypatch.setattr(export, 'parity', broken)
    with pytest.raises(RuntimeError, match='disk full'): export.export_onnx(run, out)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # control: the fault did happen mid-way
    assert sorted(p.name for p in tmp_path.iterdir()) == ['onnx']


def test_bad_exports(run, exported, tmp_path):
    from knowledge_mixer.export import MANIFEST, check_export, load_onnx_planner
    from knowledge_mixer.reason import load_planner
    with pytest.raises(KMNotFound, match='no such ONNX export folder; make one with `km_export RUN'): load_onnx_planner(tmp_path / 'none')
    with pytest.raises(KMInputError, match='not an ONNX export .* looks like a torch planner folder'):
        load_planner(run / 'train' / 'model', runtime='onnx')
    with pytest.raises(KMInputError, match="is an ONNX export of a planner: load it with runtime 'onnx'"): load_planner(exported)
    old = tmp_path / 'old'; shutil.copytree(exported, old)
    m = json.loads((old / MANIFEST).read_text())
    (old / MANIFEST).write_text(json.dumps({**m, 'format_version': 0, 'versions': {'knowledge-mixer': '0.0.1'}}))
    with pytest.raises(KMInputError, match='another format .* made by knowledge-mixer 0.0.1.* re-export'): load_onnx_planner(old)
    (old / MANIFEST).write_text('{')
    with pytest.raises(KMInputError, match='not readable JSON'): check_export(old)
    (old / MANIFEST).write_text(json.dumps(m)); (old / 'model.onnx').write_bytes(b'')
    with pytest.raises(KMInputError, match='model.onnx: missing or changed since the export'): load_onnx_planner(old)


def test_onnxruntime_missing(run, exported, monkeypatch):
    from knowledge_mixer.export import export_onnx, load_onnx_planner
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)  # `import onnxruntime` now raises ImportError
    with pytest.raises(KMNotFound, match='needs the Python package onnxruntime, which is not installed .* pip install onnx onnxruntime'):
        load_onnx_planner(exported)
    monkeypatch.setitem(sys.modules, 'onnxscript', None)
    with pytest.raises(KMNotFound, match='needs the Python package onnxscript'): export_onnx(run, run.parent / 'elsewhere')
    assert not (run.parent / 'elsewhere').exists()


@pytest.mark.slow
def test_command_lines(run, exported, tmp_path):
    "km_export writes an export and says so; km_predict --runtime onnx predicts as with torch; bad input: one line, exit 2."
    r = subprocess.run([str(BIN / 'km_export'), str(run), '--onnx', str(tmp_path / 'cli'), '--quantize', 'int8'],
                       capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    assert f'wrote {tmp_path / "cli"}: model.onnx' in r.stdout and '(int8, opset 18' in r.stdout
    bad = subprocess.run([str(BIN / 'km_export'), str(tmp_path / 'nothing')], capture_output=True, text=True, env=ENV)
    assert bad.returncode == 2 and 'no such folder' in bad.stderr and 'Traceback' not in bad.stderr
    q = run / 'questions' / 'test.jsonl'
    outs = {}
    for rt, model in (('torch', run / 'train' / 'model'), ('onnx', exported)):
        r = subprocess.run([str(BIN / 'km_predict'), str(model), str(run / 'kg.npz'), str(q), '--runtime', rt, '--beams', '2',
                            '--out', str(tmp_path / f'{rt}.jsonl')], capture_output=True, text=True, env=ENV)
        assert r.returncode == 0, r.stderr
        outs[rt] = [(d['prediction'], [p['path'] for p in d['plans']]) for d in map(json.loads, (tmp_path / f'{rt}.jsonl').read_text().splitlines())]
    assert outs['onnx'] == outs['torch'] and outs['onnx']
