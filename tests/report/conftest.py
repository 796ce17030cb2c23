"""The case store's fixtures (both backends) for the report's tests."""

from tests.cases.conftest import *  # noqa: F403  (store, case_url, backend, fast_hashing, ...)
