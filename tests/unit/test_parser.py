"""Unit tests for zstackcli.parser: the line grammar of SPEC §3 and §3.1."""
import pytest

from zstackcli.parser import (
    OPERATORS, Arg, Command, ParseError, is_incomplete, parse, split_arg, split_statements,
    tokenize,
)

# ---------------------------------------------------------------------------------------------
# Command lines of the seed (ZStack 1.0 RC1 release note), copied verbatim: they must parse.
# ---------------------------------------------------------------------------------------------

SEED_CREATE_VM_USERDATA = r"""CreateVmInstance name=vm imageUuid=d720ff0c60ee48d3a2e6263dd3e12c33 instanceOfferingUuid=76789b62aeb542a5b4b8b8488fbaced2 l3NetworkUuids=37d3c4a1e2f14a1c8316a23531e62988,05266285f96245f096f3b7dce671991d defaultL3NetworkUuid=05266285f96245f096f3b7dce671991d systemTags='userdata::groups:\n  - ubuntu: [foo,bar]\n  - cloud-users\n\n# Add users to the system. Users are added after groups are added.\nusers:\n  - default\n  - name: foobar\n    gecos: Foo B. Bar\n    primary-group: foobar\n    groups: users\n    selinux-user: staff_u\n    expiredate: 2012-09-01\n    ssh-import-id: foobar\n    lock-passwd: false\n  - name: barfoo\n    gecos: Bar B. Foo\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    groups: users, admin\n    ssh-import-id: None\n    lock-passwd: true\n    ssh-authorized-keys:\n      - <ssh pub key 1>\n      - <ssh pub key 2>\n  - name: cloudy\n    gecos: Magic Cloud App Daemon User\n    inactive: true\n    system: true'"""
SEED_CREATE_TAG_USERDATA = r"""CreateSystemTag resourceUuid=303bf80af28c4e23b9b8c20d4267356b resourceType=VmInstanceVO tag='userdata::groups:\n  - ubuntu: [foo,bar]\n  - cloud-users\n\n# Add users to the system. Users are added after groups are added.\nusers:\n  - default\n  - name: foobar\n    gecos: Foo B. Bar\n    primary-group: foobar\n    groups: users\n    selinux-user: staff_u\n    expiredate: 2012-09-01\n    ssh-import-id: foobar\n    lock-passwd: false\n  - name: barfoo\n    gecos: Bar B. Foo\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    groups: users, admin\n    ssh-import-id: None\n    lock-passwd: true\n    ssh-authorized-keys:\n      - <ssh pub key 1>\n      - <ssh pub key 2>\n  - name: cloudy\n    gecos: Magic Cloud App Daemon User\n    inactive: true\n    system: true'"""
SEED_QUERY_USERDATA = r'QuerySystemTag resourceUuid=303bf80af28c4e23b9b8c20d4267356b tag~=userdata%'
SEED_DELETE_TAG = r'DeleteTag uuid=7813d03bb85840c489789f8df3a5915b'
SEED_UPDATE_TAG_USERDATA = r"""UpdateSystemTag uuid=762c3047e05f471ea3fce13f808a50be tag='userdata::groups:\n  - ubuntu: [foo,bar]\n  - cloud-users\n\n# Add users to the system. Users are added after groups are added.\nusers:\n  - default\n  - name: foobar\n    gecos: Foo B. Bar\n    primary-group: foobar\n    groups: users\n    selinux-user: staff_u\n    expiredate: 2012-09-01\n    ssh-import-id: foobar\n    lock-passwd: false\n  - name: barfoo\n    gecos: Bar B. Foo\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    groups: users, admin\n    ssh-import-id: None\n    lock-passwd: true\n    ssh-authorized-keys:\n      - <ssh pub key 1>\n      - <ssh pub key 2>\n  - name: cloudy\n    gecos: Magic Cloud App Daemon User\n    inactive: true\n    system: true'"""
SEED_CREATE_VM_SSHKEY = r"""CreateVmInstance name=vm imageUuid=d720ff0c60ee48d3a2e6263dd3e12c33 instanceOfferingUuid=76789b62aeb542a5b4b8b8488fbaced2 l3NetworkUuids=37d3c4a1e2f14a1c8316a23531e62988,05266285f96245f096f3b7dce671991d defaultL3NetworkUuid=05266285f96245f096f3b7dce671991d systemTags='sshkey::ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC5x3AoWuiZawxXoBxEcOhhdVAST4kJA/cQ2zGnh3yZ/KBU+VILQHTkbNWAaRw3q0UtfpLfVj/KoPFr43qjGF+ud8B/rD7stsAvbNVdms81aBDAFZyiN7dhlwTK+XvCMhl4RxHUItm7+Y7gzb8jTHPoqlPzAw4r8enqhNf9ABG+kaXIDa0FPhVaMPoLzHWjTe34ONIBlxsY/y1Zle49vPVYS7oAHQTc7ly7bnGXffNJ18uF5M7HPUgsIDum8KICa2LmnXJeB2M9XZtXtJUdR1ZKXeQpRtikAm3G3CwFkDxWnx31dGr0lLa2aZ88LQ2iP8nb2NK58aKb4I9Aq19k44Rl root@yyy'"""
SEED_CREATE_TAG_SSHKEY = r'CreateSystemTag resourceType=VmInstanceVO resourceUuid=606d9a2fa723407c93438789eaf72cea tag="sshkey::ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDdlfgEu4SmgAXaEhLtNljm4cqowdFSyOH7NtheqzZROaRNRJOYKCABUZLmsLv1pl3Av+m1vUUILPWNymxdCnhuaxl/vFtvyWrLChKR8s2Cpl24uFpvHaWO6JLd/RnSwj8LCsCreJ3Twq77T9MCwDVl15WNjn3WKuPfFKxmW7gQTDyDK1XX35n7RYSadurdVNmJTAsQWmszmGeBDVO6U7spRtH7nNrNAMVjaOHrPp5NbMRBVCyHfj1UY71bnIdVCa2mY/RtjIkcj4JNBaQ0JPnP1jw4Ig8WVkjn74T7U4chUHmu8jzwhv+++F7EGLSNdb85RKmY5IdHDd+dRuK3Rx67 root@bji-bm-node3"'
SEED_QUERY_SSHKEY = r'QuerySystemTag resourceUuid=303bf80af28c4e23b9b8c20d4267356b tag~=sshkey%'
SEED_UPDATE_TAG_SSHKEY = r"""UpdateSystemTag uuid=762c3047e05f471ea3fce13f808a50be tag='sshkey::ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDdlfgEu4SmgAXaEhLtNljm4cqowdFSyOH7Nthe    qzZROaRNRJOYKCABUZLmsLv1pl3Av+m1vUUILPWNymxdCnhuaxl/vFtvyWrLChKR8s2Cpl24uFpvHaWO6JLd/RnSwj8LCsCreJ3Twq77T9MCwDVl15WNjn3WKuPfFKxmW7gQTDyDK1XX35n7RYSadurdVNmJTAsQWmszmGeBDVO6U7spRtH7nNrNA    MVjaOHrPp5NbMRBVCyHfj1UY71bnIdVCa2mY/RtjIkcj4JNBaQ0JPnP1jw4Ig8WVkjn74T7U4chUHmu8jzwhv+++F7EGLSNdb85RKmY5IdHDd+dRuK3Rx67 root@bji-bm-node3'"""
SEED_MIGRATE_VOLUME = r'LocalStorageMigrateVolume volumeUuid=cdbda88fef1a42f386ff111b729159d9 destHostUuid=252d484d93e64fea946148097162b60f'
SEED_ATTACH_ISO = r'AttachIsoToVmInstance vmInstanceUuid=d4a83b0394b44482bbcb964b4dbe991c isoUuid=815dcd3d83dd429298ba2c9b1685c1ad'
SEED_DETACH_ISO = r'DetachIsoFromVmInstance vmInstanceUuid=d4a83b0394b44482bbcb964b4dbe991c'
SEED_SET_BOOT_ORDER = r'SetVmBootOrder uuid=303bf80af28c4e23b9b8c20d4267356b bootOrder=HardDisk,CdRom'
SEED_GET_BOOT_ORDER = r'GetVmBootOrder uuid=303bf80af28c4e23b9b8c20d4267356b'
SEED_UPDATE_GLOBAL_CONFIG = r'UpdateGlobalConfig category=kvm name=vm.consoleMode value=spice'
SEED_USERDATA = r'groups:\n  - ubuntu: [foo,bar]\n  - cloud-users\n\n# Add users to the system. Users are added after groups are added.\nusers:\n  - default\n  - name: foobar\n    gecos: Foo B. Bar\n    primary-group: foobar\n    groups: users\n    selinux-user: staff_u\n    expiredate: 2012-09-01\n    ssh-import-id: foobar\n    lock-passwd: false\n  - name: barfoo\n    gecos: Bar B. Foo\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    groups: users, admin\n    ssh-import-id: None\n    lock-passwd: true\n    ssh-authorized-keys:\n      - <ssh pub key 1>\n      - <ssh pub key 2>\n  - name: cloudy\n    gecos: Magic Cloud App Daemon User\n    inactive: true\n    system: true'

