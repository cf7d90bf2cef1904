"""Every API route checks a role: 401 without a valid token, 403 for each role not admitted."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from gateway.api import create_app
from gateway.api.deps import Gateway
from gateway.config import GatewayConfig
from gateway.services.security.auth import ROLES, Auth, token_hash
from gateway.services.events.ingest import IngestMetrics
from gateway.services.events.live import LiveFeed
from gateway.services.security.secrets import GatewaySecrets
from gateway.services.devices.registry import add_site
from gateway.storage import Store
from stack import PASSWORD, Stack, sql
from wire.bundle import load_bundle
from wire.events import utc_text
from wire.updates import device_request_signature


def declared_routes(tmp_path_factory) -> list[tuple[str, str, tuple[str, ...] | None]]:
    """(method, path, roles) for every route of the app; roles None for the public login."""
    config = GatewayConfig(db=str(tmp_path_factory.mktemp("routes") / "g.db"))
    store = Store.open(config.db)
    app = create_app(Gateway(config, store, Auth(store), LiveFeed(), IngestMetrics(), GatewaySecrets(config.secrets_dir)))
    routes = []
    for context in iter_route_contexts(app.routes):  # included routers' routes too
        route = context.original_route
        if not isinstance(route, APIRoute) or not context.path.startswith(("/api/", "/metrics")):
            continue  # pages are shells; their data comes from these routes (tests/test_pages.py)
        roles = [getattr(d.call, "roles", None) for d in route.dependant.dependencies]
        roles = next((r for r in roles if r), None)
        assert roles or getattr(route.endpoint, "public", False), f"{route.path} declares no roles"
        for method in route.methods:
            path = context.path.replace("{event_id}", "01a20000-0000-7000-8000-000000000000")
            routes.append((method, re.sub(r"\{[a-z_]+\}", "nobody", path), roles))
    return routes


@pytest.fixture(scope="module")
def stack(tmp_path_factory, new_db):
    s = Stack.create(tmp_path_factory.mktemp("auth"), new_db("auth"))
    # A kiosk's own login, bound to its kiosk -- named as the routes' placeholder, so that its own routes admit it.
    s.add_device("nobody", kind="kiosk")
    Auth(s.store).add_user("kiosk-1", "kiosk", PASSWORD, device="nobody")
    # A site's ticketing system, bound to a site named as the placeholder too.
    add_site(s.store, "nobody")
    Auth(s.store).add_user("ticketing-1", "ticketing", PASSWORD, site="nobody")
    # A device that signs its requests for update files (not named as the placeholder: the routes revoke "nobody").
    s.add_device("signer", "site-a")
    yield s
    s.close()


@pytest.fixture(scope="module")
def routes(tmp_path_factory):
    return declared_routes(tmp_path_factory)


def call(stack: Stack, method: str, path: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # Stream so the live event stream answers with its status without being read to the end.
    with stack.gateway.http.stream(method, stack.gateway.base_url + path, headers=headers, timeout=10,
                                   json={} if method == "POST" else None) as r:
        return r.status_code


def login(stack, role: str) -> str:
    r = stack.gateway.http.post(stack.gateway.base_url + "/api/auth/token",
                                json={"username": f"{role}-1", "password": PASSWORD})
    r.raise_for_status()
    return r.json()["access_token"]


@pytest.mark.backends("sqlite")  # roles are checked before any query: the routes' table, not the database
def test_every_route_refuses_missing_and_bad_tokens(stack, routes):
    protected = [(m, p) for m, p, roles in routes if roles]
    assert len(protected) >= 7
    for method, path in protected:
        assert call(stack, method, path, None) == 401, path
        assert call(stack, method, path, "not-a-token") == 401, path


@pytest.mark.backends("sqlite")  # roles are checked before any query: the routes' table, not the database
def test_every_route_admits_exactly_its_roles(stack, routes):
    for method, path, roles in routes:
        if not roles:
            continue
        if roles == ("device",):  # a device's signed request (wire/updates.py): no user's login opens it
            for role in ROLES:
                assert call(stack, method, path, stack.token(role)) == 401, f"{role} admitted to {path}"
            signed = device_request_signature(load_bundle(stack.devices["signer"]).device_key(), "signer", method,
                                              path)
            with httpx.stream(method, stack.gateway.base_url + path, headers={"Authorization": signed}) as r:
                assert r.status_code not in (401, 403), f"the device refused on {path}"
            continue
        for role in ROLES:
            # Logging out revokes the token it is called with: give it one of its own.
            token = login(stack, role) if path == "/api/auth/logout" else stack.token(role)
            status = call(stack, method, path, token)
            if role in roles:
                assert status not in (401, 403), f"{role} refused on {path}"
            else:
                assert status == 403, f"{role} admitted to {path}"


def test_login_needs_the_right_password_and_tokens_expire(stack, tmp_path):
    url = stack.gateway.base_url + "/api/auth/token"
    assert httpx.post(url, json={"username": "admin-1", "password": "wrong-password"}).status_code == 401
    assert httpx.post(url, json={"username": "nobody", "password": PASSWORD}).status_code == 401
    assert httpx.post(url, json={"username": "admin-1"}).status_code == 422
    # An expired token is refused (the expiry is checked against the stored time, not trusted from the client).
    auth = Auth(stack.store, token_ttl_s=-1)
    token, _ = asyncio.run(auth.login("operator-1", PASSWORD, "test"))
    assert call(stack, "GET", "/api/me", token) == 401
    fresh = asyncio.run(Auth(stack.store).login("operator-1", PASSWORD, "test"))[0]
    assert httpx.get(stack.gateway.base_url + "/api/me", headers={"Authorization": f"Bearer {fresh}"}).json() == {
        "name": "operator-1", "role": "operator", "language": "vi", "time_zone": "Asia/Ho_Chi_Minh"}  # the defaults


def test_a_session_left_unused_ends_after_its_roles_idle_limit_and_one_in_use_goes_on(stack):
    """Defaults: an admin's session ends after 30 min unused, an operator's lasts a 12 h shift unused."""
    admin, operator = login(stack, "admin"), login(stack, "operator")  # their own: the stack's stay usable

    def unused_for(token: str, minutes: float) -> None:
        at = utc_text(datetime.now(timezone.utc) - timedelta(minutes=minutes))
        sql(stack, "UPDATE tokens SET used_at = ? WHERE hash = ?", at, token_hash(token))

    unused_for(admin, 31)
    unused_for(operator, 11 * 60)
    assert call(stack, "GET", "/api/me", admin) == 401
    assert call(stack, "GET", "/api/me", operator) == 200
    # That call was use: the operator's clock starts again, so another 11 h unused still leaves it alive ...
    used_at = sql(stack, "SELECT used_at FROM tokens WHERE hash = ?", token_hash(operator))[0][0]
    assert datetime.now(timezone.utc) - datetime.fromisoformat(used_at.replace("Z", "+00:00")) < timedelta(minutes=1)
    unused_for(operator, 11 * 60)
    assert call(stack, "GET", "/api/me", operator) == 200
    unused_for(operator, 12 * 60 + 1)  # ... and a whole shift unused ends it
    assert call(stack, "GET", "/api/me", operator) == 401

    # A page refreshing itself (the gate's device list every 10 s) is not use: it does not keep a session alive.
    supervisor = login(stack, "supervisor")
    unused_for(supervisor, 119)
    background = {"Authorization": f"Bearer {supervisor}", "X-FaceGate-Background": "1"}
    assert httpx.get(stack.gateway.base_url + "/api/devices", headers=background).status_code == 200
    used_at = sql(stack, "SELECT used_at FROM tokens WHERE hash = ?", token_hash(supervisor))[0][0]
    unused = datetime.now(timezone.utc) - datetime.fromisoformat(used_at.replace("Z", "+00:00"))
    assert unused > timedelta(minutes=118)  # still 119 minutes unused: two more and the session is over


def test_passwords_are_stored_as_argon2id_hashes(stack):
    stored = stack.store.users.get("admin-1").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert "m=65536" in stored  # 64 MiB: memory-hard


def test_each_user_reads_the_api_in_the_language_they_chose(stack):
    """Vietnamese unless asked otherwise: by the client's Accept-Language, or once and for all by the user."""
    asyncio.run(asyncio.to_thread(Auth(stack.store).add_user, "linh", "admin", PASSWORD))
    token = httpx.post(stack.gateway.base_url + "/api/auth/token", json={"username": "linh", "password": PASSWORD}).json()[
        "access_token"]
    url, me = stack.gateway.base_url, {"Authorization": f"Bearer {token}"}

    def withdraw(**headers) -> str:
        r = httpx.post(url + "/api/subjects/nobody/withdraw", json={}, headers=me | headers)
        assert r.status_code == 404
        return r.json()["detail"]

    assert withdraw() == "không có người 'nobody'"  # the gateway's default language
    assert withdraw(**{"Accept-Language": "en-GB,en;q=0.9"}) == "no subject 'nobody'"
    assert httpx.put(url + "/api/me/language", json={"language": "fr"}, headers=me).status_code == 422
    assert httpx.put(url + "/api/me/language", json={"language": "en"}, headers=me).status_code == 204
    assert httpx.get(url + "/api/me", headers=me).json()["language"] == "en"
    assert withdraw(**{"Accept-Language": "vi"}) == "no subject 'nobody'"  # the user's own choice comes first
    missing = httpx.post(url + "/api/exam/flags/nobody/review", json={"decision": "confirmed", "note": " "},
                         headers=me).json()["detail"]
    assert [(d["loc"][-1], d["msg"]) for d in missing] == [("note", "must not be empty")]  # a field's problem in words
    changes = stack.get("/api/audit", role="auditor", action="user.language", target="linh").json()
    assert [(e["actor"], e["detail"]) for e in changes] == [("user:linh", {"language": "en"})]


