-- Loaded by bench/lib/wrk-run.ts: when the run ends, wrk prints one JSON line that the bench
-- parses (its text report is meant for people). os.clock() is wrk's own CPU time (all its
-- threads), which shows whether the client was the bottleneck.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"bytes":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"timeouts":%d,"non2xx":%d,' ..
    '"latencyMeanUs":%.1f,"latencyP50Us":%d,"latencyP99Us":%d,"latencyMaxUs":%d,"cpuSec":%.3f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout, e.status,
    latency.mean, latency:percentile(50), latency:percentile(99), latency.max, os.clock()))
end
