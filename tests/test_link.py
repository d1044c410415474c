"""Entity linking: every name of a graph is found in a question, on whole tokens only, question words lose to names,
and every entry point that takes questions links the ones that come without brackets (brackets and q_entity still win)."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from knowledge_mixer.data import QARecord, load_jsonl, load_questions, movie_questions, movie_world, read_questions, save_jsonl
from knowledge_mixer.graph import KnowledgeGraph
from knowledge_mixer.link import EntityLinker, link_entities, linker_for, mark_mentions, normalize

SYL = ['ka', 'lo', 'mi', 'ren', 'ta', 'vor', 'el', 'dan', 'sa', 'ri', 'no', 'bel', 'ar', 'tin', 'mor', 'le']
TEMPLATES = ['who directed {}', 'what films did {} star in', '{} was released when', 'which genre is {} in', 'tell me about {}?']


@pytest.fixture(scope='module')
def world():
    kg = movie_world(300, seed=0)
    return kg, EntityLinker.from_kg(kg)


def test_every_name_is_found_in_a_question(world):
    "Each of 300 sampled entities, put in a question template, is linked back to itself with its exact span."
    kg, linker = world
    rng = np.random.default_rng(0)
    names = [e for e in kg.entities if normalize(e) and not all(w in linker.stopwords for w in normalize(e).split())]
    wrong = []
    for i in rng.choice(len(names), 300, replace=False):
        name = names[i]
        q = TEMPLATES[rng.integers(len(TEMPLATES))].format(name)
        ms = linker.link(q, top=1)
        if not ms or ms[0].entity != name or q[ms[0].start:ms[0].end] != name: wrong.append((q, ms))
    assert not wrong, wrong[:5]


def test_questions_of_the_movie_world_link_to_their_topic(world):
    "Movie-world questions with their brackets removed: the linked entity is the bracketed one, marked where the brackets were."
    kg, linker = world
    qs = movie_questions(kg, per_type=3, seed=1)
    for r in qs:
        plain = r.question.replace('[', '').replace(']', '')
        ms = linker.link(plain, top=1)
        assert ms and ms[0].entity == r.q_entity[0], (r.question, ms)
        assert mark_mentions(plain, ms) == r.question


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(SYL), min_size=1, max_size=4).map(lambda s: ''.join(s).capitalize()), min_size=1, max_size=3).map(' '.join),
       st.sampled_from(['x', 'ing', 's1', '1994']))
def test_whole_tokens_only(name, glue):
    "A name glued to letters or digits is never found; the same name between spaces or punctuation always is."
    kg = KnowledgeGraph.from_triples([(name, 'r', 'Other Thing')])
    linker = EntityLinker.from_kg(kg, fuzzy=False)
    assert [m.entity for m in linker.link(f'about {name}, please')] == [name]
    assert [m.entity for m in linker.link(f'about ({name.lower()})!')] == [name]
    assert linker.link(f'about {name}{glue} please') == [] and linker.link(f'about {glue}{name} please') == []


def test_question_words_that_are_entities_lose_to_names():
    "Entities called like question words (the, who, a, film, a year) are linked only when they are what the question is about."
    kg = KnowledgeGraph.from_triples([('The', 'directed_by', 'Ann Lee'), ('Who', 'release_year', '1994'), ('A', 'directed_by', 'Jan Lenica'),
                                      ('Heat', 'directed_by', 'Michael Mann'), ('Heat', 'has_tags', 'film'), ('Heat', 'release_year', '1995'),
                                      ('1994', 'r', 'x'), ('Up', 'directed_by', 'Pete Docter'), ('S', 'r', 'x'),
                                      ('Up', 'has_tags', 'film'), ('A', 'has_tags', 'film'), ('The', 'has_tags', 'film')])  # a well-connected tag
    linker = EntityLinker.from_kg(kg)
    top = lambda q: [(m.span, m.entity) for m in linker.link(q, top=1)]
    assert top('who directed the film Heat') == [('Heat', 'Heat')]
    assert top('Who is the director of a film called Heat') == [('Heat', 'Heat')]
    assert top('what year was A released') == [('A', 'A')]  # capitalised inside the sentence: a name
    assert top('what language is Up in') == [('Up', 'Up')]
    assert top("what films were released in the 1994s or 1994's") == [("1994", '1994')]  # 1994s is another word; 1994's is 1994
    assert top('which film came out in 1995') == [('1995', '1995')]
    assert top('who directed the film heat') == [('heat', 'Heat')]
    # control: a linker that knows no question words takes the well-connected tag `film` for the topic
    bare = EntityLinker.from_kg(kg, fuzzy=False)
    bare.stopwords = frozenset()
    assert [m.entity for m in bare.link('who directed the film heat', top=1)] == ['film']


def test_longest_span_and_exact_writing_win():
    kg = KnowledgeGraph.from_triples([('The Godfather', 'r', 'x'), ('The Godfather Part II', 'r', 'x'), ('Up', 'r', 'x'), ('Up!', 'r', 'y'),
                                      ('The Fog', 'r', 'x'), ('In the Fog', 'r', 'x'), ('heat', 'r', 'x'), ('Heat', 'r', 'x'), ('Heat', 'r', 'y')])
    linker = EntityLinker.from_kg(kg)
    one = lambda q: [(m.span, m.entity) for m in linker.link(q, top=1)]
    assert one('who directed the godfather part II') == [('the godfather part II', 'The Godfather Part II')]
    assert one('who directed Up!') == [('Up!', 'Up!')] and one('who directed Up') == [('Up', 'Up')]
    assert one('who starred in The Fog') == [('The Fog', 'The Fog')]
    assert one('films tagged heat') == [('heat', 'heat')] and one('who directed HEAT') == [('HEAT', 'Heat')]  # else: best connected


def test_aliases_labels_diacritics_symbols_and_typos(tmp_path):
    kg = KnowledgeGraph.from_triples([('Q1', 'rdfs:label', 'Amélie'), ('Q1', 'directed_by', 'Q2'), ('Q2', 'rdfs:label', 'Jean-Pierre Jeunet'),
                                      ('$', 'directed_by', 'Q3'), ('Q3', 'rdfs:label', 'Richard Brooks')])
    (tmp_path / 'aliases.tsv').write_text('Q1\tLe Fabuleux Destin\n')
    linker = EntityLinker.from_kg(kg, aliases=tmp_path / 'aliases.tsv', label_relations=['rdfs:label'])
    one = lambda q: [(m.span, m.entity, m.score) for m in linker.link(q, top=1)]
    assert one('who directed AMELIE?') == [('AMELIE', 'Q1', 1.0)]
    assert one('who directed le fabuleux destin') == [('le fabuleux destin', 'Q1', 1.0)]
    assert one('what did jean pierre jeunet direct') == [('jean pierre jeunet', 'Q2', 1.0)]
    assert one('who directed $?') == [('$', '$', 1.0)]
    (span, ent, score), = one('what did Richard Broks direct')
    assert (span, ent) == ('Richard Broks', 'Q3') and 0.85 <= score < 1
    assert EntityLinker.from_kg(kg, label_relations=['rdfs:label'], fuzzy=False).link('what did Richard Broks direct') == []
    # a typo that leaves part of the name matching another entity exactly: the capitalised leftover word calls the fuzzy pass
    films = EntityLinker.from_kg(KnowledgeGraph.from_triples([('The Wedding Party', 'r', 'x'), ('y', 'has_tags', 'wedding')]))
    assert [m.entity for m in films.link('who directed The Wedding Parrty', top=1)] == ['The Wedding Party']
    assert [m.entity for m in films.link('which films are about weddings and a wedding')] == ['wedding']  # nothing missed: no fuzzy pass
    assert linker.link('Jean-Pierre Jeunet') and not any(m.entity == 'Jean-Pierre Jeunet' for m in linker.link('Jean-Pierre Jeunet'))


def test_link_entities_caches_per_graph():
    kg = KnowledgeGraph.from_triples([('Heat', 'r', 'x')])
    assert linker_for(kg) is linker_for(kg)
    assert [m.entity for m in link_entities(kg, 'who directed Heat')] == ['Heat']
    kg.add_triples([('Ronin', 'r', 'x')])
    assert [m.entity for m in link_entities(kg, 'who directed Ronin')] == ['Ronin']


def test_loaders_link_questions_without_brackets(tmp_path):
    "load_jsonl / load_questions / read_questions with kg=: linked records, marked questions; brackets and q_entity win."
    kg = KnowledgeGraph.from_triples([('Heat', 'directed_by', 'Michael Mann'), ('Thief', 'directed_by', 'Michael Mann'), ('Heat', 'has_tags', 'film')])
    rows = [{'id': 'a', 'question': 'who directed the film Heat', 'answer': ['Michael Mann']},
            {'id': 'b', 'question': 'who directed [Thief]', 'answer': ['Michael Mann']},
            {'id': 'c', 'question': 'who directed Heat', 'answer': ['Michael Mann'], 'q_entity': ['Thief']}]
    p = tmp_path / 'q.jsonl'
    p.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    a, b, c = load_jsonl(p, kg=kg)
    assert (a.question, a.q_entity) == ('who directed the film [Heat]', ['Heat'])
    assert a.linked == [{'start': 23, 'end': 27, 'span': 'Heat', 'entity': 'Heat', 'score': 1.0}]
    assert a.question[a.linked[0]['start']:a.linked[0]['end']] == 'Heat'
    assert (b.q_entity, b.linked, c.q_entity, c.linked, c.question) == (['Thief'], None, ['Thief'], None, 'who directed Heat')
    with pytest.raises(Exception, match='no q_entity field and no \\[topic entity\\]'): load_jsonl(p)  # no graph: nothing to link with
    t = tmp_path / 'q.txt'
    t.write_text('who directed Heat\tMichael Mann\nwhat did Michael Mann direct\tHeat|Thief\n')
    recs = load_questions(t, kg=kg)
    assert [r.q_entity for r in recs] == [['Heat'], ['Michael Mann']] and all(r.linked for r in recs)
    assert read_questions(t, kg=kg) == recs and read_questions(p, kg=kg) == [a, b, c]
    assert load_jsonl(save_jsonl(recs, tmp_path / 'again.jsonl')) == recs


def test_km_predict_and_pipeline_take_questions_without_brackets(tmp_path):
    "km_predict on a question<TAB>answers file without brackets (the linked span is in the predictions); km_pipeline --questions too."
    import torch
    torch.set_num_threads(1)
    from knowledge_mixer.model import add_path_tokens, build_tokenizer, tiny_model
    from knowledge_mixer.pipeline import PipelineConfig, run_pipeline
    from knowledge_mixer.reason import PredictConfig, km_predict
    from knowledge_mixer.text import planning_prompt, relation_path_to_text
    kg = movie_world(60, seed=0)
    qs = movie_questions(kg, per_type=1, seed=0)[:6]
    tok = build_tokenizer([planning_prompt(r.question) + relation_path_to_text(r.relation_path) for r in qs] + kg.relation_names, vocab_size=300)
    model = tiny_model(tok); add_path_tokens(model, tok)
    model.save_pretrained(tmp_path / 'planner'); tok.save_pretrained(tmp_path / 'planner'); kg.save(tmp_path / 'kg.npz')
    plain = tmp_path / 'asked.txt'
    plain.write_text(''.join(f"{r.question.replace('[', '').replace(']', '')}\t{'|'.join(r.answer)}\n" for r in qs))
    km_predict(PredictConfig(str(tmp_path / 'planner'), str(tmp_path / 'kg.npz'), str(plain), out=str(tmp_path / 'p.jsonl'), batch_size=6))
    preds = [json.loads(l) for l in (tmp_path / 'p.jsonl').read_text().splitlines()]
    assert [p['question'] for p in preds] == [r.question for r in qs]
    assert [p['linked'][0]['entity'] for p in preds] == [r.q_entity[0] for r in qs]
    assert all(p['question'][p['linked'][0]['start']:p['linked'][0]['end']] == p['linked'][0]['span'] for p in preds)
    # the main job's --questions: the questions stage links them and saves the records with `linked`
    kb = tmp_path / 'kb.tsv'
    kb.write_text(''.join(f'{h}\t{r}\t{t}\n' for h, r, t in kg.triples()))
    cfg = PipelineConfig(out=str(tmp_path / 'run'), kg=str(kb), questions=str(plain), split='0.5,0.2,0.3')
    run_pipeline(cfg, ['graph', 'questions'])
    saved = [r for part in ('train', 'valid', 'test') for r in load_jsonl(tmp_path / 'run' / 'questions' / f'{part}.jsonl')]
    assert sorted(r.question for r in saved) == sorted(r.question for r in qs) and all(r.linked for r in saved)


def test_metaqa_dev_linking(metaqa_dir):
    "MetaQA dev, brackets removed: the linked entity is the bracketed one for >= 99% of a seeded sample per hop."
    kg = KnowledgeGraph.from_file(metaqa_dir / 'kb.txt')
    linker = EntityLinker.from_kg(kg)
    rng = np.random.default_rng(0)
    for k in (1, 2, 3):
        lines = (metaqa_dir / f'{k}-hop' / 'vanilla' / 'qa_dev.txt').read_text(encoding='utf-8').splitlines()
        right = 0
        for i in rng.choice(len(lines), 1000, replace=False):
            q = lines[i].split('\t')[0]
            gold = q[q.index('[') + 1:q.index(']')]
            ms = linker.link(q.replace('[', '').replace(']', ''), top=1)
            right += bool(ms) and ms[0].entity == gold
        assert right >= 990, (k, right)


def test_bad_input():
    kg = KnowledgeGraph.from_triples([('Heat', 'r', 'x')])
    with pytest.raises(Exception, match="entity 'Hot' is not in the knowledge graph"): EntityLinker.from_kg(kg, aliases={'Hot': ['x']})
    with pytest.raises(Exception, match='must be a string'): EntityLinker.from_kg(kg).link(3)
    with pytest.raises(Exception, match='overlap'): mark_mentions('abc', [{'start': 0, 'end': 2}, {'start': 1, 'end': 3}])
    assert QARecord('q', 'who directed Heat', ['x'], ['Heat']).to_dict().get('linked') is None
