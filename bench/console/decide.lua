-- decide.lua - wrk script: POST /v1/decide for the console benchmark's
-- charter (bench/console/bench_console.sh), as agent-00 (token in
-- CHARTER_TOKEN). Bodies are built up front from a fixed seed: refunds and
-- payouts, amounts 10 to 1,000 (about one in ten escalated), a run id of
-- its own every four requests.
local token = os.getenv("CHARTER_TOKEN")
local counter = 0
local bodies, head, n

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  math.randomseed(7 + id)
  n = 0
  bodies = {}
  for i = 1, 4096 do
    local payout = math.random(5) == 1
    bodies[i] = string.format(
      '{"agent":"agent-00","workflow":"%s","action":"%s",' ..
      '"input":{"amount":%d,"destination":"card","country":"SE"},' ..
      '"subject":{"customer_id":"c-%d"},"confidence":0.%d,"run_id":"wrk-%d-',
      payout and "payouts" or "refunds", payout and "pay" or "issue_refund",
      math.random(10, 1000), math.random(1, 100000), math.random(10, 99), id)
  end
  head = "POST /v1/decide HTTP/1.1\r\nHost: 127.0.0.1\r\n" ..
         "Authorization: Bearer " .. token .. "\r\n" ..
         "Content-Type: application/json\r\nContent-Length: "
end

request = function()
  n = n + 1
  local body = bodies[n % 4096 + 1] .. math.floor(n / 4) .. '"}'
  return head .. #body .. "\r\n\r\n" .. body
end
