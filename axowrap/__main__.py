from __future__ import annotations

from axowrap.cli import main

raise SystemExit(main())
