"""Copy a finished run's figures into nbs/bench/results/ so the docs (nbs/results.ipynb) can show them.

    python tools/export_results.py runs/metaqa kgqa_metaqa
    python tools/export_results.py runs/metaqa kgqa_metaqa_ntm --eval runs/metaqa/ntm_eval
"""
import argparse
import json
import shutil
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / 'nbs' / 'bench' / 'results'


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('run', help='a km_pipeline run folder')
    ap.add_argument('name', help='results name (file stem under nbs/bench/results)')
    ap.add_argument('--eval', help='folder with eval_metrics.json (default: the run folder)')
    a = ap.parse_args()
    run, ev_dir = Path(a.run), Path(a.eval or a.run)
    metrics = json.loads((run / 'metrics.json').read_text())
    out = dict(config=json.loads((run / 'config.json').read_text()),
               minutes=sum(s['seconds'] for s in metrics.values()) / 60,
               stages={k: v['metrics'] for k, v in metrics.items()},
               train=metrics.get('train', {}).get('metrics', {}),
               eval=json.loads((ev_dir / 'eval_metrics.json').read_text()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f'{a.name}.json').write_text(json.dumps(out, indent=1))
    if (ev_dir / 'eval_by_hop.png').exists(): shutil.copy(ev_dir / 'eval_by_hop.png', RESULTS / f'{a.name}_by_hop.png')
    print(f'wrote {RESULTS / a.name}.json')


if __name__ == '__main__':
    main()
