"""Test settings: offline hub, headless plots, quiet progress bars, a private cache folder; and,
when NBUTILS_MUTATION names a fault of tests/mutations.py, that fault put into nbutils before
any test module is imported (tests/test_mutations.py runs the suite's named tests that way)."""
import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see nbutils/__init__.py
os.environ["MPLBACKEND"] = "Agg"
os.environ["NBUTILS_QUIET"] = "1"
os.environ.setdefault("NBUTILS_CACHE", tempfile.mkdtemp(prefix="nbutils-test-cache-"))

if os.environ.get("NBUTILS_MUTATION"):
    import mutations

    mutations.apply(os.environ["NBUTILS_MUTATION"])
