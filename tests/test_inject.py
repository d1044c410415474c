"""Knowledge injection: closed-book scoring on hand-made answers, remove_support, the hybrid modes on hand-made plans, a tiny
training run with its curve, incremental injection, km_inject, and bad input (fast: a 20-film world, models of ~50k parameters)."""
import contextlib
import copy
import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from knowledge_mixer.core import KMInputError
from knowledge_mixer.corpus import closed_book_questions, held_out_phrasing, qa_corpus, relation_templates
from knowledge_mixer.data import QARecord, movie_questions, movie_world, save_dataset
from knowledge_mixer.graph import KnowledgeGraph
from knowledge_mixer.inject import (CORPUS_KINDS, HYBRID_MODES, build_corpus, closed_book, closed_book_answers, closed_book_markdown,
                                    closed_book_report, closed_book_scores, curve_plot, hybrid_answer, hybrid_markdown, hybrid_report,
                                    incremental_inject, inject, km_inject, planning_questions, remove_support, tiny_base)
from knowledge_mixer.paths import retrieve_paths
from knowledge_mixer.reason import Plan
from knowledge_mixer.train import TrainConfig

BIN = Path(sys.executable).parent


@pytest.fixture(scope='module')
def kg(): return movie_world(20)


@pytest.fixture(scope='module')
def questions(kg): return closed_book_questions(kg)


@pytest.fixture(scope='module')
def qa(kg): return qa_corpus(kg)


@pytest.fixture(scope='module')
def tiny(qa):
    "An untrained tiny model and its tokenizer (its answers are arbitrary but deterministic)."
    import torch
    torch.set_num_threads(1)
    return tiny_base(qa['text'], hidden=32, layers=1, heads=2, vocab_size=400)


def _cfg(out, steps, **kw):
    return TrainConfig(base='tiny', out=str(out), method='full', steps=steps, batch_size=8, lr=3e-3, max_length=128,
                       save_steps=steps, eval_steps=steps, plan_eval_n=0, **kw)


def _quiet(fn, *args, **kw):
    with contextlib.redirect_stdout(io.StringIO()): return fn(*args, **kw)


def _reachable(kg, q):
    "The gold answers retrieval reaches for question q (an independent check of remove_support's statuses)."
    return set(retrieve_paths(kg, q.q_entity, q.relation_path, max_paths=0, exclude_sources=True).ends) & set(q.answer)


# ---------------------------------------------------------------- closed-book scoring (no training)

def test_labels_of_hand_made_answers(kg, questions):
    q = questions[0]  # who directed <film>: one answer, a person
    wrong = next(t for h, r, t in kg.triples() if r == q.relation_path[0] and t not in q.answer)
    made = [[f'  the {q.answer[0].upper()}!'], [wrong, q.answer[0]], ['Somebody Nobody', q.answer[0]], [], ['', '!!', wrong]]
    rows = closed_book_scores(kg, [q] * 5, made)
    assert [r['top'] for r in rows] == ['right', 'wrong_entity', 'invented', 'none', 'wrong_entity']  # empty answers are skipped
    assert [r['hits@1'] for r in rows] == [1, 0, 0, 0, 0] and rows[1]['hits@3'] == 1 and rows[2]['hits@3'] == 1
    assert rows[0]['relation'] == q.relation_path[0] and rows[0]['hops'] == 1 and rows[0]['popularity'] in ('head', 'torso', 'tail')
    rep = closed_book_report(rows)['overall']
    assert rep['n'] == 5 and rep['hits@1'] == 0.2 and rep['wrong_entity'] == 0.4 and rep['invented'] == 0.2
    assert rep['hallucination'] == pytest.approx(0.6) and rep['answered'] == 0.8
    assert rep['hits@1'] + rep['hallucination'] + (1 - rep['answered']) == pytest.approx(1.0)


def test_report_groups_and_markdown(kg, questions):
    answers = [list(q.answer) if i % 2 else [] for i, q in enumerate(questions)]
    rep = closed_book_report(closed_book_scores(kg, questions, answers))
    assert rep['overall']['n'] == len(questions) and rep['overall']['hits@1'] == pytest.approx(sum(i % 2 for i in range(len(questions))) / len(questions))
    assert list(rep['by_popularity']) == ['head', 'torso', 'tail'] and list(rep['by_hops']) == ['1']
    assert sum(t['n'] for t in rep['by_relation'].values()) == len(questions) and '~directed_by' in rep['by_relation']
    md = closed_book_markdown(rep)
    assert md.startswith('| | n | Hits@1') and '| **all** | 241 |' in md and 'By relation:' in md and 'By hops' not in md  # one hop group: no table
    buckets = {e: 'rare' for e in kg.entities}  # caller's own buckets
    assert set(closed_book_report(closed_book_scores(kg, questions[:3], answers[:3], buckets))['by_popularity']) == {'rare'}


