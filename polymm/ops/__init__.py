"""What the ``polymm`` commands and programs do, one module per job (``polymm.commands`` parses the
arguments and prints; these do the work and build the reports):

* ``logs``: the programs' logging (text or JSON lines), every secret blanked;
* ``programs``: what the dashboard and ``polymm run`` both need: the markets to start with, the market
  file watcher and the metrics endpoint beside the engine;
* ``runner``: ``polymm run``, the engine headless until SIGINT / SIGTERM / SIGHUP, then cancel-all;
* ``wallet``: who we are at the venue (shown by address, never the key) and a signed-in client;
* ``venue``: the venue's public health (``ping``) and its errors as one line;
* ``errors``: the operating system's errors (a port in use, permission denied, a full disk, a host that
  refuses) as one line naming the cause;
* ``cancel_all``: the panic button, confirmed with ``GET /data/orders``;
* ``status``: venue, clock, our orders, balance, positions and the journal;
* ``markets``: discovery's ranking;
* ``doctor``: one line per check, OK / WARN / FAIL;
* ``rebuild`` and ``rebuild_report``: the journal's fills and positions rebuilt from the venue's trades;
* ``text``: how the reports write ids, counts and ages.

They work against any venue URL (Polymarket or a stand-in). Secrets are never printed or logged:
the wallet is shown by its address, and the log formatters blank any secret that reaches a line.
"""
