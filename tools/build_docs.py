"""Build the documentation site from nbs/ without quarto (it cannot be installed on our machines).

Each notebook is executed headless (so tables and plots show), its hidden cells dropped, an API
reference entry (nbdev's show_doc) added after every exported symbol, and the result rendered with
nbconvert into a static page with a navigation sidebar. Benchmark results (nbs/bench/results) get
their own page. `nbdev_docs` still works where quarto exists (nbs/_quarto.yml is kept).

    python tools/build_docs.py            # -> _site/index.html
    python tools/build_docs.py --out DIR --no-exec
"""
import argparse
import ast
import html
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'

CSS = """
body{margin:0;font:15px/1.55 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2330;display:flex}
nav{position:fixed;top:0;bottom:0;left:0;width:230px;overflow-y:auto;background:#f4f6fa;border-right:1px solid #dde2ea;padding:18px 14px}
nav .brand{font-weight:700;font-size:17px;margin-bottom:12px;display:block;color:#1d2330;text-decoration:none}
nav h4{margin:16px 0 4px;font-size:12px;text-transform:uppercase;color:#6b7486;letter-spacing:.04em}
nav a.page{display:block;padding:3px 6px;border-radius:4px;color:#24406e;text-decoration:none}
nav a.page:hover{background:#e3e9f4} nav a.current{background:#dbe5f7;font-weight:600}
main{margin-left:260px;padding:24px 40px 80px;max-width:980px;min-width:0}
pre{background:#f6f8fa;padding:10px 12px;border-radius:6px;overflow-x:auto;font-size:13px}
code{font-size:13px} table{border-collapse:collapse;margin:10px 0;font-size:13.5px}
th,td{border:1px solid #dde2ea;padding:4px 9px;text-align:left} th{background:#f4f6fa}
img{max-width:100%} .prompt{display:none}
blockquote{color:#4a5468;border-left:3px solid #c7d2e6;margin:0;padding:2px 14px}
.doc-desc{color:#4a5468;font-size:16px;margin-top:-6px}
.km-footer{margin-top:50px;color:#8a93a5;font-size:12px}
a.anchor-link{visibility:hidden;text-decoration:none;color:#9aa5b8;margin-left:.25em;font-weight:400}
h1:hover a.anchor-link,h2:hover a.anchor-link,h3:hover a.anchor-link,h4:hover a.anchor-link{visibility:visible}
"""


def page_name(nb_path):
    "URL stem of a notebook: the number prefix is stripped (00_graph.ipynb -> graph)."
    rel = nb_path.relative_to(NBS).with_suffix('')
    stem = re.sub(r'^\d+[a-z]?_', '', rel.name)
    return '_'.join([*rel.parts[:-1], stem])


def collect_pages():
    "(section, notebook) in site order: home, stages in pipeline order, pipelines, guides."
    nbs = sorted(p for p in NBS.glob('*.ipynb'))
    pages = [('Home', NBS / 'index.ipynb')]
    pages += [('Guides', p) for p in nbs if not re.match(r'^\d', p.name) and p.name != 'index.ipynb']
    pages += [('Stages', p) for p in nbs if re.match(r'^\d', p.name)]
    pages += [('Pipelines', p) for p in sorted((NBS / 'pipelines').glob('*.ipynb'))]
    return pages


def directives(src):
    return [line[3:].strip() for line in src.splitlines() if line.startswith('#| ')]


def _patched_class(node):
    "`Class` for a function decorated with fastcore's `@patch` (its first parameter's annotation), else None."
    for d in node.decorator_list:
        f = d.func if isinstance(d, ast.Call) else d
        if isinstance(f, ast.Name) and f.id == 'patch' and node.args.args and node.args.args[0].annotation is not None:
            return ast.unparse(node.args.args[0].annotation)
    return None


def exported_names(src):
    "Public top-level functions and classes defined in an exported cell; `@patch`ed methods as `Class.method`."
    try: tree = ast.parse(src)
    except SyntaxError: return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and not node.name.startswith('_'):
            cls = _patched_class(node) if not isinstance(node, ast.ClassDef) else None
            names.append(f'{cls}.{node.name}' if cls else node.name)
    return names


def default_exp(nb):
    "The module a notebook exports to (its `#| default_exp` directive), or None."
    for cell in nb.cells:
        for d in directives(cell.source) if cell.cell_type == 'code' else ():
            if d.startswith('default_exp '): return d.split()[1]
    return None


