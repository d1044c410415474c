"""Input files (#20): malformed files are refused at file:line with exit 2, never a raw Python error; gzip is read,
UTF-16 and binary files are named; nothing is silently dropped, merged or scored letter by letter."""
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge_mixer.core import KMInputError, read_lines

BIN = Path(sys.executable).parent


def run(*args, cwd=None):
    return subprocess.run([str(BIN / args[0]), *map(str, args[1:])], capture_output=True, text=True, cwd=cwd)


def one_line_error(r, *needles):
    "Exit 2, one stderr line, no traceback, and each needle in it."
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.strip().count('\n') == 0 and 'Traceback' not in r.stderr, r.stderr
    for s in needles: assert s in r.stderr, (s, r.stderr)


# --- read_lines: gzip, UTF-16, binary ---------------------------------------------------------------------------
def test_read_lines_reads_gzip(tmp_path):
    p = tmp_path / 'kb.txt'
    p.write_bytes(gzip.compress(b'a|r|b\nc|s|d\n'))
    assert list(read_lines(p)) == [(1, 'a|r|b'), (2, 'c|s|d')]


@pytest.mark.parametrize('data, says', [
    ('a|r|b\n'.encode('utf-16'), 'this file is UTF-16; convert it with iconv -f UTF-16 -t UTF-8'),
    ('a|r|b\n'.encode('utf-16-le'), 'this file is UTF-16; convert it with iconv -f UTF-16 -t UTF-8'),
    (np.arange(8, dtype=np.int64).tobytes(), 'a binary file (NUL bytes)'),
    (b'PK\x03\x04....', 'compressed with zip'),
    (gzip.compress(b'a|r|b\n' * 100, mtime=0)[:30], 'broken gzip file'),
    (b'\x01\x02\xff\n', 'looks like binary data, not text'),
])
def test_read_lines_names_what_the_file_is(tmp_path, data, says):
    p = tmp_path / 'kb.txt'
    p.write_bytes(data)
    with pytest.raises(KMInputError) as e: list(read_lines(p))
    assert says in str(e.value) and 'latin1' not in str(e.value)


def test_latin1_advice_only_for_latin1_text(tmp_path):
    p = tmp_path / 'kb.txt'
    p.write_bytes('caf\xe9|r|b\n'.encode('latin1'))
    with pytest.raises(KMInputError, match='kb.txt:1: invalid UTF-8 at byte 3; .*iconv -f latin1'): list(read_lines(p))


def test_km_graph_reads_gzip_and_names_utf16(tmp_path):
    p = tmp_path / 'kb.txt'
    p.write_bytes(gzip.compress(b'a|r|b\nb|r|c\n'))
    r = run('km_graph', 'stats', p, '--json')
    assert r.returncode == 0 and json.loads(r.stdout)['triples'] == 2, r.stderr
    p.write_bytes('a|r|b\n'.encode('utf-16'))
    one_line_error(run('km_graph', 'stats', p), 'UTF-16', 'iconv -f UTF-16')


# --- triples reader: header rows, control characters ---------------------------------------------------------
def test_first_row_kept_unless_a_whole_header(tmp_path):
    from knowledge_mixer.graph import KnowledgeGraph
    p = tmp_path / 'kb.txt'
    for first in ('from|r|b', 's|likes|b', 'h|r|x', 'source|cites|b'):  # each was dropped as a "header" before
        p.write_text(f'{first}\nb|r|c\n')
        assert len(KnowledgeGraph.from_file(p, inverse=False).triples()) == 2, first
    p.write_text('head|relation|tail\nb|r|c\n')
    assert KnowledgeGraph.from_file(p, inverse=False).triples() == [('b', 'r', 'c')]


def test_control_characters_refused_not_merged(tmp_path):
    p = tmp_path / 'kb.txt'
    p.write_text('a\x1f|r|b\na|r|c\n')  # str.strip() made 'a\x1f' and 'a' one entity
    one_line_error(run('km_graph', 'stats', p), 'kb.txt:1', 'control character U+001F')