def test_scores_bad_input(kg, questions):
    with pytest.raises(KMInputError, match="'x' has no answers"): closed_book_scores(kg, [QARecord('x', 'Who?', [], ['Alien'])], [[]])
    with pytest.raises(KMInputError, match='0 answer lists for 1 questions'): closed_book_scores(kg, questions[:1], [])
    with pytest.raises(KMInputError, match='expected a QARecord'): closed_book_scores(kg, [{'question': 'q'}], [[]])
    with pytest.raises(KMInputError, match='no questions given'): closed_book_scores(kg, [], [])
    with pytest.raises(KMInputError, match='no scored questions'): closed_book_report([])


def test_closed_book_asks_the_corpus_format(kg, questions, tiny):
    model, tok = tiny
    a = closed_book_answers(model, tok, questions[:5], batch_size=2, max_new_tokens=6)
    assert len(a) == 5 and all(isinstance(x, str) for ans in a for x in ans)
    assert a == closed_book_answers(model, tok, questions[:5], batch_size=5, max_new_tokens=6)  # batching does not change answers
    bracketed = [QARecord('b', f'Who directed [{questions[0].q_entity[0]}]?', ['x'], questions[0].q_entity)]
    plain = [QARecord('p', f'Who directed {questions[0].q_entity[0]}?', ['x'], questions[0].q_entity)]
    assert closed_book_answers(model, tok, bracketed, max_new_tokens=4) == closed_book_answers(model, tok, plain, max_new_tokens=4)
    rep = closed_book(model, tok, questions[:8], kg, max_new_tokens=6)
    assert rep['overall']['n'] == 8 and len(rep['rows']) == 8 and rep['rows'][0]['prediction'] == a[0]
    with pytest.raises(KMInputError, match='has no answers'): closed_book(model, tok, [QARecord('x', 'q', [], ['a'])], kg)


def test_tiny_base(qa):
    model, tok = tiny_base(qa['text'][:50], hidden=16, layers=1, heads=2, vocab_size=300)
    assert model.get_input_embeddings().weight.shape[0] == len(tok) and '<PATH>' in tok.get_vocab()
    assert model.config.hidden_size == 16 and model.config.num_hidden_layers == 1
    with pytest.raises(KMInputError, match='non-empty list of texts'): tiny_base([])
    with pytest.raises(KMInputError, match='non-empty list of texts'): tiny_base([1, 2])


# ---------------------------------------------------------------- remove_support

def test_remove_support_never_mutates_and_statuses_are_right(kg, questions):
    triples, ents = kg.triples(), list(kg.entities)
    new, status = remove_support(kg, questions, fraction=0.2, seed=3)
    assert kg.triples() == triples and kg.entities == ents  # the input graph is untouched
    assert new is not kg and new.entities == ents and set(new.triples()) < set(triples)
    assert set(status) == {q.id for q in questions} and set(status.values()) == {'removed', 'touched', 'intact'}
    for q in questions:  # each status, recomputed independently on both graphs
        before, after = _reachable(kg, q), _reachable(new, q)
        assert status[q.id] == ('intact' if after == before else 'removed' if not after else 'touched'), q
    assert Counter(status.values())['removed'] >= round(0.2 * len(questions))  # every chosen 1-hop question loses all its support
    again, status2 = remove_support(kg, questions, fraction=0.2, seed=3)
    assert status2 == status and again.triples() == new.triples()  # seeded
    assert remove_support(kg, questions, fraction=0.2, seed=4)[1] != status
    none, st0 = remove_support(kg, questions, 0.0)
    assert set(st0.values()) == {'intact'} and none.triples() == triples
    empty, st1 = remove_support(kg, questions, 1.0)
    assert set(st1.values()) == {'removed'} and empty.n_triples == 0


def test_remove_support_multi_hop(kg):
    recs = [r for r in movie_questions(kg, per_type=3) if r.hops == 2][:12]
    new, status = remove_support(kg, recs, fraction=0.5, seed=0)
    for r in recs: assert status[r.id] == ('intact' if _reachable(new, r) == _reachable(kg, r) else 'removed' if not _reachable(new, r) else 'touched')
    assert 'removed' in status.values()


