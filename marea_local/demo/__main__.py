"""`python -m marea_local.demo` (`make demo`)."""

import sys

from marea_local.demo.cli import main

sys.exit(main())