# --- km_eval: wrong JSON types, duplicates -----------------------------------------------------------------------
ROW = dict(id='q1', prediction=['Paris'], ground_truth=['Paris'])

EVAL_CASES = {  # name: (row changes, what the error says); each was a TypeError/AttributeError or scored as valid
    'ground_truth string': (dict(ground_truth='Paris'), 'needs "ground_truth", a list of strings'),  # #21: [] is scored as skipped
    'ground_truth numbers': (dict(ground_truth=[1, None]), 'needs "ground_truth"'),
    'prediction number': (dict(prediction=5), '"prediction" must be a string or a list of strings'),
    'prediction null': (dict(prediction=None), '"prediction" must be a string or a list of strings'),
    'prediction nested': (dict(prediction=[['Paris']]), '"prediction" must be a string or a list of strings'),
    'prediction object': (dict(prediction={'a': 1}), '"prediction" must be'),
    'plans string': (dict(plans='r'), '"plans" must be a list of objects'),
    'plans path string': (dict(plans=[{'path': 'r'}]), '"plans" must be a list of objects'),
    'gold paths string': (dict(gold_relation_paths='r'), '"gold_relation_paths" must be a list of lists of strings'),
    'answered_by int': (dict(answered_by=1), '"answered_by" must be a list of plan ranks'),
    'hops list': (dict(hops=[1]), '"hops" must be a string or an integer'),
    'gold_path_answers string': (dict(gold_path_answers='Paris'), '"gold_path_answers" must be a list of strings'),
}


@pytest.mark.parametrize('name', EVAL_CASES)
def test_km_eval_wrong_types(tmp_path, name):
    change, says = EVAL_CASES[name]
    p = tmp_path / 'pred.jsonl'
    p.write_text(json.dumps(ROW) + '\n' + json.dumps(ROW | {'id': 'q2'} | change) + '\n')
    one_line_error(run('km_eval', p), 'pred.jsonl:2', says)


@pytest.mark.parametrize('fmt', ['km', 'rog'])
def test_km_eval_duplicate_ids(tmp_path, fmt):
    p = tmp_path / 'pred.jsonl'
    p.write_text(json.dumps(ROW) + '\n' + json.dumps(ROW | {'prediction': ['Lyon']}) + '\n')
    one_line_error(run('km_eval', p, '--format', fmt), "pred.jsonl:2: duplicate id 'q1' (first on line 1)")


def test_km_eval_rog_skips_wrong_types(tmp_path):
    p = tmp_path / 'pred.jsonl'
    p.write_text(json.dumps(ROW) + '\n' + json.dumps(ROW | {'id': 'q2', 'ground_truth': 'Lyon'}) + '\n')
    r = run('km_eval', p, '--format', 'rog')
    assert r.returncode == 0 and 'pred.jsonl:2: needs "ground_truth"' in r.stderr and 'Hit: 100.0' in r.stdout, r


@pytest.mark.parametrize('data, says', [(b'', 'no predictions'), (b'\n \n', 'no predictions'), (b'[1]\n', 'pred.jsonl:1: expected a JSON object'),
                                        ('{}\n'.encode('utf-16'), 'UTF-16')])
def test_km_eval_empty_and_odd_files(tmp_path, data, says):
    p = tmp_path / 'pred.jsonl'
    p.write_bytes(data)
    one_line_error(run('km_eval', p), says)


def test_km_eval_folder_and_gzip(tmp_path):
    one_line_error(run('km_eval', tmp_path), 'is a folder')
    p = tmp_path / 'pred.jsonl.gz'
    p.write_bytes(gzip.compress(json.dumps(ROW).encode() + b'\n'))
    r = run('km_eval', p)
    assert r.returncode == 0 and '| **all** | 1 |' in r.stdout, r


# --- question files: types, duplicates, gzip, Parquet ---------------------------------------------------------
Q = dict(id='q1', question='who directed [Heat]', answer=['Michael Mann'], q_entity=['Heat'], relation_path=['directed_by'])


