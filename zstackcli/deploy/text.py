"""What ``zstack-cli -d`` tells people, in English and Simplified Chinese (SPEC §13)."""

from ..i18n import lang, text_of

MESSAGES = {
    # reading the file
    "syntax": ("line {line}, column {column}: {problem}", "第 {line} 行第 {column} 列：{problem}"),
    "not_utf8": ("not UTF-8 text (byte {byte})", "不是 UTF-8 文本（第 {byte} 字节）"),
    "no_stdin": ("cannot read stdin: it is closed", "无法读取标准输入：它已关闭"),
    "empty": ("the file is empty: nothing to deploy", "文件为空：没有可部署的内容"),
    "dup_yaml_key": ("line {line}: key '{key}' is given twice in one mapping",
                     "第 {line} 行：同一映射中键 '{key}' 出现了两次"),
    "too_many_entries": ("more than {most} values (counting every use of an alias): "
                         "refused", "超过 {most} 个值（每次使用别名都计入）：拒绝处理"),
    "more_problems": ("... and {count} more", "……另有 {count} 个问题"),
    # the shape
    "not_mapping": ("expected a mapping of keys, got {got}", "应为键值映射，实际为 {got}"),
    "not_list": ("expected a list of entries, got {got}", "应为条目列表，实际为 {got}"),
    "unknown_key": ("unknown key '{key}'", "未知的键 '{key}'"),
    "did_you_mean": (" (did you mean {hint}?)", "（您是否想写 {hint}？）"),
    "valid_keys": (" (valid keys: {keys})", "（有效的键：{keys}）"),
    "other_type": ("key '{key}' does not apply to {type}", "键 '{key}' 不适用于 {type}"),
    "missing_key": ("missing required key '{key}'", "缺少必填的键 '{key}'"),
    "dup_name": ("duplicate {label} name '{name}' (also at {other})",
                 "{label}名称 '{name}' 重复（另见 {other}）"),
    "listed_twice": ("'{name}' is listed twice", "'{name}' 被列出了两次"),
    "bad_type": ("unknown type '{value}'; valid types are [{choices}]",
                 "未知类型 '{value}'；有效类型为 [{choices}]"),
    # values
    "want_str": ("expected a string, got {got}", "应为字符串，实际为 {got}"),
    "want_int": ("expected an integer, got {got}", "应为整数，实际为 {got}"),
    "want_number": ("expected a number, got {got}", "应为数字，实际为 {got}"),
    "want_size": ("expected a size in bytes or with a unit (64M, 1G), got {got}",
                  "应为字节数或带单位的大小（64M、1G），实际为 {got}"),
    "want_bool": ("expected true or false, got {got}", "应为 true 或 false，实际为 {got}"),
    "want_ipv4": ("expected an IPv4 address such as 10.0.0.2, got {got}",
                  "应为 IPv4 地址（如 10.0.0.2），实际为 {got}"),
    "want_map": ("expected a mapping, got {got}", "应为映射，实际为 {got}"),
    "want_uuid": ("expected a uuid (32 lowercase hexadecimal characters), got {got}",
                  "应为 UUID（32 个小写十六进制字符），实际为 {got}"),
    "want_choice": ("expected one of [{choices}], got {got}", "应为 [{choices}] 之一，实际为 {got}"),
    "too_long": ("longer than {most} characters", "超过 {most} 个字符"),
    "too_short": ("must not be empty", "不能为空"),
    "too_small": ("must be at least {least}, got {got}", "至少为 {least}，实际为 {got}"),
    "out_of_bounds": ("must be between {least} and {most}, got {got}",
                      "必须在 {least} 到 {most} 之间，实际为 {got}"),
    "bool_hint": (" (quote it to make it a string)", "（加引号使其成为字符串）"),
    "no_tag": ("no system tag matches[{tag}] for resourceType[{resource}]",
               "没有与[{tag}]匹配的 {resource} 系统标签"),
    "unknown_var": ("unknown environment variable ${{{name}}}", "未知的环境变量 ${{{name}}}"),
    "nul_byte": ("a url or path can not contain a NUL byte (\\0)",
                 "url 或路径中不能包含 NUL 字节（\\0）"),
    "var_not_allowed": ("${{{name}}} can not be used in a url: only ${{ZSTACK_HOME}} and "
                        "${{HOME}} are expanded", "url 中不能使用 ${{{name}}}：只展开 "
                        "${{ZSTACK_HOME}} 和 ${{HOME}}"),
    "file_outside": ("cannot read file[{path}]: only files inside {dir} may be read",
                     "无法读取文件[{path}]：只能读取 {dir} 之内的文件"),
    "create_needs_file": ("'create' needs a url that is a file of this machine, got {url}",
                          "'create' 要求 url 为本机文件，实际为 {url}"),
    "create_symlink": ("'create' will not make {path}: it is a symlink to nothing",
                       "'create' 不会生成 {path}：它是指向不存在文件的符号链接"),
    "create_format": ("'create' makes qcow2 or raw images, not {fmt}",
                      "'create' 只能生成 qcow2 或 raw 镜像，不能生成 {fmt}"),
    "no_qemu_img": ("'create' needs qemu-img to make {path}; install qemu-utils",
                    "'create' 需要 qemu-img 来生成 {path}；请安装 qemu-utils"),
    # comparing with the cloud
    "ref_missing": ("{label} '{name}' is neither in the file nor in the cloud",
                    "{label} '{name}' 既不在文件中，也不在云中"),
    "ambiguous": ("{count} {label} named '{name}' exist in the cloud: the file can not say "
                  "which one it means", "云中有 {count} 个名为 '{name}' 的{label}：无法确定文件指的是哪一个"),
    "differs": ("{label} '{name}' exists with {field}={have}, but the file says {want}; {field} "
                "can not be updated (change the file, or delete the {label} first)",
                "{label} '{name}' 已存在且 {field}={have}，但文件中为 {want}；{field} 无法更新"
                "（请修改文件，或先删除该{label}）"),
    "to_be_created": ("{name} (not created yet)", "{name}（尚未创建）"),
    "no_provider": ("no network service provider '{name}'; providers are [{choices}]",
                    "没有网络服务提供者 '{name}'；可用的提供者为 [{choices}]"),
    "provider_lacks": ("provider {provider} has no service {service}; it has [{choices}]",
                       "提供者 {provider} 没有服务 {service}；它提供 [{choices}]"),
    "service_taken": ("L3 network '{name}' already has {service} from provider {other}",
                      "三层网络 '{name}' 已由提供者 {other} 提供 {service}"),
    "nothing_created": ("{source}: nothing was created", "{source}：未创建任何资源"),
    "waiting": ("waiting for another deploy on {home} to finish",
                "正在等待 {home} 上的另一次部署完成"),
    "no_lock": ("cannot lock {path} against another deploy: {error}",
                "无法锁定 {path} 以防止并发部署：{error}"),
    # deploying
    "created": ("created", "已创建"),
    "exists": ("exists", "已存在"),
    "updated": ("updated", "已更新"),
    "attachment": ("attachment of {label} {name} to {owner_label} {owner}",
                   "{label} {name} 到{owner_label} {owner} 的挂载"),
    "dns": ("DNS {dns} of L3 network {name}", "三层网络 {name} 的 DNS {dns}"),
    "services": ("network services {services} of L3 network {name}",
                 "三层网络 {name} 的网络服务 {services}"),
    "image_file": ("made a blank {fmt} image file {path} ({size} bytes)",
                   "已生成空白 {fmt} 镜像文件 {path}（{size} 字节）"),
    "image_file_failed": ("cannot make the image file {path}: {reason}",
                          "无法生成镜像文件 {path}：{reason}"),
    "stopped": ("{source}: deployment stopped; created before it: {done}",
                "{source}：部署已停止；此前已创建：{done}"),
    "stopped_nothing": ("{source}: deployment stopped; nothing was created before it",
                        "{source}：部署已停止；此前未创建任何资源"),
    "summary": ("{source}: {created} created, {updated} updated, {unchanged} unchanged",
                "{source}：新建 {created}，更新 {updated}，未变 {unchanged}"),
    "a_list": ("a list", "列表"),
    "a_mapping": ("a mapping", "映射"),
    "bad_combination": ("-d deploys a file: it takes no command and no -f",
                        "-d 用于部署文件：不能同时指定命令或 -f"),
}


def say(message_id, **values):
    en, zh = MESSAGES[message_id]
    text = zh if lang() == "zh" else en
    return text.format(**values) if values else text


def label(kind):
    return text_of(kind.label)


def shown(value):
    """A value of the file quoted back: short, one line, its YAML type visible."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return say("a_list") if isinstance(value, list) else say("a_mapping")
    plain = isinstance(value, str) and getattr(value, "typed", None) is not None
    text = repr(value) if isinstance(value, str) and not plain else str(value)
    return text if len(text) <= 80 else text[:77] + "..."
