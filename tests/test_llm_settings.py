"""The LLM settings: read from POLICYQA_LLM_*, the API key never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from policyqa.errors import ConfigError
from policyqa.settings import Settings

SECRET = "sk-test-Zq81mVb0"


def test_the_api_key_is_read_but_never_shown(tmp_path: Path) -> None:
    settings = Settings.from_env({"POLICYQA_LLM_URL": "http://127.0.0.1:8080/v1", "POLICYQA_LLM_API_KEY": SECRET})
    assert settings.llm_api_key == SECRET
    assert SECRET not in repr(settings) and SECRET not in str(settings.to_dict())


def test_the_api_key_can_come_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(SECRET + "\n", encoding="utf-8")
    settings = Settings.from_env({"POLICYQA_LLM_API_KEY_FILE": str(key_file)})
    assert settings.llm_api_key == SECRET
    with pytest.raises(ConfigError, match="cannot be read") as info:
        Settings.from_env({"POLICYQA_LLM_API_KEY_FILE": str(tmp_path / "missing")})
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "env",
    [{"POLICYQA_LLM_URL": "ftp://x"}, {"POLICYQA_LLM_MAX_TOKENS": "4"}, {"POLICYQA_LLM_TIMEOUT": "0"}],
)
def test_bad_llm_settings_fail_at_construction(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)
