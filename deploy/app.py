#!/usr/bin/env python3
"""The s3migrate CDK app: ``python deploy/app.py`` (or ``cdk synth`` / ``cdk deploy`` in deploy/).

Synthesizes the stacks listed in the settings file (see settings.example.toml) into ``CDK_OUTDIR``
(default ``deploy/cdk.out``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from s3migrate_deploy.app import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