def test_the_last_admin_stays_an_admin_and_a_changed_user_logs_in_again(stack):
    admins = [u["name"] for u in stack.get("/api/users").json() if u["role"] == "admin" and not u["disabled"]]
    for name in admins[1:]:  # only admin-1 left who can log in
        assert httpx.patch(f"{stack.gateway.base_url}/api/users/{name}", json={"disabled": True},
                           headers={"Authorization": f"Bearer {stack.token('admin')}"}).status_code == 200
    r = httpx.patch(f"{stack.gateway.base_url}/api/users/admin-1", json={"role": "operator"},
                    headers={"Authorization": f"Bearer {stack.token('admin')}", "Accept-Language": "en"})
    assert r.status_code == 409 and "last admin" in r.json()["detail"]
    assert all("password" not in u and "password_hash" not in u for u in stack.get("/api/users").json())
    token = httpx.post(stack.gateway.base_url + "/api/auth/token",
                       json={"username": "auditor-1", "password": PASSWORD}).json()["access_token"]
    r = httpx.patch(f"{stack.gateway.base_url}/api/users/auditor-1", json={"password": "x" * 9},
                    headers={"Authorization": f"Bearer {stack.token('admin')}"})
    assert r.status_code == 422  # too short: nothing changed, the session lives on
    assert httpx.get(stack.gateway.base_url + "/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    r = httpx.patch(f"{stack.gateway.base_url}/api/users/auditor-1", json={"password": PASSWORD},
                    headers={"Authorization": f"Bearer {stack.token('admin')}"})
    assert r.status_code == 200  # the same password, set anew: still a reset, every session ends
    assert httpx.get(stack.gateway.base_url + "/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    stack._tokens.pop("auditor", None)
    for name in admins[1:]:
        httpx.patch(f"{stack.gateway.base_url}/api/users/{name}", json={"disabled": False},
                    headers={"Authorization": f"Bearer {stack.token('admin')}"})
