"""What the exporter remembers per device, and when it forgets."""

from chm_exporter.devicecache import DeviceCache


def test_reboot_drops_profiles_and_lookups() -> None:
    state = DeviceCache().get("192.0.2.1", "161", "public_v2")
    state.profiles = ("cisco_ios",)
    state.lookups = {"1.3.6.1.2.1.31.1.1.1.1": {"1": b"Gi1"}}
    assert state.saw_uptime(1000.0) is False
    assert state.saw_uptime(1060.0) is False
    assert state.profiles == ("cisco_ios",)
    assert state.saw_uptime(30.0) is True  # uptime went back: rebooted
    assert state.profiles is None
    assert state.lookups == {}


def test_states_are_per_device_and_bounded() -> None:
    cache = DeviceCache(max_devices=2)
    a = cache.get("a", "161", "x")
    cache.get("b", "161", "x")
    assert cache.get("a", "161", "x") is a
    cache.get("c", "161", "x")  # evicts b, the least recently used
    assert len(cache) == 2
    assert cache.get("a", "161", "x") is a


def test_expired_state_starts_afresh() -> None:
    cache = DeviceCache(ttl=0.0)
    a = cache.get("a", "161", "x")
    a.profiles = ("x",)
    assert cache.get("a", "161", "x").profiles is None
