-- Shared by the wrk scripts of `cargo xtask bench-api` (loaded with dofile): numbers wrk's
-- threads and sums their counters at the end. `setup` runs in the main state and gives each
-- thread's own state its `id` (1, 2, …); `total(name)` adds up the global `name` every thread keeps.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
function total(name)
  local sum = 0
  for _, thread in ipairs(threads) do
    sum = sum + thread:get(name)
  end
  return sum
end
