"""The ICMP prober's result series: RTT statistics and the echo payload."""

import statistics

import pytest

from chm_exporter.exposition import MetricSink
from chm_exporter.probers import icmp


def _stats(sink: MetricSink) -> dict[str, float]:
    fam = sink.get("probe_icmp_rtt_seconds")
    assert fam is not None
    return {labels[0]: value for labels, value in fam.samples.items()}


@pytest.mark.parametrize(
    "rtts",
    [[0.0012], [0.001, 0.003], [0.0101, 0.0099, 0.0100, 0.0250, 0.0001]],
)
def test_rtt_statistics_agree_with_the_statistics_module(rtts: list[float]) -> None:
    sink = MetricSink()
    icmp._emit_results(sink, sent=len(rtts) + 1, rtts=rtts)
    got = _stats(sink)
    assert got["min"] == min(rtts)
    assert got["max"] == max(rtts)
    assert got["avg"] == pytest.approx(statistics.fmean(rtts), rel=1e-12)
    assert got["stddev"] == pytest.approx(statistics.pstdev(rtts), rel=1e-9, abs=1e-15)
    sent = sink.get("probe_icmp_packets_sent")
    assert sent is not None
    assert sent.samples[()] == len(rtts) + 1


def test_no_reply_has_counts_but_no_rtt_series() -> None:
    sink = MetricSink()
    icmp._emit_results(sink, sent=3, rtts=[])
    assert sink.get("probe_icmp_rtt_seconds") is None
    received = sink.get("probe_icmp_packets_received")
    assert received is not None
    assert received.samples[()] == 0


@pytest.mark.parametrize("size", [0, 1, 18, 56, 1472])
def test_echo_payload_has_the_configured_size(size: int) -> None:
    assert len(icmp.echo_payload(size)) == size
