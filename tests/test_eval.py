"""Evaluation never fails on legitimate names (#21): strict matching compares KG names as they are (NFC and whitespace
only), RoG's lenient normaliser keeps a name it would empty, a question with an empty gold set is skipped and named,
questions without a type are grouped by relation path, and how often the gold answer is listed but not first."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge_mixer.core import KMInputError
from knowledge_mixer.eval import (answer_scores, evaluate, report_markdown, rog_evaluate, rog_match, rog_normalize, rog_scores,
                                  strict_normalize, text_normalize, write_report)

BIN = Path(sys.executable).parent


def km_eval(*args):
    return subprocess.run([str(BIN / 'km_eval'), *map(str, args)], capture_output=True, text=True)


def write_rows(path, rows):
    path.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    return path


# --- strict: names as they are -------------------------------------------------------------------------------------
@pytest.mark.parametrize('pred, gold, hit', [
    (['.'], ['.'], 1.0),                        # was: KMInputError 'a question has an empty gold answer set'
    (['?!'], ['?!'], 1.0),
    (['unknown'], ['unknown'], 1.0),            # a legitimate entity name, not an abstention
    (['The'], ['The'], 1.0),                    # was: the article dropped, empty gold set
    (['paris'], ['Paris'], 0.0),                # case matters now (was 1.0)
    (['Bat'], ['The Bat'], 0.0),                # different entities (was 1.0)
    (['US'], ['U.S.'], 0.0),                    # different entities (was 1.0)
    (['Cafe\u0301'], ['Caf\u00e9'], 1.0),       # NFD vs NFC: one name
    (['Tom\tHanks'], ['Tom Hanks'], 1.0),       # a tab
    (['  Tom  Hanks '], ['Tom Hanks'], 1.0),    # double and outer spaces
    (['\ufb01lm'], ['film'], 0.0),              # NFC, not NFKC: the ligature is another character
])
def test_strict_compares_names_as_they_are(pred, gold, hit):
    assert answer_scores(pred, gold)['hits@1'] == hit


def test_strict_normalize_only_unicode_and_whitespace():
    assert strict_normalize(' The \t Lord  of the Rings! ') == 'The Lord of the Rings!'
    assert strict_normalize('.') == '.'
    assert text_normalize('The Lord of the Rings!') == 'lord of rings'  # the old rule, kept for free-text answers
    assert answer_scores(['the paris'], ['Paris'], norm=text_normalize)['hits@1'] == 1.0


def test_answer_scores_still_refuses_a_blank_gold_set():
    with pytest.raises(KMInputError, match='empty gold answer set'): answer_scores(['x'], ['', ' \t'])


# --- rank_miss: gold listed but not first ---------------------------------------------------------------------------
@pytest.mark.parametrize('pred, miss', [(['Paris', 'Lyon'], 1.0), (['Lyon', 'Paris'], 0.0), (['Paris'], 0.0), ([], 0.0)])
def test_rank_miss(pred, miss):
    assert answer_scores(pred, ['Lyon'])['rank_miss'] == miss


def test_rank_miss_mean_in_report():
    rows = [dict(id='a', prediction=['Paris', 'Lyon'], ground_truth=['Lyon']), dict(id='b', prediction=['Lyon'], ground_truth=['Lyon'])]
    ev = evaluate(rows)
    assert ev['overall']['rank_miss'] == 0.5
    assert 'Gold in list, not first: 50.0% of questions' in report_markdown(ev)


# --- RoG's lenient normaliser ---------------------------------------------------------------------------------------
def test_rog_normalize_keeps_a_name_it_would_empty():
    assert rog_normalize('.') == '.' and rog_normalize(' ?! ') == '?!' and rog_normalize('the') == 'the'
    assert rog_normalize('The  Lord of the Rings!') == 'lord of rings'  # RoG's rule otherwise unchanged
    assert rog_match('.', '.') and rog_match('Paris\n.', '.')
    assert not rog_match('Paris', '.')  # RoG's own code found '.' (normalised to '') in every prediction
    s = rog_scores(['Paris', '.'], ['.'])
    assert (s['hit'], s['hit1']) == (1, 0)


def test_rog_evaluate_skips_empty_gold_without_dividing_by_zero():
    rows = [dict(prediction='Lyon', ground_truth=['Lyon']), dict(prediction='x', ground_truth=[]), dict(prediction='x', ground_truth=['  '])]
    res = rog_evaluate(rows)
    assert res['Hit'] == 100.0 and res['empty_gold'] == 2
    with pytest.raises(KMInputError, match='every question'): rog_evaluate(rows[1:])


# --- a question with an empty gold set is skipped and named -----------------------------------------------------------
ROWS = [dict(id='q1', prediction=['.'], ground_truth=['.'], hops=1),
        dict(id='q2', prediction=['Paris'], ground_truth=['Paris'], hops=1),
        dict(id='q3', prediction=['x'], ground_truth=[], hops=2),
        dict(id='q4', prediction=['x'], ground_truth=[' ', ''], hops=2)]


def test_evaluate_skips_empty_gold_questions():
    ev = evaluate(ROWS)
    assert ev['empty_gold'] == {'n': 2, 'ids': ['q3', 'q4']}
    assert ev['overall']['n'] == 2 and ev['overall']['hits@1'] == 1.0 and ev['rog']['Hit'] == 100.0
    assert list(ev['by_hops']) == ['1']
    with pytest.raises(KMInputError, match='p.jsonl: every question'): evaluate(ROWS[2:], 'p.jsonl')


def test_km_eval_one_empty_gold_question(tmp_path):
    p = write_rows(tmp_path / 'pred.jsonl', ROWS[:3])
    r = km_eval(p, '--out', tmp_path / 'run')
    assert r.returncode == 0, r.stderr
    assert '1 question skipped: their gold answer set is empty' in r.stdout and 'Ids: q3.' in r.stdout
    assert '| **all** | 2 | 100.0' in r.stdout
    assert json.loads((tmp_path / 'run' / 'eval_metrics.json').read_text())['empty_gold'] == {'n': 1, 'ids': ['q3']}
    assert 'Ids: q3.' in (tmp_path / 'run' / 'eval_report.md').read_text()


def test_km_eval_report_lists_first_20_ids(tmp_path):
    rows = ROWS[:2] + [dict(id=f'e{i}', prediction=[], ground_truth=[]) for i in range(25)]
    r = km_eval(write_rows(tmp_path / 'pred.jsonl', rows))
    assert r.returncode == 0, r.stderr
    assert '25 questions skipped' in r.stdout and 'first 20' in r.stdout and 'e19.' in r.stdout and 'e20' not in r.stdout


def test_km_eval_all_empty_gold_is_one_line_exit_2(tmp_path):
    p = write_rows(tmp_path / 'pred.jsonl', ROWS[2:])
    r = km_eval(p)
    assert r.returncode == 2 and r.stderr.strip().count('\n') == 0 and 'Traceback' not in r.stderr, r.stderr
    assert 'pred.jsonl: every question (2) has an empty gold answer set' in r.stderr


def test_km_eval_rog_format_skips_blank_gold(tmp_path):
    p = write_rows(tmp_path / 'pred.jsonl', [dict(id='a', prediction='.', ground_truth=['.']), dict(id='b', prediction='x', ground_truth=[' '])])
    r = km_eval(p, '--format', 'rog')
    assert r.returncode == 0 and 'Hit: 100.0' in r.stdout and 'skipped questions with an empty gold answer set (1): b' in r.stderr, r
    r = km_eval(write_rows(tmp_path / 'blank.jsonl', [dict(id='b', prediction='x', ground_truth=[' '])]), '--format', 'rog')
    assert r.returncode == 2 and 'blank.jsonl: every question (1) has an empty gold answer set' in r.stderr, r


# --- questions without a type: grouped by relation path -------------------------------------------------------------
def test_grouped_by_relation_path_when_no_type(tmp_path):
    rows = [dict(id='a', prediction=['X'], ground_truth=['X'], relation_path=['~directed_by', 'starred_actors']),
            dict(id='b', prediction=['Y', 'X'], ground_truth=['X'], relation_path=['~directed_by', 'starred_actors']),
            dict(id='c', prediction=['X'], ground_truth=['X'], relation_path=['genre']),
            dict(id='d', prediction=['X'], ground_truth=['X'])]
    ev = write_report(rows, tmp_path / 'run')
    assert 'by_qtype' not in ev
    assert {k: m['n'] for k, m in ev['by_path'].items()} == {'~directed_by → starred_actors': 2, 'genre': 1, '(no path)': 1}
    md = (tmp_path / 'run' / 'eval_report.md').read_text()
    assert 'Grouped by relation path: the questions have no type' in md
    assert '| ~directed_by → starred_actors | 2 | 50.0 | 83.3 | 50.0 |' in md
    assert (tmp_path / 'run' / 'eval_by_hop.png').read_bytes()[:4] == b'\x89PNG'
    typed = evaluate([r | {'qtype': 't'} for r in rows])  # a type wins: the usual table, no path table
    assert 'by_path' not in typed and list(typed['by_qtype']) == ['t']