def test_remove_support_bad_input(kg, questions):
    with pytest.raises(KMInputError, match=r'fraction must be in \[0, 1\]'): remove_support(kg, questions, 1.5)
    with pytest.raises(KMInputError, match='no relation_path'): remove_support(kg, [QARecord('n', 'q', ['a'], ['Alien'])])
    with pytest.raises(KMInputError, match='no questions given'): remove_support(kg, [])


# ---------------------------------------------------------------- hybrid answering, planner-free

def test_hybrid_modes_on_hand_made_plans(kg, questions, tiny):
    model, tok = tiny
    qs = questions[:40]
    new, status = remove_support(kg, qs, fraction=0.3, seed=1)
    gold = [[Plan(tuple(q.relation_path), 0.0)] for q in qs]
    memory = closed_book_answers(model, tok, qs, max_new_tokens=8)
    by_kg = hybrid_answer(new, model, tok, qs, 'retrieval', plans=gold, max_new_tokens=8)
    assert {p.id for p in by_kg if not p.prediction} == {q.id for q in qs if status[q.id] == 'removed'}
    assert all(set(p.prediction) <= set(q.answer) for p, q in zip(by_kg, qs))  # retrieval along the gold relation is never wrong
    book = hybrid_answer(new, model, tok, qs, 'closed_book', max_new_tokens=8)
    assert [p.prediction for p in book] == memory and all(p.plans == [] for p in book)
    mixed = hybrid_answer(new, model, tok, qs, 'hybrid', plans=gold, max_new_tokens=8)
    assert [m.prediction for m in mixed] == [k.prediction or c for k, c in zip(by_kg, memory)]
    # a plan that does not exist in the graph (a relation the topic lacks) sends the question to memory
    odd = [[Plan(('~' + q.relation_path[0] if not q.relation_path[0].startswith('~') else q.relation_path[0][1:],), 0.0)] for q in qs]
    odd_mixed = hybrid_answer(new, model, tok, qs, 'hybrid', plans=odd, max_new_tokens=8)
    assert all(not p.plans[0]['valid'] for p in odd_mixed) and [p.prediction for p in odd_mixed] == memory
    read = hybrid_answer(new, model, tok, qs[:4], 'reason', plans=gold[:4], max_new_tokens=4)
    assert len(read) == 4 and all(isinstance(p.prediction, list) for p in read)
    rep = hybrid_report(mixed, status)
    assert rep['overall']['overall']['n'] == len(qs) and sum(rep[g]['overall']['n'] for g in ('removed', 'touched', 'intact') if g in rep) == len(qs)
    assert rep['intact']['overall']['hits@1'] == 1.0  # the gold plan on an intact question: the graph answers
    reports = {'retrieval': hybrid_report(by_kg, status), 'hybrid': rep}
    assert reports['retrieval']['removed']['overall']['hits@1'] == 0.0
    md = hybrid_markdown(reports)
    assert md.splitlines()[0].startswith('| mode | removed (n=') and '| hybrid | ' in md and len(md.splitlines()) == 4


def test_hybrid_bad_input(kg, questions, tiny):
    model, tok = tiny
    assert HYBRID_MODES == ('retrieval', 'closed_book', 'hybrid', 'reason')
    with pytest.raises(KMInputError, match="unknown action 'guess'"): hybrid_answer(kg, model, tok, questions[:2], 'guess')
    with pytest.raises(KMInputError, match='plans for 1 questions, expected 2'): hybrid_answer(kg, model, tok, questions[:2], plans=[[]])
    preds = hybrid_answer(kg, model, tok, questions[:2], 'closed_book', max_new_tokens=2)
    with pytest.raises(KMInputError, match='no status for questions'): hybrid_report(preds, {})


def test_hybrid_plans_with_the_model(kg, questions, tiny):
    "Without ready plans the model plans (unconstrained by default: its own relation, kept only where it exists)."
    model, tok = tiny
    preds = hybrid_answer(kg, model, tok, questions[:6], 'retrieval', max_new_tokens=8)
    assert all(len(p.plans) <= 1 for p in preds)  # one beam
    preds = hybrid_answer(kg, model, tok, questions[:6], 'retrieval', constrained=True, beams=2, max_new_tokens=8)
    assert all(pl['valid'] for p in preds for pl in p.plans)  # constrained plans always exist in the graph


