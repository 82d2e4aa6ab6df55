"""Unit tests for zstackcli.values: lists, system tags, maps and @file (SPEC §3)."""
import pytest

from zstackcli.values import (
    ValueSyntaxError, expand_tag_file, parse_map, read_file_value, split_list, split_tags,
)

# The userdata of the seed (ZStack 1.0 RC1 release note), verbatim: one line, '\n' escaped.
SEED_USERDATA = r'groups:\n  - ubuntu: [foo,bar]\n  - cloud-users\n\n# Add users to the system. Users are added after groups are added.\nusers:\n  - default\n  - name: foobar\n    gecos: Foo B. Bar\n    primary-group: foobar\n    groups: users\n    selinux-user: staff_u\n    expiredate: 2012-09-01\n    ssh-import-id: foobar\n    lock-passwd: false\n  - name: barfoo\n    gecos: Bar B. Foo\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    groups: users, admin\n    ssh-import-id: None\n    lock-passwd: true\n    ssh-authorized-keys:\n      - <ssh pub key 1>\n      - <ssh pub key 2>\n  - name: cloudy\n    gecos: Magic Cloud App Daemon User\n    inactive: true\n    system: true'


# ---------------------------------------------------------------------------------------------
# split_list
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, items', [
    ('HardDisk,CdRom', ['HardDisk', 'CdRom']),
    ('37d3c4a1e2f14a1c8316a23531e62988,05266285f96245f096f3b7dce671991d',
     ['37d3c4a1e2f14a1c8316a23531e62988', '05266285f96245f096f3b7dce671991d']),
    ('a', ['a']),
    (' a , b ,c ', ['a', 'b', 'c']),
    ('a,,b,', ['a', 'b']),
    (',', []),
    ('', []),
    ('  ', []),
    (r'a\,b,c', ['a,b', 'c']),
    (r'\,', [',']),
    (r'a\nb,c', ['a\\nb', 'c']),              # other backslash pairs are kept as written
    (r'a\\,b', ['a\\\\', 'b']),               # '\\' is a pair, so the comma separates
    ('a\\', ['a\\']),
    ('a\nb,c', ['a\nb', 'c']),
])
def test_split_list(value, items):
    assert split_list(value) == items


# ---------------------------------------------------------------------------------------------
# split_tags
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, tags', [
    ('hostname::web1', ['hostname::web1']),
    ('hostname::web1,staticIp::abc::10.0.0.5', ['hostname::web1', 'staticIp::abc::10.0.0.5']),
    ('hostname::web1, staticIp::abc::10.0.0.5', ['hostname::web1', 'staticIp::abc::10.0.0.5']),
    ('hostname::a,\nsshkey::k', ['hostname::a', 'sshkey::k']),
    ('bootOrder::HardDisk,CdRom', ['bootOrder::HardDisk,CdRom']),  # CdRom is not a tag name
    ('userdata::[foo,bar],sshkey::ssh-rsa AAA x@y',
     ['userdata::[foo,bar]', 'sshkey::ssh-rsa AAA x@y']),
    ('userdata::a, b::c', ['userdata::a', 'b::c']),
    ('userdata::a,b:c', ['userdata::a,b:c']),             # one colon is not a tag name
    ('userdata::a,1b::c', ['userdata::a,1b::c']),         # a tag name starts with a letter or _
    ('userdata::a,_x.y-z::c', ['userdata::a', '_x.y-z::c']),
    (r'hostname::a\,staticIp::b', ['hostname::a,staticIp::b']),   # '\,' is always literal
    (r'userdata::a\,b', ['userdata::a,b']),
    ('  hostname::a  ,  ', ['hostname::a']),
    ('userdata::x\n', ['userdata::x\n']),                 # a pasted YAML keeps its last newline
    ('', []),
    (',,', []),
    # free-form tags (user tags) hold no comma: every comma ends them
    ('web,prod', ['web', 'prod']),
    ('web, prod ,hostname::x,y', ['web', 'prod', 'hostname::x,y']),
])
def test_split_tags(value, tags):
    assert split_tags(value) == tags


def test_split_tags_keeps_seed_userdata_as_one_tag():
    value = 'userdata::' + SEED_USERDATA
    assert '[foo,bar]' in value and 'groups: users, admin' in value
    assert split_tags(value) == [value]


def test_split_tags_userdata_next_to_other_tags():
    value = 'hostname::web1,userdata::' + SEED_USERDATA + ',sshkey::ssh-rsa AAAA root@yyy'
    assert split_tags(value) == ['hostname::web1', 'userdata::' + SEED_USERDATA,
                                 'sshkey::ssh-rsa AAAA root@yyy']


def test_split_tags_preserves_backslash_n_exactly():
    (tag,) = split_tags(r'userdata::a\nb\\n\n')
    assert tag == 'userdata::a\\nb\\\\n\\n'


# ---------------------------------------------------------------------------------------------
# parse_map
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, result', [
    ("{'Flat':['DHCP','Userdata']}", {'Flat': ['DHCP', 'Userdata']}),
    ('{"Flat": ["DHCP", "Userdata"]}', {'Flat': ['DHCP', 'Userdata']}),
    ("  {'a': 1, 'b': None, 'c': True}  ", {'a': 1, 'b': None, 'c': True}),
    ('{"a": null, "b": true}', {'a': None, 'b': True}),
    ("{'5a4b':['DHCP'], 'VirtualRouter':('DNS','SNAT')}",
     {'5a4b': ['DHCP'], 'VirtualRouter': ('DNS', 'SNAT')}),
    ('{}', {}),
])
def test_parse_map(value, result):
    assert parse_map(value) == result


