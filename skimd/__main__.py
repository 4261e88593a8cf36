"""``python -m skimd`` is the same as the ``skimd`` console script."""

import sys

from skimd.cli import main

sys.exit(main())
