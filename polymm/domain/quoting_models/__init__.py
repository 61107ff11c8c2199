"""The quoting models, one module each, and what they share.

A model declares, in its own module, its name, its parameters (a ``ModelFields`` class: pydantic fields
with their defaults and bounds, which become fields of ``MarketParams``), the parameter-editor fields it
offers and how it quotes (a ``QuotingModel``). Registering it: its fields class among ``MarketParams``'
bases in ``domain/params.py`` (and its import there); ``QUOTING_MODELS``, the settings' and the
parameters' validation, the strategy, the order plan, the editor and the CLIs' choices follow.

* ``base``: the contract — ``QuoteShape`` / ``CommonParams`` (everyone's parameters), ``ModelFields``,
  ``QuotingModel``, ``QuoteInputs``, ``EditorField``;
* ``shaping``: the grid, non-crossing, layers, size taper and limits every model's output goes through;
* ``adaptive``: the signal handling shared by the models that follow the signals;
* ``fixed``, ``avellaneda``, ``pm4``: the models.
"""
