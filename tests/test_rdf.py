"""RDF round trips on generated graphs (hypothesis): N-Triples written by `to_rdf` and read back by `from_rdf` (our stream reader and
rdflib) give the same triples, whatever the names, languages, escapes and blank nodes; and `km_graph` reads and writes RDF."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from knowledge_mixer.graph import KnowledgeGraph

rdflib = pytest.importorskip('rdflib')
BIN = Path(sys.executable).parent

text = st.text(st.characters(blacklist_categories=('Cs',)), min_size=1, max_size=12).filter(lambda s: s.strip())
iri = st.builds(lambda ns, local: f'http://example.org/{ns}/{local}', st.sampled_from(['a', 'b']),
                st.text('abcXYZé_-0123456789', min_size=1, max_size=6))
literal = st.one_of(st.builds(lambda t, tag: rdflib.Literal(t, lang=tag), text, st.sampled_from([None, 'en', 'de-CH'])),
                    st.builds(lambda t: rdflib.Literal(t, datatype=rdflib.XSD.string), text),
                    st.integers(-999, 999).map(lambda i: rdflib.Literal(str(i), datatype=rdflib.XSD.integer)))
node = st.one_of(iri.map(rdflib.URIRef), st.integers(0, 3).map(lambda i: rdflib.BNode(f'n{i}')))
pred = st.one_of(iri.map(rdflib.URIRef), st.just(rdflib.RDFS.label))
triple = st.tuples(node, pred, st.one_of(node, literal))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(triple, max_size=25), st.booleans())
def test_rdf_round_trip_keeps_every_triple(tmp_path, triples, gz):
    "rdflib writes a random graph; from_rdf(literals='keep') then to_rdf gives a graph rdflib finds isomorphic, via both readers."
    from rdflib.compare import isomorphic
    g = rdflib.Graph()
    for t in triples: g.add(t)
    src = tmp_path / 'in.nt'
    g.serialize(src, format='nt', encoding='utf-8')
    for reader in ('stream', 'rdflib'):
        kg = KnowledgeGraph.from_rdf(src, literals='keep', reader=reader)
        assert len(set(kg.entities)) == kg.n_entities  # names never merge two terms
        out = kg.to_rdf(tmp_path / ('out.nt.gz' if gz else 'out.nt'))
        back = rdflib.Graph().parse(data=__import__('gzip').open(out, 'rt', encoding='utf-8').read() if gz else out.read_text('utf-8'), format='nt')
        assert isomorphic(g, back), (reader, triples)
        again = KnowledgeGraph.from_rdf(out, literals='keep')
        if reader == 'stream': assert sorted(again.triples()) == sorted(kg.triples())


def test_stream_and_rdflib_readers_agree(tmp_path):
    "The two readers name a file's entities and relations alike (blank nodes aside) and keep the same triples."
    p = tmp_path / 'kb.nt'
    p.write_text('<http://x/a> <http://x/r> <http://x/b> .\n<http://x/a> <http://www.w3.org/2000/01/rdf-schema#label> "A \\"1\\""@en .\n'
                 '<http://x/b> <http://x/r> "caf\\u00E9"@FR .\n<http://x/b> <http://x/s> "2"^^<http://www.w3.org/2001/XMLSchema#integer> .\n',
                 encoding='utf-8')
    a, b = (KnowledgeGraph.from_rdf(p, literals='keep', reader=r) for r in ('stream', 'rdflib'))
    assert sorted(a.triples()) == sorted(b.triples()) == [('A "1"', 'r', 'http://x/b'), ('http://x/b', 'r', 'café'), ('http://x/b', 's', '2')]


def test_km_graph_reads_and_writes_rdf(tmp_path):
    "km_graph converts a TSV file to N-Triples (gzipped too) and prints the statistics of Turtle and N-Triples files."
    (tmp_path / 'kb.tsv').write_text('Unforgiven\tdirected_by\tClint Eastwood\nUnforgiven\trelease_year\t1992\n')
    (tmp_path / 'kb.ttl').write_text('@prefix ex: <http://x/> .\nex:a ex:r ex:b ; ex:year "1992" .\n')
    km = str(BIN / 'km_graph')
    for argv in (['convert', 'kb.tsv', '--out', 'kb.nt.gz'], ['stats', 'kb.nt.gz', '--json'], ['stats', 'kb.ttl', '--json', '--literals', 'keep']):
        r = subprocess.run([km, *argv], cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)['triples'] == 2
    assert KnowledgeGraph.from_rdf(tmp_path / 'kb.nt.gz').triples() == [('Unforgiven', 'directed_by', 'Clint Eastwood'),
                                                                          ('Unforgiven', 'release_year', '1992')]
    r = subprocess.run([km, 'stats', 'bad.nt'], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2 and 'no such RDF file' in r.stderr
