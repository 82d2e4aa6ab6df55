"""System and user tags, and the registry of system tag patterns (SPEC §8)."""

from .common import CREATE_DATE, LAST_OP_DATE, UUID, uuid_param
from ..i18n import msg
from .model import Api, Field, Param, Resource, TagPattern, Text, query_api


def _capacity(tokens):
    value = tokens.get("capacity", "")
    digits = value[:-1] if value[-1:].upper() in "KMGT" else value
    if not digits.isdigit():
        return msg("invalid capacity[{value}], it must be a number optionally ending in K, M, G "
                   "or T", value=value)
    return None


# Patterns per resource type; later areas add theirs here.
TAG_PATTERNS = (
    TagPattern("host::reservedCpu::{capacity}", "ZoneVO", _capacity),
    TagPattern("host::reservedMemory::{capacity}", "ZoneVO", _capacity),
    TagPattern("host::reservedCpu::{capacity}", "ClusterVO", _capacity),
    TagPattern("host::reservedMemory::{capacity}", "ClusterVO", _capacity),
)

_TAG_FIELDS = (UUID, Field("resourceUuid"), Field("resourceType"), Field("tag"), Field("type"),
               Field("inherent", "bool"), CREATE_DATE, LAST_OP_DATE)
_TAG_COLUMNS = ("uuid", "resourceType", "resourceUuid", "tag", "inherent", "createDate")

RESOURCES = (
    Resource("SystemTagVO", _TAG_FIELDS, label="tag", columns=_TAG_COLUMNS, tags=False),
    Resource("UserTagVO", _TAG_FIELDS, label="tag", columns=_TAG_COLUMNS, tags=False),
)

_RESOURCE_TYPE = Param("resourceType", required=True, values=("resourceTypes",),
                       doc=Text("resource type, e.g. VmInstanceVO", "资源类型，例如 VmInstanceVO"))
_RESOURCE_UUID = Param("resourceUuid", "uuid", required=True, values=("uuidOf", "resourceType"),
                       doc=Text("uuid of the tagged resource", "被打标签的资源UUID"))
_TAG_DOC = Text("the tag; name::@file reads the value from a file", "标签内容；name::@文件 从文件读取")
_TAG = Param("tag", required=True, split="tags", doc=_TAG_DOC)
_SYSTEM_TAG = Param("tag", required=True, split="tags", values=("tagPatternsOf", "resourceType"),
                    doc=_TAG_DOC)

APIS = (
    Api("CreateSystemTag", "tag", "tag:create_system_tag", (_RESOURCE_TYPE, _RESOURCE_UUID, _SYSTEM_TAG),
        doc=Text("Attach a system tag to a resource", "为资源创建系统标签"),
        resource="SystemTagVO",
        example="CreateSystemTag resourceType=ZoneVO resourceUuid=<uuid> tag=host::reservedMemory::1G"),
    Api("CreateUserTag", "tag", "tag:create_user_tag", (_RESOURCE_TYPE, _RESOURCE_UUID, _TAG),
        doc=Text("Attach a user tag to a resource", "为资源创建用户标签"), resource="UserTagVO",
        example="CreateUserTag resourceType=ZoneVO resourceUuid=<uuid> tag=production"),
    Api("UpdateSystemTag", "tag", "tag:update_system_tag",
        (uuid_param(resource="SystemTagVO"), _TAG),
        doc=Text("Change a system tag's content", "更新系统标签内容"), resource="SystemTagVO",
        example="UpdateSystemTag uuid=<tagUuid> tag=host::reservedMemory::2G"),
    Api("DeleteTag", "tag", "tag:delete_tag", (uuid_param(must_exist=False),),
        doc=Text("Delete a system or user tag", "删除系统标签或用户标签"), reply="empty",
        example="DeleteTag uuid=<tagUuid>"),
    query_api("QuerySystemTag", "SystemTagVO", "tag", Text("Query system tags", "查询系统标签"),
              example="QuerySystemTag resourceUuid=<uuid> tag~=userdata%"),
    query_api("QueryUserTag", "UserTagVO", "tag", Text("Query user tags", "查询用户标签"),
              example="QueryUserTag tag~=prod"),
)
