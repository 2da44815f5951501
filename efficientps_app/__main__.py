"""``python -m efficientps_app`` is the same as the ``efficientps`` command."""

from efficientps_app.cli import main

raise SystemExit(main())
