"""The shell's user-facing sentences in English and Simplified Chinese (SPEC §13).

``t(key, **values)`` returns the sentence in the chosen language; English is
the fallback. The language comes from ``--lang``, then ``ZSTACK_LANG``, then
the locale: the rule is backend.i18n.resolve, shared with the backend.
"""

import os

from backend.i18n import resolve

MESSAGES = {
    "banner": ("zstack-cli {version}: a ZStack shell on the embedded backend at {home}.\n"
               "Type 'help' for commands, Tab to complete, Ctrl-D to exit.",
               "zstack-cli {version}：嵌入式后端位于 {home}。\n"
               "输入 'help' 查看命令，Tab 键补全，Ctrl-D 退出。"),
    "unknown_command": ("unknown command[{verb}]", "未知命令[{verb}]"),
    "did_you_mean": ("did you mean {choices}?", "您是否想输入 {choices}？"),
    "hint_joint": ("; ", "；"),
    "or": (" or ", " 或 "),
    "unterminated": ("unterminated quote: the {quote} is never closed",
                     "引号未闭合：{quote} 没有对应的结束引号"),
    "unterminated_at": ("unterminated quote: the {quote} opened on line {line} is never closed",
                        "引号未闭合：第 {line} 行开始的 {quote} 没有对应的结束引号"),
    "bad_verb": ("invalid command name[{verb}]: a command name is a letter followed by "
                 "letters, digits or _",
                 "无效的命令名[{verb}]：命令名以字母开头，后接字母、数字或 _"),
    # The text of classic zstack-cli, which scripts and operators recognise.
    "no_equals": ('Invalid parameter[{token}], the parameter must be split by "="',
                  '无效参数[{token}]，参数必须用 "=" 分隔'),
    "bad_map": ("invalid map[{value}]: expected JSON or a Python dict literal, "
                "e.g. {{'Flat':['DHCP','Userdata']}}",
                "无效的映射[{value}]：应为 JSON 或 Python 字典字面量，"
                "例如 {{'Flat':['DHCP','Userdata']}}"),
    "no_file_name": ("cannot read file[]: no file name after @", "无法读取文件[]：@ 后没有文件名"),
    "cannot_read_file": ("cannot read file[{path}]: {reason}", "无法读取文件[{path}]：{reason}"),
    "not_utf8": ("not UTF-8 text", "不是 UTF-8 文本"),
    "unknown_param": ("unknown parameter[{key}] for {verb}; valid parameters are [{valid}]",
                      "{verb} 没有参数[{key}]；有效参数为 [{valid}]"),
    "line_prefix": ("line {line}: {message}", "第 {line} 行：{message}"),
    "cannot_open": ("cannot read {path}: {reason}", "无法读取 {path}：{reason}"),
    "interrupted": ("interrupted", "已中断"),
    "internal_error": ("internal error: {error} (details in $ZSTACK_HOME/logs/cli.log)",
                       "内部错误：{error}（详见 $ZSTACK_HOME/logs/cli.log）"),
    "bye": ("bye", "再见"),
    "finishing": ("finishing {what} before leaving", "退出前正在完成{what}"),
    "no_results": ("no earlier result to show", "没有可显示的历史结果"),
    "no_result_n": ("no result number {n}; there are {count}", "没有第 {n} 个结果；共有 {count} 个"),
    "output_set": ("output format is now {fmt}", "输出格式已设为 {fmt}"),
    "builtin_usage": ("usage: {usage}", "用法：{usage}"),
    "set_usage": ("usage: set output json|table|yaml|text", "用法：set output json|table|yaml|text"),
    "help_usage": (
        "Usage: Verb key=value ...   e.g. CreateZone name=zone1\n"
        "  Values with spaces go in quotes: name=\"my zone\". A list is a,b,c (\\, is a comma).\n"
        "  key=@file reads a value from a file (key=@@x is the text @x);\n"
        "  a line ending in \\ continues on the next.\n"
        "Query APIs take conditions: f=v f!=v f>v f<v f>=v f<=v f?=a,b (in) f!?=a,b (not in)\n"
        "  f~=v (like; % and _ are wildcards) f!~=v, nested fields (cluster.name=c1),\n"
        "  __systemTag__~=v, __userTag__=v, and fields= limit= start= sortBy= sortDirection=\n"
        "  count=true replyWithCount=true.\n"
        "Built-ins: help [Verb], more [N], set output json|table|yaml|text, exit, quit.",
        "用法：动词 key=value ...   例如 CreateZone name=zone1\n"
        "  含空格的值请加引号：name=\"my zone\"。列表写作 a,b,c（\\, 表示逗号）。\n"
        "  key=@文件 从文件读取值（key=@@x 表示文本 @x）；以 \\ 结尾的行在下一行继续。\n"
        "查询类 API 接受条件：f=v f!=v f>v f<v f>=v f<=v f?=a,b（在其中）f!?=a,b（不在其中）\n"
        "  f~=v（模糊匹配，% 和 _ 为通配符）f!~=v、嵌套字段（cluster.name=c1）、\n"
        "  __systemTag__~=v、__userTag__=v，以及 fields= limit= start= sortBy= sortDirection=\n"
        "  count=true replyWithCount=true。\n"
        "内置命令：help [动词]、more [N]、set output json|table|yaml|text、exit、quit。"),
    "help_apis": ("APIs by area:", "按领域分组的 API："),
    "help_params": ("Parameters:", "参数："),
    "help_query_fields": ("Query fields:", "可查询字段："),
    "help_example": ("Example:", "示例："),
    "help_vm_states": ("Allowed when the VM is:", "云主机处于以下状态时可用："),
    "required": ("required", "必填"),
    "optional": ("optional", "可选"),
    "default": ("default", "默认"),
    "choices": ("one of", "可选值"),
    "uuid_of": ("uuid of {resource}", "{resource} 的 UUID"),
    "list_of": ("list", "列表"),
    "session_dropped": ("the stored session is no longer valid and was dropped; log in again",
                        "保存的会话已失效并被清除；请重新登录"),
    # The interactive shell's bottom toolbar.
    "toolbar_output": ("output", "输出格式"),
    "toolbar_account": ("account", "账户"),
    "toolbar_behind": ("writing to disk: {count} migrated volume(s)",
                       "正在落盘：{count} 个迁移的云盘"),
    "toolbar_no_account": ("(not logged in)", "（未登录）"),
    "toolbar_help": ("help {verb} for more", "输入 help {verb} 查看详情"),
    "toolbar_keys": ("Tab completes, Ctrl-R searches history, Ctrl-D exits",
                     "Tab 补全，Ctrl-R 搜索历史，Ctrl-D 退出"),
    "history_unavailable": ("history is not saved: {reason}", "历史记录无法保存：{reason}"),
    # -o table
    "table_total": ("total: {total}", "总数：{total}"),
    "table_no_rows": ("(0 rows)", "（0 行）"),
    "table_success": ("success", "成功"),
}

_lang = None


def choose(explicit=None):
    """Fix the language for this process. An explicit choice (``--lang``) goes
    into ``ZSTACK_LANG`` too, so the backend answers in the same language."""
    global _lang
    if explicit:
        os.environ["ZSTACK_LANG"] = explicit
    _lang = resolve(explicit)
    return _lang


def lang():
    return _lang or choose()


def t(message_id, **values):
    en, zh = MESSAGES[message_id]
    text = zh if lang() == "zh" and zh else en
    return text.format(**values) if values else text


def text_of(doc):
    """A catalogue Text in the chosen language."""
    return "" if doc is None else doc.get(lang())
