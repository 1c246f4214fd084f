"""A throwaway wallet for ``mode = "sim"`` runs of ``up`` and ``demo``: a fresh key, funded at polysim.

The key is made here, lives only in the child processes' environment and is never printed or written. The
API credentials the executor's SDK will derive (L1 → L2, nonce 0) are derived here first, to fund that
account through polysim's admin route. Never used outside sim mode: polysim is the only venue it knows.
"""

from __future__ import annotations

import asyncio
import time

DEMO_USDC = "10000"


async def _fund(sim_url: str, usdc: str) -> str:
    import httpx
    from eth_account import Account
    from polymarket import AsyncSecureClient

    from polybot.venue.sdk_environment import sim_environment

    signer = Account.create()
    env = sim_environment(sim_url, f"{sim_url}/gamma", sim_url.replace("http://", "ws://", 1))
    client = await AsyncSecureClient.create(private_key=signer.key.hex(), wallet=signer.address, environment=env)
    try:
        async with httpx.AsyncClient(base_url=sim_url, timeout=10) as http:
            r = await http.post(f"/_sim/accounts/{client.credentials.key}", json={"usdc": usdc})
            r.raise_for_status()
    finally:
        await client.close()
    return str(signer.key.hex())


def funded_sim_key(sim_url: str, usdc: str = DEMO_USDC, attempts: int = 5) -> str:
    """A new private key whose polysim account holds ``usdc`` (retried: a loaded machine may refuse a first
    connection to a simulator that has only just answered its readiness probe)."""
    for attempt in range(1, attempts + 1):
        try:
            return asyncio.run(_fund(sim_url, usdc))
        except Exception:
            if attempt == attempts:
                raise
            time.sleep(attempt)
    raise AssertionError("unreachable")
