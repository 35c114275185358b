"""Test settings: offline hub, headless plots, quiet progress bars, a private cache folder."""
import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see nbutils/__init__.py
os.environ["MPLBACKEND"] = "Agg"
os.environ["NBUTILS_QUIET"] = "1"
os.environ.setdefault("NBUTILS_CACHE", tempfile.mkdtemp(prefix="nbutils-test-cache-"))