SEED_LINES = [value for name, value in sorted(globals().items())
              if name.startswith('SEED_') and name != 'SEED_USERDATA']


def args_of(command, query=False):
    return {arg.key: arg.value for arg in (split_arg(t, query) for t in command.tokens)}


@pytest.mark.parametrize('line', SEED_LINES)
def test_every_seed_line_parses(line):
    command = parse(line)
    assert command.verb == line.split()[0]
    for token in command.tokens:
        split_arg(token, query=command.verb.startswith('Query'))


@pytest.mark.parametrize('line', SEED_LINES)
def test_every_seed_line_is_one_statement(line):
    assert list(split_statements(line + '\n')) == [(1, line)]
    assert not is_incomplete(line)


@pytest.mark.parametrize('line, key', [
    (SEED_CREATE_VM_USERDATA, 'systemTags'),
    (SEED_CREATE_TAG_USERDATA, 'tag'),
    (SEED_UPDATE_TAG_USERDATA, 'tag'),
])
def test_seed_userdata_value_is_kept_byte_for_byte(line, key):
    # Including the backslash-n sequences, the commas and 'sudo: ALL=(ALL) NOPASSWD:ALL'.
    value = args_of(parse(line))[key]
    assert value == 'userdata::' + SEED_USERDATA
    assert '\\n' in value and '\n' not in value


