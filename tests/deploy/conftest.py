"""The CDK app lives in deploy/ with its own requirements; make its package importable for the tests."""

from __future__ import annotations

import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
if str(DEPLOY) not in sys.path:
    sys.path.insert(0, str(DEPLOY))

import s3migrate_deploy  # noqa: E402,F401  # quiets the Node.js end-of-life banner before jsii starts
