"""``--cluster`` addresses: checked before anything starts, with a clear error."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sightline.cli import app
from sightline.cluster.runtime import validate_address
from sightline.errors import ConfigError


@pytest.mark.parametrize("address", ["auto", "127.0.0.1:6379", "ray://127.0.0.1:10001", " head.internal:6379 "])
def test_good_addresses_pass(address):
    assert validate_address(address) == address.strip()


@pytest.mark.parametrize("address", ["", "head", "127.0.0.1:", ":6379", "127.0.0.1:port", "127.0.0.1:70000",
                                     "ray://", "ray://head"])
def test_bad_addresses_are_refused_with_the_forms_that_work(address):
    with pytest.raises(ConfigError) as caught:
        validate_address(address)
    assert caught.value.code == "bad_cluster"
    assert "auto, HOST:PORT or ray://HOST:PORT" in str(caught.value)


def test_serve_refuses_a_bad_cluster_address_before_starting(tmp_path):
    result = CliRunner().invoke(app, ["serve", "--home", str(tmp_path / "home"), "--cluster", "head-without-port"])
    assert result.exit_code != 0
    assert "--cluster 'head-without-port'" in result.output
    assert not (tmp_path / "home").exists()  # nothing was created


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--index", "sharded"], {}, "--index sharded keeps the gallery in shard actors"),
    (["--cluster", "127.0.0.1:6379"], {"SIGHTLINE_CAMERA_CPUS": "lots"}, "SIGHTLINE_CAMERA_CPUS must be a number"),
    (["--cluster", "127.0.0.1:6379"], {"SIGHTLINE_CAMERA_CPUS": "0"}, "SIGHTLINE_CAMERA_CPUS must be above 0"),
    (["--cluster", "127.0.0.1:6379", "--index", "sharded"], {"SIGHTLINE_INDEX_SHARDS": "-2"},
     "SIGHTLINE_INDEX_SHARDS must be a whole number"),
])
def test_serve_refuses_bad_cluster_settings_before_starting(tmp_path, monkeypatch, args, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["serve", "--home", str(tmp_path / "home"), *args])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "home").exists()
