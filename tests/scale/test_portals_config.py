"""`[service] portals`: loading, `check` naming the file of each problem, account ids, and
`--portal` on the commands that read one portal. The real CLI (`sync.cli.main`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.hubspot import HubSpotSandbox
from sync.cli import main
from sync.config import ConfigError, load_config
from sync.config.portals import load_deployment
from tests.scale.deployment import portal_text


@pytest.fixture(scope="module")
def box() -> HubSpotSandbox:
    # only its URL and CA file go into the configs: nothing here calls it
    with HubSpotSandbox() as sandbox:
        yield sandbox


def _deployment(folder: Path, box: HubSpotSandbox, portals: dict[str, int | None],
                service: str = "") -> Path:
    (folder / "portals.d").mkdir()
    for name, hub_id in portals.items():
        text = portal_text(box, name, hub_id or 1)
        if hub_id is None:
            text = text.replace('portal_id = "1"\n', "")
        (folder / "portals.d" / f"{name}.toml").write_text(text)
    main_file = folder / "leadrouter.toml"
    main_file.write_text(f'[service]\nstate_url = "sqlite:///{folder / "state.db"}"\n'
                         f'portals = "portals.d"\n{service}')
    return main_file


def test_each_file_is_a_portal_and_check_validates_them_all(
        tmp_path: Path, box: HubSpotSandbox, capsys: pytest.CaptureFixture[str]) -> None:
    config = _deployment(tmp_path, box, {"east": 7000, "west": 7001})
    deployment = load_deployment(config)
    assert deployment.ids == ["east", "west"]
    assert {c.portal for c in deployment.portals.values()} == {"east", "west"}
    assert all(c.service == deployment.service for c in deployment.portals.values())
    assert main(["--config", str(config), "check"]) == 0
    out = capsys.readouterr().out
    assert "east.toml: ok" in out and "west.toml: ok" in out


def test_a_single_file_is_the_default_portal(tmp_path: Path, box: HubSpotSandbox) -> None:
    config = tmp_path / "leadrouter.toml"
    config.write_text('[service]\nstate_url = "sqlite:///s.db"\n' + portal_text(box, "x", 1))
    assert load_config(config).portal == "default"
    assert load_deployment(config).ids == ["default"]


def test_problems_name_their_file(tmp_path: Path, box: HubSpotSandbox,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = _deployment(tmp_path, box, {"east": 7000, "north": None, "south": 7003,
                                         "up": 7001, "west": 7001})
    east = tmp_path / "portals.d" / "east.toml"
    east.write_text(east.read_text().replace('strategy = "round_robin"',
                                             'strategy = "coin_toss"', 1))
    south = tmp_path / "portals.d" / "south.toml"
    south.write_text('[service]\npoll_interval = "1s"\n' + south.read_text())
    assert main(["--config", str(config), "check"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith(f"{east}: rules[0].strategy:") and "coin_toss" in line
               for line in err), err
    assert any(line.startswith(f"{south}: service: belongs in the main config file")
               for line in err), err
    north = tmp_path / "portals.d" / "north.toml"
    assert any(line.startswith(f"{north}: crm.hubspot.portal_id: is required") for line in err)
    west = tmp_path / "portals.d" / "west.toml"
    assert any(line.startswith(f"{west}: crm.hubspot.portal_id: the same account as "
                               "portal 'up'") for line in err), err


def test_the_main_file_holds_service_only_and_the_directory_must_exist(
        tmp_path: Path, box: HubSpotSandbox) -> None:
    config = tmp_path / "leadrouter.toml"
    config.write_text('[service]\nportals = "nowhere"\n' + portal_text(box, "x", 1))
    with pytest.raises(ConfigError) as info:
        load_deployment(config)
    text = "\n".join(info.value.problems)
    assert "service.portals: \"nowhere\" is not a directory" in text
    assert "crm: with [service] portals, this table goes in each portal file" in text
    assert all(line.startswith(f"{config}: ") for line in info.value.problems)


def test_commands_for_one_portal_need_portal_when_there_are_several(
        tmp_path: Path, box: HubSpotSandbox, capsys: pytest.CaptureFixture[str]) -> None:
    config = _deployment(tmp_path, box, {"east": 7000, "west": 7001})
    for command in (["report", "--json"], ["explain", "123"], ["back", "maria"]):
        assert main(["--config", str(config), *command]) == 2, command
        assert "2 portals (east, west): choose one with --portal ID" in capsys.readouterr().err
    assert main(["--config", str(config), "report", "--json", "--portal", "north"]) == 2
    assert "no such portal" in capsys.readouterr().err
    assert main(["--config", str(config), "back", "maria", "--portal", "west"]) == 0
    capsys.readouterr()  # (it created the store)
    assert main(["--config", str(config), "report", "--json", "--portal", "west"]) == 0
    assert json.loads(capsys.readouterr().out)["leads"]["arrived"] == 0
