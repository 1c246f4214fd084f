"""``GET /auth/api-keys`` as the venue answers it: every API key of the signer, to any of its keys, and 401 to
anything else. Checked through the unified SDK (``fetch_api_keys``, and the credential check of ``create``),
py-clob-client-v2 (``get_api_keys``) and a hand-signed request (``polybot.venue.l2_probe``)."""

from __future__ import annotations

from typing import Any

import httpx
from eth_account import Account
from polymarket import AsyncSecureClient

from polybot.venue.l2_probe import fetch_api_keys
from polybot.venue.sdk_environment import sim_environment
from polysim.harness import RunningSim


async def _client(sim: RunningSim, key: str, nonce: int = 0, credentials: Any = None) -> AsyncSecureClient:
    env = sim_environment(sim.url, sim.gamma_url, sim.url.replace("http://", "ws://", 1))
    signer = Account.from_key(key)
    kwargs: dict[str, Any] = {"credentials": credentials} if credentials is not None else {"nonce": nonce}
    return await AsyncSecureClient.create(private_key=key, wallet=signer.address, environment=env, **kwargs)


async def test_every_key_of_the_signer_is_listed_to_each_of_them(sim: RunningSim) -> None:
    signer = Account.create()
    key = signer.key.hex()
    first = await _client(sim, key, nonce=0)
    second = await _client(sim, key, nonce=1)
    other = await _client(sim, Account.create().key.hex())
    try:
        k0, k1 = first.credentials.key, second.credentials.key
        assert k0 != k1
        assert await first.fetch_api_keys() == (k0, k1)
        assert await second.fetch_api_keys() == (k0, k1)
        assert await other.fetch_api_keys() == (other.credentials.key,)  # never another signer's keys

        c = first.credentials
        by_hand = await fetch_api_keys(sim.url, signer.address, c.key, c.secret, c.passphrase)
        assert by_hand.status == 200 and by_hand.keys == (k0, k1) and by_hand.accepts(k0)

        again = await _client(sim, key, credentials=c)  # the SDK's own check of given credentials passes
        try:
            assert again.credentials.key == k0
        finally:
            await again.close()
    finally:
        for client in (first, second, other):
            await client.close()


async def test_py_clob_client_v2_lists_the_same_keys(sim: RunningSim, new_trader: Any) -> None:
    trader = await new_trader(sim)
    answer = await trader("get_api_keys")
    assert answer["apiKeys"] == [trader.api_key]


async def test_bad_or_missing_credentials_are_refused(sim: RunningSim) -> None:
    signer = Account.create()
    client = await _client(sim, signer.key.hex())
    try:
        c = client.credentials
        wrong_pass = await fetch_api_keys(sim.url, signer.address, c.key, c.secret, c.passphrase + "x")
        wrong_secret = await fetch_api_keys(sim.url, signer.address, c.key, c.passphrase.encode().hex()[:44],
                                            c.passphrase)
        other_address = await fetch_api_keys(sim.url, Account.create().address, c.key, c.secret, c.passphrase)
        for answer in (wrong_pass, wrong_secret, other_address):
            assert answer.status == 401 and not answer.accepts(c.key), answer
            assert answer.error == "HTTP 401: Unauthorized/Invalid api key"
        async with httpx.AsyncClient(base_url=sim.url) as http:
            bare = await http.get("/auth/api-keys")
        assert bare.status_code == 401 and bare.json() == {"error": "Unauthorized/Invalid api key"}
    finally:
        await client.close()
