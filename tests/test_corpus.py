"""Corpora from a KG: provenance, held-out phrasings, template coverage, budgets and bad input (fast: a 30-film world)."""
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from knowledge_mixer.core import KMInputError
from knowledge_mixer.corpus import (budget, closed_book_questions, corpus_stats, dedup, fact_corpus, held_out_phrasing, load_templates,
                                    mix, parse_answers, path_corpus, planning_text, popularity_buckets, qa_corpus, qa_prompt, qa_text,
                                    relation_templates, walk_corpus)
from knowledge_mixer.data import MOVIE_PHRASES, build_questions, movie_world, planning_dataset
from knowledge_mixer.graph import KnowledgeGraph

FIVE = [('Alien', 'directed_by', 'Ridley Scott'), ('Alien', 'has_genre', 'Horror'), ('Blade Runner', 'directed_by', 'Ridley Scott'),
        ('Blade Runner', 'has_genre', 'Sci-Fi'), ('Alien', 'starred_actors', 'Sigourney Weaver')]
BIN = Path(sys.executable).parent


@pytest.fixture(scope='module')
def kg(): return movie_world(30)


@pytest.fixture(scope='module')
def five(): return KnowledgeGraph.from_triples(FIVE)


def _provenance_ok(kg, ds):
    "Every row names at least one fact, every fact is in the KG, forward, and its entities appear in the text."
    for row in ds:
        assert row['triples'] or row['kind'] == 'plan', row
        for h, r, t in row['triples']:
            assert not r.startswith('~') and kg.has_edge(h, r, t), (row['text'], h, r, t)
        if row['kind'] in ('fact', 'passage') and row['phrasing'] >= 0:
            assert all(h in row['text'] and t in row['text'] for h, r, t in row['triples']), row


# ---------------------------------------------------------------- templates and the QA format

def test_templates_any_relation_name():
    for r in list(MOVIE_PHRASES) + ['located_in', 'has_capital', 'spouse', 'P31', '_', '--', 'x.y.z', 'Ünïcode_rel']:
        t = relation_templates(r)
        assert len(t.statements) >= 3 and len(t.inverse) >= 2 and len(t.questions) >= 4 and len(t.inverse_questions) >= 4, r
        for s in t.statements + t.inverse: assert s.format(h='H', t='T').count('H') == 1 and 'T' in s.format(h='H', t='T')
        for q in t.questions: assert '{t}' not in q and q.format(h='H')  # a question never contains its answer
        for q in t.inverse_questions: assert '{h}' not in q and q.format(t='T')
    assert relation_templates('directed_by').questions[1] == 'Who is the director of {h}?'
    assert relation_templates('directed_by').statements[0] == '{h} was directed by {t}.'


def test_qa_format_round_trip():
    answers = ['Clint Eastwood', 'Gene Hackman']
    text = qa_text('Who acted in Unforgiven?', answers)
    assert text.startswith(qa_prompt('Who acted in Unforgiven?'))
    assert parse_answers(text[len(qa_prompt('Who acted in Unforgiven?')):]) == answers
    assert parse_answers(' a | b | a\nQ: more') == ['a', 'b'] and parse_answers(' x<|endoftext|>y') == ['x']
    assert parse_answers(12) == []


def test_held_out_is_stable_and_spread():
    assert held_out_phrasing('X', 'r', 4) == held_out_phrasing('X', 'r', 4)
    seen = {held_out_phrasing(f'e{i}', 'r', 4) for i in range(200)}
    assert seen == {0, 1, 2, 3}


# ---------------------------------------------------------------- builders: provenance and honesty

def test_closed_book_questions(kg, five):
    qs = closed_book_questions(five)
    by_id = {q.id: q for q in qs}
    assert sorted(by_id['cb/~directed_by/Ridley Scott'].answer) == ['Alien', 'Blade Runner']
    assert by_id['cb/directed_by/Alien'].answer == ['Ridley Scott'] and by_id['cb/directed_by/Alien'].relation_path == ['directed_by']
    assert len(qs) == 4 + 5  # (head, relation) pairs + (tail, relation) pairs
    for q in closed_book_questions(kg):
        assert sorted(q.answer) == sorted(kg.neighbors(q.q_entity[0], q.relation_path[0]))
        assert q.hops == 1 and q.qtype == q.relation_path[0] and '[' not in q.question


