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
    (gzip.compress(b'a|r|b\n' * 100)[:30], 'broken gzip file'),
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
    'ground_truth string': (dict(ground_truth='Paris'), 'needs "ground_truth", a non-empty list of strings'),
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
