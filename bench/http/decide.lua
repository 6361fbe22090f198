-- decide.lua - wrk script: varied POST /v1/decide requests against
-- `charter serve` (bench/http/bench_http.sh). The token comes from the
-- CHARTER_TOKEN environment variable, the agent it is for from
-- CHARTER_AGENT (default support-bot); CHARTER_RUN_PREFIX (default empty)
-- goes before each run id, so that two wrk processes driving two servers
-- make runs of their own.
--
-- Each wrk thread draws 4,096 request bodies at start from a fixed-seed
-- generator (action, amount, country, customer, tier, confidence vary, so
-- the server decides real, different cases: allow, escalate, deny by
-- boundary or stop rule) and sends them in turn, each with a run id of its
-- own every four requests. Building the requests up front keeps the load
-- generator's own CPU low: it shares the machine with the server, and the
-- ceiling it is compared with (nginx) is driven without a script. wrk counts
-- non-2xx answers itself.
local token = os.getenv("CHARTER_TOKEN")
local agent = os.getenv("CHARTER_AGENT") or "support-bot"
local run_prefix = os.getenv("CHARTER_RUN_PREFIX") or ""
local actions = {"issue_refund", "issue_refund", "issue_refund", "close_account", "waive_fee"}
local countries = {"SE", "DE", "FR", "NL", "XX"}
local counter = 0
local bodies, head, n

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  math.randomseed(42 + id)
  n = 0
  bodies = {}
  for i = 1, 4096 do
    bodies[i] = string.format(
      '{"agent":"%s","workflow":"refunds","action":"%s",' ..
      '"input":{"amount":%d,"country":"%s"},' ..
      '"subject":{"customer_id":"c-%d","tier":"%s"},"context":{"channel":"chat"},' ..
      '"confidence":0.%d,"run_id":"run-%s%d-',
      agent, actions[math.random(#actions)], math.random(1, 400),
      countries[math.random(#countries)], math.random(1, 100000),
      (math.random(2) == 1) and "gold" or "basic", math.random(10, 99), run_prefix, id)
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