def test_held_out_phrasings_never_trained(kg):
    qa = qa_corpus(kg, phrasings=10)  # as many as there are: still never the held-out one
    trained = {t.split('\n')[0] for t in qa['text']}
    held = closed_book_questions(kg)
    assert held and not [q.question for q in held if f'Q: {q.question}' in trained]
    # ... and all the other phrasings of every pair are trained
    for q in closed_book_questions(kg, held_out=False)[:50]:
        tpl = relation_templates(q.relation_path[0].lstrip('~'))
        qs = tpl.inverse_questions if q.qtype.startswith('~') else tpl.questions
        key = 't' if q.qtype.startswith('~') else 'h'
        k = held_out_phrasing(q.q_entity[0], q.qtype, len(qs))
        for j, s in enumerate(qs):
            assert (f'Q: {s.format(**{key: q.q_entity[0]})}' in trained) == (j != k)


def test_every_template_is_used(kg):
    qa, facts = qa_corpus(kg), fact_corpus(kg)
    for r in kg.relations:
        t = relation_templates(r)
        n_qa, n_fact = len(t.questions) + len(t.inverse_questions), len(t.statements) + len(t.inverse)
        used_qa = {p for p, trs in zip(qa['phrasing'], qa['triples']) if trs and trs[0][1] == r}
        used_fact = {p for p, k, trs in zip(facts['phrasing'], facts['kind'], facts['triples']) if k == 'fact' and trs[0][1] == r}
        assert used_qa == set(range(n_qa)), (r, used_qa)
        assert used_fact == set(range(n_fact)), (r, used_fact)


def test_provenance(kg, five):
    recs = build_questions(kg, [['~directed_by', 'has_genre'], ['starred_actors', '~starred_actors']], per_type=3, seed=0)
    for g, ds in ((kg, qa_corpus(kg, records=recs)), (kg, fact_corpus(kg, epochs=2)), (kg, fact_corpus(kg, plain=True)),
                  (five, fact_corpus(five))):
        _provenance_ok(g, ds)


def test_fact_counts(five):
    ds = fact_corpus(five, phrasings=2, epochs=3, passages=False)
    per = {}
    for trs in ds['triples']: per[tuple(trs[0])] = per.get(tuple(trs[0]), 0) + 1
    assert per == {t: 2 * 2 * 3 for t in FIVE}  # (statements + inverse) x phrasings x epochs
    plain = fact_corpus(five, plain=True, epochs=2)
    assert sorted(plain['text']) == sorted([f'{h} {r} {t}' for h, r, t in FIVE] * 2)
    for inverse, n_passages, times in ((True, 6, 2), (False, 2, 1)):  # one passage per entity (with facts from its side)
        passages = [p for p in fact_corpus(five, inverse=inverse) if p['kind'] == 'passage']
        assert len(passages) == n_passages
        assert sorted(tuple(t) for p in passages for t in p['triples']) == sorted(FIVE * times)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize('name', ['a\nb', 'x -> y', 'p<PATH>', 'a | b', 'c</PATH>'])
def test_bad_entity_names_are_refused(name):
    bad = KnowledgeGraph.from_triples([('Alien', 'directed_by', name)])
    for build in (fact_corpus, qa_corpus, closed_book_questions, walk_corpus):
        with pytest.raises(KMInputError, match='rename it'): build(bad)


def test_empty_and_tiny_graphs():
    with pytest.raises(KMInputError, match='no triples'): fact_corpus(KnowledgeGraph.from_triples([]))
    one = KnowledgeGraph.from_triples([('a', '_', 'b')])  # a relation with no words: used as written
    assert fact_corpus(one, passages=False)['text'][:1] and len(closed_book_questions(one)) == 2
    with pytest.raises(KMInputError, match='raise max_answers'):
        closed_book_questions(KnowledgeGraph.from_triples([('a', 'r', 'b'), ('a', 'r', 'c')]), inverse=False, max_answers=1)


# ---------------------------------------------------------------- walks, paths, mixing, budgets, statistics

