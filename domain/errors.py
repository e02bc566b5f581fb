"""Named domain errors. Each carries a message in Chinese and English."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "domain_error"

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh


class InvalidCommand(DomainError):
    """A command's input breaks a rule (HTTP 422); ``field`` names the input."""

    code = "invalid_input"

    def __init__(self, field: str, en: str, zh: str) -> None:
        super().__init__(en, zh)
        self.field = field


class IllegalTransition(DomainError):
    """A command that is not allowed in the aggregate's current state (HTTP 409)."""

    code = "illegal_transition"

    def __init__(
        self, command: str, state: str, allowed: Sequence[str], en: str = "", zh: str = ""
    ) -> None:
        super().__init__(
            en or f"'{command}' is not allowed in state {state}; allowed: {', '.join(allowed)}",
            zh
            or f"当前状态 {state} 不允许执行“{command}”；允许的操作：{'、'.join(allowed) or '无'}",
        )
        self.command = command
        self.state = state
        self.allowed = list(allowed)


class VersionConflict(DomainError):
    """Someone else changed the aggregate first (HTTP 409)."""

    code = "version_conflict"

    def __init__(self, state: str, allowed: Sequence[str], version: int) -> None:
        super().__init__(
            f"the item was changed by someone else (now at version {version}); reload and retry",
            f"该条目已被他人修改（当前版本 {version}），请刷新后重试",
        )
        self.state = state
        self.allowed = list(allowed)
        self.version = version


class NotFound(DomainError):
    """An id that names nothing (HTTP 404)."""

    code = "not_found"

    def __init__(self, what: str, key: str) -> None:
        names_zh = {
            "hazard": "隐患",
            "department": "部门",
            "person": "人员",
            "token": "令牌",
            "case": "问责案件",
            "account": "账户",
        }
        super().__init__(f"{what} '{key}' not found", f"未找到{names_zh.get(what, what)}“{key}”")
        self.what = what
        self.key = key


class Contention(DomainError):
    """Too many writers at once to finish a command now; retrying shortly will (HTTP 503)."""

    code = "busy"

    def __init__(self) -> None:
        super().__init__(
            "too many changes at the same moment; retry shortly",
            "同一时刻修改过多，请稍后重试",
        )
