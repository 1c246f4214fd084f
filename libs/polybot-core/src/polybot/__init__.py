"""Polybot: a market maker for Polymarket's CLOB.

Layers, outermost first (an outer layer may import an inner one, never the reverse)::

    cli ─► app ─► runtime ─► store | bus | venue ─► domain

``domain`` is pure: synchronous, no I/O, time passed in as an argument.
"""

__version__ = "0.1.0"
