"""`python -m sync` is the `leadrouter` command."""

import sys

from sync.cli import main

sys.exit(main())