@pytest.mark.parametrize('change, says', [
    ({'hops': '2'}, 'field "hops" must be a whole number'),
    ({'hops': [1]}, 'field "hops" must be a whole number'),
    ({'qtype': 3}, 'field "qtype" must be a string'),
    ({'graph': 'Heat directed_by Michael Mann'}, 'field "graph" must be a list of [head, relation, tail]'),
    ({'a_entity': [['Michael Mann']]}, "field 'a_entity' must be a list of names"),
])
def test_question_fields_of_the_wrong_type(tmp_path, change, says):
    from knowledge_mixer.data import load_jsonl
    p = tmp_path / 'q.jsonl'
    p.write_text(json.dumps(Q) + '\n' + json.dumps(Q | {'id': 'q2'} | change) + '\n')
    with pytest.raises(KMInputError, match='q.jsonl:2: '): load_jsonl(p)
    with pytest.raises(KMInputError) as e: load_jsonl(p)
    assert says in str(e.value)


def test_duplicate_question_ids_refused(tmp_path):
    from knowledge_mixer.data import SkipLog, load_jsonl
    p = tmp_path / 'q.jsonl'
    p.write_text(json.dumps(Q) + '\n\n' + json.dumps(Q) + '\n')
    with pytest.raises(KMInputError, match=r"q.jsonl:3: duplicate id 'q1' \(first on line 1\)"): load_jsonl(p)
    skip = SkipLog()
    assert len(load_jsonl(p, skip=skip)) == 1 and 'duplicate id' in skip[0][1]  # skipping keeps the first, and says so


def test_rog_row_lone_names_are_not_letters(tmp_path):
    from knowledge_mixer.data import load_rog
    p = tmp_path / 'test.jsonl'
    p.write_text(json.dumps(dict(id='1', question='q', answer='Paris', q_entity='France')) + '\n')
    rec, = load_rog(p)
    assert rec.q_entity == ['France'] and rec.answer == ['Paris']  # was ['F', 'r', 'a', ...]


def test_read_questions_gzip_and_parquet(tmp_path):
    from knowledge_mixer.data import QARecord, export_rog, read_questions, save_jsonl
    from knowledge_mixer.graph import KnowledgeGraph
    recs = [QARecord(**Q)]
    save_jsonl(recs, tmp_path / 'q.jsonl')
    (tmp_path / 'q.jsonl.gz').write_bytes(gzip.compress((tmp_path / 'q.jsonl').read_bytes()))
    assert read_questions(tmp_path / 'q.jsonl.gz')[0].q_entity == ['Heat']
    kg = KnowledgeGraph.from_triples([('Heat', 'directed_by', 'Michael Mann')])
    export_rog(kg, recs, tmp_path / 'rog' / 'test', 1, 100, 'parquet')
    assert [r.id for r in read_questions(next((tmp_path / 'rog').glob('test*.parquet')))] == ['q1']


# --- commands read each other's outputs -----------------------------------------------------------------------
KB = Path(__file__).resolve().parents[1].parent / 'shared' / 'data' / 'metaqa_mini' / 'kb.txt'


@pytest.fixture(scope='module')
def outputs(tmp_path_factory):
    "What the producing commands write, once: question files of km_dataset and km_benchmark, RoG exports, converted graphs."
    import os
    kb = Path(os.environ.get('KM_DATA', KB.parents[1])) / 'metaqa_mini' / 'kb.txt'
    if not kb.exists(): pytest.skip('metaqa_mini is not in the shared data folder')
    d = tmp_path_factory.mktemp('outputs')
    steps = [('km_dataset', 'questions', d / 'q.jsonl', '--kg', kb, '--per_type', 1),
             ('km_dataset', 'rog', d / 'rogj', '--kg', kb, '--questions', d / 'q.jsonl', '--format', 'jsonl'),
             ('km_dataset', 'rog', d / 'rogp', '--kg', kb, '--questions', d / 'q.jsonl'),
             ('km_benchmark', 'build', kb, '--out', d / 'bench', '--per_family', 1, '--tasks', 'path'),
             ('km_benchmark', 'export', d / 'bench', '--format', 'questions', '--out', d / 'bq'),
             ('km_graph', 'convert', kb, '--out', d / 'kb.npz'), ('km_graph', 'convert', kb, '--out', d / 'kb.nt.gz'),
             ('km_graph', 'convert', kb, '--out', d / 'kb.jsonl')]
    for s in steps:
        r = run(*s)
        assert r.returncode == 0, (s, r.stderr)
    (d / 'q.jsonl.gz').write_bytes(gzip.compress((d / 'q.jsonl').read_bytes()))
    return d, kb


