"""Error answers: one exception the routes raise, turned into JSON by the app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from letta_contract_kit.schemas.loader import raw
from letta_contract_kit.schemas.validation import Problem


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


# -- the real server's 422 body (the string-422-detail and path-id-422-examples quirks) --------

PATH_ID_MESSAGE = "String should match pattern 'agent-{uuid4}'"
PATH_ID_SCHEMAS = {"agent_id": "agent-id"}
ITEM_KEY_ORDER = ("type", "loc", "msg", "input", "ctx")


def with_path_id_examples(body: dict[str, Any], path_values: dict[str, Any]) -> dict[str, Any]:
    """A 422 body whose malformed path ids read as pydantic words them, plus ``examples``.

    Items about a path id get the server's message, the value sent (``input``) and the
    pattern (``ctx``); the body gains ``examples`` (one well-formed id) when there is one.
    """
    items = body.get("detail")
    if not isinstance(items, list):
        return body
    examples: list[str] = []
    changed = []
    for item in items:
        loc = item.get("loc") or []
        name = loc[1] if len(loc) == 2 and loc[0] == "path" else None
        if name not in PATH_ID_SCHEMAS:
            changed.append(item)
            continue
        described = raw(PATH_ID_SCHEMAS[name])
        examples = [described["examples"][0]]
        changed.append(
            {
                "type": "string_pattern_mismatch",
                "loc": loc,
                "msg": PATH_ID_MESSAGE,
                "input": path_values.get(name),
                "ctx": {"pattern": described["pattern"]},
            }
        )
    answer = {**body, "detail": changed}
    if examples:
        answer["examples"] = examples
    return answer


def _as_python_item(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    ordered = {key: item[key] for key in ITEM_KEY_ORDER if key in item}
    ordered.update({k: v for k, v in item.items() if k not in ordered})
    if isinstance(ordered.get("loc"), list):
        ordered["loc"] = tuple(ordered["loc"])
    return ordered


def with_string_detail(body: dict[str, Any]) -> dict[str, Any]:
    """A 422 body as Letta 0.16.8 sends it: ``trace_id`` first, ``detail`` a Python repr."""
    items = body.get("detail")
    if not isinstance(items, list):
        return body
    rest = {k: v for k, v in body.items() if k not in ("trace_id", "detail")}
    return {"trace_id": "", "detail": repr([_as_python_item(i) for i in items]), **rest}
