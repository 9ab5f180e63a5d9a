"""`python -m marea_deploy deploy|destroy ...` (what `make deploy` and `make destroy` run)."""

import sys

from marea_deploy.cli import main

sys.exit(main())