def test_walks_and_paths_provenance(kg, five):
    recs = build_questions(kg, [['~directed_by', 'has_genre'], ['starred_actors']], per_type=4, seed=0)
    parts = [walk_corpus(kg, n_walks=100, length=4), walk_corpus(kg, n_walks=50, mode='node2vec', p=0.5, q=2.0, verbalize=False),
             walk_corpus(kg, n_walks=50, restart=0.3, starts='questions', questions=recs), path_corpus(kg, recs, max_paths=3),
             walk_corpus(five, n_walks=20, length=3)]
    for g, ds in zip([kg] * 4 + [five], parts): _provenance_ok(g, ds)
    for row in parts[0]:  # a walk's facts are exactly its steps, forward
        if ' -> ' not in row['text']: continue
        parts_ = row['text'].split(' -> ')
        steps = {(a, r, b) if not r.startswith('~') else (b, r[1:], a) for a, r, b in zip(parts_[0::2], parts_[1::2], parts_[2::2])}
        assert steps == {tuple(t) for t in row['triples']}
    topics = {r.q_entity[0] for r in recs}
    assert {t.split(' -> ')[0] for t in parts[2]['text'] if ' -> ' in t} <= topics
    # each path ends at an answer of its question
    ends = {t.split(' -> ')[-1] for t in parts[3]['text'] if ' -> ' in t}
    assert ends <= {a for r in recs for a in r.answer}


