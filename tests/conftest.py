import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import utils


@pytest.fixture(scope="session")
def mnist():
    """The verified data set, fetched through the fallback chain when the data folder is empty."""
    return utils.load_mnist(utils.DEFAULT_DATA_DIR)


@pytest.fixture(scope="session")
def raw_files(mnist):
    """The four official raw files, as bytes."""
    raw = utils.data.raw_dir(utils.DEFAULT_DATA_DIR)
    return {name: (raw / name).read_bytes() for name in utils.data.MNIST_MD5}


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (tests/postgres.py)."""
    from postgres import Server

    server = Server()
    server.start()
    yield server
    server.stop("immediate")
    server.remove()


@pytest.fixture
def study_url(postgres):
    """A database of its own on the session's server, for one test."""
    import secrets

    return postgres.create_database(f"t_{secrets.token_hex(8)}")
