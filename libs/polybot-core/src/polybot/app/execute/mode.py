"""Where orders go, and the double opt-in that live trading needs. Pure: settings in, a verdict out.

* ``paper`` (the default): nowhere. Simulated fills on the live published books (polysim's or Polymarket's).
* ``sim``: the unified SDK against polysim. A Polymarket host is refused: a demo must never trade for real.
* ``live``: the unified SDK against Polymarket, only with a private key **and** ``confirm_live``
  (``--confirm-live`` or ``POLYBOT_CONFIRM_LIVE=1``); a local host is refused (a live key must not sign for
  a simulator, and a typo must not turn live mode into a silent no-op).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from polybot.runtime.settings import Settings

_POLYMARKET = ("polymarket.com",)
_LOCAL = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _is_polymarket(url: str) -> bool:
    host = _host(url)
    return any(host == d or host.endswith("." + d) for d in _POLYMARKET)


def _is_local(url: str) -> bool:
    host = _host(url)
    return host in _LOCAL or host.startswith("127.")


def mode_problem(settings: Settings) -> str | None:
    """Why the executor must refuse to start in the configured mode (None: it may start)."""
    ex = settings.executor
    urls = {"executor.clob_url": ex.clob_url, "executor.ws_user_url": ex.ws_user_url,
            "executor.gamma_url": ex.gamma_url}
    if settings.mode == "sim":
        for name, url in urls.items():
            if _is_polymarket(url):
                return f"mode = 'sim' refuses the Polymarket host in {name} ({url}): sim trades against polysim only"
    if settings.mode == "live":
        missing = [what for what, ok in (("a private key (POLYBOT_PRIVATE_KEY or its secret file)",
                                          settings.private_key is not None),
                                         ("the live confirmation (--confirm-live or POLYBOT_CONFIRM_LIVE=1)",
                                          settings.confirm_live)) if not ok]
        if missing:
            return f"mode = 'live' needs {' and '.join(missing)}: refusing to start"
        for name, url in urls.items():
            if _is_local(url):
                return f"mode = 'live' refuses the local host in {name} ({url}): use mode = 'sim' for polysim"
    return None
