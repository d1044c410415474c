"""Text formats: the <PATH> parser under fuzzing, round trips, budgets, and no torch at import."""
import subprocess
import sys

from hypothesis import given, settings, strategies as st

from knowledge_mixer.paths import KGPath
from knowledge_mixer.text import (SPECIAL_TOKENS, fit_paths, parse_relation_paths, path_to_text, reasoning_messages,
                                  reasoning_prompt, relation_path_to_text)

name_st = st.text(st.characters(blacklist_categories=('Cs',), blacklist_characters='<>\n\r\t'), min_size=1, max_size=12
                  ).map(str.strip).filter(bool)
rel_path_st = st.lists(name_st, min_size=1, max_size=4).map(tuple)
tokens = SPECIAL_TOKENS + ['<', '>', '/', 'PATH', 'SEP', ' ', '\n', '~r', 'has_genre']


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.lists(st.sampled_from(tokens)).map(''.join), st.none(), st.integers(), st.binary()))
def test_parser_never_raises_on_garbage(x):
    out = parse_relation_paths(x)
    assert isinstance(out, list)
    for p in out:
        assert p and all(r and r == r.strip() and not any(t in r for t in SPECIAL_TOKENS) for r in p)


@settings(max_examples=200, deadline=None)
@given(st.lists(rel_path_st, max_size=4), st.text(st.sampled_from('ab <>/\nPATHSEP'), max_size=20))
def test_round_trip_through_noise(paths, noise):
    text = noise.join(relation_path_to_text(p) for p in paths)
    expected = list(dict.fromkeys(paths))
    got = parse_relation_paths(text)
    # noise may itself form extra well-formed paths, but every written path comes back, in order
    it = iter(got)
    assert all(any(p == q for q in it) for p in expected)
    if '<' not in noise: assert got == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 30), max_size=12), st.integers(0, 400))
def test_budget_keeps_a_prefix_of_whole_paths(lengths, budget):
    lines = ['x' * n for n in lengths]
    render = lambda ls: 'Q:' + '|'.join(ls)
    try: k = fit_paths(render, lines, budget)
    except ValueError:
        assert len(render([])) > budget
        return
    assert len(render(lines[:k])) <= budget
    if k < len(lines): assert len(render(lines[:k + 1])) > budget


def test_prompts_respect_budget_with_token_counter():
    paths = [KGPath((f'e{i}', f'f{i}'), ('r',)) for i in range(50)]
    words = lambda s: len(s.split())
    text = reasoning_prompt('who?', paths, budget=120, count=words)
    assert words(text) <= 120
    kept = [l for l in text.split('\n') if ' -> ' in l]
    assert kept == [path_to_text(p) for p in paths[:len(kept)]] and 0 < len(kept) < 50
    msgs = reasoning_messages('who?', paths, budget=120, count=words, system='sys')
    assert sum(words(m['content']) for m in msgs) <= 120


def test_text_does_not_import_torch():
    code = 'import sys, knowledge_mixer.text, knowledge_mixer.paths; assert "torch" not in sys.modules'
    assert subprocess.run([sys.executable, '-c', code]).returncode == 0
