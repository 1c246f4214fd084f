"""``python -m polybot.cli`` and the ``polybot`` console script."""
