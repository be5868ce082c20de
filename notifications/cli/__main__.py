"""`python -m notifications.cli ...`, the same as the `notifications` script."""
import sys

from notifications.cli import main

sys.exit(main())
