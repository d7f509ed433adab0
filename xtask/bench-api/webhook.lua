-- wrk script for the webhook ingest of `cargo xtask bench-api` (xtask/src/bench_api/ingest.rs):
-- replays the signed Twilio voice webhooks of the feed file $FEED, one `signature<TAB>form body`
-- per line, to the URL wrk is given. wrk's $THREADS threads take every $THREADS-th line each, so
-- every line is sent once; a line sent a second time (the feed ran out) is counted as an error.
-- Prints the answers that were not 200, those errors, and the 200s, at the end.
local lines = {}
for line in io.lines(os.getenv("FEED")) do
  lines[#lines + 1] = line
end
local stride = tonumber(os.getenv("THREADS")) or 1
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "threads.lua")
function init(args)
  n = 0
  ok = 0
  bad = 0
  again = 0
end
function request()
  local index = id + n * stride
  n = n + 1
  if index > #lines then
    again = again + 1
    index = (index - 1) % #lines + 1
  end
  local signature, body = string.match(lines[index], "^([^\t]+)\t(.*)$")
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = signature,
  }
  return wrk.format("POST", nil, headers, body)
end
function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  else
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  io.write(string.format("bench-api: non-200 %d, errors %d\n", total("bad"), total("again")))
  io.write(string.format("bench-api-ok: %d\n", total("ok")))
end