def test_mix_dedup_budget(kg):
    recs = build_questions(kg, [['~directed_by', 'has_genre']], per_type=4, seed=0)
    facts, qa, plan = fact_corpus(kg), qa_corpus(kg), planning_text(planning_dataset(kg, recs))
    m = mix(facts, qa, plan, weights=[0, 1.5, 3], seed=2)
    kinds = Counter(m['kind'])
    assert kinds == {'qa': len(qa) + round(len(qa) / 2), 'plan': 3 * len(plan)}
    assert len(dedup(m)) == len(set(m['text'])) and len(dedup(mix(qa, qa))) == len(qa)
    words = sum(len(t.split()) for t in facts['text'])
    for cap in (words // 3, words // 10):
        b = budget(facts, cap, on_over='sample')
        assert sum(len(t.split()) for t in b['text']) <= cap
        assert budget(facts, cap, on_over='sample')['text'] == b['text']  # seeded
    assert corpus_stats(budget(facts, words // 3, on_over='sample'), kg)['coverage'] == 1.0  # coverage before repetition
    with pytest.raises(KMInputError, match=r'over the budget of 10 by'): budget(facts, 10)
    with pytest.raises(KMInputError, match='no text fits'): budget(facts, 1, on_over='sample')


def test_budget_with_a_tokenizer(kg):
    class Chars:  # a stand-in tokenizer: one token per character
        def __call__(self, texts): return {'input_ids': [list(t) for t in texts]}
    qa = qa_corpus(kg, relations=['directed_by'])
    chars = sum(map(len, qa['text']))
    assert budget(qa, chars, tokenizer=Chars()) is qa
    assert sum(map(len, budget(qa, chars // 2, tokenizer=Chars(), on_over='sample')['text'])) <= chars // 2
    assert corpus_stats(qa, kg, tokenizer=Chars())['tokens'] == chars


def test_popularity_and_stats(kg, five):
    b = popularity_buckets(kg)
    assert set(b) == set(kg.entities) and set(b.values()) == {'head', 'torso', 'tail'}
    deg = {e: kg.degree(e) for e in kg.entities}
    assert min(deg[e] for e in b if b[e] == 'head') > max(deg[e] for e in b if b[e] != 'head')
    assert max(deg[e] for e in b if b[e] == 'tail') < min(deg[e] for e in b if b[e] != 'tail')
    assert popularity_buckets(five)['Ridley Scott'] == 'head' and popularity_buckets(five)['Sigourney Weaver'] == 'tail'
    s = corpus_stats(fact_corpus(five, phrasings=1, passages=False, epochs=2), five)
    assert (s['triples_total'], s['triples_covered'], s['times_min'], s['times_mean'], s['unknown_triples']) == (5, 5, 4, 4.0, 0)
    assert s['kinds'] == {'fact': 20} and s['texts'] == 20
    fake = qa_corpus(five).select(range(1))
    fake = fake.map(lambda r: {'triples': [['Alien', 'directed_by', 'Nobody']]})
    assert corpus_stats(fake, five)['unknown_triples'] == 1


# ---------------------------------------------------------------- templates file and the command line

def test_load_templates(tmp_path, five):
    f = tmp_path / 't.json'
    f.write_text(json.dumps({'directed_by': {'statements': ['{t} made {h}.'], 'questions': ['Maker of {h}?', '{h} was made by?']}}))
    tpl = load_templates(f)
    assert tpl['directed_by'].statements == ['{t} made {h}.'] and tpl['directed_by'].inverse == relation_templates('directed_by').inverse
    facts = fact_corpus(five, phrasings=5, inverse=False, passages=False, templates=tpl)
    assert 'Ridley Scott made Alien.' in facts['text'] and 'Alien was directed by Ridley Scott.' not in facts['text']
    qa = qa_corpus(five, relations=['directed_by'], inverse=False, templates=tpl)
    assert all(t.startswith('Q: Maker of') or t.startswith('Q: ') and 'was made by?' in t for t in qa['text'])
    for text, msg in (('[1, 2]', 'expected a mapping'), ('{"r": ["x"]}', r'\[r\] must map'), ('{"r": {"questions": "Q {h}?"}}', 'list of at least 2'),
                      ('{"r": {"inverse": ["{t} only"]}}', r"exactly \{h\} and \{t\}"), ('{"r": {', 't.json: broken JSON')):
        f.write_text(text)
        with pytest.raises(KMInputError, match=msg): load_templates(f)
    f.write_bytes(b'{"r": "\xff"}')
    with pytest.raises(KMInputError, match='not UTF-8'): load_templates(f)


def _km_corpus(*args, cwd):
    return subprocess.run([str(BIN / 'km_corpus'), *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_km_corpus(tmp_path, kg):
    from knowledge_mixer.data import load_dataset_dir, save_jsonl
    from knowledge_mixer.graph import write_triples
    write_triples(kg, tmp_path / 'kb.tsv')
    save_jsonl(build_questions(kg, [['~directed_by', 'has_genre']], per_type=4, seed=0), tmp_path / 'q.jsonl')
    r = _km_corpus('mixed', 'out', '--graph', 'kb.tsv', '--questions', 'q.jsonl', '--n_walks', '50', cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == '', r.stderr
    ds, stats = load_dataset_dir(tmp_path / 'out'), json.loads((tmp_path / 'out' / 'stats.json').read_text())
    assert set(ds['kind']) == {'fact', 'passage', 'walk', 'qa', 'path', 'plan'} and stats['texts'] == len(ds)
    assert stats['unknown_triples'] == 0 and stats['coverage'] == 1.0 and len(set(ds['text'])) == len(ds)
    assert json.loads((tmp_path / 'out' / 'config.json').read_text())['questions'] == 'q.jsonl'
    r = _km_corpus('facts', 'plain', '--graph', 'kb.tsv', '--plain', '--max_tokens', '300', '--on_over', 'sample', cwd=tmp_path)
    assert r.returncode == 0 and sum(len(t.split()) for t in load_dataset_dir(tmp_path / 'plain')['text']) <= 300


def test_km_corpus_bad_input_is_one_line(tmp_path):
    (tmp_path / 'kb.tsv').write_text('Alien\tdirected_by\tRidley -> Scott\n')
    (tmp_path / 'empty.tsv').write_text('')
    for args, msg in ((('facts', 'o', '--graph', 'kb.tsv'), "'Ridley -> Scott' contains '->'"),
                      (('qa', 'o', '--graph', 'empty.tsv'), 'no triples'), (('paths', 'o'), 'needs --questions'),
                      (('facts', 'o', '--n_movies', '20', '--max_tokens', '50'), 'over the budget of 50'),
                      (('cards', 'o'), "unknown action 'cards'")):
        r = _km_corpus(*args, cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.strip().count('\n') == 0 and msg in r.stderr and 'Traceback' not in r.stderr, (args, r.stderr)
    assert not (tmp_path / 'o').exists()
