"""Error answers: one exception the routes raise, turned into JSON by the app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from schemas.validation import Problem


class ApiError(Exception):
    """An answer other than success: a status, a JSON body and optional headers."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def detail(status: int, text: str, headers: dict[str, str] | None = None) -> ApiError:
    """``{"detail": text}``: the shape of every non-422 error."""
    return ApiError(status, {"detail": text}, headers)


def invalid(problems: Iterable[Problem], prefix: tuple[str | int, ...] = ("body",)) -> ApiError:
    """422 in the documented HTTPValidationError shape, one item per problem."""
    return ApiError(422, {"detail": [p.as_dict(prefix=prefix) for p in problems]})


def invalid_at(location: list[str | int], rule: str, message: str) -> ApiError:
    return ApiError(422, {"detail": [{"loc": location, "msg": message, "type": rule}]})