QUESTION_FILES = ['q.jsonl', 'q.jsonl.gz', 'rogj/train.jsonl', 'rogp/train.parquet', 'bq/train.jsonl']


@pytest.mark.slow
@pytest.mark.parametrize('consumer', ['km_paths', 'km_dataset sft', 'km_dataset rog'])
@pytest.mark.parametrize('questions', QUESTION_FILES)
def test_question_files_are_read_by_every_command(outputs, tmp_path, consumer, questions):
    d, kb = outputs
    q = d / questions
    args = {'km_paths': ('km_paths', q, kb, tmp_path / 'o.jsonl', '--mode', 'retrieve', '--path_field', 'relation_path'),
            'km_dataset sft': ('km_dataset', 'sft', tmp_path / 'sft', '--kg', kb, '--questions', q),
            'km_dataset rog': ('km_dataset', 'rog', tmp_path / 'rog', '--kg', kb, '--questions', q, '--format', 'jsonl')}[consumer]
    r = run(*args)
    assert r.returncode == 0, (consumer, questions, r.stderr)


@pytest.mark.slow
@pytest.mark.parametrize('graph', ['kb.npz', 'kb.nt.gz', 'kb.jsonl'])
def test_converted_graphs_are_read(outputs, tmp_path, graph):
    d, _ = outputs
    for args in (('km_paths', d / 'q.jsonl', d / graph, tmp_path / 'o.jsonl'), ('km_graph', 'stats', d / graph),
                 ('km_dataset', 'questions', tmp_path / 'q.jsonl', '--kg', d / graph, '--per_type', 1)):
        r = run(*args)
        assert r.returncode == 0, (args, r.stderr)


@pytest.mark.slow
def test_km_paths_reads_our_field_names_by_default(outputs, tmp_path):
    d, kb = outputs  # the main job's questions/*.jsonl: q_entity, answer, relation_path (was: missing field(s) ['topic_entities'])
    r = run('km_paths', d / 'bq' / 'test.jsonl', kb, tmp_path / 'o.jsonl')
    assert r.returncode == 0, r.stderr
    assert all('truth_relation_paths' in json.loads(l) and 'retrieved' in json.loads(l) for l in (tmp_path / 'o.jsonl').read_text().splitlines())


def test_write_paths_reads_records_in_our_schema(tmp_path):
    from knowledge_mixer.data import QARecord, save_jsonl
    from knowledge_mixer.graph import KnowledgeGraph
    from knowledge_mixer.paths import write_paths
    kg = KnowledgeGraph.from_triples([('Heat', 'directed_by', 'Michael Mann')])
    save_jsonl([QARecord(**Q)], tmp_path / 'q.jsonl')  # as the main job writes questions/*.jsonl
    write_paths(kg, tmp_path / 'q.jsonl', tmp_path / 'o.jsonl')
    row = json.loads((tmp_path / 'o.jsonl').read_text())
    assert list(row['retrieved']) == ['Michael Mann'] and row['truth_relation_paths'][0]['path'] == ['directed_by']
    (tmp_path / 'q.jsonl').write_text(json.dumps(Q | {'q_entity': [['Heat']]}) + '\n')
    with pytest.raises(KMInputError, match="q.jsonl:1: field 'topic_entities' must be a list of names"):
        write_paths(kg, tmp_path / 'q.jsonl', tmp_path / 'o.jsonl')