def test_seed_create_vm_instance_arguments():
    args = args_of(parse(SEED_CREATE_VM_USERDATA))
    assert args['name'] == 'vm'
    assert args['imageUuid'] == 'd720ff0c60ee48d3a2e6263dd3e12c33'
    assert args['l3NetworkUuids'] == ('37d3c4a1e2f14a1c8316a23531e62988,'
                                      '05266285f96245f096f3b7dce671991d')
    assert args['defaultL3NetworkUuid'] == '05266285f96245f096f3b7dce671991d'
    assert list(args) == ['name', 'imageUuid', 'instanceOfferingUuid', 'l3NetworkUuids',
                          'defaultL3NetworkUuid', 'systemTags']


def test_seed_sshkey_tags():
    created = args_of(parse(SEED_CREATE_TAG_SSHKEY))['tag']
    assert created.startswith('sshkey::ssh-rsa AAAAB3')
    assert created.endswith(' root@bji-bm-node3')
    updated = args_of(parse(SEED_UPDATE_TAG_SSHKEY))['tag']
    assert 'Nthe    qzZ' in updated  # the seed's stray spaces stay inside the quotes
    vm_tags = args_of(parse(SEED_CREATE_VM_SSHKEY))['systemTags']
    assert vm_tags.startswith('sshkey::ssh-rsa ') and vm_tags.endswith(' root@yyy')


