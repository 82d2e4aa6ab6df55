"""Messages of the API door, validation, the store, queries, identity, tags,
global configs and the helpers every service shares."""

ZH = {
    # validation.py: a value outside its declared bounds
    "{name} must be between {least} and {most}, not {value}":
        "{name} 必须在 {least} 到 {most} 之间，而不是 {value}",
    "{name} must be at least {least}, but {value} bytes found":
        "{name} 至少为 {least}，实际为 {value} 字节",
    "{name} must be at least {least}, but {value} found": "{name} 至少为 {least}，实际为 {value}",
    # api.py, errors.py, store
    "unknown API[{name}]": "未知的 API[{name}]",
    "the database {path} can not be used ({error}); it may be damaged: restore a backup "
    "(zstack.db.v<N>.bak) or move it away":
        "数据库 {path} 无法使用（{error}），可能已损坏：请恢复备份（zstack.db.v<N>.bak）或将其移走",
    "internal error in {name}: {error_type}: {error}": "{name} 发生内部错误：{error_type}：{error}",
    "invalid field[{field}], resource[uuid:{uuid}, type:{type}] not found":
        "字段[{field}]无效，找不到资源[uuid:{uuid}, type:{type}]",
    "database error: {error}": "数据库错误：{error}",
    "timeout waiting for the database lock held by another process":
        "等待其他进程持有的数据库锁超时",
    "the database {path} was written by a newer version (schema {version}, this version knows "
    "{latest}); upgrade zstack-cli":
        "数据库 {path} 由更新的版本写入（schema {version}，当前版本只支持到 {latest}）；"
        "请升级 zstack-cli",
    # validation.py
    "unknown parameter[{unknown}] of message[{message}]; valid parameters are [{params}]":
        "消息[{message}]没有参数[{unknown}]；有效参数为 [{params}]",
    "field[{name}] of message[{message}] is mandatory, can not be null":
        "消息[{message}]的字段[{name}]为必填项，不能为空",
    "field[{name}] of message[{message}] exceeds the max length of string. expected was <= "
    "{max_length}, actual was {count}":
        "消息[{message}]的字段[{name}]超过字符串最大长度：应不超过 {max_length}，实际为 {count}",
    "field[{name}] of message[{message}] less than the min length of string. expected was >= "
    "{min_length}, actual was {count}":
        "消息[{message}]的字段[{name}]小于字符串最小长度：应不少于 {min_length}，实际为 {count}",
    "field[{name}] of message[{message}] must be {expected}, but {value} found":
        "消息[{message}]的字段[{name}]必须是{expected}，实际为 {value}",
    "an integer": "整数",
    "a number": "数字",
    "field[{name}] of message[{message}] is out of range: {value}":
        "消息[{message}]的字段[{name}]超出范围：{value}",
    "field[{name}] of message[{message}] must be true or false, but {value} found":
        "消息[{message}]的字段[{name}]必须是 true 或 false，实际为 {value}",
    "field[{name}] of message[{message}] must be a map":
        "消息[{message}]的字段[{name}]必须是映射（map）",
    "field[{name}] of message[{message}] is not valid UTF-8 text":
        "消息[{message}]的字段[{name}]不是有效的 UTF-8 文本",
    "valid value for field[{name}] of message[{message}] are [{choices}], but {value} found":
        "消息[{message}]的字段[{name}]的有效值为 [{choices}]，实际为 {value}",
    "field[{name}] of message[{message}] is not a valid uuid: {value} (32 lowercase "
    "hexadecimal characters expected)":
        "消息[{message}]的字段[{name}]不是有效的 UUID：{value}（应为 32 个小写十六进制字符）",
    "field[{name}] of message[{message}] must be a size in bytes or with a unit (K, M, G, T), "
    "but {value} found":
        "消息[{message}]的字段[{name}]必须是字节数或带单位（K、M、G、T）的大小，实际为 {value}",
    # store/query.py, services/query.py
    "unknown field[{name}] for {api_name}; valid fields are [{valid}]":
        "{api_name} 没有字段[{name}]；有效字段为 [{valid}]",
    "limit and start must not be negative": "limit 和 start 不能为负数",
    "the value[{raw}] of field[{name}] is not a boolean (true|false)":
        "字段[{name}]的值[{raw}]不是布尔值（true|false）",
    "the query condition[{name}{op}] has no value": "查询条件[{name}{op}]缺少值",
    "the value[{raw}] of field[{name}] is not a number": "字段[{name}]的值[{raw}]不是数字",
    "invalid query condition[{c}]: expected name, op (one of {operators}) and value":
        "查询条件[{c}]无效：应为字段名、运算符（{operators} 之一）和值",
    "invalid query condition[{name}]: not valid UTF-8 text":
        "查询条件[{name}]无效：不是有效的 UTF-8 文本",
    # identity.py
    "wrong account name or password": "账户名或密码错误",
    "Session expired or not found: {uuid}; log in again with LogInByAccount":
        "会话已过期或不存在：{uuid}；请用 LogInByAccount 重新登录",
    "a session is required: log in with LogInByAccount": "需要会话：请用 LogInByAccount 登录",
    # config.py
    "{raw} is not a valid value. Valid values are [{choices}]":
        "{raw} 不是有效值。有效值为 [{choices}]",
    "Unable to find GlobalConfig[category: {category}, name: {name}]":
        "找不到全局配置 GlobalConfig[category: {category}, name: {name}]",
    "{raw} is less than the minimum value {minimum}": "{raw} 小于最小值 {minimum}",
    "{raw} is not a valid integer": "{raw} 不是有效的整数",
    # tag.py, tags.py, catalogue/tag.py
    "no resource type[{resource_type}] found in tag system":
        "标签系统中没有资源类型[{resource_type}]",
    "no resource[uuid:{resource_uuid}, type:{resource_type}] found; the uuid does not name a "
    "{resource_type}":
        "找不到资源[uuid:{resource_uuid}, type:{resource_type}]；该 UUID 不是 {resource_type}",
    "tag[uuid:{uuid}] is an inherent system tag, can not be updated":
        "标签[uuid:{uuid}]是固有系统标签，不能修改",
    "tag[uuid:{uuid}] is an inherent system tag, can not be removed":
        "标签[uuid:{uuid}]是固有系统标签，不能删除",
    "no system tag matches[{tag}] for resourceType[{resource_type}]":
        "resourceType[{resource_type}]没有与[{tag}]匹配的系统标签",
    "tag[{tag}] is an inherent system tag, only the system can create it":
        "标签[{tag}]是固有系统标签，只能由系统创建",
    "invalid capacity[{value}], it must be a number optionally ending in K, M, G or T":
        "容量[{value}]无效：必须是数字，可以 K、M、G 或 T 结尾",
    # common.py
    "resource[uuid:{uuid}, type:{resource_name}] already exists":
        "资源[uuid:{uuid}, type:{resource_name}]已存在",
    "{short}[uuid:{uuid}, name:{name}] is still used by {count} {label}(s) [{names}]; delete "
    "them first, or use deleteMode=Enforcing to delete them too":
        "{short}[uuid:{uuid}, name:{name}]仍被 {count} 个{label}使用 [{names}]；请先删除它们，"
        "或使用 deleteMode=Enforcing 一并删除",
    # what a resource is used by (the {label} above)
    "cluster": "集群",
    "host": "物理机",
    "L2 network": "二层网络",
    "L3 network": "三层网络",
    "primary storage": "主存储",
    "volume": "云盘",
    "VM": "云主机",
}