# --- damaged model folders: exit 2 naming the file -----------------------------------------------------------
@pytest.fixture(scope='module')
def tiny_folder(tmp_path_factory):
    from knowledge_mixer.model import build_tokenizer, tiny_model
    d = tmp_path_factory.mktemp('model') / 'good'
    tok = build_tokenizer(['who directed Heat', 'Michael Mann directed_by'] * 20, vocab_size=300)
    m = tiny_model(tok, hidden=32, layers=1, heads=2)
    m.save_pretrained(d); tok.save_pretrained(d)
    return d


def _cut(f, n): f.write_bytes(f.read_bytes()[:n])


MODEL_DAMAGE = {  # name: (damage, file named, words); before: OSError/SafetensorError/JSONDecodeError/TypeError exit 1, or killed for memory
    'config cut short': (lambda d: _cut(d / 'config.json', 50), 'config.json', 'broken JSON'),
    'config garbage': (lambda d: (d / 'config.json').write_text('garbage'), 'config.json', 'broken JSON'),
    'config a list': (lambda d: (d / 'config.json').write_text('[]'), 'config.json', 'expected a JSON object'),
    'config without sizes': (lambda d: (d / 'config.json').write_text('{"model_type": "llama"}'), 'config.json', 'declares vocab_size x hidden_size'),
    'weights missing': (lambda d: (d / 'model.safetensors').unlink(), '', 'no weights file'),
    'weights cut short': (lambda d: _cut(d / 'model.safetensors', 3000), 'model.safetensors', 'cut short or damaged'),
    'tokenizer missing': (lambda d: [(d / f).unlink() for f in ('tokenizer.json', 'tokenizer_config.json')], '', 'no tokenizer files'),
    'tokenizer cut short': (lambda d: _cut(d / 'tokenizer.json', 100), 'tokenizer.json', 'broken JSON'),
}


@pytest.mark.parametrize('name', MODEL_DAMAGE)
def test_damaged_model_folder_named(tiny_folder, tmp_path, name):
    import shutil
    from knowledge_mixer.model import load_base_model
    damage, file, says = MODEL_DAMAGE[name]
    d = tmp_path / 'model'
    shutil.copytree(tiny_folder, d); damage(d)
    with pytest.raises(KMInputError) as e: load_base_model(str(d))
    assert f'{d}/{file}'.rstrip('/') in str(e.value) and says in str(e.value), str(e.value)


def test_damaged_adapter_named(tiny_folder, tmp_path):
    import shutil
    from knowledge_mixer.reason import load_planner
    d = tmp_path / 'adapter'
    shutil.copytree(tiny_folder, d)
    for f in ('config.json', 'model.safetensors'): (d / f).unlink()
    (d / 'adapter_config.json').write_text(json.dumps({'base_model_name_or_path': str(tiny_folder), 'peft_type': 'LORA'}))
    with pytest.raises(KMInputError, match='no weights file .looked for adapter_model.safetensors'): load_planner(d)
    (d / 'adapter_model.safetensors').write_bytes(b'x')
    with pytest.raises(KMInputError, match='adapter_model.safetensors: cut short'): load_planner(d)


def test_km_predict_damaged_model_exits_2(tiny_folder, tmp_path):
    import shutil
    d = tmp_path / 'model'
    shutil.copytree(tiny_folder, d); _cut(d / 'config.json', 50)
    (tmp_path / 'kb.txt').write_text('Heat|directed_by|Michael Mann\n')
    (tmp_path / 'q.jsonl').write_text(json.dumps(Q) + '\n')
    r = run('km_predict', d, tmp_path / 'kb.txt', tmp_path / 'q.jsonl', '--out', tmp_path / 'p.jsonl')
    assert r.returncode == 2 and f'{d}/config.json: broken JSON' in r.stderr and 'Traceback' not in r.stderr, r.stderr


