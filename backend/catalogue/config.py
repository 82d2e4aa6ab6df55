"""Global configuration: the declared options and their APIs (SPEC §8)."""

from .common import CREATE_DATE, LAST_OP_DATE
from .model import Api, Field, Param, Resource, Text, query_api


class ConfigOption:
    """A global config option: its default and what values it accepts."""

    __slots__ = ("category", "name", "default", "choices", "type", "minimum", "doc")

    def __init__(self, category, name, default, doc, choices=(), type="str", minimum=None):
        self.category = category
        self.name = name
        self.default = default
        self.choices = tuple(choices)
        self.type = type
        self.minimum = minimum
        self.doc = doc


OPTIONS = (
    ConfigOption("kvm", "vm.consoleMode", "vnc",
                 Text("graphical console protocol of VMs started from now on",
                      "之后启动的云主机使用的图形终端协议"), choices=("vnc", "spice")),
    ConfigOption("vm", "uniqueVmName", "false",
                 Text("refuse two VMs with the same name", "禁止云主机重名"),
                 choices=("true", "false")),
    ConfigOption("l3Network", "ipAllocateStrategy", "RandomIpAllocatorStrategy",
                 Text("how IP addresses are picked from a range", "从IP段中分配地址的策略"),
                 choices=("RandomIpAllocatorStrategy", "FirstAvailableIpAllocatorStrategy")),
    ConfigOption("identity", "session.timeout", "7200",
                 Text("seconds a login session stays valid", "会话有效时间（秒）"),
                 type="int", minimum=1),
    ConfigOption("identity", "session.maxConcurrent", "500",
                 Text("most sessions one account may hold at once", "每个账户可同时持有的会话数"),
                 type="int", minimum=1),
)

RESOURCES = (
    Resource("GlobalConfigVO", (Field("category"), Field("name"), Field("description"),
                                Field("defaultValue"), Field("value"), CREATE_DATE, LAST_OP_DATE),
             label="value", key="name",
             columns=("category", "name", "value", "defaultValue", "description"), tags=False),
)

APIS = (
    query_api("QueryGlobalConfig", "GlobalConfigVO", "config",
              Text("Query global configuration", "查询全局配置"),
              example="QueryGlobalConfig category=kvm"),
    Api("UpdateGlobalConfig", "config", "config:update_global_config",
        (Param("category", required=True, values=("configCategory",),
               doc=Text("config category", "配置类别")),
         Param("name", required=True, values=("configName", "category"),
               doc=Text("config name", "配置名称")),
         Param("value", required=True, values=("configValue", "category", "name"),
               doc=Text("new value", "新的值"))),
        doc=Text("Change a global configuration value", "修改全局配置"),
        resource="GlobalConfigVO",
        example="UpdateGlobalConfig category=kvm name=vm.consoleMode value=spice"),
)