def prepare(nb):
    "Drop hidden cells, strip directives, add an anchored show_doc after every exported symbol."
    # show_doc reads parameter comments from source code, which fastcore cannot get back for a class or function defined
    # in a kernel; the exported module's copy of the same symbol has its file, so the docs show that one.
    mod = default_exp(nb)
    setup = "from nbdev.showdoc import show_doc\n%matplotlib inline"
    if mod: setup += f"\nimport knowledge_mixer.{mod} as _km_module"
    cells = [nbformat.v4.new_code_cell(setup, metadata={'tags': ['remove_cell']})]
    for cell in nb.cells:
        if cell.cell_type != 'code':
            cells.append(cell); continue
        d = directives(cell.source)
        if 'nbdev_export' in cell.source or any(x.startswith('eval: false') for x in d): continue
        body = '\n'.join(l for l in cell.source.splitlines() if not l.startswith('#|')).strip()
        if not body: continue
        cell.source = body
        imports_only = all(re.match(r'^(import |from \S+ import |\s+[\w\s,()]*$|$)', l) for l in body.splitlines())
        if any(x.startswith(('hide', 'exporti')) for x in d) or imports_only:  # run, but do not show
            cell.metadata.setdefault('tags', []).append('remove_cell')
        cells.append(cell)
        if any(x.startswith('export') for x in d):
            for name in exported_names(body):
                cells.append(nbformat.v4.new_markdown_cell(f'<a id="{name}"></a>'))
                ref = f'_km_module.{name}' if mod else name
                cells.append(nbformat.v4.new_code_cell(f'show_doc({ref})', metadata={'tags': ['remove_input']}))
    nb.cells = cells
    return nb


def execute(nb, cwd, timeout):
    from nbclient import NotebookClient
    env_before = os.environ.get('IN_TEST')
    os.environ['IN_TEST'] = '1'  # notebooks shrink their long runs under test
    try:
        NotebookClient(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(cwd)}}).execute()
    finally:
        if env_before is None: os.environ.pop('IN_TEST', None)
        else: os.environ['IN_TEST'] = env_before
    return nb


def title_of(nb, fallback):
    for cell in nb.cells:
        if cell.cell_type == 'markdown':
            m = re.search(r'^#\s+(.+)$', cell.source, re.M)
            if m:
                d = re.search(r'^>\s*(.+)$', cell.source, re.M)
                return m.group(1).strip(), (d.group(1).strip() if d else '')
    return fallback, ''


def copy_local_images(nb, nb_dir, out):
    "Markdown images with a local relative path are copied into the site's assets/ and their links rewritten."
    def repl(m):
        alt, src = m.group(1), m.group(2)
        if re.match(r'^[a-z]+:', src) or src.startswith('/'): return m.group(0)
        f = (nb_dir / src).resolve()
        if not f.exists(): return m.group(0)  # left as is: the link checker will report it
        rel = f.relative_to(NBS) if f.is_relative_to(NBS) else Path(f.name)
        dest = out / 'assets' / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
        return f'![{alt}](assets/{rel.as_posix()})'
    for cell in nb.cells:
        if cell.cell_type == 'markdown': cell.source = re.sub(r'!\[([^\]]*)\]\(([^)\s]+)\)', repl, cell.source)
    return nb


def tidy_show_doc(nb):
    "show_doc writes quarto-flavoured markdown: drop the source link with its {target=...} attributes and the rule."
    for cell in nb.cells:
        for o in cell.get('outputs', []):
            md = o.get('data', {}).get('text/markdown')
            if md is None: continue
            md = ''.join(md) if isinstance(md, list) else md
            md = re.sub(r'\[source\]\([^)]*\)\{[^}]*\}', '', md)
            md = re.sub(r'^\s*---\s*$', '', md, flags=re.M)
            o['data']['text/markdown'] = md
    return nb


def body_html(nb):
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    ex = HTMLExporter(template_name='basic')
    trp = TagRemovePreprocessor(remove_input_tags={'remove_input'}, remove_cell_tags={'remove_cell'}, enabled=True)
    ex.register_preprocessor(trp, enabled=True)
    body, _ = ex.from_notebook_node(nb)
    return body


def layout(title, desc, body, nav_items, current, depth=0):
    up = '../' * depth
    nav, section = [f'<a class="brand" href="{up}index.html">knowledge-mixer</a>'], None
    for sec, name, label in nav_items:
        if sec != section:
            nav.append(f'<h4>{html.escape(sec)}</h4>'); section = sec
        cls = 'page current' if name == current else 'page'
        nav.append(f'<a class="{cls}" href="{up}{name}.html">{html.escape(label)}</a>')
    desc_html = f'<p class="doc-desc">{html.escape(desc)}</p>' if desc and not body.lstrip().startswith('<') else ''
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(title)} – knowledge-mixer</title><link rel="stylesheet" href="{up}site.css"></head>\n'
            f'<body><nav>{"".join(nav)}</nav><main>{desc_html}{body}'
            f'<div class="km-footer">Generated from nbs/ by tools/build_docs.py on {time.strftime("%Y-%m-%d")}.</div></main></body></html>\n')


