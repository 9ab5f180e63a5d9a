"""The `marea` command: a client of Marea's HTTP API (targets, decisions, evaluate, console) and `marea backtest`."""