def test_planning_questions_never_show_a_held_out_question(questions):
    plans = planning_questions(questions)
    assert len(plans) == len(questions) and not {p.question for p in plans} & {q.question for q in questions}
    for q, p in zip(questions, plans):
        rel = q.relation_path[0]
        t = relation_templates(rel.lstrip('~'))
        qs = t.inverse_questions if rel.startswith('~') else t.questions
        assert p.question == qs[(held_out_phrasing(q.q_entity[0], rel, len(qs)) + 1) % len(qs)].format(**{'t' if rel.startswith('~') else 'h': q.q_entity[0]})
        assert (p.answer, p.relation_path, p.q_entity) == (q.answer, q.relation_path, q.q_entity)
    with pytest.raises(KMInputError, match='1-hop'): planning_questions([QARecord('m', 'x', ['a'], ['b'], relation_path=['r', 's'])])


# ---------------------------------------------------------------- training: the curve, a copyable model, bad corpora

def test_inject_records_a_curve_and_leaves_a_copyable_model(kg, questions, qa, tmp_path):
    import torch
    model, tok = tiny_base(qa['text'], hidden=32, layers=1, heads=2, vocab_size=400)
    res = _quiet(inject, qa, _cfg(tmp_path / 'run', 20), model, tok, probe=questions[:12], kg=kg, every=10, max_new_tokens=6)
    curve = res.metrics['curve']
    assert [p['step'] for p in curve] == [0, 10, 20] and curve[0]['tokens'] == 0 and curve[1]['tokens'] < curve[2]['tokens']
    assert curve[-1]['tokens'] == res.metrics['tokens_seen'] and set(curve[0]) == {'step', 'tokens', 'hits@1', 'hallucination', 'f1'}
    assert json.loads((tmp_path / 'run' / 'closed_book_curve.json').read_text()) == curve
    assert curve_plot(curve, tmp_path / 'c.png').stat().st_size > 1000
    twin = copy.deepcopy(model)  # the copy computes with its own weights (TRL's patched forward would call the original's)
    with torch.no_grad():
        for p in twin.parameters(): p.mul_(0.5)
    x = tok(['Q: Who?\nA:'], return_tensors='pt')
    with torch.no_grad(): assert (model(**x).logits - twin(**x).logits).abs().max() > 1e-3
    assert _quiet(inject, qa.select(range(16)), _cfg(tmp_path / 'plain', 2), model, tok).metrics.get('curve') is None


def test_inject_bad_corpus(kg, questions, qa, tmp_path):
    with pytest.raises(KMInputError, match='the corpus is empty'): inject(qa.select([]), _cfg(tmp_path, 1))
    with pytest.raises(KMInputError, match='no "text" column'): inject(qa.remove_columns(['text']), _cfg(tmp_path, 1))
    with pytest.raises(KMInputError, match='expected a corpus'): inject(['a text'], _cfg(tmp_path, 1))
    with pytest.raises(KMInputError, match='needs kg='): inject(qa, _cfg(tmp_path, 1), probe=questions[:2], every=1)
    with pytest.raises(KMInputError, match='every must be >= 1'): inject(qa, _cfg(tmp_path, 1), probe=questions[:2], kg=kg, every=-1)


# ---------------------------------------------------------------- incremental injection

def test_incremental_tiny_run(kg, qa, tmp_path):
    import torch
    graph = KnowledgeGraph.from_triples(kg.triples())
    model, tok = tiny_base(qa['text'], hidden=32, layers=1, heads=2, vocab_size=400)
    film, person = 'The Glass Orchard', kg.triples()[0][2]
    new = [(film, 'directed_by', person), (film, 'has_genre', 'Drama')]
    w0 = model.get_input_embeddings().weight.detach().clone()
    res, info = _quiet(incremental_inject, graph, new, model, tok, _cfg(tmp_path / 'up', 3), qa, replay=2.0, seed=1)
    assert graph.has_edge(film, 'directed_by', person) and graph.n_triples == kg.n_triples + 2 and not kg.has_entity(film)
    assert not torch.equal(w0, model.get_input_embeddings().weight)  # the same model object trained further
    assert info['new_triples'] == 2 and info['entities'] == 3 and info['replay_texts'] == 2 * info['new_texts'] > 0
    assert info['tokens'] == res.metrics['tokens_seen'] > 0 and info['seconds'] > 0
    ds = qa_corpus(graph, entities=[film, person, 'Drama'])
    assert info['new_texts'] == len(ds)
    _, none = _quiet(incremental_inject, graph, [(film, 'written_by', person)], model, tok, _cfg(tmp_path / 'up0', 1), qa, replay=0)
    assert none['replay_texts'] == 0
    own = lambda g, ents: qa_corpus(g, entities=ents, phrasings=1)  # noqa: E731 (a custom corpus builder)
    _, custom = _quiet(incremental_inject, graph, [(film, 'in_language', 'English')], model, tok, _cfg(tmp_path / 'up1', 1), qa, build=own)
    assert custom['new_texts'] == len(own(graph, [film, 'English']))


