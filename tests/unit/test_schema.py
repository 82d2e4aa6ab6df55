"""The schema the migrations build holds every inventory field the catalogue names."""

from backend.catalogue import RESOURCES


def test_every_inventory_field_has_a_column(backend):
    backend.call("QueryZone")          # migrates the fresh store
    store = backend.store
    for resource in RESOURCES.values():
        columns = {row[1] for row in store.rows(f'PRAGMA table_info("{resource.name}")')}
        assert columns, f"no table {resource.name}"
        missing = set(resource.fields) - columns
        assert not missing, f"{resource.name} lacks columns {missing}"


def test_every_query_api_runs_on_an_empty_store(backend):
    from backend.catalogue import APIS

    for api in APIS.values():
        if api.query:
            reply = backend.call(api.name, {})
            assert reply["success"], (api.name, reply)


def test_every_api_has_its_handler():
    import importlib

    from backend.catalogue import APIS

    for api in APIS.values():
        module, _, function = api.handler.partition(":")
        handler = getattr(importlib.import_module(f"backend.services.{module}"), function, None)
        assert callable(handler), f"{api.name}: no handler {api.handler}"


def test_vm_state_rules_name_real_apis():
    from backend.catalogue import APIS
    from backend.catalogue.vm import VM_STATES, VM_STATES_ALLOWED

    for name, states in VM_STATES_ALLOWED.items():
        assert name in APIS, name
        assert set(states) <= set(VM_STATES), name
