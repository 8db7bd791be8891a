"""Helpers the tests share: the test password, CSRF scraping and a login helper."""

from __future__ import annotations

import re

PASSWORD = "correct horse battery"

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html) or CSRF_META.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class AuthActions:
    """Log in and out through the real forms, CSRF token included."""

    def __init__(self, client) -> None:
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def login(self, email: str, password: str = PASSWORD, **kwargs):
        token = self.csrf("/login")
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}, **kwargs
        )

    def logout(self):
        token = self.csrf_any_page()
        return self.client.post("/logout", data={"csrf_token": token})

    def csrf_any_page(self) -> str:
        response = self.client.get("/", follow_redirects=True)
        return csrf_from(response.get_data(as_text=True))

    def post(self, path: str, data: dict | None = None, page: str | None = None, **kwargs):
        """POST with the token from `page` (default: the path itself) as the form field."""
        token = csrf_from(self.client.get(page or path).get_data(as_text=True))
        return self.client.post(path, data={**(data or {}), "csrf_token": token}, **kwargs)
