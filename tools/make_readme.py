"""Generate README.md from nbs/index.ipynb without quarto (not installable on our machines).

Markdown cells are copied as they are; code cells not marked `#| hide` become ```python blocks,
followed by their text or markdown output. `--check` exits 1 when README.md is stale.
"""
import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
HEADER = '<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n'


def directives(src):
    "The `#| name` directive lines at the top of a code cell."
    return {line[3:].strip().split()[0] for line in src.splitlines() if line.startswith('#| ') and line[3:].strip()}


def code_text(src):
    return '\n'.join(line for line in src.splitlines() if not line.startswith('#|')).strip()


def output_text(outputs):
    parts = []
    for o in outputs:
        if o.get('output_type') == 'stream' and o.get('name') == 'stdout':
            parts.append(f"```\n{''.join(o['text']).rstrip()}\n```")
        elif o.get('output_type') in ('execute_result', 'display_data'):
            data = o.get('data', {})
            if 'text/markdown' in data: parts.append(''.join(data['text/markdown']).rstrip())
            elif 'text/plain' in data: parts.append(f"```\n{''.join(data['text/plain']).rstrip()}\n```")
    return '\n\n'.join(parts)


def render(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    blocks = []
    for cell in nb.cells:
        if cell.cell_type == 'markdown':
            blocks.append(cell.source.strip())
        elif cell.cell_type == 'code':
            d = directives(cell.source)
            if d & {'hide', 'exporti', 'export'}: continue
            src = code_text(cell.source)
            if src and 'hide_input' not in d and 'echo:' not in d: blocks.append(f'```python\n{src}\n```')
            out = output_text(cell.get('outputs', []))
            if out and 'hide_output' not in d: blocks.append(out)
    return HEADER + '\n\n'.join(b for b in blocks if b) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='exit 1 if README.md differs from what would be generated')
    args = ap.parse_args()
    text, readme = render(ROOT / 'nbs' / 'index.ipynb'), ROOT / 'README.md'
    if args.check:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            print('README.md is stale: run `python tools/make_readme.py` and commit it', file=sys.stderr)
            return 1
        print('README.md is up to date')
        return 0
    readme.write_text(text, encoding='utf-8')
    print(f'wrote {readme}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
