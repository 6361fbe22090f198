-- decide.lua - wrk script: varied POST /v1/decide requests against
-- `charter serve` (bench/http/bench_http.sh). The token comes from the
-- CHARTER_TOKEN environment variable; amounts, tiers, run ids and actions
-- vary per request from a fixed-seed generator so the server decides real,
-- different cases (allow, escalate, deny by boundary or stop rule).
local token = os.getenv("CHARTER_TOKEN")
local actions = {"issue_refund", "issue_refund", "issue_refund", "close_account", "waive_fee"}
local countries = {"SE", "DE", "FR", "NL", "XX"}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  math.randomseed(42 + id)
  n = 0
end

request = function()
  n = n + 1
  local amount = math.random(1, 400)
  local body = string.format(
    '{"agent":"support-bot","workflow":"refunds","action":"%s",' ..
    '"input":{"amount":%d,"country":"%s"},' ..
    '"subject":{"customer_id":"c-%d","tier":"%s"},"context":{"channel":"chat"},' ..
    '"confidence":0.%d,"run_id":"run-%d-%d"}',
    actions[math.random(#actions)], amount, countries[math.random(#countries)],
    math.random(1, 100000), (math.random(2) == 1) and "gold" or "basic",
    math.random(10, 99), id, math.floor(n / 4))
  return wrk.format("POST", "/v1/decide",
                    {["Authorization"] = "Bearer " .. token,
                     ["Content-Type"] = "application/json"}, body)
end

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
