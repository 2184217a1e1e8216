"""Shared pytest setup: sidecar modules are imported flat (`from convert import convert`)."""
import os
import sys
from pathlib import Path

SIDECAR = Path(__file__).resolve().parents[1]
if str(SIDECAR) not in sys.path:
    sys.path.insert(0, str(SIDECAR))

# Tests never reach the model hub; everything they load is local.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
