"""RoG-format datasets both ways: export (capped per-question subgraphs that keep the truth paths, streamed, with a coverage
report) and import (the main job on a RoG dataset, each question planned and answered on its own subgraph)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from knowledge_mixer.data import (QARecord, export_rog, load_rog, movie_questions, movie_world, on_own_graph, plain_name,
                                  question_subgraph, rog_graph, rog_namespaced, split_records)
from knowledge_mixer.graph import random_kg, stored_triple
from knowledge_mixer.paths import shortest_paths

BIN = Path(sys.executable).parent


@pytest.fixture(scope='module')
def world():
    kg = movie_world(200, seed=0)
    return kg, movie_questions(kg, per_type=2, seed=0)


def _truth(kg, rec, hops):
    sp = shortest_paths(kg, rec.q_entity, rec.a_entity, max_hops=hops, max_paths=100)
    return {stored_triple(p.entities[i], r, p.entities[i + 1]) for p in sp.paths for i, r in enumerate(p.relations)}


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3), st.integers(0, 40))
def test_truth_paths_survive_any_cap_at_least_their_count(seed, hops, extra):
    kg = random_kg(80, 400, n_relations=3, seed=seed)
    rng = np.random.default_rng(seed)
    topic, answer = (kg.entities[int(v)] for v in rng.integers(kg.n_entities, size=2))
    rec = QARecord('q', 'q?', [answer], [topic])
    truth = _truth(kg, rec, hops)
    got = question_subgraph(kg, rec, hops=hops, max_triples=len(truth) + extra)
    triples = {tuple(t) for t in got}
    assert truth <= triples and len(triples) == len(got) <= len(truth) + extra
    assert all(not r.startswith('~') and kg.has_edge(h, r, t) for h, r, t in got)
    full = {tuple(t) for t in question_subgraph(kg, rec, hops=hops, max_triples=10**9)}
    assert triples <= full  # capped: a subset of the uncapped neighbourhood
    near = set(kg.entities[v] for v in kg.reachable([topic], hops - 1).tolist())
    assert full == {t for t in map(tuple, kg.triples()) if t[0] in near or t[2] in near}  # the rule in the docs, exactly


def test_cap_cuts_by_hop_then_degree(world):
    kg, qs = world
    rec = next(r for r in qs if r.hops == 1)
    ring1 = {tuple(t) for t in question_subgraph(kg, rec, hops=1, max_triples=10**9)}
    g = question_subgraph(kg, rec, hops=2, max_triples=len(ring1) + 3)
    assert ring1 <= {tuple(t) for t in g} and len(g) == len(ring1) + 3  # ring 1 whole before ring 2 starts


def test_export_both_formats_report_and_load(world, tmp_path):
    import datasets
    kg, qs = world
    reps = {fmt: export_rog(kg, qs, tmp_path / f'ds.{fmt}', format=fmt, max_triples=100, batch_size=7) for fmt in ('parquet', 'jsonl')}
    assert reps['parquet']['answers'] == reps['jsonl']['answers'] and reps['parquet']['triples'] == reps['jsonl']['triples']
    rep = json.loads((tmp_path / 'ds.report.json').read_text())
    assert rep['questions'] == len(qs) and rep['triples']['max'] <= 100 and 0 < rep['answers']['all_in_graph'] <= rep['answers']['any_in_graph'] <= 1
    assert rep['by_hops']['1']['all_in_graph'] == 1.0  # a 1-hop question's answers are always inside its 2-hop subgraph
    for kind, f in (('parquet', 'ds.parquet'), ('json', 'ds.jsonl')):
        ds = datasets.load_dataset(kind, data_files=str(tmp_path / f), split='train')
        assert ds.column_names[:6] == ['id', 'question', 'answer', 'q_entity', 'a_entity', 'graph'] and len(ds) == len(qs)
    a, b = load_rog(tmp_path / 'ds.parquet'), load_rog(tmp_path / 'ds.jsonl')
    assert [r.graph for r in a] == [r.graph for r in b] and a[5].graph == question_subgraph(kg, qs[5], max_triples=100)


def test_export_streams_in_row_groups(world, tmp_path):
    import pyarrow.parquet as pq
    kg, qs = world
    export_rog(kg, iter(qs), tmp_path / 'ds.parquet', batch_size=10)
    f = pq.ParquetFile(tmp_path / 'ds.parquet')
    assert f.metadata.num_row_groups == -(-len(qs) // 10) and f.metadata.num_rows == len(qs)


@pytest.mark.slow
def test_export_flat_memory(tmp_path):
    "Peak RSS after 20k questions is within a few MB of the peak after 2k: subgraphs do not pile up."
    code = f'''
import itertools, resource, sys
from dataclasses import replace
from knowledge_mixer.data import movie_world, movie_questions, export_rog
kg = movie_world(1000); recs = movie_questions(kg, per_type=20)
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = []
for n in (2000, 20000):
    export_rog(kg, (replace(r, id=f'{{r.id}}-{{k}}') for k, r in zip(range(n), itertools.cycle(recs))), r'{tmp_path}/big_{{n}}', max_triples=500)
    out.append(rss())
print(out[0], out[1])
'''
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    small, big = map(float, r.stdout.split())
    assert big - small < 40, (small, big)


def test_union_keeps_questions_apart_and_reports():
    recs = [QARecord('a', 'who directed [Heat]', ['Michael Mann'], ['Heat'], graph=[['Heat', 'directed_by', 'Michael Mann']] * 2),
            QARecord('b', 'who starred in [Heat]', ['Al Pacino'], ['Heat'], graph=[['Heat', 'starred_actors', 'Al Pacino']]),
            QARecord('c', 'q', ['x'], ['Nothing'], graph=[]),
            QARecord('d', 'q', ['y'], ['Absent'], graph=[['P', 'r', 'y']])]
    kg, info = rog_graph(recs)
    assert (info['empty_graphs'], info['duplicate_triples'], info['no_topic'], info['no_topic_ids']) == (1, 1, 2, ['c', 'd'])
    ns = rog_namespaced(recs)
    assert [plain_name(e) for e in kg.neighbors(ns[0].q_entity[0])] == ['Michael Mann']  # not question b's Al Pacino
    usable, skipped = on_own_graph(kg, ns, need_answer=True)
    assert [r.id for r in usable] == ['a', 'b'] and [r.id for r in skipped] == ['c', 'd']
    assert all(plain_name(e) == e.split('::', 1)[1] for e in kg.entities)


def test_km_dataset_rog_cli(tmp_path):
    from knowledge_mixer.core import MARKER
    r = subprocess.run([str(BIN / 'km_dataset'), 'rog', 'ds', '--n_movies', '150', '--per_type', '2', '--max_triples', '300'],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'answers all inside' in r.stdout
    names = sorted(p.name for p in (tmp_path / 'ds').iterdir() if p.name != MARKER)  # the marker: km_dataset made it
    assert names == sorted(f'{s}.{x}' for s in ('train', 'validation', 'test') for x in ('parquet', 'report.json'))
    bad = subprocess.run([str(BIN / 'km_dataset'), 'rog', 'ds2', '--n_movies', '50', '--format', 'csv'], capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and "format must be 'parquet' or 'jsonl'" in bad.stderr and not (tmp_path / 'ds2').exists()


@pytest.mark.slow
def test_km_pipeline_on_rog_data(tmp_path):
    "The main job on a RoG dataset (ragged, empty and duplicate-triple subgraphs): each question on its own graph, plain names out."
    kg = movie_world(150, seed=0)
    qs = movie_questions(kg, per_type=3, seed=0)
    ds = tmp_path / 'ds'
    for name, part in split_records(qs, (0.7, 0.1, 0.2), names=('train', 'validation', 'test')).items():
        export_rog(kg, part, ds / name, max_triples={'train': 300, 'validation': 80, 'test': 40}[name])  # ragged subgraphs
    topic = kg.entities[0]
    import pyarrow as pa, pyarrow.parquet as pq
    t = pq.read_table(ds / 'test.parquet').to_pylist()
    t += [dict(id='empty', question='who directed [Nothing]', answer=['Nobody'], q_entity=['Nothing'], a_entity=['Nobody'], graph=[],
               hops=1, relation_path=None, qtype=None),
          dict(id='dup', question=f'when was [{topic}] released', answer=[kg.neighbors(topic, 'release_year')[0]], q_entity=[topic],
               a_entity=[kg.neighbors(topic, 'release_year')[0]], graph=[[topic, 'release_year', kg.neighbors(topic, 'release_year')[0]]] * 3,
               hops=1, relation_path=['release_year'], qtype='movie_to_year')]
    pq.write_table(pa.Table.from_pylist(t, schema=pq.read_schema(ds / 'test.parquet')), ds / 'test.parquet')
    r = subprocess.run([str(BIN / 'km_pipeline'), '--rog', str(ds), '--out', str(tmp_path / 'run'), '--base', 'tiny', '--steps', '20',
                        '--batch_size', '8', '--beams', '2', '--threads', '1'], capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / 'run'
    m = json.loads((run / 'metrics.json').read_text())
    assert m['graph']['metrics']['empty_graphs'] == 1 and m['graph']['metrics']['duplicate_triples'] == 2 and m['graph']['metrics']['no_topic'] == 1
    assert m['predict']['metrics']['no_topic'] == 1 and m['predict']['metrics']['questions'] == len(t)
    assert 0 <= m['eval']['metrics']['hits@1'] <= 1 and 'hits@1' in (run / 'report.md').read_text().lower()
    preds = [json.loads(l) for l in (run / 'predictions.jsonl').read_text().splitlines()]
    assert [p['id'] for p in preds] == [x['id'] for x in t]
    empty = next(p for p in preds if p['id'] == 'empty')
    assert empty['prediction'] == [] and empty['ground_truth'] == ['Nobody']
    text = (run / 'predictions.jsonl').read_text() + (run / 'predictions_rog.jsonl').read_text() + (run / 'report.md').read_text() + \
        (run / 'graph_stats.json').read_text()
    assert '::' not in text, 'an entity namespace leaked to the user'
    print(f"Hits@1 on the RoG test part: {m['eval']['metrics']['hits@1']:.3f}")
