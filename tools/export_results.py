"""Copy a finished run's figures into nbs/bench/results/ so the docs (nbs/results.ipynb) can show them.

    python tools/export_results.py runs/metaqa kgqa_metaqa
    python tools/export_results.py runs/metaqa kgqa_metaqa_ntm --eval runs/metaqa/ntm_eval
    python tools/export_results.py runs/metaqa_s0 kgqa_metaqa --seeds runs/metaqa_s1 runs/metaqa_s2   # + mean and spread
"""
import argparse
import json
import shutil
import statistics
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / 'nbs' / 'bench' / 'results'


def hits1(run: Path, key: str = 'hits@1') -> dict:
    "Strict Hits@1 (%) by hop and overall, from a run's eval_metrics.json (`key='hits1_ceiling'`: a perfect planner's expected Hits@1)."
    ev = json.loads((run / 'eval_metrics.json').read_text())
    if key not in ev['overall']: return {}
    return {**{f'{h}-hop': 100 * m[key] for h, m in ev.get('by_hops', {}).items()}, 'all': 100 * ev['overall'][key]}


def seed_table(runs: list) -> dict:
    "Each run's seed, threads and Hits@1; mean and sample standard deviation per column. Refuses runs whose configs differ in more than seed, folder and threads."
    configs = [json.loads((r / 'config.json').read_text()) for r in runs]
    flat = [{f'{k}.{kk}' if isinstance(v, dict) else k: vv for k, v in c.items() for kk, vv in (v.items() if isinstance(v, dict) else [(None, v)])}
            for c in configs]
    # a setting one config lacks did not exist when that run was made: only the settings all of them record are compared
    shared = set.intersection(*(set(f) for f in flat)) - {'out', 'seed', 'force', 'train.threads'}
    differ = sorted(k for k in shared if len({json.dumps(f[k]) for f in flat}) > 1)
    if differ: raise SystemExit(f'--seeds: the runs differ in {", ".join(differ)}; compare runs of one command')
    per = [dict(seed=c['seed'], run=r.name, threads=c['train']['threads'], **hits1(r),
                **{f'{k} ceiling': v for k, v in hits1(r, 'hits1_ceiling').items()}) for r, c in zip(runs, configs)]
    cols = [k for k in per[0] if k not in ('seed', 'run', 'threads') and all(k in p for p in per)]
    return dict(runs=per, mean={k: statistics.mean(p[k] for p in per) for k in cols},
                std={k: statistics.stdev(p[k] for p in per) if len(per) > 1 else 0.0 for k in cols})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('run', help='a km_pipeline run folder')
    ap.add_argument('name', help='results name (file stem under nbs/bench/results)')
    ap.add_argument('--eval', help='folder with eval_metrics.json (default: the run folder)')
    ap.add_argument('--seeds', nargs='+', default=[], metavar='RUN',
                    help='runs of the same command with other seeds: Hits@1 per seed, mean and spread over all of them')
    a = ap.parse_args()
    run, ev_dir = Path(a.run), Path(a.eval or a.run)
    metrics = json.loads((run / 'metrics.json').read_text())
    out = dict(config=json.loads((run / 'config.json').read_text()),
               minutes=sum(s['seconds'] for s in metrics.values()) / 60,
               stages={k: v['metrics'] for k, v in metrics.items()},
               train=metrics.get('train', {}).get('metrics', {}),
               eval=json.loads((ev_dir / 'eval_metrics.json').read_text()))
    if a.seeds: out['seeds'] = seed_table([run, *map(Path, a.seeds)])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f'{a.name}.json').write_text(json.dumps(out, indent=1))
    if (ev_dir / 'eval_by_hop.png').exists(): shutil.copy(ev_dir / 'eval_by_hop.png', RESULTS / f'{a.name}_by_hop.png')
    print(f'wrote {RESULTS / a.name}.json')


if __name__ == '__main__':
    main()