@pytest.mark.parametrize('line, expected', [
    (SEED_QUERY_USERDATA, [Arg('resourceUuid', '=', '303bf80af28c4e23b9b8c20d4267356b'),
                           Arg('tag', '~=', 'userdata%')]),
    (SEED_QUERY_SSHKEY, [Arg('resourceUuid', '=', '303bf80af28c4e23b9b8c20d4267356b'),
                         Arg('tag', '~=', 'sshkey%')]),
])
def test_seed_query_lines(line, expected):
    command = parse(line)
    assert command.verb == 'QuerySystemTag'
    assert [split_arg(t, query=True) for t in command.tokens] == expected


@pytest.mark.parametrize('line, verb, tokens', [
    (SEED_MIGRATE_VOLUME, 'LocalStorageMigrateVolume',
     ('volumeUuid=cdbda88fef1a42f386ff111b729159d9',
      'destHostUuid=252d484d93e64fea946148097162b60f')),
    (SEED_SET_BOOT_ORDER, 'SetVmBootOrder',
     ('uuid=303bf80af28c4e23b9b8c20d4267356b', 'bootOrder=HardDisk,CdRom')),
    (SEED_GET_BOOT_ORDER, 'GetVmBootOrder', ('uuid=303bf80af28c4e23b9b8c20d4267356b',)),
    (SEED_UPDATE_GLOBAL_CONFIG, 'UpdateGlobalConfig',
     ('category=kvm', 'name=vm.consoleMode', 'value=spice')),
    (SEED_DELETE_TAG, 'DeleteTag', ('uuid=7813d03bb85840c489789f8df3a5915b',)),
])
def test_seed_simple_lines(line, verb, tokens):
    assert parse(line, line=7) == Command(verb, tokens, 7)


# ---------------------------------------------------------------------------------------------
# tokenize
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('statement, tokens', [
    ('A', ['A']),
    ('  A   b=1\tc=2  ', ['A', 'b=1', 'c=2']),
    ('A b=1\nc=2', ['A', 'b=1', 'c=2']),                      # newline outside quotes separates
    ('A name="my vm"', ['A', 'name=my vm']),                   # quotes mid-token
    ("A name='my vm'", ['A', 'name=my vm']),
    ('A "name=my vm"', ['A', 'name=my vm']),
    ('A a"b"c\'d\'e', ['A', 'abcde']),                          # adjacent quoted parts join
    ("A x=''", ['A', 'x=']),
    ("A '' \"\"", ['A', '', '']),                               # empty quotes are a word
    # single quotes: no escapes at all
    (r"A x='a\nb\'", ['A', 'x=a\\nb\\']),
    (r"A x='\\'", ['A', 'x=\\\\']),
    (r"A x='say \"hi\"'", ['A', 'x=say \\"hi\\"']),
    # double quotes: only \" and \\ are escapes
    (r'A x="say \"hi\""', ['A', 'x=say "hi"']),
    (r'A x="a\\b"', ['A', 'x=a\\b']),
    (r'A x="a\nb"', ['A', 'x=a\\nb']),                         # "\n" stays backslash-n
    (r'A x="a\,b"', ['A', 'x=a\\,b']),
    (r'A x="it'"'"'s"', ['A', "x=it's"]),
    ('A x="line1\nline2"', ['A', 'x=line1\nline2']),
    # outside quotes: backslash escapes whitespace and quotes ...
    (r'A x=my\ vm', ['A', 'x=my vm']),
    ('A x=a\\\tb', ['A', 'x=a\tb']),
    (r"A x=it\'s", ['A', "x=it's"]),
    (r'A x=\"q\"', ['A', 'x="q"']),
    ('A x=a\\\nb', ['A', 'x=ab']),                             # backslash-newline: continuation
    ('A \\\n x=1', ['A', 'x=1']),
    # ... and keeps every other backslash with its character for later stages
    (r'A l=a\,b', ['A', 'l=a\\,b']),
    (r'A t=userdata::a\nb', ['A', 't=userdata::a\\nb']),
    (r'A x=a\\b', ['A', 'x=a\\\\b']),
    (r'A x=a\\ b', ['A', 'x=a\\\\', 'b']),
    ('A x=a\\', ['A', 'x=a\\']),                               # lone trailing backslash
    # things that are not quoting
    ('A x=a#b #c', ['A', 'x=a#b', '#c']),
    ('A x=é\u00a0ü', ['A', 'x=é\u00a0ü']),                      # NBSP is not a separator
    ('', []),
    ('   \n\t', []),
])
def test_tokenize(statement, tokens):
    assert tokenize(statement) == tokens


