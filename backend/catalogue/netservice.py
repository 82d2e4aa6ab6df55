"""Network service providers and the services they give L3 networks (SPEC §9)."""

from .common import CREATE_DATE, DESCRIPTION, LAST_OP_DATE, NAME, UUID, uuid_param
from .model import Api, Field, Param, Relation, Resource, TagPattern, Text, query_api

TAG_PATTERNS = (
    # Where the Flat DHCP server of an L3 network answers (one address of its range).
    TagPattern("flatNetwork::DhcpServer::{ip}::ipUuid::{ipUuid}", "L3NetworkVO", inherent=True),
)

RESOURCES = (
    Resource("NetworkServiceProviderVO", (UUID, NAME, DESCRIPTION, Field("type"), CREATE_DATE,
                                          LAST_OP_DATE),
             relations=(Relation("networkServiceTypes", "NetworkServiceTypeVO", "uuid",
                                 "networkServiceProviderUuid", pluck="type"),),
             label="type", columns=("uuid", "name", "type", "networkServiceTypes"), tags=False),
    Resource("NetworkServiceTypeVO", (Field("networkServiceProviderUuid"), Field("type")),
             label="type", tags=False),
    Resource("NetworkServiceL3NetworkRefVO", (Field("l3NetworkUuid"),
                                              Field("networkServiceProviderUuid"),
                                              Field("networkServiceType"), CREATE_DATE),
             relations=(Relation("l3Network", "L3NetworkVO", "l3NetworkUuid", "uuid",
                                 many=False),
                        Relation("networkServiceProvider", "NetworkServiceProviderVO",
                                 "networkServiceProviderUuid", "uuid", many=False)),
             label="networkServiceType", tags=False,
             columns=("l3NetworkUuid", "networkServiceType", "networkServiceProviderUuid")),
)

_SERVICES = Param("networkServices", "map", required=True,
                  doc=Text("provider uuid or type -> service types, e.g. "
                           "{'Flat':['DHCP','Userdata']}",
                           "服务提供者UUID或类型 -> 服务类型，如 {'Flat':['DHCP','Userdata']}"))

APIS = (
    query_api("QueryNetworkServiceProvider", "NetworkServiceProviderVO", "l3Network",
              Text("Query network service providers", "查询网络服务提供者"),
              example="QueryNetworkServiceProvider type=Flat"),
    query_api("QueryNetworkServiceL3NetworkRef", "NetworkServiceL3NetworkRefVO", "l3Network",
              Text("Query which services each L3 network has", "查询三层网络的网络服务"),
              example="QueryNetworkServiceL3NetworkRef l3NetworkUuid=<l3Uuid>"),
    Api("AttachNetworkServiceToL3Network", "l3Network", "netservice:attach",
        (uuid_param("l3NetworkUuid", "L3NetworkVO"), _SERVICES),
        doc=Text("Give an L3 network services of providers (Flat DHCP, Userdata...)",
                 "为三层网络添加网络服务（扁平网络 DHCP、Userdata 等）"), resource="L3NetworkVO",
        example="AttachNetworkServiceToL3Network l3NetworkUuid=<l3Uuid> "
                "networkServices=\"{'Flat':['DHCP','Userdata']}\""),
    Api("DetachNetworkServiceFromL3Network", "l3Network", "netservice:detach",
        (uuid_param("l3NetworkUuid", "L3NetworkVO"), _SERVICES),
        doc=Text("Take network services away from an L3 network", "移除三层网络的网络服务"),
        resource="L3NetworkVO",
        example="DetachNetworkServiceFromL3Network l3NetworkUuid=<l3Uuid> "
                "networkServices=\"{'Flat':['Userdata']}\""),
)
