import os

import pytest
from hypothesis import HealthCheck, settings

# The contract suite ships inside the package: rewrite its asserts to show the values.
pytest.register_assert_rewrite("omsims.testing")

# CI is deterministic: derandomized, bounded, no example database.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=100, deadline=None)
# Before a release, or after touching an exact search: HYPOTHESIS_PROFILE=thorough pytest
settings.register_profile("thorough", max_examples=2_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL cluster for this test run (started only if a test asks)."""
    from pg_cluster import throwaway_postgres

    with throwaway_postgres() as url:
        yield url