@pytest.mark.parametrize('statement', [
    "A x='abc", 'A x="abc', 'A x="abc\\"', "A x='", 'A "', "A x='a\nb",
])
def test_tokenize_unterminated_quote(statement):
    with pytest.raises(ParseError, match='^unterminated quote') as caught:
        tokenize(statement)
    assert caught.value.line is None


# ---------------------------------------------------------------------------------------------
# parse
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('statement', ['', '   ', '\n', '# a comment', "   # don't care",
                                       '#CreateVmInstance name=x', "'#x' y"])
def test_parse_blank_and_comment(statement):
    assert parse(statement) is None


@pytest.mark.parametrize('statement, command', [
    ('CreateVmInstance name=vm', Command('CreateVmInstance', ('name=vm',), 1)),
    ('help', Command('help', (), 1)),
    ('help CreateVmInstance', Command('help', ('CreateVmInstance',), 1)),
    ('more 3', Command('more', ('3',), 1)),
    ('Query_2 x', Command('Query_2', ('x',), 1)),
    ('"QueryVmInstance" name=x', Command('QueryVmInstance', ('name=x',), 1)),
])
def test_parse(statement, command):
    assert parse(statement) == command


def test_parse_records_line():
    assert parse('DeleteTag uuid=x', line=42).line == 42


@pytest.mark.parametrize('verb', ['1Create', '_x', 'Create-Vm', '>>>GetVmConsoleAddress', 'é',
                                  '=x', 'a.b'])
def test_parse_rejects_bad_verb(verb):
    with pytest.raises(ParseError, match=r'^invalid command name\[') as caught:
        parse(verb + ' uuid=x', line=5)
    assert caught.value.line == 5


def test_parse_unterminated_quote_reports_the_line_of_the_quote():
    with pytest.raises(ParseError, match='opened on line 11') as caught:
        parse("CreateSystemTag resourceType=VmInstanceVO\n tag='userdata::x", line=10)
    assert caught.value.line == 11


def test_parse_error_is_one_line():
    with pytest.raises(ParseError) as caught:
        parse('"bad\nverb" x=1')
    assert '\n' not in str(caught.value)


# ---------------------------------------------------------------------------------------------
# split_statements / is_incomplete
# ---------------------------------------------------------------------------------------------

CLOUD_INIT_PASTE = """\
CreateVmInstance name=web imageUuid=abc systemTags='userdata::#cloud-config
users:
  - name: foo
    groups: users, admin
    sudo: ALL=(ALL) NOPASSWD:ALL
  - name: bar, "quoted"
runcmd:
  - echo "a \\ b" \\n kept
' description=pasted
QueryVmInstance name=web
"""

CLOUD_INIT_YAML = """\
#cloud-config
users:
  - name: foo
    groups: users, admin
    sudo: ALL=(ALL) NOPASSWD:ALL
  - name: bar, "quoted"
runcmd:
  - echo "a \\ b" \\n kept
"""


