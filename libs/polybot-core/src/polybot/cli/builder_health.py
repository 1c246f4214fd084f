"""``polybot builder-health``: is everything the executor and the relayer need configured, and accepted?

``python -m polybot.cli builder-health --config config/service.toml [--json]`` reports each check as ``ok``,
``missing`` or ``invalid`` with the settings field it is about:

* ``signer``: ``private_key`` is a key (its address is shown, never the key);
* ``funder``: ``executor.signature_type`` and ``executor.funder`` fit together (an EOA trades from the signer's
  address; a proxy, Safe or deposit wallet needs its address, and the SDK's classification of it must match);
* ``l2_credentials``: ``api_key``, ``api_secret``, ``api_passphrase`` are set and the venue lists the key on
  ``GET /auth/api-keys`` signed with them (a look only: nothing is derived or created at the venue);
* ``builder_credentials`` and ``can_builder_auth``: a local Builder API key (``executor.builder_api_key``,
  ``builder_secret``, ``builder_passphrase``) or a remote signer (``executor.builder_signer_url``,
  ``builder_signer_token``);
* ``relayer``: the unified SDK's client, with its relayer signing by the Builder key, can be built for the
  configured wallet (a wallet the relayer does not know as deployed is reported, never deployed from here).

A live configuration whose maker is a plain EOA (signature type 0) gets a warning: new accounts must trade
from the deposit wallet. Exit 0 only when every check is ok, 1 when one is not, 2 when the settings cannot be
read. Secrets are never printed (the last 4 characters at most).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from polybot.cli.failures import EXIT_OK, EXIT_PROBLEM


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "builder-health", help="check the signer, L2 and Builder credentials and the relayer client")
    p.add_argument("--config", default=None, help="TOML settings file (default config/service.toml)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from polybot.cli import config
    from polybot.cli.builder_checks import render_json, render_text, scrub, secret_values
    from polybot.cli.builder_venue import diagnose
    from polybot.runtime import eventloop

    settings = config.load(args.config)
    report = eventloop.run(diagnose(settings))
    text = json.dumps(render_json(report)) if args.json else render_text(report)
    print(scrub(text, secret_values(settings)))
    return EXIT_OK if report.ok else EXIT_PROBLEM
