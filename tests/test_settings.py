"""settings.ini: the seed's [Test] keys unchanged, UTF-8, no interpolation, clear errors."""
from __future__ import annotations

import pytest

from GenerateMeterData import ConfigError
from GenerateMeterData.settings import DeviceSettings, LocalSettings, describe, load, resolve, sections


def write(tmp_path, text):
    path = tmp_path / "settings.ini"
    path.write_bytes(text.encode("utf-8"))
    return path


def test_seed_keys_work_unchanged(tmp_path):
    path = write(tmp_path, "[Test]\nIP_address = 10.0.0.5\nIP_port = 2222\nuser_login = admin\nuser_password = 12345\n")
    settings = load(path)
    assert isinstance(settings, DeviceSettings)
    assert (settings.host, settings.port, settings.user, settings.password) == ("10.0.0.5", 2222, "admin", "12345")
    assert settings.db_path == "/var/opt/uspd/meterdb/meter.db"
    assert settings.host_key_policy == "reject"


def test_percent_and_cyrillic_survive(tmp_path):
    path = write(tmp_path, "[Test]\nIP_address = h\nuser_login = оператор\nuser_password = 50%off%(x)s\n")
    settings = load(path)
    assert settings.user == "оператор" and settings.password == "50%off%(x)s"


def test_password_never_in_repr_or_describe(tmp_path):
    path = write(tmp_path, "[Test]\nIP_address = h\nuser_login = u\nuser_password = hunter2\n")
    settings = load(path)
    assert "hunter2" not in repr(settings) and "hunter2" not in str(describe(settings))


def test_password_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("USPD_PASS", "from-env")
    path = write(tmp_path, "[Test]\nIP_address = h\nuser_login = u\npassword_env = USPD_PASS\n")
    assert load(path).password == "from-env"
    monkeypatch.delenv("USPD_PASS")
    with pytest.raises(ConfigError, match="password_env names USPD_PASS, which is not set"):
        load(path)


def test_optional_keys(tmp_path):
    path = write(tmp_path, "[Dev]\nIP_address = h\nuser_login = u\nkey_filename = /k\nsudo = yes\n"
                           "sqlite3 = /usr/local/bin/sqlite3\ndisabled_algorithms = rsa-sha2-256, rsa-sha2-512\n"
                           "connect_timeout = 3\nbusy_timeout = 2.5\nbefore_load = systemctl stop meterdev\n"
                           "host_key_policy = accept-new\ntimezone = Asia/Yekaterinburg\nupload = sql\n")
    s = load(path, "Dev")
    assert s.sudo and s.sqlite3 == "/usr/local/bin/sqlite3" and s.password is None
    assert s.disabled_algorithms == ("rsa-sha2-256", "rsa-sha2-512")
    assert (s.connect_timeout, s.busy_timeout, s.host_key_policy, s.upload) == (3.0, 2.5, "accept-new", "sql")
    assert s.before_load == "systemctl stop meterdev" and s.timezone == "Asia/Yekaterinburg"


def test_local_section_and_several_sections(tmp_path):
    path = write(tmp_path, "[A]\nIP_address = h\nuser_login = u\nuser_password = p\n\n[B]\ndb_path = local.db\n\n[Other]\nfoo = 1\n")
    assert sections(path) == ["A", "B"]
    assert load(path, "B") == LocalSettings(db_path="local.db", name="B")