def test_cloud_init_yaml_pasted_between_single_quotes():
    statements = list(split_statements(CLOUD_INIT_PASTE))
    assert [line for line, _ in statements] == [1, 10]
    assert is_incomplete(CLOUD_INIT_PASTE.split("' description")[0])
    command = parse(statements[0][1], statements[0][0])
    args = args_of(command)
    # The newlines are part of the value; so are the backslashes and the closing newline.
    assert args['systemTags'] == 'userdata::' + CLOUD_INIT_YAML
    assert args['description'] == 'pasted'
    assert parse(statements[1][1], statements[1][0]) == Command(
        'QueryVmInstance', ('name=web',), 10)


@pytest.mark.parametrize('text, statements', [
    ('A x=1\nB y=2\n', [(1, 'A x=1'), (2, 'B y=2')]),
    ('A x=1\nB y=2', [(1, 'A x=1'), (2, 'B y=2')]),
    ('\n\n  \nA x=1\n\t\nB\n', [(4, 'A x=1'), (6, 'B')]),
    ('# comment\nA\n  # indented comment\nB', [(2, 'A'), (4, 'B')]),
    ("# don't open a quote\nA", [(2, 'A')]),
    ('# no continuation \\\nA', [(2, 'A')]),
    ('A x=1 \\\n  y=2\nB', [(1, 'A x=1   y=2'), (3, 'B')]),
    ('A x=ab\\\ncd', [(1, 'A x=abcd')]),
    ('A \\\n\\\n y=1\nB', [(1, 'A  y=1'), (4, 'B')]),
    ('\\\nA x=1', [(2, 'A x=1')]),
    ("A x='a\nb'\nB", [(1, "A x='a\nb'"), (3, 'B')]),
    ('A x="a\n\nb" y=1\nB', [(1, 'A x="a\n\nb" y=1'), (4, 'B')]),
    ("A x='#not\n# a comment'", [(1, "A x='#not\n# a comment'")]),
    ("A x='a\\\nb'", [(1, "A x='a\\\nb'")]),                 # no continuation inside quotes
    ('A x="a\\"\nb"', [(1, 'A x="a\\"\nb"')]),                # \" does not close
    ('A x=1\r\nB y=2\r\n', [(1, 'A x=1'), (2, 'B y=2')]),      # CRLF input
    ("A x='a\r\nb'", [(1, "A x='a\nb'")]),
    ('A x=1   \t', [(1, 'A x=1')]),
    ('A x=1\\ ', [(1, 'A x=1\\ ')]),                          # an escaped blank is kept
    ('A x=1 #c', [(1, 'A x=1 #c')]),                           # '#' mid-line is not a comment
    ('A x=1 \\', [(1, 'A x=1')]),                              # continuation at end of input
    ('', []),
    ('\n\n', []),
])
def test_split_statements(text, statements):
    assert list(split_statements(text)) == statements


@pytest.mark.parametrize('text, line', [
    ("A x='abc", 1),
    ("A x=1\nB\nC y='abc\nd", 3),
    ('A\nB y="a\\"', 2),
    ("A x='a'\n\nB y='b\nc'd'", 4),
])
def test_split_statements_unterminated_quote(text, line):
    with pytest.raises(ParseError, match='^unterminated quote') as caught:
        list(split_statements(text))
    assert caught.value.line == line
    assert f'line {line}' in str(caught.value)


def test_split_statements_yields_complete_statements_before_the_error():
    statements = split_statements("A x=1\nB y='open")
    assert next(statements) == (1, 'A x=1')
    with pytest.raises(ParseError):
        next(statements)


@pytest.mark.parametrize('text, incomplete', [
    ('A x=1', False),
    ('', False),
    ("A x='abc", True),
    ("A x='abc\ndef", True),
    ("A x='abc\ndef'", False),
    ('A x="a\\"', True),
    ('A x=1 \\', True),
    ('A x=1 \\\\', False),                                   # an escaped backslash
    ('A x=1 \\\n', False),                                    # the next line was empty: done
    ('A x=1 \\\n y=2 \\', True),
    ("A x='a\\", True),                                       # backslash inside single quotes
    ('# comment \\', False),
    ("# don't", False),
    ("A x='a'\n# comment '", False),
])
def test_is_incomplete(text, incomplete):
    assert is_incomplete(text) is incomplete


