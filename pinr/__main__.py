"""``python -m pinr`` is the ``pinr`` command (so that ``torchrun … -m pinr solve …`` works).

Floor: cli (the top floor)."""

import sys

from pinr.cli import main

sys.exit(main())
