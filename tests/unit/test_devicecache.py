"""What the exporter remembers per device, and when it forgets."""

from chm_exporter.devicecache import DeviceCache
from chm_exporter.probers.snmp.device import SnmpDeviceState


class _OtherState:
    pass


def test_reboot_drops_profiles_and_lookups() -> None:
    state = DeviceCache().get("snmp", SnmpDeviceState, "192.0.2.1", "161", "public_v2")
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
    a = cache.get("snmp", SnmpDeviceState, "a", "161", "x")
    cache.get("snmp", SnmpDeviceState, "b", "161", "x")
    assert cache.get("snmp", SnmpDeviceState, "a", "161", "x") is a
    cache.get("snmp", SnmpDeviceState, "c", "161", "x")  # evicts b, the least recently used
    assert len(cache) == 2
    assert cache.get("snmp", SnmpDeviceState, "a", "161", "x") is a


def test_each_prober_keeps_its_own_state_for_one_device() -> None:
    cache = DeviceCache()
    snmp = cache.get("snmp", SnmpDeviceState, "a")
    other = cache.get("ssh", _OtherState, "a")
    assert isinstance(other, _OtherState)
    assert cache.get("snmp", SnmpDeviceState, "a") is snmp
    assert len(cache) == 2


def test_expired_state_starts_afresh() -> None:
    cache = DeviceCache(ttl=0.0)
    a = cache.get("snmp", SnmpDeviceState, "a", "161", "x")
    a.profiles = ("x",)
    assert cache.get("snmp", SnmpDeviceState, "a", "161", "x").profiles is None


class _Held:
    """A state holding a resource: records when the cache lets it go."""

    def __init__(self) -> None:
        self.released = 0

    def evicted(self) -> None:
        self.released += 1


def test_a_dropped_state_is_told_once_whatever_drops_it() -> None:
    cache = DeviceCache(max_devices=2)
    a = cache.get("ssh", _Held, "a")
    b = cache.get("ssh", _Held, "b")
    cache.get("ssh", _Held, "c")  # past the bound: a, the least recently used, goes
    assert (a.released, b.released) == (1, 0)
    cache.get("ssh", _OtherState, "b")  # b replaced by a state of another kind
    assert b.released == 1
    expiring = DeviceCache(ttl=0.0)
    old = expiring.get("ssh", _Held, "d")
    assert expiring.get("ssh", _Held, "d") is not old  # expired: a new state, the old told
    assert old.released == 1
