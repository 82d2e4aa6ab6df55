"""The binder (command -> API params) and the output formats."""

import json

import pytest

from zstackcli.binder import CliError, bind, suggest
from zstackcli.output import format_api_error, render
from zstackcli.parser import parse


def bound(line, base_dir=None):
    api, params = bind(parse(line), base_dir)
    return api.name, params


def test_plain_params_and_last_key_wins():
    assert bound("CreateZone name=a name=b description=x=y") == (
        "CreateZone", {"name": "b", "description": "x=y"})


def test_query_splits_reserved_keys_from_conditions():
    name, params = bound("QueryZone name!=a limit=5 fields=uuid,name cluster.name~=c")
    assert params["limit"] == "5"
    assert params["fields"] == ["uuid", "name"]
    assert params["conditions"] == [{"name": "name", "op": "!=", "value": "a"},
                                    {"name": "cluster.name", "op": "~=", "value": "c"}]


def test_system_tags_keep_userdata_commas():
    _, params = bound("CreateZone name=z systemTags='userdata::a: [foo,bar]\\n  b: users, admin,"
                      "host::reservedCpu::1'")
    assert params["systemTags"] == ["userdata::a: [foo,bar]\\n  b: users, admin",
                                    "host::reservedCpu::1"]


def test_tag_value_read_from_file(tmp_path):
    (tmp_path / "cloud.yaml").write_text("#cloud-config\nusers: [a]\n")
    _, params = bound("CreateSystemTag resourceType=ZoneVO resourceUuid=x tag=userdata::@cloud.yaml",
                      str(tmp_path))
    assert params["tag"] == "userdata::#cloud-config\nusers: [a]\n"


def test_at_file_for_plain_value(tmp_path):
    (tmp_path / "d.txt").write_text("from a file")
    _, params = bound("CreateZone name=z description=@d.txt", str(tmp_path))
    assert params["description"] == "from a file"


@pytest.mark.parametrize("line, fragment", [
    ("NoSuchVerb a=b", "unknown command[NoSuchVerb]"),
    ("QueryZne", "did you mean QueryZone"),
    ("createzone name=a", "did you mean CreateZone"),
    ("CreateZone nme=a", "did you mean name"),
    ("CreateZone name", 'the parameter must be split by "="'),
    ("CreateZone name!=a", "unknown parameter[name!]"),
    ("CreateZone description=@/no/such/file name=a", "cannot read file"),
])
def test_cli_errors(line, fragment):
    with pytest.raises(CliError) as e:
        bind(parse(line))
    assert fragment in str(e.value)
    assert "\n" not in str(e.value)


def test_suggest_prefers_case_insensitive_exact():
    assert suggest("queryzone", ["QueryZone", "QueryCluster"]) == ["QueryZone"]


REPLY = {"inventories": [{"uuid": "a" * 32, "name": "区域", "state": "Enabled"}],
         "success": True}


def test_json_is_sorted_indented_and_keeps_non_ascii():
    text = render(REPLY)
    assert text == json.dumps(REPLY, sort_keys=True, indent=4, ensure_ascii=False) + "\n"
    assert "区域" in text and "\x1b" not in text


def test_table_yaml_text():
    from backend.catalogue import RESOURCES

    table = render(REPLY, "table", resource=RESOURCES["ZoneVO"])
    assert table.splitlines()[0].split() == ["uuid", "name", "state"]
    assert "区域" in render(REPLY, "yaml")
    assert "name: 区域" in render(REPLY, "text")
    assert render({"total": 3, "success": True}, "text") == "total: 3\n"


def test_error_line_format_with_cause():
    error = {"code": "SYS.1006", "description": "An operation failed", "details": "x\ny",
             "cause": {"code": "VM.1010", "description": "d", "details": "state"}}
    assert format_api_error("StartVmInstance", error) == (
        "API call[StartVmInstance] failed because [code: SYS.1006, description: An operation "
        "failed, details: x\\ny, cause: [code: VM.1010, description: d, details: state]]")
