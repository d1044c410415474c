"""The stages talk through public API: no module of ours reads another module's `_private` names.

The checker reads `knowledge_mixer/*.py` with `ast` (nothing is imported) and reports, per module M:
1. `from knowledge_mixer.x import _y` / `from .x import _y` (x another module), and imports of a private
   module of ours other than `_core` (the C++ extension, underscore-named by convention, open to every stage);
2. `x._y` where `x` is one of our modules imported into M (`graph._y`, `knowledge_mixer.graph._y`);
3. `obj._y` (read, write or delete; also `getattr(obj, '_y')`) on anything but `self`/`cls`, where `_y` is a
   private attribute defined in another module (assigned on `self`/`cls`/a class, or a class-body or `@patch`ed
   name) and not in M itself, e.g. paths reading the graph's `kg._ent`;
4. `obj.__dict__` on anything but `self`/`cls` (reaching around an object's API, e.g. caching in its `__dict__`).
"""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG_DIR, PKG = ROOT / 'knowledge_mixer', 'knowledge_mixer'
SKIP = {'_modidx.py'}  # nbdev's generated index
ALLOWED_MODULES = {'_core'}  # our C++ extension: importable by any module
OWNERS = {'self', 'cls'}


def _private(name): return name.startswith('_') and not (name.startswith('__') and name.endswith('__'))


def _dotted(node):
    "`a.b.c` for a chain of attribute accesses on a name, else None."
    parts = []
    while isinstance(node, ast.Attribute): parts.append(node.attr); node = node.value
    if not isinstance(node, ast.Name): return None
    return '.'.join([node.id] + parts[::-1])


def _is_patch(dec):
    d = dec.func if isinstance(dec, ast.Call) else dec
    name = d.id if isinstance(d, ast.Name) else d.attr if isinstance(d, ast.Attribute) else ''
    return name.startswith('patch')


def defined_private_attrs(tree) -> set[str]:
    "Private attribute names a module defines: set on `self`/`cls`/its classes, class-body names, `@patch`ed functions."
    classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for b in node.body:
                if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): out.add(b.name)
                for t in (b.targets if isinstance(b, ast.Assign) else [b.target] if isinstance(b, ast.AnnAssign) else []):
                    if isinstance(t, ast.Name): out.add(t.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(map(_is_patch, node.decorator_list)):
            out.add(node.name)
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del))
              and isinstance(node.value, ast.Name) and node.value.id in OWNERS | classes):
            out.add(node.attr)
    return {n for n in out if _private(n)}


def _module_of(node, me, modules):
    "The module of ours an ImportFrom reads from ('' for the package itself), or None for a third-party one."
    if node.level == 1: return node.module or ''
    if node.level == 0 and node.module == PKG: return ''
    if node.level == 0 and node.module and node.module.startswith(PKG + '.'): return node.module[len(PKG) + 1:]
    return None


def private_reads(sources: dict[str, str]) -> list[str]:
    "Every read of another module's private names in `sources` (module name -> source), as 'module:line: message'."
    trees = {m: ast.parse(s, filename=f'{m}.py') for m, s in sources.items()}
    defined = {m: defined_private_attrs(t) for m, t in trees.items()}
    modules = set(sources) | ALLOWED_MODULES
    out = []
    for me, tree in trees.items():
        def report(node, msg): out.append(f'{me}:{node.lineno}: {msg}')
        aliases = {}  # local name -> our module it refers to
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == PKG or a.name.startswith(PKG + '.'):
                        mod = a.name[len(PKG) + 1:]
                        if mod and _private(mod.split('.')[0]) and mod.split('.')[0] not in ALLOWED_MODULES:
                            report(node, f'imports private module {a.name}')
                        if a.asname: aliases[a.asname] = mod
            elif isinstance(node, ast.ImportFrom):
                src = _module_of(node, me, modules)
                if src is None: continue
                for a in node.names:
                    if src == '' and a.name in modules:  # `from knowledge_mixer import graph`: a module
                        if _private(a.name) and a.name not in ALLOWED_MODULES: report(node, f'imports private module {a.name}')
                        aliases[a.asname or a.name] = a.name
                    elif src != me and _private(a.name) and src.split('.')[0] not in ALLOWED_MODULES:
                        report(node, f'imports private name {a.name} from {src or PKG}')
        others = {n: {m for m, d in defined.items() if m != me and n in d} for n in set().union(*defined.values())}
        for node in ast.walk(tree):
            attr = base = None
            if isinstance(node, ast.Attribute): attr, base = node.attr, node.value
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ('getattr', 'setattr', 'hasattr', 'delattr')
                  and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
                attr, base = node.args[1].value, node.args[0]
            if attr is None: continue
            name = base.id if isinstance(base, ast.Name) else None
            if name in OWNERS: continue
            dotted = _dotted(base)
            mod = aliases.get(name) if name in aliases else (dotted[len(PKG) + 1:] if dotted and dotted.startswith(PKG + '.') else None)
            if mod is not None:  # an attribute of one of our modules
                if _private(attr) and mod != me and mod not in ALLOWED_MODULES: report(node, f'reads private name {attr} of module {mod}')
                continue
            if attr == '__dict__': report(node, f'reaches into {ast.unparse(base)}.__dict__; use the object\'s public API')
            elif _private(attr) and others.get(attr) and attr not in defined[me]:
                report(node, f'reads {ast.unparse(base)}.{attr}, private to {", ".join(sorted(others[attr]))}; use public API')
    return sorted(out, key=lambda s: (s.split(':')[0], int(s.split(':')[1])))


