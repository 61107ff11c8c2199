"""The stand-in Polymarket exchange, shipped with polymm so everything runs offline.

Two parts, with one rule between them (checked by import-linter in ``make test``):

* ``polymm_standin.sim``: the exchange without sockets: the book, the matching engine, the wire
  frames, the market catalog, the synthetic traders and the market channel's fan-out
  (``MarketChannel.attach(sink)``). It imports only ``polymm.domain``; the backtest uses it alone.
* ``polymm_standin.server``: the real HTTP + WebSocket server on loopback that speaks Polymarket's
  CLOB V2 protocol (docs/protocol.md) around ``sim``: routes, auth, accounts, the trading core, the
  user channel, heartbeats, fault injection and the admin controls. ``polymm exchange`` and the demo
  run it; tests drive the real py-clob-client-v2 against it.

Importing this package imports neither.
"""
