"""``python -m embedlib.audit PATH [options]``."""

import sys

from .cli import main

sys.exit(main())
