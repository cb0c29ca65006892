"""The integration tests start from no cached shop access token (the shop, emulator and sample
fixtures are in tests/conftest.py, shared with the shop pages; the keys in tests/actors.py)."""
import pytest


@pytest.fixture(autouse=True)
def _fresh_tokens(fresh_tokens):
    yield
