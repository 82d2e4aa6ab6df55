"""Accounts and sessions (SPEC §6)."""

from .common import CREATE_DATE, DESCRIPTION, LAST_OP_DATE, NAME, UUID, uuid_param
from .model import Api, Field, Param, Resource, Text, query_api

RESOURCES = (
    Resource("AccountVO", (UUID, NAME, DESCRIPTION, Field("type"), CREATE_DATE, LAST_OP_DATE),
             columns=("uuid", "name", "type", "description", "createDate")),
    Resource("SessionVO", (UUID, Field("accountUuid"), Field("userUuid"),
                           Field("expiredDate", "date"), CREATE_DATE),
             label="accountUuid", tags=False),
)

APIS = (
    Api("LogInByAccount", "identity", "identity:log_in",
        (Param("accountName", required=True, doc=Text("account name", "账户名")),
         Param("password", required=True, secret=True, doc=Text("password", "密码"))),
        doc=Text("Log in and open a session", "登录并创建会话"), resource="SessionVO",
        example="LogInByAccount accountName=admin password=password", login=False),
    Api("LogOut", "identity", "identity:log_out",
        (Param("sessionUuid", "uuid", doc=Text("session to close (default: the current one)",
                                               "要关闭的会话（默认为当前会话）")),),
        doc=Text("Close a session", "退出会话"), reply="empty", example="LogOut", login=False),
    Api("UpdateAccount", "identity", "identity:update_account",
        (uuid_param(resource="AccountVO"),
         # Never empty: LogInByAccount could then no longer name the account or its password.
         Param("password", secret=True, max_length=255, min_length=1,
               doc=Text("new password", "新密码")),
         Param("name", max_length=255, min_length=1, doc=Text("new name", "新名称")),
         Param("description", max_length=2048, doc=Text("description", "描述"))),
        doc=Text("Change an account's password, name or description", "修改账户的密码、名称或描述"),
        resource="AccountVO", example="UpdateAccount uuid=<accountUuid> password=newpass"),
    query_api("QueryAccount", "AccountVO", "identity", Text("Query accounts", "查询账户"),
              example="QueryAccount name=admin"),
)
