"""Parameters and fields that many declarations share, written once."""

from .model import Field, Param, Text

UUID = Field("uuid")
NAME = Field("name")
DESCRIPTION = Field("description")
CREATE_DATE = Field("createDate", "date")
LAST_OP_DATE = Field("lastOpDate", "date")


def uuid_param(name="uuid", resource=None, required=True, must_exist=True, doc=None):
    return Param(name, "uuid", required=required, resource=resource, must_exist=must_exist,
                 doc=doc or Text("uuid of the resource", "资源的UUID"))


def name_param(required=True):
    return Param("name", required=required, max_length=255, min_length=1, doc=Text("name", "名称"))


def description_param():
    return Param("description", max_length=2048, doc=Text("description", "描述"))


# Every Create*/Add* API accepts these, as in ZStack.
NEW_RESOURCE_UUID = Param("resourceUuid", "uuid",
                          doc=Text("uuid to give the new resource", "为新资源指定的UUID"))
CREATE_EXTRAS = (
    NEW_RESOURCE_UUID,
    Param("systemTags", "list", split="tags", doc=Text("system tags", "系统标签")),
    Param("userTags", "list", split="tags", doc=Text("user tags", "用户标签")),
)

DELETE_MODE = Param(
    "deleteMode", choices=("Permissive", "Enforcing"), default="Permissive",
    doc=Text("Enforcing also deletes what depends on the resource",
             "Enforcing 模式会一并删除依赖该资源的对象"))

STATES = ("Enabled", "Disabled")     # what stateEvent=enable|disable sets
STATE_EVENT = Param("stateEvent", required=True, choices=("enable", "disable"),
                    doc=Text("enable or disable", "启用或禁用"))
