"""The GraphQA benchmark: byte-identical builds, every item verified, splits that hold out what they say, honest scoring,
exports other tools read, and a command line that refuses what it cannot do."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge_mixer.data import load_rog, movie_world
from knowledge_mixer.graph import KnowledgeGraph, write_triples
from knowledge_mixer.graphqa import (ANSWER_TYPES, SPLITS, TASKS, TEMPLATES, BenchmarkConfig, build_benchmark, execute,
                                     export_benchmark_rog, export_questions, graph_hash, load_benchmark, oracle_answers, popularity_buckets,
                                     random_answers, save_benchmark, score_benchmark, to_dataset, verify_item)
from knowledge_mixer.pipeline import given_split

BIN = Path(sys.executable).parent


def km(*args, cwd=None):
    return subprocess.run([str(BIN / 'km_benchmark'), *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope='module')
def world():
    return movie_world(400, seed=0)


@pytest.fixture(scope='module')
def bench(world):
    return build_benchmark(BenchmarkConfig(kg='movie-world', per_family=6, max_families=12), kg=world)


def test_every_task_and_split_is_present_and_every_item_verifies(world, bench):
    assert {it['task'] for it in bench.items} == set(TASKS)
    assert all(bench.split(s) for s in SPLITS), {s: len(bench.split(s)) for s in SPLITS}
    for it in bench.items:
        verify_item(world, it)
        assert it['answer_type'] == ANSWER_TYPES[it['task']] and it['answer'], it
        assert it['kg_hash'] == graph_hash(world) and it['bucket'] in ('head', 'torso', 'tail')
        for p in it['entity_paths']:  # alternating entity, relation, entity, ...; starts at a topic
            assert len(p) % 2 == 1 and p[0] in it['topic'], (it['id'], p)
    assert len({it['id'] for it in bench.items}) == len(bench)
    assert len({(it['task'], it['question']) for it in bench.items}) == len(bench), 'a question is asked twice'


def test_verification_catches_a_changed_graph(world, bench):
    "Control for the test above: the same items on a graph missing one gold edge fail, naming the item."
    it = next(i for i in bench.items if i['task'] == 'path' and i['hops'] == 1)
    p = it['entity_paths'][0]
    changed = KnowledgeGraph.from_triples([t for t in world.triples() if t not in {(p[0], p[1], p[2]), (p[2], p[1].lstrip('~'), p[0])}])
    with pytest.raises(Exception, match=f"item {it['id']}"):
        verify_item(changed, it)


def test_splits_hold_out_what_they_say(bench):
    held = bench.meta['heldout']
    train = bench.split('train') + bench.split('dev') + bench.split('test_iid')
    assert not any(t in held['entities'] for it in train for t in it['topic'])
    assert not any('/'.join(p) in held['compositions'] for it in train for p in it['relation_paths'])
    assert not any(it['paraphrase'] == held['templates'][it['task']] for it in train)
    seen_rel = {r for it in bench.split('train') for p in it['relation_paths'] for r in p}
    for it in bench.split('test_unseen_composition'):  # unseen compositions of seen relations
        assert any('/'.join(p) in held['compositions'] for p in it['relation_paths'])
        assert all(r in seen_rel for p in it['relation_paths'] for r in p), it['relation_paths']
    for it in bench.split('test_unseen_entity'): assert any(t in held['entities'] for t in it['topic'])
    for it in bench.split('test_unseen_paraphrase'):
        assert it['paraphrase'] == held['templates'][it['task']]
        assert it['question'] not in {x['question'] for x in train}


def test_popularity_buckets_cut_the_degree_mass_in_thirds(world):
    import numpy as np
    b, deg = popularity_buckets(world), np.diff(world.indptr)
    mass = [deg[b == k].sum() / deg.sum() for k in range(3)]
    assert mass[0] >= 1 / 3 - 0.05 and deg[b == 0].min() >= deg[b == 1].max() >= deg[b == 2].max()


def test_cli_builds_byte_identical_benchmarks_and_a_seed_changes_them(tmp_path):
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        r = km('build', 'movie-world', '--out', tmp_path / name, '--per_family', 3, '--max_families', 6, '--seed', seed)
        assert r.returncode == 0, r.stderr
    for f in ('items.jsonl', 'benchmark.json', 'card.md'):
        assert (tmp_path / 'a' / f).read_bytes() == (tmp_path / 'b' / f).read_bytes(), f
    assert (tmp_path / 'a' / 'items.jsonl').read_bytes() != (tmp_path / 'c' / 'items.jsonl').read_bytes()
    meta = json.loads((tmp_path / 'a' / 'benchmark.json').read_text())
    assert meta['version'] in (tmp_path / 'a' / 'card.md').read_text() and meta['items'] == len(load_benchmark(tmp_path / 'a'))


def test_cli_refuses_a_folder_it_did_not_make_and_keeps_its_files(tmp_path):
    (tmp_path / 'mine').mkdir(); (tmp_path / 'mine' / 'data.csv').write_text('a,b\n')
    r = km('build', '--out', tmp_path / 'mine', '--per_family', 2)
    assert r.returncode == 2 and 'was not made by km_benchmark' in r.stderr, r.stderr
    assert (tmp_path / 'mine' / 'data.csv').read_text() == 'a,b\n' and len(list((tmp_path / 'mine').iterdir())) == 1


@pytest.mark.parametrize('args, msg', [
    (['build', '--out', 'x', '--per_family', '0'], 'per_family must be an integer in [1, 10000]'),
    (['build', '--out', 'x', '--tasks', 'path,riddles'], 'comma-separated subset'),
    (['build', '--out', 'x', '--path_rule', 'sometimes'], 'path_rule must be one of'),
    (['build', '--out', 'x', '--heldout_entities', '1.5'], 'heldout_entities must be in [0, 1)'),
    (['build', 'nowhere.tsv', '--out', 'x'], 'no such graph file'),
    (['build', 'a.tsv', '--kg', 'b.tsv', '--out', 'x'], 'build reads one graph'),
    (['build', 'movie-world'], 'build needs --out'),
    (['score', 'nowhere', '--out', 'x'], 'needs --predictions'),
    (['score', '--out', 'x', '--predictions', 'p.jsonl'], 'needs the benchmark folder'),
    (['score', 'nowhere', '--out', 'x', '--predictions', 'p.jsonl'], 'not a benchmark folder'),
    (['grade', 'x'], "unknown action 'grade'"),
])
def test_cli_errors_are_one_line_with_exit_2(tmp_path, args, msg):
    r = km(*args, cwd=tmp_path)
    assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr, r.stderr


def test_scoring_labels_correct_missing_and_hallucinated(world, bench):
    o = score_benchmark(bench, oracle_answers(world, bench), world)
    assert o['overall']['correct'] == 1.0 and o['overall']['hits@1'] == 1.0 and o['overall']['truthfulness'] == 1.0
    none = score_benchmark(bench, {})
    assert none['overall']['missing'] == 1.0 and none['overall']['truthfulness'] == 0.0 and none['answered'] == 0
    r = score_benchmark(bench, random_answers(world, bench), world)
    assert 0 < r['overall']['correct'] < 0.6 and r['overall']['hallucinated'] > 0.4
    assert r['overall']['truthfulness'] == round(r['overall']['correct'] - r['overall']['hallucinated'], 4)
    assert set(r['by_split']) == set(SPLITS) - {'train'} and set(r['by_task']) == set(TASKS)
    wrong = {it['id']: ['no such film at all'] for it in bench.items if it['answer_type'] == 'entity'}
    w = score_benchmark(bench, wrong, world)
    assert w['hallucination_kinds']['not_entity'] == sum(1 for it in bench.items if it['answer_type'] == 'entity' and it['split'] != 'train')


def test_scoring_refuses_predictions_for_another_benchmark(bench):
    with pytest.raises(Exception, match='not in movie-world@'):
        score_benchmark(bench, {'movie-world-path-99999': ['x']})


def test_cli_scores_a_baseline_and_names_a_broken_line(tmp_path):
    assert km('build', '--out', tmp_path / 'b', '--per_family', 2, '--max_families', 4).returncode == 0
    r = km('baseline', tmp_path / 'b', '--system', 'oracle', '--out', tmp_path / 'o.jsonl')
    assert r.returncode == 0, r.stderr
    r = km('score', tmp_path / 'b', '--predictions', tmp_path / 'o.jsonl', '--out', tmp_path / 's')
    assert r.returncode == 0 and json.loads((tmp_path / 's' / 'score.json').read_text())['overall']['correct'] == 1.0, r.stderr
    assert '| all |' in (tmp_path / 's' / 'score.md').read_text()
    lines = (tmp_path / 'o.jsonl').read_text().splitlines()
    (tmp_path / 'bad.jsonl').write_text('\n'.join(lines[:3] + ['{"id": "x", "prediction": [1, {"a": 2}]}'] + lines[3:]) + '\n')
    r = km('score', tmp_path / 'b', '--predictions', tmp_path / 'bad.jsonl', '--out', tmp_path / 's2')
    assert r.returncode == 2 and 'bad.jsonl:4' in r.stderr, r.stderr
    (tmp_path / 'dup.jsonl').write_text('\n'.join(lines + lines[:1]) + '\n')
    r = km('score', tmp_path / 'b', '--predictions', tmp_path / 'dup.jsonl', '--out', tmp_path / 's3')
    assert r.returncode == 2 and 'duplicate id' in r.stderr and '(first on line 1)' in r.stderr, r.stderr
    ints = [json.dumps({'id': 7, 'prediction': []}), json.dumps({'id': '7', 'prediction': []})]  # #20: 7 and "7" are one id
    (tmp_path / 'dup_int.jsonl').write_text('\n'.join(ints) + '\n')
    r = km('score', tmp_path / 'b', '--predictions', tmp_path / 'dup_int.jsonl', '--out', tmp_path / 's4')
    assert r.returncode == 2 and "dup_int.jsonl:2: duplicate id '7'" in r.stderr, r.stderr


def test_cli_verify_names_a_stale_item_on_a_changed_graph(tmp_path, world):
    write_triples(world, tmp_path / 'kb.txt')
    assert km('build', tmp_path / 'kb.txt', '--out', tmp_path / 'b', '--per_family', 2, '--max_families', 4).returncode == 0
    r = km('verify', tmp_path / 'b', '--kg', tmp_path / 'kb.txt')
    assert r.returncode == 0 and 'the same graph' in r.stdout, r.stderr
    b = load_benchmark(tmp_path / 'b')
    it = next(i for i in b.items if i['task'] == 'path' and i['hops'] == 1)
    p = it['entity_paths'][0]
    drop = {(p[0], p[1], p[2]), (p[2], p[1].lstrip('~'), p[0])}
    (tmp_path / 'kb2.txt').write_text(''.join(l for l in (tmp_path / 'kb.txt').read_text().splitlines(True) if tuple(l.rstrip('\n').split('|')) not in drop))
    r = km('verify', tmp_path / 'b', '--kg', tmp_path / 'kb2.txt')
    assert r.returncode == 2 and 'item ' in r.stderr, r.stderr
    r = km('verify', tmp_path / 'b')
    assert r.returncode == 2 and 'needs --kg' in r.stderr, r.stderr


def test_an_edited_benchmark_is_refused(tmp_path, bench):
    save_benchmark(bench, tmp_path / 'b')
    f = tmp_path / 'b' / 'items.jsonl'
    f.write_bytes(f.read_bytes().replace(b'"answer": ["', b'"answer": ["X', 1))
    with pytest.raises(Exception, match='the items were edited'):
        load_benchmark(tmp_path / 'b')


def test_exports_are_read_by_datasets_rog_and_the_main_job(tmp_path, world, bench):
    import datasets
    to_dataset(bench).save_to_disk(tmp_path / 'hf')
    dd = datasets.load_from_disk(str(tmp_path / 'hf'))
    assert {s: len(dd[s]) for s in dd} == {s: len(bench.split(s)) for s in SPLITS if bench.split(s)}
    rep = export_benchmark_rog(world, bench, tmp_path / 'rog')
    recs = load_rog(tmp_path / 'rog', 'test_iid')
    assert len(recs) == len(bench.split('test_iid')) == rep['test_iid']['questions']
    assert all(r.graph for r in recs if r.hops and r.hops <= 2)
    n = export_questions(bench, tmp_path / 'q')
    parts = given_split(tmp_path / 'q', world)
    assert {k: len(v) for k, v in parts.items()} == n and n['test'] > 0
    assert {r.id for r in parts['test']} == {it['id'] for it in bench.items if it['task'] == 'path' and it['split'].startswith('test')}


def test_program_ops_answer_by_hand_checked_facts():
    kg = KnowledgeGraph.from_triples([('Heat', 'starred_actors', 'Al Pacino'), ('Heat', 'starred_actors', 'Robert De Niro'),
                                      ('Ronin', 'starred_actors', 'Robert De Niro'), ('Heat', 'directed_by', 'Michael Mann'),
                                      ('Loop', 'linked_to', 'Loop')])
    assert execute(kg, dict(op='follow', start='Al Pacino', path=['~starred_actors', 'starred_actors'], rule='no-return')) == ['Robert De Niro']
    assert execute(kg, dict(op='follow', start='Al Pacino', path=['~starred_actors', 'starred_actors'], rule='any')) == ['Al Pacino', 'Robert De Niro']
    assert execute(kg, dict(op='intersect', starts=['Al Pacino', 'Robert De Niro'], paths=[['~starred_actors'], ['~starred_actors']], rule='no-return')) == ['Heat']
    assert execute(kg, dict(op='compare', starts=['Robert De Niro', 'Al Pacino'], path=['~starred_actors'], rule='no-return')) == ['Robert De Niro']
    assert execute(kg, dict(op='degree', entity='Heat')) == ['3'] and execute(kg, dict(op='degree', entity='Loop')) == ['1']
    assert execute(kg, dict(op='distance', pair=['Al Pacino', 'Ronin'])) == ['3']
    assert execute(kg, dict(op='reach', pair=['Heat', 'Al Pacino'], k=1)) == ['yes']
    assert execute(kg, dict(op='reach', pair=['Al Pacino', 'Heat'], k=3)) == ['no']  # only backwards
    assert execute(kg, dict(op='edge', head='Heat', relation='directed_by', tail='Al Pacino')) == ['no']


def test_templates_have_a_held_out_choice_for_every_task():
    assert set(TEMPLATES) == set(TASKS) and all(len(v) >= 4 for v in TEMPLATES.values())


def test_toy_kgs_build_deterministic_verified_benchmarks(km_data, tmp_path):
    for name in ('kinships', 'nations', 'umls'):
        f = km_data / 'toy_kgs' / name / 'train.txt'
        a = save_benchmark(build_benchmark(BenchmarkConfig(kg=str(f), name=name, per_family=4, max_families=8)), tmp_path / f'{name}_a')
        b = save_benchmark(build_benchmark(BenchmarkConfig(kg=str(f), name=name, per_family=4, max_families=8)), tmp_path / f'{name}_b')
        assert (a / 'items.jsonl').read_bytes() == (b / 'items.jsonl').read_bytes(), name
        bench = load_benchmark(a)
        assert {it['task'] for it in bench.items} >= {'path', 'intersection', 'count', 'edge', 'degree'}, name


def test_metaqa_kb_benchmark_has_every_task(metaqa_dir):
    kg = KnowledgeGraph.from_file(metaqa_dir / 'kb.txt')
    b = build_benchmark(BenchmarkConfig(kg=str(metaqa_dir / 'kb.txt'), name='metaqa', per_family=3, max_families=10), kg=kg)
    assert set(b.meta['counts']) == set(TASKS) and b.meta['kg']['triples'] == 133_582
    assert score_benchmark(b, oracle_answers(kg, b), kg)['overall']['correct'] == 1.0