# ---------------------------------------------------------------------------------------------
# split_arg
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('token, arg', [
    ('name=vm', Arg('name', '=', 'vm')),
    ('description=a=b', Arg('description', '=', 'a=b')),
    ('description=', Arg('description', '=', '')),
    ('x==', Arg('x', '=', '=')),
    ('name!=x', Arg('name!', '=', 'x')),                      # no query operators here
    ('tag=userdata::a\\nb', Arg('tag', '=', 'userdata::a\\nb')),
    ('sudo=ALL=(ALL) NOPASSWD:ALL', Arg('sudo', '=', 'ALL=(ALL) NOPASSWD:ALL')),
])
def test_split_arg(token, arg):
    assert split_arg(token) == arg


@pytest.mark.parametrize('token, arg', [
    ('name=x', Arg('name', '=', 'x')),
    ('name!=x', Arg('name', '!=', 'x')),
    ('cpuNum>2', Arg('cpuNum', '>', '2')),
    ('cpuNum<2', Arg('cpuNum', '<', '2')),
    ('cpuNum>=2', Arg('cpuNum', '>=', '2')),
    ('cpuNum<=2', Arg('cpuNum', '<=', '2')),
    ('uuid?=a,b', Arg('uuid', '?=', 'a,b')),
    ('uuid!?=a,b', Arg('uuid', '!?=', 'a,b')),
    ('name~=web%', Arg('name', '~=', 'web%')),
    ('name!~=web', Arg('name', '!~=', 'web')),
    ('f=null', Arg('f', '=', 'null')),
    ('f!=null', Arg('f', '!=', 'null')),
    ('vmNics.ip=10.0.0.5', Arg('vmNics.ip', '=', '10.0.0.5')),
    ('allVolumes.type=Data', Arg('allVolumes.type', '=', 'Data')),
    ('__systemTag__=hostname::web1', Arg('__systemTag__', '=', 'hostname::web1')),
    ('__systemTag__~=hostname::web%', Arg('__systemTag__', '~=', 'hostname::web%')),
    ('__userTag__!?=a,b', Arg('__userTag__', '!?=', 'a,b')),
    ('tag~=userdata%', Arg('tag', '~=', 'userdata%')),
    ('description=a>b', Arg('description', '=', 'a>b')),
    ('description!=a=b', Arg('description', '!=', 'a=b')),
    ('name=', Arg('name', '=', '')),
    ('cpuNum>=', Arg('cpuNum', '>=', '')),
    ('fields=uuid,name', Arg('fields', '=', 'uuid,name')),
    ('limit=10', Arg('limit', '=', '10')),
])
def test_split_arg_query(token, arg):
    assert split_arg(token, query=True) == arg


def test_every_operator_is_recognised():
    for op in OPERATORS:
        assert split_arg(f'field{op}value', query=True) == Arg('field', op, 'value')


@pytest.mark.parametrize('query', [False, True])
@pytest.mark.parametrize('token', ['x', 'uuid', '=x', '=', '', 'hostname::web'])
def test_split_arg_without_equals(token, query):
    with pytest.raises(ParseError) as caught:
        split_arg(token, query=query)
    assert str(caught.value) == (f'Invalid parameter[{token}], '
                                 'the parameter must be split by "="')


@pytest.mark.parametrize('token', ['a!b', 'a?b', 'a~b', '!=x', '>=1', 'a!', 'a?', 'a~'])
def test_split_arg_query_without_operator(token):
    with pytest.raises(ParseError, match=r'^Invalid parameter\['):
        split_arg(token, query=True)


def test_split_arg_error_is_one_line_and_short():
    with pytest.raises(ParseError) as caught:
        split_arg('userdata\nline2' + 'x' * 1000)
    message = str(caught.value)
    assert '\n' not in message and len(message) < 300
    assert message.startswith('Invalid parameter[userdata\\nline2xxx')
