"""Write the papermill `parameters` cell of each pipeline notebook from its config dataclass (`core.params_cell`).

The cells stay literal `name: type = value  # help` lines (papermill reads them, `papermill --help-notebook` shows
them), but nobody types them: after adding or changing a config field, run

    .venv/bin/python tools/gen_params.py            # rewrite the cells
    .venv/bin/python tools/gen_params.py --check    # exit 1 and name the notebooks whose cell differs

tests/test_commands_documented.py runs the check, so a cell cannot drift from its dataclass.
"""
import argparse
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# notebook -> (module, config class, the notebook's own defaults: only where it deliberately differs from the dataclass)
NOTEBOOKS = {
    'nbs/pipelines/inject.ipynb': ('knowledge_mixer.inject', 'InjectConfig', dict(out='../_runs/inject')),
    'nbs/pipelines/kgqa.ipynb': ('knowledge_mixer.pipeline', 'PipelineConfig', dict(out='../_runs/kgqa')),
    'nbs/pipelines/train.ipynb': ('knowledge_mixer.train', 'TrainConfig', dict(out='../_runs/train', lr=3e-4, steps=200,
                                                                               eval_steps=50)),
}


def expected(nb:str) -> str:
    "The parameters cell that `nb`'s config produces."
    from knowledge_mixer.core import params_cell
    mod, cls, defaults = NOTEBOOKS[nb]
    return params_cell(getattr(importlib.import_module(mod), cls), **defaults)


def parameters_cell(d:dict) -> dict:
    "The one cell tagged `parameters` of a notebook's JSON."
    cells = [c for c in d['cells'] if 'parameters' in c.get('metadata', {}).get('tags', [])]
    if len(cells) != 1: raise SystemExit(f'expected one cell tagged parameters, found {len(cells)}')
    return cells[0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--check', action='store_true', help='only compare; exit 1 when a cell differs')
    args = p.parse_args(argv)
    stale = []
    for nb in NOTEBOOKS:
        path = ROOT/nb
        d = json.loads(path.read_text(encoding='utf-8'))
        cell, want = parameters_cell(d), expected(nb)
        if ''.join(cell['source']) == want: continue
        stale.append(nb)
        if not args.check:
            cell['source'] = want.splitlines(keepends=True)
            path.write_text(json.dumps(d, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
            print(f'rewrote the parameters cell of {nb}')
    if args.check and stale:
        print(f'parameters cell out of date in {", ".join(stale)}; run: python tools/gen_params.py', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
