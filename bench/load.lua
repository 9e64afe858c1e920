-- wrk script for bench/load.py: a mix of browsing and checkouts.
-- Each thread reads its share of shoppers (token, idempotency key) from
-- the file named by LOAD_SHOPPERS; every shopper checks out exactly once,
-- and every other request browses (list, then a product). Status counts
-- are gathered from all threads in done().

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  shoppers = {}
  local n, i = tonumber(os.getenv("LOAD_THREADS")), 0
  for line in io.lines(os.getenv("LOAD_SHOPPERS")) do
    if i % n == id then
      local token, key = line:match("^(%S+) (%S+)$")
      table.insert(shoppers, {token = token, key = key})
    end
    i = i + 1
  end
  next_shopper, turn = 1, 0
  body = os.getenv("LOAD_ADDRESS")
  product = os.getenv("LOAD_PRODUCT")
end

function request()
  turn = turn + 1
  if turn % 2 == 0 and next_shopper <= #shoppers then
    local s = shoppers[next_shopper]
    next_shopper = next_shopper + 1
    return wrk.format("POST", "/v1/checkout", {
      ["authorization"] = "Bearer " .. s.token,
      ["idempotency-key"] = s.key,
      ["content-type"] = "application/json",
    }, body)
  elseif turn % 4 == 1 then
    return wrk.format("GET", "/v1/products?limit=20")
  else
    return wrk.format("GET", "/v1/products/" .. product)
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, n in pairs(counts) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format("\"%d\": %d", status, n))
  end
  io.write("STATUS {" .. table.concat(parts, ", ") .. "}\n")
  io.write(string.format("LATENCY p50=%.1fms p99=%.1fms max=%.1fms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
