"""Which cloud a real-cloud run uses: OS_CLOUD and clouds.yaml (OpenStack's search path), the OS_*
variables, OS_REGION_NAME; and the messages that name the setting to change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from localdev.cloud_config import CloudConfigError, cloud_settings, config_files
from localdev.runner.errors import RunError
from localdev.runner.targets import real_cloud_target

ENTRY: dict[str, Any] = {
    "auth": {
        "auth_url": "https://iam.eu-de.otc.t-systems.com/v3/",
        "username": "export-bot",
        "password": "from-the-file",
        "user_domain_name": "OTC-EU-DE-000000000010000XXXXX",
        "project_name": "eu-de_exports",
    },
    "region_name": "eu-de",
}


def write_clouds(path: Path, clouds: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"clouds": clouds}), encoding="utf-8")
    return path


def test_os_cloud_reads_the_named_entry(tmp_path: Path) -> None:
    path = write_clouds(tmp_path / "clouds.yaml", {"otc": ENTRY, "other": {}})

    cloud = cloud_settings({"OS_CLOUD": "otc", "OS_CLIENT_CONFIG_FILE": str(path)})

    assert cloud.auth_url == "https://iam.eu-de.otc.t-systems.com/v3"
    assert (cloud.username, cloud.password) == ("export-bot", "from-the-file")
    assert (cloud.domain_name, cloud.project_name, cloud.region_name) == (
        "OTC-EU-DE-000000000010000XXXXX",
        "eu-de_exports",
        "eu-de",
    )
    assert cloud.source == f"cloud 'otc' of {path}"


def test_single_variables_override_the_entry(tmp_path: Path) -> None:
    path = write_clouds(tmp_path / "clouds.yaml", {"otc": ENTRY})

    cloud = cloud_settings(
        {
            "OS_CLOUD": "otc",
            "OS_CLIENT_CONFIG_FILE": str(path),
            "OS_PASSWORD": "from-the-shell",
            "OS_REGION_NAME": "eu-nl",
        }
    )

    assert (cloud.password, cloud.region_name) == ("from-the-shell", "eu-nl")


def test_the_search_path_is_openstacks() -> None:
    assert config_files({"HOME": "/home/u"})[0] == Path("clouds.yaml")
    assert [str(path) for path in config_files({})][1:] == [
        str(Path("~/.config/openstack/clouds.yaml").expanduser()),
        "/etc/openstack/clouds.yaml",
    ]
    assert config_files({"OS_CLIENT_CONFIG_FILE": "/x/c.yaml"}) == [Path("/x/c.yaml")]


def test_an_unknown_cloud_names_the_file_and_the_clouds_it_has(tmp_path: Path) -> None:
    path = write_clouds(tmp_path / "clouds.yaml", {"otc": ENTRY, "lab": ENTRY})

    with pytest.raises(CloudConfigError) as raised:
        cloud_settings({"OS_CLOUD": "prod", "OS_CLIENT_CONFIG_FILE": str(path)})

    assert str(raised.value) == f"OS_CLOUD=prod: {path} has no cloud 'prod' (clouds there: lab, otc)"


def test_no_clouds_yaml_says_where_it_was_looked_for(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"

    with pytest.raises(CloudConfigError, match=f"no clouds.yaml \\(searched {missing}\\)"):
        cloud_settings({"OS_CLOUD": "otc", "OS_CLIENT_CONFIG_FILE": str(missing)})


def test_missing_settings_are_named_by_their_variable() -> None:
    with pytest.raises(CloudConfigError) as raised:
        cloud_settings({"OS_AUTH_URL": "https://iam.example/v3", "OS_USERNAME": "u"})

    assert "but OS_PASSWORD and OS_USER_DOMAIN_NAME are not set (" in str(raised.value)


def test_region_derives_the_endpoint_when_no_auth_url_is_given() -> None:
    target = real_cloud_target(
        {
            "OS_REGION_NAME": "eu-nl",
            "OS_USERNAME": "u",
            "OS_PASSWORD": "p",
            "OS_USER_DOMAIN_NAME": "d",
            "OS_CLOUD": "",
        }
    )

    assert target.parameters == {"CloudRegion": "eu-nl"}
    assert target.settings == {}  # no IAM_ENDPOINT: derived from the region
    assert target.credentials == {"user_name": "u", "password": "p", "domain_name": "d"}
    assert target.secrets == ("p",)


def test_a_configuration_error_is_a_refusal_of_the_run() -> None:
    with pytest.raises(RunError, match="OS_PASSWORD"):
        real_cloud_target(
            {"OS_AUTH_URL": "https://iam.example/v3", "OS_USERNAME": "u", "OS_DOMAIN_NAME": "d"}
        )
