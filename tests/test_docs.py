"""The docs site builds offline and works in a real browser (headless Chromium via selenium)."""
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # building the site renders every notebook: minutes (8.5 on a shared 2-core machine)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / '_artifacts'


class Links(HTMLParser):
    def __init__(self):
        super().__init__(); self.hrefs, self.ids, self.imgs = [], set(), []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a: self.ids.add(a['id'])
        if tag == 'a' and a.get('href'): self.hrefs.append(a['href'])
        if tag == 'img' and a.get('src'): self.imgs.append(a['src'])


def parse(path):
    p = Links(); p.feed(path.read_text(encoding='utf-8')); return p


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('site')
    r = subprocess.run([sys.executable, str(ROOT / 'tools/build_docs.py'), '--out', str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


def test_no_broken_internal_links(site):
    pages = sorted(site.glob('*.html'))
    assert {'index.html', 'graph.html', 'api.html', 'benchmarks.html'} <= {p.name for p in pages}
    parsed = {p.name: parse(p) for p in pages}
    broken = []
    for name, p in parsed.items():
        for href in p.hrefs:
            if re.match(r'^[a-z]+:', href) or href.startswith('//'): continue  # external
            target, _, anchor = href.partition('#')
            tname = target or name
            if not (site / tname).exists(): broken.append(f'{name}: {href} (no such page)')
            elif anchor and tname in parsed and anchor not in parsed[tname].ids: broken.append(f'{name}: {href} (no such anchor)')
        for src in p.imgs:
            if not src.startswith('data:') and not (site / src).exists(): broken.append(f'{name}: img {src}')
    assert not broken, '\n'.join(broken)


def test_api_reference_lists_exported_symbols(site):
    api = (site / 'api.html').read_text()
    for sym in ('KnowledgeGraph', 'load_graph', 'rog_evaluate', 'run_pipeline', 'load_metaqa'):
        assert f'#{sym}"' in api, sym


def test_site_in_headless_chromium(site, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    browser.get((site / 'index.html').as_uri())
    assert 'knowledge-mixer' in browser.title
    browser.save_screenshot(str(ARTIFACTS / 'docs_index.png'))
    links = [(a.text, a.get_attribute('href')) for a in browser.find_elements('css selector', 'nav a.page')]
    assert len(links) >= 6
    widths = {}
    for text, href in links:
        browser.get(href)
        assert browser.find_elements('css selector', 'main h1'), f'{text}: {href} has no heading'
        assert 'ERR_FILE_NOT_FOUND' not in browser.page_source
        for w in browser.execute_script("return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)"):
            widths[href] = max(widths.get(href, 0), w)
    assert any(w > 0 for w in widths.values()), 'no plot rendered on any page'
    # every chapter where a picture says more than text shows one, drawn by the notebook itself when the site was built
    pictured = ('getting_started', 'graph', 'walk', 'paths', 'data', 'train', 'reason', 'eval', 'pipeline', 'benchmarks')
    blank = [p for p in pictured if not any(w > 0 for h, w in widths.items() if h.endswith(f'/{p}.html'))]
    assert not blank, f'no rendered picture on: {blank}'
    for page in ('graph', 'getting_started'):
        browser.get((site / f'{page}.html').as_uri())
        browser.save_screenshot(str(ARTIFACTS / f'docs_{page}.png'))
        assert (ARTIFACTS / f'docs_{page}.png').stat().st_size > 10_000
