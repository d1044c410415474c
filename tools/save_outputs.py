"""Execute chapter notebooks and keep their deterministic outputs in the committed files.

A chapter reads best with its results beside the code, but an output that changes from run to run (a timing, a temp
folder, a warning naming this machine's paths) would make every execution a diff. So each notebook runs twice, in
fresh shells and under `IN_TEST` (the sizes `nbdev_test` uses), and a code cell keeps an output only when both runs
produced it identically and it names no absolute path; stderr (warnings) is never kept. Cells skipped by
`nbdev_test` (`#| eval: false`, the `slow` flag) keep what they had.

    .venv/bin/python tools/save_outputs.py nbs/03_text.ipynb nbs/05_model.ipynb   # then nbdev_clean
"""
import argparse
import json
import os
import re
import sys
from pathlib import Path

ABS_PATH = re.compile(r'(?<![\w.~])/(?:tmp|work|home|root|usr|var|opt|private|Users)/')


def _skipped(cell, flags) -> bool:
    "The cells nbdev_test does not run."
    if cell.cell_type != 'code' or 'nbdev_export' + '(' in cell.source: return True
    direc = getattr(cell, 'directives_', {}) or {}
    if direc.get('eval:', [''])[0].lower() == 'false': return True
    return bool(flags & direc.keys())


def execute(fn: Path, flags=frozenset({'slow'})) -> dict:
    "Run the notebook as nbdev_test does; returns {cell id: outputs} of the cells that ran."
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.frontmatter import FrontmatterProc
    from nbdev.process import NBProcessor
    os.environ['IN_TEST'] = '1'
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    shell = CaptureShell(fn)
    with working_directory(fn.parent): shell.run_all(nb, exc_stop=True, preproc=lambda c: _skipped(c, flags))
    return {c.id: [_plain(o) for o in c.get('outputs', [])] for c in nb.cells if not _skipped(c, flags)}


def _plain(o) -> dict:
    o = json.loads(json.dumps(o))  # AttrDicts -> plain JSON
    o.pop('execution_count', None)
    return o


def keepable(outputs: list) -> list:
    "The outputs worth committing: no stderr, no absolute paths."
    return [o for o in outputs if not (o.get('output_type') == 'stream' and o.get('name') == 'stderr')
            and not ABS_PATH.search(json.dumps(o))]


def save_outputs(fn: Path) -> tuple[int, int]:
    "Execute `fn` twice and write the outputs both runs agree on into it; returns (cells with outputs, cells dropped)."
    first, second = execute(fn), execute(fn)
    nb = json.loads(fn.read_text(encoding='utf-8'))
    kept = dropped = 0
    for cell in nb['cells']:
        if cell['cell_type'] != 'code' or cell.get('id') not in first: continue
        a, b = keepable(first[cell['id']]), keepable(second.get(cell['id'], []))
        same = a == b
        cell['outputs'] = [dict(o, execution_count=None) if o.get('output_type') == 'execute_result' else o
                           for o in (a if same else [])]
        kept += bool(cell['outputs']); dropped += not same
    fn.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    return kept, dropped


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('notebooks', nargs='+', type=Path)
    for fn in p.parse_args().notebooks:
        if not fn.exists(): sys.exit(f'save_outputs: {fn}: no such notebook')
        kept, dropped = save_outputs(fn.resolve())
        print(f'{fn}: {kept} cells with saved outputs, {dropped} left empty (they differ between runs)')