# --- config files: value types, encodings --------------------------------------------------------------------
@pytest.mark.parametrize('text, name, says', [
    ('{"steps": "ten"}', 'c.json', "setting 'steps' must be an integer, got 'ten'"),
    ('{"steps": null}', 'c.json', "setting 'steps' cannot be null"),
    ('{"steps": 1.5}', 'c.json', "setting 'steps' must be an integer"),
    ('{"lr": [1]}', 'c.json', "setting 'lr' must be a number"),
    ('{"packing": "no"}', 'c.json', "setting 'packing' must be true or false"),
    ('steps: ten\n', 'c.yaml', "setting 'steps' must be an integer"),
    ('steps: [1\n', 'c.yaml', 'not valid YAML'),
])
def test_config_value_types(tmp_path, text, name, says):
    from knowledge_mixer.core import load_config_file
    from knowledge_mixer.train import TrainConfig
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(KMInputError) as e: load_config_file(TrainConfig, p)
    assert says in str(e.value) and '\n' not in str(e.value)


def test_km_train_config_wrong_type_exits_2(tmp_path):
    (tmp_path / 'c.json').write_text('{"steps": "ten"}')  # was: TypeError: '<' not supported between 'str' and 'int', exit 1
    r = run('km_train', '--config', tmp_path / 'c.json', '--out', tmp_path / 'run')
    assert r.returncode == 2 and "setting 'steps' must be an integer" in r.stderr and 'Traceback' not in r.stderr, r.stderr
    (tmp_path / 'c.json').write_bytes('{"steps": 3}'.encode('utf-16'))
    r = run('km_train', '--config', tmp_path / 'c.json', '--out', tmp_path / 'run')
    assert r.returncode == 2 and 'this file is UTF-16' in r.stderr, r.stderr


# --- training rows: one form per file, typed fields ----------------------------------------------------------
@pytest.mark.parametrize('rows, says', [
    ([{'prompt': 'a', 'completion': 'b'}, {'prompt': ['a'], 'completion': 'b'}], 't.jsonl:2: the prompt/completion fields must all be strings'),  # ArrowTypeError
    ([{'prompt': 'a', 'completion': 'b'}, {'prompt': 'a'}], 't.jsonl:2: a row without prompt/completion row'),  # AttributeError in the trainer
    ([{'prompt': 5, 'completion': 'b'}], 't.jsonl:1: the prompt/completion fields'),  # ValueError from the tokenizer
    ([{'messages': 'hi'}], 't.jsonl:1: the messages fields must all be a list of {role, content} messages'),  # "No columns ... match"
    ([{'prompt': 'a', 'completion': 'b'}, [1]], 't.jsonl:2:'),  # AttributeError: 'list' object has no attribute 'get'
    ([{'prompt': 'a', 'chosen': 'b', 'rejected': 5}], 't.jsonl:1: the prompt/chosen/rejected fields'),  # KeyError: 'completion'
])
def test_training_rows_checked_at_the_line(tiny_folder, tmp_path, rows, says):
    p = tmp_path / 't.jsonl'
    p.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    r = run('km_train', '--base', tiny_folder, '--dataset', p, '--out', tmp_path / 'run', '--steps', 1)
    one_line_error(r, says)


def test_question_id_of_the_wrong_type(tmp_path):
    from knowledge_mixer.data import load_jsonl
    p = tmp_path / 'q.jsonl'
    p.write_text(json.dumps(Q | {'id': ['a']}) + '\n')  # was read as the id "['a']"
    with pytest.raises(KMInputError, match=r'q.jsonl:1: id must be a string or an integer'): load_jsonl(p)


# --- advice that can be followed ------------------------------------------------------------------------------
COMMAND_MODULES = {'km_pipeline': 'pipeline', 'km_graph': 'graph', 'km_walk': 'walk', 'km_paths': 'paths', 'km_dataset': 'data',
                   'km_corpus': 'corpus', 'km_inject': 'inject', 'km_eval': 'eval', 'km_train': 'train', 'km_predict': 'reason',
                   'km_serve': 'serve', 'km_ask': 'ask', 'km_export': 'export', 'km_benchmark': 'graphqa'}
OTHER_TOOLS_FLAGS = {'--no-build-isolation', '--no-deps', '--cal_f1', '--nproc_per_node', '--nnodes', '--master_addr', '--master_port',
                     '--num_machines', '--main_process_port', '--cpu', '--multi_gpu', '--no_name', '--no_'}  # pip, RoG, torchrun, accelerate; docstrings


