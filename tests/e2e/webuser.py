"""A person using the pages through HTTP (forms, CSRF tokens, the session cookie)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import httpx

from api.web.passwords import hash_password
from tests.e2e.conftest import Api

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@lru_cache(maxsize=1)
def password_hash() -> str:
    return hash_password(PASSWORD)


def give_login(api: Api, *people: str, admin: bool | None = None) -> None:
    for person in people:
        api.system.app.set_password_hash(
            person, password_hash(), actor="admin", now=api.clock(), admin=admin
        )


class WebUser:
    def __init__(self, api: Api, person: str | None = None) -> None:
        self.api = api
        self.client = httpx.Client(base_url=api.base_url, timeout=60, follow_redirects=False)
        self.person = person
        self.token = ""

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.get(path, **kwargs)
        found = CSRF.search(response.text) if response.status_code < 500 else None
        if found:
            self.token = found.group(1)
        return response

    def login(self, person: str | None = None, password: str = PASSWORD) -> httpx.Response:
        person = person or self.person
        assert person is not None
        if not self.token:
            self.get("/login")
        return self.client.post(
            "/login", data={"csrf_token": self.token, "person": person, "password": password}
        )

    def signed_in(self) -> WebUser:
        response = self.login()
        assert response.status_code == 303, response.text
        self.get(response.headers["location"])
        return self

    def post(
        self, path: str, data: dict[str, Any] | None = None, csrf: bool = True, **kwargs: Any
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.token
        return self.client.post(path, data=form, **kwargs)
