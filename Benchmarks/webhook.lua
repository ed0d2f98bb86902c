-- wrk script for Shiftgate's webhook benchmark (see BENCHMARKS.md; run by `shiftgate-bench`).
--
--   wrk -s Benchmarks/webhook.lua http://127.0.0.1:PORT/indent/webhook -- BODY_FILE TIMESTAMP SIGNATURE
--   wrk -s Benchmarks/webhook.lua http://127.0.0.1:PORT/healthz -- GET
--
-- Indent signs "v0:" .. timestamp .. ":" .. body with HMAC-SHA256. Lua has no HMAC, and signing per
-- request would measure the load generator, so the harness signs each body once and passes the
-- timestamp and signature here; the server runs with a large --max-clock-skew so they stay valid.
-- Every request is the same bytes, built once per wrk thread.

local request_bytes

function init(args)
  if args[1] == nil or args[1] == "GET" then
    request_bytes = wrk.format("GET", wrk.path)
    return
  end
  local file = assert(io.open(args[1], "rb"))
  local body = file:read("*a")
  file:close()
  local headers = {
    ["Host"] = wrk.headers["Host"],
    ["Content-Type"] = "application/json",
    ["X-Indent-Timestamp"] = args[2],
    ["X-Indent-Signature"] = args[3],
  }
  request_bytes = wrk.format("POST", wrk.path, headers, body)
end

function request()
  return request_bytes
end

-- One machine-readable line for the harness; latencies in microseconds.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "SHIFTGATE-WRK {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d," ..
    "\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f," ..
    "\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d}\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
