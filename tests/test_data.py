"""Loaders match the shared data's counts; built questions are answered by retrieval along their own path."""
from collections import Counter

from hypothesis import given, settings, strategies as st

from knowledge_mixer.data import (build_questions, load_jsonl, load_metaqa, movie_questions, movie_world,
                                  planning_dataset, split_key, split_records)
from knowledge_mixer.graph import KnowledgeGraph, random_kg
from knowledge_mixer.paths import retrieve_paths


def test_metaqa_counts_and_gold_paths(metaqa_dir):
    recs = load_metaqa(metaqa_dir)
    assert Counter(r.hops for r in recs) == {1: 9992, 2: 14872, 3: 14274}
    assert all(len(r.relation_path) == r.hops for r in recs)
    parts = split_records(recs, seed=0)
    keys = {k: {split_key(r) for r in v} for k, v in parts.items()}
    assert not keys['train'] & keys['test'] and not keys['train'] & keys['valid'] and not keys['valid'] & keys['test']


def test_metaqa_mini_gold_paths_retrieve_all_answers(metaqa_mini_dir):
    kg = KnowledgeGraph.from_file(metaqa_mini_dir / 'kb.txt')
    for r in load_jsonl(metaqa_mini_dir / 'questions.jsonl'):
        ends = retrieve_paths(kg, r.q_entity, r.relation_path, max_paths=0, exclude_sources=r.hops == 3).ends
        assert set(r.answer) <= set(ends), r.id


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3))
def test_built_questions_are_exact_traversals(seed, hops):
    kg = random_kg(60, 240, n_relations=3, seed=seed)
    paths = [[f'r{(seed + i) % 3}' if i % 2 == 0 else f'~r{i % 3}' for i in range(hops)]]
    for rec in build_questions(kg, paths, per_type=5, max_answers=1000, seed=seed):
        ends = retrieve_paths(kg, rec.q_entity, rec.relation_path, max_paths=0, exclude_sources=True).ends
        assert sorted(rec.answer) == sorted(ends) and rec.q_entity[0] not in rec.answer


def test_movie_world_questions_cover_metaqa_types_and_train_sets():
    kg = movie_world(600, seed=1)
    qs = movie_questions(kg, per_type=3, seed=1)
    assert len({r.qtype for r in qs}) >= 45 and max(Counter(r.qtype for r in qs).values()) <= 3
    ds = planning_dataset(kg, qs)
    assert len(ds) == len(qs) and all(c.startswith('<PATH>') for c in ds['completion'])
