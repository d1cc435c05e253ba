from __future__ import annotations

from axowrap.cli.main import main

raise SystemExit(main())
