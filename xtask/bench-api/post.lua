-- wrk script for `cargo xtask bench-api` (xtask/src/bench_api/mod.rs): POSTs the JSON file named by
-- $BODY to /graphql, with the Cookie header $COOKIE when set. With $SPREAD_ADDRESSES=1 every
-- request names its own X-Forwarded-For (only for a Ringback binary without the rate-limit
-- settings, started with RINGBACK_TRUSTED_PROXIES=127.0.0.1). Counts answers that are not 200
-- and 200s whose body carries "errors", and prints them on one line at the end.
local f = assert(io.open(os.getenv("BODY"), "rb"))
local body = f:read("*a")
f:close()
local base = { ["Content-Type"] = "application/json" }
if (os.getenv("COOKIE") or "") ~= "" then base["Cookie"] = os.getenv("COOKIE") end
local spread = os.getenv("SPREAD_ADDRESSES") == "1"
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "threads.lua")
function init(args)
  n = 0
  bad = 0
  errs = 0
  fixed = wrk.format("POST", "/graphql", base, body)
end
function request()
  if not spread then return fixed end
  n = n + 1
  local h = {}
  for k, v in pairs(base) do h[k] = v end
  h["X-Forwarded-For"] = string.format("10.%d.%d.%d", id, math.floor(n / 256) % 256, n % 256)
  return wrk.format("POST", "/graphql", h, body)
end
function response(status, headers, b)
  if status ~= 200 then
    bad = bad + 1
  elseif string.find(b, '"errors"', 1, true) then
    errs = errs + 1
  end
end
function done(summary, latency, requests)
  io.write(string.format("bench-api: non-200 %d, errors %d\n", total("bad"), total("errs")))
end
