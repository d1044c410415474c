"""Shared pytest setup: offline environment, one torch thread, the shared-data fixtures and a headless Chromium."""
import os
import shutil
import tempfile

# Never reach a hub from tests; keep caches out of the home folder.
_tmp = tempfile.mkdtemp(prefix='km-tests-')
for k, v in dict(HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1', HF_DATASETS_OFFLINE='1', HF_HUB_DISABLE_TELEMETRY='1',
                 WANDB_MODE='offline', OMP_NUM_THREADS='1', TOKENIZERS_PARALLELISM='false').items():
    os.environ.setdefault(k, v)
os.environ.setdefault('HF_HOME', os.path.join(_tmp, 'hf'))
os.environ.setdefault('WANDB_DIR', os.path.join(_tmp, 'wandb'))

import pytest  # noqa: E402

from knowledge_mixer.core import data_dir  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line('markers', 'needs_data: reads the shared data folder (KM_DATA or ../shared/data) where found; skips or uses other data without it')
    config.addinivalue_line('markers', 'slow: long-running test (minutes)')


DATA_FIXTURES = {'km_data', 'metaqa_dir', 'metaqa_mini_dir'}


def pytest_collection_modifyitems(config, items):
    "A test that takes a shared-data fixture is marked `needs_data`, so `-m needs_data` selects every test the data changes."
    for item in items:
        if DATA_FIXTURES & set(getattr(item, 'fixturenames', ())): item.add_marker(pytest.mark.needs_data)


@pytest.fixture(scope='session')
def km_data():
    "The shared data folder; skips the test with the places looked in when it is absent."
    d = data_dir(required=False)
    if d is None:
        pytest.skip('shared data not found: set KM_DATA to the folder holding metaqa/ (or place it at ../shared/data)')
    return d


@pytest.fixture(scope='session')
def metaqa_dir(km_data):
    d = km_data / 'metaqa'
    if not (d / 'kb.txt').exists():
        pytest.skip(f'MetaQA not found at {d}: set KM_DATA to a folder holding metaqa/kb.txt')
    return d


@pytest.fixture(scope='session')
def metaqa_mini_dir(km_data):
    d = km_data / 'metaqa_mini'
    if not (d / 'questions.jsonl').exists():
        pytest.skip(f'metaqa_mini not found at {d}: set KM_DATA to a folder holding metaqa_mini/')
    return d


@pytest.fixture(scope='module')
def browser():
    "Headless Chromium through selenium (browser console logs kept); skips when absent, fails instead under KM_REQUIRE_BROWSER=1 (CI)."
    chromium, chromedriver = shutil.which('chromium'), shutil.which('chromedriver')
    if not (chromium and chromedriver):
        if os.environ.get('KM_REQUIRE_BROWSER') == '1':
            pytest.fail('KM_REQUIRE_BROWSER=1 but chromium/chromedriver are missing: apt-get install chromium chromium-driver')
        pytest.skip('headless Chromium not installed: apt-get install chromium chromium-driver (.ci/run does this)')
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
              '--disable-component-update', '--disable-sync', '--no-first-run', '--window-size=1300,1100'):
        opts.add_argument(a)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    d = webdriver.Chrome(service=Service(chromedriver), options=opts)
    yield d
    d.quit()
