"""``polybot builder-health`` against polysim with the real SDK: a complete configuration passes every check;
each field removed in turn is named and fails the run; no secret ever reaches stdout or stderr."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from polymarket import AsyncSecureClient

from polybot.venue.sdk_environment import sim_environment
from polysim.harness import RunningSim, running_sim

CHECKS = ["signer", "funder", "l2_credentials", "builder_credentials", "can_builder_auth", "relayer"]
# Settings field → its environment variable (secrets come from the environment, as in production).
ENV = {
    "private_key": "POLYBOT_PRIVATE_KEY",
    "api_key": "POLYBOT_API_KEY",
    "api_secret": "POLYBOT_API_SECRET",
    "api_passphrase": "POLYBOT_API_PASSPHRASE",
    "executor.funder": "POLYBOT_EXECUTOR__FUNDER",
    "executor.builder_api_key": "POLYBOT_EXECUTOR__BUILDER_API_KEY",
    "executor.builder_secret": "POLYBOT_EXECUTOR__BUILDER_SECRET",
    "executor.builder_passphrase": "POLYBOT_EXECUTOR__BUILDER_PASSPHRASE",
    "executor.builder_signer_url": "POLYBOT_EXECUTOR__BUILDER_SIGNER_URL",
    "executor.builder_signer_token": "POLYBOT_EXECUTOR__BUILDER_SIGNER_TOKEN",
}
NOT_SECRET = {"executor.funder", "executor.builder_signer_url"}
# Nothing in these runs may reach the internet: an https request goes to a closed local port instead.
OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"}


@pytest.fixture
async def hsim() -> AsyncIterator[RunningSim]:
    async with running_sim(seed=21, n_markets=2) as s:
        yield s


def _config(tmp: Path, sim: RunningSim, mode: str = "sim", signature_type: str = "deposit_wallet") -> Path:
    ws = sim.url.replace("http://", "ws://", 1)
    path = tmp / f"health-{mode}-{signature_type}.toml"
    path.write_text(f'mode = "{mode}"\nstate_dir = "{tmp / "state"}"\n[executor]\nclob_url = "{sim.url}"\n'
                    f'gamma_url = "{sim.gamma_url}"\nws_user_url = "{ws}/ws/user"\n'
                    f'signature_type = "{signature_type}"\nrequest_timeout_s = 5.0\n')
    return path


async def _account(sim: RunningSim) -> tuple[str, Any, str]:
    """A fresh signer, its API credentials and its deposit wallet, as the SDK sets them up at polysim."""
    signer = Account.create()
    env = sim_environment(sim.url, sim.gamma_url, sim.url.replace("http://", "ws://", 1))
    client = await AsyncSecureClient.create(private_key=signer.key.hex(), environment=env)
    try:
        return signer.key.hex(), client.credentials, str(client.wallet)
    finally:
        await client.close()


async def _complete(sim: RunningSim) -> dict[str, str]:
    key, creds, wallet = await _account(sim)
    return {"private_key": key, "api_key": creds.key, "api_secret": creds.secret,
            "api_passphrase": creds.passphrase, "executor.funder": wallet,
            "executor.builder_api_key": "bk-" + Account.create().key.hex()[2:34],
            "executor.builder_secret": Account.create().key.hex()[2:46],
            "executor.builder_passphrase": "bp-" + Account.create().key.hex()[2:50]}


Run = Callable[..., Any]


async def _health(cli: Run, config: Path, fields: dict[str, str], *flags: str) -> tuple[int, str, str]:
    env = {ENV[f]: v for f, v in fields.items()} | OFFLINE
    res = await asyncio.to_thread(cli, ["builder-health", "--config", str(config), *flags], env)
    return res.returncode, res.stdout, res.stderr


def _secrets(fields: dict[str, str]) -> list[str]:
    values = [v for f, v in fields.items() if f not in NOT_SECRET]
    return [*values, fields["private_key"].removeprefix("0x")] if "private_key" in fields else values


def _no_secret(out: str, fields: dict[str, str]) -> None:
    for value in _secrets(fields):
        assert value not in out, f"a secret ({len(value)} characters) was printed"


async def test_complete_config_passes_every_check(hsim: RunningSim, cli: Run, tmp_path: Path) -> None:
    fields = await _complete(hsim)
    config = _config(tmp_path, hsim)
    (code, out, err), (tcode, text, terr) = await asyncio.gather(
        _health(cli, config, fields, "--json"), _health(cli, config, fields))
    assert code == 0, (out, err)
    report = json.loads(out)
    assert report["ok"] is True and report["failed_fields"] == [] and report["warnings"] == []
    assert [c["name"] for c in report["checks"]] == CHECKS
    assert all(c["status"] == "ok" for c in report["checks"]), report["checks"]
    detail = {c["name"]: c["detail"] for c in report["checks"]}
    assert Account.from_key(fields["private_key"]).address in detail["signer"]
    assert fields["executor.funder"] in detail["relayer"] and "DEPOSIT_WALLET" in detail["relayer"]
    assert fields["api_key"][-4:] in detail["l2_credentials"]
    assert tcode == 0 and text.splitlines()[-1] == f"all {len(CHECKS)} checks ok", (text, terr)
    assert all(line.startswith("ok ") for line in text.splitlines()[1:-1]), text
    _no_secret(out + err + text + terr, fields)


async def test_an_eoa_maker_passes_and_is_warned_about_in_live_mode(hsim: RunningSim, cli: Run,
                                                                     tmp_path: Path) -> None:
    fields = await _complete(hsim)
    key = fields["private_key"]
    env = sim_environment(hsim.url, hsim.gamma_url, hsim.url.replace("http://", "ws://", 1))
    address = Account.from_key(key).address
    client = await AsyncSecureClient.create(private_key=key, wallet=address, environment=env)
    await client.close()  # the EOA's credentials are the signer's: the same as the deposit wallet's
    eoa = {f: v for f, v in fields.items() if f != "executor.funder"}
    code, out, err = await _health(cli, _config(tmp_path, hsim, signature_type="eoa"), eoa, "--json")
    report = json.loads(out)
    assert code == 0 and report["warnings"] == [], (out, err)
    assert "EOA" in {c["name"]: c["detail"] for c in report["checks"]}["relayer"]

    # live: only the local checks and the L2 probe (executor.clob_url is polysim's); no Builder key, so the
    # SDK is never built against Polymarket, and the warning is there
    live = {f: v for f, v in eoa.items() if not f.startswith("executor.builder")}
    code, out, err = await _health(cli, _config(tmp_path, hsim, mode="live", signature_type="eoa"), live, "--json")
    report = json.loads(out)
    assert code == 1 and "builder_credentials" in [c["name"] for c in report["checks"] if c["status"] != "ok"]
    assert len(report["warnings"]) == 1 and "signature type 0" in report["warnings"][0]
    assert "deposit wallet" in report["warnings"][0]
    _no_secret(out + err, live)


async def test_each_field_removed_is_named(hsim: RunningSim, cli: Run, tmp_path: Path) -> None:
    fields = await _complete(hsim)
    config = _config(tmp_path, hsim)
    removed = list(fields)
    results = await asyncio.gather(*(_health(cli, config, {f: v for f, v in fields.items() if f != gone}, *flags)
                                     for gone in removed for flags in (("--json",), ())))
    for i, gone in enumerate(removed):
        (code, out, err), (tcode, text, terr) = results[2 * i], results[2 * i + 1]
        report = json.loads(out)
        assert code == 1 and tcode == 1, (gone, code, tcode, err, terr)
        failed = [c for c in report["checks"] if c["status"] != "ok"]
        assert any(c["field"] == gone and c["status"] == "missing" for c in failed), (gone, failed)
        assert gone in report["failed_fields"], (gone, report["failed_fields"])
        bad_lines = [line for line in text.splitlines() if line.startswith("missing ")]
        assert any(gone in line for line in bad_lines), (gone, text)
        assert gone in text.splitlines()[-1], (gone, text)
        _no_secret(out + err + text + terr, fields)


async def test_wrong_values_are_invalid_and_named(hsim: RunningSim, cli: Run, tmp_path: Path) -> None:
    fields = await _complete(hsim)
    config = _config(tmp_path, hsim)
    proxy = _config(tmp_path, hsim, signature_type="proxy")  # but the funder is the deposit wallet
    cases: dict[str, tuple[Path, dict[str, str]]] = {
        "private_key": (config, {"private_key": "0x1234"}),
        "api_passphrase": (config, {"api_passphrase": fields["api_passphrase"][::-1]}),  # the venue refuses it
        "executor.signature_type": (proxy, {}),
        "executor.builder_secret": (config, {"executor.builder_secret": "   "}),
    }
    results = await asyncio.gather(*(_health(cli, cfg, fields | change, "--json") for cfg, change in cases.values()))
    for (field, (_, change)), (code, out, err) in zip(cases.items(), results, strict=True):
        report = json.loads(out)
        failed = [c for c in report["checks"] if c["status"] == "invalid"]
        assert code == 1, (field, out, err)
        assert field in [f for c in failed for f in c["fields"]], (field, failed)
        _no_secret(out + err, fields | change)
    refused = json.loads(results[1][1])
    l2 = {c["name"]: c for c in refused["checks"]}["l2_credentials"]
    assert l2["status"] == "invalid" and "GET /auth/api-keys" in l2["detail"]


async def test_a_remote_signer_is_checked_and_its_relayer_limit_said(hsim: RunningSim, cli: Run,
                                                                    tmp_path: Path) -> None:
    fields = {f: v for f, v in (await _complete(hsim)).items() if not f.startswith("executor.builder")}
    remote = fields | {"executor.builder_signer_url": "http://127.0.0.1:9/sign",
                       "executor.builder_signer_token": "tok-" + Account.create().key.hex()[2:40]}
    config = _config(tmp_path, hsim)
    (code, out, err), (gone_code, gone_out, _) = await asyncio.gather(
        _health(cli, config, remote, "--json"),
        _health(cli, config, {f: v for f, v in remote.items() if f != "executor.builder_signer_token"}, "--json"))
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["builder_credentials"]["status"] == "ok" and checks["can_builder_auth"]["status"] == "ok"
    assert checks["relayer"]["status"] == "invalid" and "py-builder-relayer-client" in checks["relayer"]["detail"]
    assert code == 1
    missing = {c["name"]: c for c in json.loads(gone_out)["checks"]}
    assert gone_code == 1 and missing["builder_credentials"]["field"] == "executor.builder_signer_token"
    assert missing["can_builder_auth"]["status"] == "invalid"
    _no_secret(out + err + gone_out, remote)