@pytest.mark.slow
def test_every_flag_a_message_names_exists():
    "A `--flag` in any string of the package is an option of one of our commands (or of pip/torchrun/accelerate, named above)."
    import ast
    import re
    flag = re.compile(r'(?<![\w-])--[a-z][\w-]*')
    known = set(OTHER_TOOLS_FLAGS)
    for cmd in COMMAND_MODULES: known |= set(flag.findall(run(cmd, '--help').stdout))
    pkg = Path(__file__).resolve().parents[1] / 'knowledge_mixer'
    bad = []
    for f in sorted(pkg.glob('*.py')):
        if f.name.startswith('_') or f.name == 'serve.py': continue  # serve.py holds CSS (--fg: ...)
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                bad += [(f.name, node.lineno, x) for x in flag.findall(node.value) if x not in known]
    assert not bad, bad


@pytest.mark.slow
def test_prompts_longer_than_max_length_named(tiny_folder, tmp_path):
    p = tmp_path / 't.jsonl'
    p.write_text(json.dumps({'prompt': 'who directed Heat ' * 20, 'completion': 'Michael Mann'}) + '\n')
    r = run('km_train', '--base', tiny_folder, '--dataset', p, '--out', tmp_path / 'run', '--steps', 1, '--max_length', 8, '--batch_size', 1)
    one_line_error(r, 'no training example is left after tokenising (1 rows in)', 'raise --max_length')  # was: ValueError: num_samples=0, exit 1


@pytest.mark.parametrize('data, name, ok, says', [
    (gzip.compress(b'<http://a> <http://r> <http://b> .\n', mtime=0), 'kb.nt', True, ''),  # gzip without a .gz name
    ('<http://a> <http://r> <http://b> .\n'.encode('utf-16'), 'kb.nt', False, 'this file is UTF-16'),  # was: Latin-1 advice
    ('@prefix : <http://x/> .\n:a :r :b .\n'.encode('utf-16'), 'kb.ttl', False, 'this file is UTF-16'),  # was: rdflib's codec error
    ('<http://a> <http://r> "caf\xe9" .\n'.encode('latin1'), 'kb.nt', False, 'kb.nt:1: invalid UTF-8 at byte 26; re-encode'),
])
def test_rdf_readers_sniff_like_read_lines(tmp_path, data, name, ok, says):
    from knowledge_mixer.graph import load_graph
    p = tmp_path / name
    p.write_bytes(data)
    if ok: assert load_graph(p, inverse=False).n_triples == 1
    else:
        with pytest.raises(KMInputError) as e: load_graph(p)
        assert says in str(e.value), str(e.value)


def _rog_folder(d, dup=False):
    d.mkdir()
    for split, n in (('train', 6), ('test', 3)):
        rows = [dict(id=f'{split}{i}', question=f'who directed film{i}', answer=[f'p{i}'], q_entity=[f'film{i}'], a_entity=[f'p{i}'],
                     graph=[[f'film{i}', 'directed_by', f'p{i}'], [f'film{i}', 'year', '1999']]) for i in range(n)]
        if dup: rows.append(rows[0])
        (d / f'{split}.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    return d


def test_rog_duplicate_ids_named_in_the_users_file(tmp_path):
    from knowledge_mixer.data import load_rog
    d = _rog_folder(tmp_path / 'rog', dup=True)  # was caught only in the run folder's own questions/test.jsonl
    with pytest.raises(KMInputError, match=r"test.jsonl record 3: duplicate id 'test0' \(first in record 0\)"): load_rog(d, 'test')


@pytest.mark.slow
def test_km_pipeline_rog_with_default_threads(tiny_folder, tmp_path):
    d = _rog_folder(tmp_path / 'rog')  # was: ValueError: threads must be in [1, 1024], got 0 (exit 1) from the graph stage
    r = run('km_pipeline', '--rog', d, '--out', tmp_path / 'run', '--base', tiny_folder, '--steps', 1, '--max_length', 200)
    assert r.returncode == 0, r.stderr[-2000:]