def package_sources() -> dict[str, str]:
    return {p.stem: p.read_text(encoding='utf-8') for p in sorted(PKG_DIR.glob('*.py')) if p.name not in SKIP}


def test_checker_catches_a_violation():
    "Control: the checker reports each kind of private read in a small synthetic package, and nothing legitimate."
    graph = ('class KnowledgeGraph:\n'
             '    def __init__(self): self._ent = {}\n'
             '    def _row(self, v): return v\n'
             '@patch\n'
             'def _flush(self:KnowledgeGraph): pass\n'
             'def _helper(): pass\n')
    paths = ('from knowledge_mixer import _core, graph\n'  # 1
             'from knowledge_mixer.graph import KnowledgeGraph, _helper\n'  # 2: private name
             'from .graph import _Interner\n'  # 3: private name
             'import knowledge_mixer.graph as G\n'  # 4
             'from . import _modidx\n'  # 5: private module
             'def f(kg, walker, m):\n'  # 6
             '    a = kg._ent\n'  # 7: graph's private attribute
             '    b = graph._helper() + G._helper\n'  # 8: two private module names
             '    c = kg.__dict__.get("x")\n'  # 9: __dict__
             '    d = getattr(kg, "_row")\n'  # 10: via getattr
             '    kg._flush = None\n'  # 11: writes count too
             '    kg.graph._ent\n'  # 12: any base but self/cls
             '    return _core.random_walks, walker._random_walks, m.config._attn, knowledge_mixer.graph._x\n'  # 13
             'class Mine:\n'  # 14
             '    def __init__(self): self._own = 1; self._ent = 2\n'  # 15
             '    def g(self, other): return other._own, self._ent, self.__dict__\n')  # 16: own names: allowed
    got = private_reads({'graph': graph, 'paths': paths, '_modidx': ''})
    lines = sorted({int(g.split(':')[1]) for g in got if g.startswith('paths:')})
    assert lines == [2, 3, 5, 8, 9, 10, 11, 13], got  # 7 and 12 read _ent, which paths' Mine defines itself
    assert sum(g.startswith('paths:8:') for g in got) == 2
    # without its own `_ent`, paths' reads of kg._ent are caught
    got = private_reads({'graph': graph, 'paths': paths.replace('; self._ent = 2', '').replace(', self._ent,', ',')})
    assert {7, 12} <= {int(g.split(':')[1]) for g in got}, got
    assert any("kg._ent, private to graph" in g for g in got)
    assert not [g for g in got if g.startswith('graph:')]  # the graph reading its own privates is fine


def test_no_module_reads_another_modules_privates():
    src = package_sources()
    assert {'graph', 'walk', 'paths', 'data', 'reason'} <= set(src) and '_modidx' not in src
    defined = defined_private_attrs(ast.parse(src['graph']))
    assert {'_ent', '_row', '_flush', '_rel_ids'} <= defined  # the checker sees the graph's private state
    bad = private_reads(src)
    assert not bad, 'modules read other modules\' private names:\n' + '\n'.join(bad)


def test_graph_is_one_class():
    "KnowledgeGraph's methods live on the class (defined there or `@patch`ed), none in `graph.__all__`."
    tree = ast.parse((PKG_DIR / 'graph.py').read_text(encoding='utf-8'))
    glued = [n.lineno for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.AugAssign))
             for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
             for e in (t.elts if isinstance(t, ast.Tuple) else [t])
             if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == 'KnowledgeGraph']
    assert not glued, f'graph.py attaches KnowledgeGraph methods by assignment at lines {glued}; use @patch'
    from knowledge_mixer import graph
    from knowledge_mixer.graph import KnowledgeGraph
    leaked = [n for n in graph.__all__ if hasattr(KnowledgeGraph, n)]
    assert not leaked, f'KnowledgeGraph methods exported as free functions: {leaked}'
    for name in ('edges', 'save', 'stats', 'has_entity', 'out_degree'):
        assert getattr(KnowledgeGraph, name).__qualname__ == f'KnowledgeGraph.{name}'
    for name in ('from_triples', 'from_file', 'load'):  # alternate constructors are class methods
        assert getattr(KnowledgeGraph, name).__self__ is KnowledgeGraph


if __name__ == '__main__':
    sys.exit(pytest.main([__file__, '-q']))