@pytest.mark.parametrize('value', [
    '', '   ', 'Flat', '[1, 2]', '"{}"', "{'a'}", '{a: 1}', "{'a': 1", '__import__("os")',
    "{'a': open('x')}", '1+1', "{'a': 1}\n{'b': 2}", '\x00', '{' * 1000, '{"a": 1e999999}x',
    "{'a': " + '9' * 10000 + '}',
])
def test_parse_map_rejects(value):
    with pytest.raises(ValueSyntaxError, match=r'^invalid map\[') as caught:
        parse_map(value)
    assert '\n' not in str(caught.value)


# ---------------------------------------------------------------------------------------------
# @file
# ---------------------------------------------------------------------------------------------

CLOUD_YAML = '#cloud-config\nusers:\n  - name: foo, bar\n    groups: users, admin\n# é ü 中文\n'


@pytest.fixture
def cloud_yaml(tmp_path):
    path = tmp_path / 'cloud.yaml'
    path.write_bytes(CLOUD_YAML.encode('utf-8'))
    return path


def test_read_file_value_absolute(cloud_yaml):
    assert read_file_value('@' + str(cloud_yaml)) == CLOUD_YAML


def test_read_file_value_relative_to_base_dir(cloud_yaml):
    assert read_file_value('@cloud.yaml', base_dir=str(cloud_yaml.parent)) == CLOUD_YAML


def test_read_file_value_relative_to_cwd(cloud_yaml, monkeypatch):
    monkeypatch.chdir(cloud_yaml.parent)
    assert read_file_value('@cloud.yaml') == CLOUD_YAML


def test_read_file_value_expands_home(cloud_yaml, monkeypatch):
    monkeypatch.setenv('HOME', str(cloud_yaml.parent))
    assert read_file_value('@~/cloud.yaml', base_dir='/nonexistent') == CLOUD_YAML


def test_read_file_value_keeps_bytes_exactly(tmp_path):
    (tmp_path / 'crlf').write_bytes(b'a\r\nb\\n\tc')
    assert read_file_value('@crlf', base_dir=str(tmp_path)) == 'a\r\nb\\n\tc'


@pytest.mark.parametrize('value, result', [
    ('@@literal', '@literal'),
    ('@@', '@'),
    ('plain', 'plain'),
    ('', ''),
    ('a@b', 'a@b'),
])
def test_read_file_value_without_a_file(value, result):
    assert read_file_value(value) == result


def test_read_file_value_missing_file(tmp_path):
    with pytest.raises(ValueSyntaxError) as caught:
        read_file_value('@nope.yaml', base_dir=str(tmp_path))
    assert str(caught.value) == 'cannot read file[nope.yaml]: No such file or directory'


@pytest.mark.parametrize('value', ['@', '@a\x00b', '@.'])
def test_read_file_value_unreadable(value, tmp_path):
    with pytest.raises(ValueSyntaxError, match=r'^cannot read file\['):
        read_file_value(value, base_dir=str(tmp_path))


def test_read_file_value_not_utf8(tmp_path):
    (tmp_path / 'bin').write_bytes(b'\xff\xfe\x00')
    with pytest.raises(ValueSyntaxError, match=r'not UTF-8'):
        read_file_value('@bin', base_dir=str(tmp_path))


@pytest.mark.parametrize('tag, expanded', [
    ('userdata::@cloud.yaml', 'userdata::' + CLOUD_YAML),
    ('sshkey::@cloud.yaml', 'sshkey::' + CLOUD_YAML),
    ('userdata::@@cloud.yaml', 'userdata::@cloud.yaml'),
    ('userdata::inline', 'userdata::inline'),
    ('hostname::web1', 'hostname::web1'),
    ('@cloud.yaml', '@cloud.yaml'),                        # not a tag: untouched
    ('staticIp::abc::@x', 'staticIp::abc::@x'),            # only 'name::@path'
    ('web', 'web'),
])
def test_expand_tag_file(tag, expanded, cloud_yaml):
    assert expand_tag_file(tag, base_dir=str(cloud_yaml.parent)) == expanded


def test_tag_file_commas_do_not_split_tags(cloud_yaml):
    # Files are read after splitting, so the YAML's commas can never start a new tag.
    tags = split_tags('hostname::web1,userdata::@cloud.yaml')
    expanded = [expand_tag_file(t, base_dir=str(cloud_yaml.parent)) for t in tags]
    assert expanded == ['hostname::web1', 'userdata::' + CLOUD_YAML]


def test_expand_tag_file_missing(tmp_path):
    with pytest.raises(ValueSyntaxError, match=r'^cannot read file\[missing\.yaml\]: '):
        expand_tag_file('userdata::@missing.yaml', base_dir=str(tmp_path))


def test_value_syntax_error_is_one_line():
    assert '\n' not in str(ValueSyntaxError('a\nb'))


def test_parse_map_never_warns(recwarn):
    with pytest.raises(ValueSyntaxError):
        parse_map(r"{'a': '\[' ")
    assert parse_map(r"{'a': '\['}") == {'a': '\\['}
    assert not recwarn.list