def benchmark_page(out):
    "Benchmarks: every results JSON (as tables) and plot from nbs/bench/results."
    res = NBS / 'bench' / 'results'
    parts = ['<h1>Benchmarks</h1><p class="doc-desc">Speed and memory against the peers, measured in one process by the '
             'papermill notebooks in <code>nbs/bench/</code> (ratios, alternating contenders; 2-core machine).</p>']
    if not res.exists() or not any(res.iterdir()):
        parts.append('<p>No benchmark results yet: run the notebooks in <code>nbs/bench/</code> with papermill.</p>')
    (out / 'bench').mkdir(exist_ok=True)
    for f in sorted(res.glob('*.json')) if res.exists() else []:
        if f.stem.startswith('kgqa_'): continue  # end-to-end results live on the Results page
        parts.append(f'<h2 id="{f.stem}">{html.escape(f.stem)}</h2>')
        data = json.loads(f.read_text())
        tables = data.get('tables', {'results': data.get('rows', [])}) if isinstance(data, dict) else {'results': data}
        for name, rows in tables.items():
            if isinstance(rows, list) and rows and isinstance(rows[0], dict):
                cols = list(dict.fromkeys(k for r in rows for k in r))
                parts.append(f'<h3>{html.escape(str(name))}</h3><table><tr>' + ''.join(f'<th>{html.escape(c)}</th>' for c in cols) + '</tr>')
                for r in rows:
                    parts.append('<tr>' + ''.join(f'<td>{html.escape(_fmt(r.get(c, "")))}</td>' for c in cols) + '</tr>')
                parts.append('</table>')
        if isinstance(data, dict) and data.get('summary'):
            parts.append('<pre>' + html.escape(json.dumps(data['summary'], indent=1)) + '</pre>')
        png = f.with_suffix('.png')
        if png.exists():
            shutil.copy(png, out / 'bench' / png.name)
            parts.append(f'<p><img src="bench/{png.name}" alt="{html.escape(f.stem)} plot"></p>')
    return '\n'.join(parts)


def _fmt(v):
    return f'{v:,.3g}' if isinstance(v, float) else str(v)


def build(out, execute_nbs=True, timeout=900, only=None):
    out = Path(out)
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / 'site.css').write_text(CSS)
    pages = collect_pages()
    items = []
    rendered = []
    for sec, nb_path in pages:
        nb = nbformat.read(nb_path, as_version=4)
        title, desc = title_of(nb, nb_path.stem)
        items.append((sec, page_name(nb_path), 'Home' if nb_path.name == 'index.ipynb' else title))
        rendered.append((nb_path, nb, title, desc))
    items.append(('Results', 'benchmarks', 'Benchmarks'))
    items.append(('Reference', 'api', 'API reference'))
    api = {}
    for nb_path, nb, title, desc in rendered:
        name = page_name(nb_path)
        if only and name not in only: continue
        t0 = time.time()
        nb = copy_local_images(prepare(nb), nb_path.parent, out)
        if execute_nbs: nb = execute(nb, nb_path.parent, timeout)
        for cell in nb.cells:
            m = re.match(r'<a id="(.+)"></a>$', cell.source) if cell.cell_type == 'markdown' else None
            if m: api.setdefault((title, name), []).append(m.group(1))
        (out / f'{name}.html').write_text(layout(title, desc, body_html(tidy_show_doc(nb)), items, name))
        print(f'  {name}.html ({time.time() - t0:.1f} s)', flush=True)
    (out / 'benchmarks.html').write_text(layout('Benchmarks', '', benchmark_page(out), items, 'benchmarks'))
    ref = ['<h1>API reference</h1><p class="doc-desc">Every exported symbol, by stage; each links to its documentation and examples.</p>']
    for (title, name), syms in api.items():
        ref.append(f'<h2>{html.escape(title)} <small>(<code>knowledge_mixer</code>, <a href="{name}.html">{name}.html</a>)</small></h2><ul>')
        ref += [f'<li><a href="{name}.html#{s}"><code>{html.escape(s)}</code></a></li>' for s in syms]
        ref.append('</ul>')
    (out / 'api.html').write_text(layout('API reference', '', '\n'.join(ref), items, 'api'))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT / '_site'), help='output folder (replaced)')
    ap.add_argument('--no-exec', action='store_true', help='render the notebooks as committed, without executing them')
    ap.add_argument('--timeout', type=int, default=900, help='seconds per cell when executing')
    ap.add_argument('--only', nargs='*', help='page names to render (others keep their sidebar links)')
    a = ap.parse_args()
    t0 = time.time()
    out = build(a.out, not a.no_exec, a.timeout, set(a.only) if a.only else None)
    print(f'site written to {out}/index.html in {time.time() - t0:.0f} s')


if __name__ == '__main__':
    sys.exit(main())