def test_incremental_bad_input_leaves_the_graph_alone(kg, qa, tiny, tmp_path):
    model, tok = tiny
    graph = KnowledgeGraph.from_triples(kg.triples())
    new = [('The Glass Orchard', 'has_genre', 'Drama')]
    with pytest.raises(KMInputError, match='no new triples'): incremental_inject(graph, [], model, tok, _cfg(tmp_path, 1), qa)
    with pytest.raises(KMInputError, match='provenance'): incremental_inject(graph, new, model, tok, _cfg(tmp_path, 1), qa.select_columns(['text']))
    with pytest.raises(KMInputError, match='replay must be >= 0'): incremental_inject(graph, new, model, tok, _cfg(tmp_path, 1), qa, replay=-1)
    with pytest.raises(KMInputError, match='the corpus is empty'): incremental_inject(graph, new, model, tok, _cfg(tmp_path, 1), qa.select([]))
    assert graph.triples() == kg.triples()


# ---------------------------------------------------------------- corpora and km_inject

def test_build_corpus_kinds(kg):
    sizes = {k: len(build_corpus(kg, k, movie=True)) for k in CORPUS_KINDS}
    assert sizes['plain'] == kg.n_triples and sizes['qa'] == len(qa_corpus(kg)) and sizes['mixed'] > sizes['facts'] + sizes['qa']
    assert 'plan' in build_corpus(kg, 'mixed')['kind']
    with pytest.raises(KMInputError, match="unknown corpus 'poems'"): build_corpus(kg, 'poems')


def test_km_inject_help_and_version():
    r = subprocess.run([str(BIN / 'km_inject'), '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and 'Examples:\n  km_inject' in r.stdout and '--curve_every' in r.stdout and '--lora_targets' in r.stdout
    r = subprocess.run([str(BIN / 'km_inject'), '--corpus', 'poems', '--out', 'never'], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and "'poems' is neither a corpus kind" in r.stderr and 'Traceback' not in r.stderr
    assert not Path('never').exists()


def test_km_inject_tiny_end_to_end(tmp_path):
    kw = dict(n_movies=20, steps=12, hidden=32, layers=1, heads=2, vocab_size=400, batch_size=8, curve_every=6, probe_n=8, max_new_tokens=8,
              max_eval=40, threads=1)
    summary = _quiet(km_inject, out=str(tmp_path / 'run'), **kw)
    run = tmp_path / 'run'
    assert {p.name for p in run.iterdir()} >= {'config.json', 'corpus', 'corpus_stats.json', 'train', 'closed_book.json', 'closed_book.md',
                                                'closed_book_curve.png', 'summary.json', 'report.md'}
    assert summary == json.loads((run / 'summary.json').read_text())
    assert (summary['method'], summary['questions'], summary['steps'], summary['perplexity_before']) == ('full', 40, 12, None)
    rep = json.loads((run / 'closed_book.json').read_text())
    assert rep['overall']['n'] == 40 == len(rep['rows']) and rep['overall']['hits@1'] == summary['hits@1']
    assert [p['step'] for p in json.loads((run / 'train' / 'closed_book_curve.json').read_text())] == [0, 6, 12]
    assert json.loads((run / 'config.json').read_text())['steps'] == 12 and 'Closed-book answers (40 1-hop' in (run / 'report.md').read_text()
    # a corpus folder (as km_corpus writes it) is read instead of built; one without a text column is refused
    qa_dir = tmp_path / 'qa'; save_dataset(qa_corpus(movie_world(20)), qa_dir)
    s2 = _quiet(km_inject, out=str(tmp_path / 'run2'), corpus=str(qa_dir), **{**kw, 'steps': 2, 'curve_every': 0})
    assert s2['steps'] == 2 and not (tmp_path / 'run2' / 'closed_book_curve.png').exists()
    save_dataset(qa_corpus(movie_world(20)).remove_columns(['text']), tmp_path / 'notext')
    with pytest.raises(SystemExit) as e: km_inject(out=str(tmp_path / 'run3'), corpus=str(tmp_path / 'notext'), **kw)
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e: km_inject(out=str(tmp_path / 'run4'), steps=0, n_movies=20)
    assert e.value.code == 2 and not (tmp_path / 'run4').exists()
