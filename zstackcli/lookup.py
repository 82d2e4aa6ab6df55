"""Live values for completion: uuids and names of resources, through the API.

The shell never reads the store itself: it asks the resource's Query* API
for a small, index-served page (``uuid >= prefix`` ordered by uuid, or by
name when the user types a name), so completion stays fast at 100k rows.
"""

import re

from backend.catalogue import QUERY_OF, RESOURCES

from .completion import MAX_VALUES

_HEX = re.compile(r"^[0-9a-f]*$")


class ClientValues:
    def __init__(self, client):
        self.client = client

    def uuids(self, resource, prefix, limit=MAX_VALUES):
        query = QUERY_OF.get(resource)
        res = RESOURCES.get(resource)
        if query is None or res is None or "uuid" not in res.fields:
            return []
        label = res.label if res.label in res.fields else None
        fields = ["uuid"] + ([label] if label and label != "uuid" else [])
        if not prefix:
            rows = self._query(query, fields, [], "createDate", "desc", limit)
        elif _HEX.match(prefix):
            rows = self._query(query, fields, [("uuid", ">=", prefix)], "uuid", "asc", limit)
            rows = [r for r in rows if r["uuid"].startswith(prefix)]
        else:
            rows = []
        if label and len(rows) < limit and prefix:
            # Typing a name: offer the uuids of resources whose name starts so.
            named = self._query(query, fields, [(label, ">=", prefix)], label, "asc", limit)
            rows += [r for r in named if str(r.get(label) or "").startswith(prefix)]
        return [(r["uuid"], r.get(label) if label else None) for r in rows[:limit]]

    def _query(self, query, fields, conditions, sort_by, direction, limit):
        if sort_by not in RESOURCES[_resource_of(query)].fields:
            sort_by = None
        params = {"fields": fields, "limit": limit,
                  "conditions": [{"name": n, "op": o, "value": v} for n, o, v in conditions]}
        if sort_by:
            params.update(sortBy=sort_by, sortDirection=direction)
        reply = self.client.call(query, params)
        return reply.get("inventories", []) if reply.get("success") else []


def _resource_of(query):
    from backend.catalogue import APIS

    return APIS[query].resource