@pytest.mark.parametrize("text,section,message", [
    ("[Test]\nIP_address = h\n", None, "section [Test]: key user_login is missing"),
    ("[Test]\nIP_address = h\nuser_login = u\n", None, "key user_password (or password_env, or key_filename) is missing"),
    ("[Test]\nuser_login = u\n", None, "key IP_address (a device) or db_path (a local file) is missing"),
    ("[Test]\nIP_address = h\nuser_login = u\nuser_password = p\nIP_port = ssh\n", None, "key ip_port must be a number"),
    ("[Test]\nIP_address = h\nuser_login = u\nuser_password = p\nhost_key_policy = yolo\n", None, "host_key_policy must be one of"),
    ("[Test]\nIP_address = h\nuser_login = u\nuser_password = p\nIP_adress = typo\n", None, "unknown key 'ip_adress'"),
    ("[A]\ndb_path = x\n", "B", "section [B] not found (sections: A)"),
    ("[A]\ndb_path = x\n[C]\ndb_path = y\n", None, "no [Test] section; choose one of A, C"),
    ("not an ini file", None, "cannot be read"),
])
def test_errors_name_file_section_and_key(tmp_path, text, section, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path, section)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="settings file .*nope.ini not found"):
        load(tmp_path / "nope.ini")
    monkeypatch.chdir(tmp_path)
    assert resolve() == LocalSettings()
    with pytest.raises(ConfigError, match="settings.ini not found, so section \\[Test\\] cannot be read"):
        resolve(section="Test")


@pytest.mark.parametrize("key, value", [
    ("command_timeout", "nan"), ("command_timeout", "inf"), ("command_timeout", "1e30"), ("command_timeout", "0"),
    ("connect_timeout", "nan"), ("busy_timeout", "inf"), ("busy_timeout", "nan"), ("IP_port", "99999"),
    ("IP_port", "0"),
])
def test_timeouts_and_ports_must_be_finite_and_in_range(tmp_path, key, value):
    path = write(tmp_path, f"[Test]\nIP_address = 10.0.0.1\nuser_login = root\nuser_password = x\n{key} = {value}\n")
    with pytest.raises(ConfigError, match=rf"\[Test\].*key {key.lower()} must be a finite number") as info:
        load(path, "Test")
    assert "\n" not in str(info.value)


def test_stage_dir_key(tmp_path):
    path = write(tmp_path, "[Test]\nIP_address = 10.0.0.1\nuser_login = root\nuser_password = x\nstage_dir = /data/tmp\n")
    assert load(path, "Test").stage_dir == "/data/tmp"
    path = write(tmp_path, "[Test]\nIP_address = 10.0.0.1\nuser_login = root\nuser_password = x\n")
    assert load(path, "Test").stage_dir == "/tmp"


def test_a_byte_order_mark_and_bad_lines_are_named(tmp_path):
    path = tmp_path / "settings.ini"
    path.write_bytes("\ufeff[Test]\nIP_address = 10.0.0.1\nuser_login = root\nuser_password = x\n".encode("utf-8"))
    assert load(path, "Test").host == "10.0.0.1"
    path.write_text("[Test]\nIP_address = 10.0.0.1\nthis line has no equals sign\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 3: 'this line has no equals sign' is not 'key = value'"):
        load(path, "Test")
    path.write_text("IP_address = 10.0.0.1\n[Test]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 1: a key before any \[section\] header"):
        load(path, "Test")


def test_the_example_file_loads_with_every_optional_key_uncommented(tmp_path, monkeypatch):
    """settings.ini.example is what users copy: each commented key, once its ';' is removed, must
    read as the value shown (a comment after a value would become part of it)."""
    import re
    from pathlib import Path

    from GenerateMeterData import settings

    example = Path(__file__).resolve().parent.parent / "settings.ini.example"
    keys = settings.KNOWN_KEYS
    lines, uncommented = [], {}
    for line in example.read_text(encoding="utf-8").splitlines():
        match = re.match(r"; ([A-Za-z_0-9]+) = (.*)$", line)
        if match and match.group(1).lower() in keys:
            lines.append(f"{match.group(1)} = {match.group(2)}")
            uncommented[match.group(1).lower()] = match.group(2)
        else:
            lines.append(line)
    # every key the tool knows is in the example: the five set ones, the rest commented out
    assert set(uncommented) == keys - {"ip_address", "ip_port", "user_login", "user_password", "db_path"}
    path = tmp_path / "settings.ini"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv(uncommented["password_env"], "from-the-environment")
    device = settings.load(path, "Test")
    assert device.sudo is False and device.sqlite3 == uncommented["sqlite3"]
    assert device.stage_dir == uncommented["stage_dir"] and device.before_load == uncommented["before_load"]
    assert device.integrity_check == "once" and device.upload == "auto" and device.command_timeout == 600
