"""``python -m marea_backtest backtest ...`` = ``marea backtest ...``."""

from marea_backtest.cli import main

raise SystemExit(main())
