"""The ``polymm`` subcommands, one module per command (``cli.py`` builds the parser from ``COMMANDS``).

Each module exposes ``register(subparsers)``: it adds its subparser (help, description, options) and
sets its handler with ``set_defaults(func=...)``; the handler takes the parsed arguments and returns
the exit status (0 done, 1 the venue or the work failed, 2 bad input, said on stderr naming the option
or variable and what it allows). Adding a command: a module here and its name in ``COMMANDS``.

Shared pieces: ``options`` (the options several commands have), ``startup`` (settings, the live-mode
confirmation, the venue — an embedded stand-in in demo mode —, the journal, the instance lock),
``operator`` (how cancel-all, status, markets and doctor run); checked numbers come from
``polymm.argtypes``. The work itself is in ``polymm.ops`` (and ``polymm.backtest`` for replay and
backtest); ``dashboard`` is the ``polymm-tui`` program.
"""

#: the subcommands in the order ``polymm --help`` lists them (module names in this package)
COMMANDS: tuple[str, ...] = (
    "run",
    "exchange",
    "record",
    "cancel_all",
    "capital",
    "status",
    "markets",
    "doctor",
    "export_pnl",
    "rebuild_positions",
    "replay",
    "backtest",
)
